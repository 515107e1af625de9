"""The shuffle job: what the job worker (app/worker.py) runs for each queued shuffle.

Thin, like a route: claim and commit (pages now show the shuffle running), run the service
in one transaction and commit, or record why it failed; a lost database connection is the
worker's to wait out, not a reason to fail the shuffle. No business rules here.
"""

import logging

from sqlalchemy.exc import DBAPIError

from app.db import write_intent
from app.extensions import db

from . import shuffles
from .models import ShuffleFailure

log = logging.getLogger(__name__)


def run_next_shuffle():
    """Claim the oldest shuffle still to run and run it. Returns the shuffle as it ended
    (done or failed), or None when none was waiting. The caller holds the runner lock."""
    with write_intent():
        claimed = shuffles.claim_next_shuffle()
        claimed_id = claimed.id if claimed is not None else None
        db.session.commit()
    if claimed_id is None:
        return None
    try:
        with write_intent():
            shuffle = shuffles.run_shuffle(claimed_id)
            db.session.commit()
        return _logged(shuffle)
    except shuffles.ShuffleRefused as refused:  # nothing to shuffle any more, nobody eligible
        failure = refused.failure
    except Exception as error:
        if isinstance(error, DBAPIError) and error.connection_invalidated:
            # The database went away mid-shuffle and rolled it back: it stays running, and
            # the worker begins it again once it holds the runner lock again.
            raise
        log.exception("shuffle %s failed", claimed_id)
        failure = ShuffleFailure.UNEXPECTED
    db.session.rollback()
    with write_intent():
        shuffle = shuffles.fail_shuffle(claimed_id, failure)
        db.session.commit()
    return _logged(shuffle)


def _logged(shuffle):
    log.info(
        "shuffle %s %s: %s open tasks among %s popugs in %s ms%s",
        shuffle.id,
        shuffle.status,
        shuffle.tasks_count,
        shuffle.popugs_count,
        shuffle.duration_ms,
        f" ({shuffle.error})" if shuffle.error else "",
    )
    return shuffle
