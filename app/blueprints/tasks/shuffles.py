"""The shuffle: a press records a queued shuffle, the job worker (tasks/jobs.py) claims and
runs it, moving every open task to a random eligible popug and charging each move through
accounting (the statements of both databases are in shuffle_move.py). Reached through
tasks.service like the rest of tasks; nothing here commits.
"""

import time
from dataclasses import dataclass

from sqlalchemy import (
    func,
    select,
)

from app import audit, clock, signals
from app.access import ACCESS
from app.blueprints.auth import service as auth
from app.db import advisory_lock
from app.errors import NotAllowed, ServiceError, found
from app.extensions import db
from app.i18n import N_, Nn_

from .models import (
    FORM_TOKEN_HOLDS,
    OPEN,
    TASKS,
    Shuffle,
    ShuffleFailure,
    ShuffleStatus,
    check_form_token,
)
from .shuffle_move import move_open_tasks

# A shuffle holds this lock, so two shuffles run one after the other (PostgreSQL; SQLite
# serialises writers). Creating a task does not wait for it: on PostgreSQL the shuffle moves
# and charges its tasks in one statement, blind to tasks committed meanwhile. Completing a
# task holds it shared, and does not wait for a shuffle either: it is refused at once.
TASKS_LOCK = "tasks"
# Nobody to give a task to: refuses a shuffle, and the creation of a task (service.py).
NOBODY_ELIGIBLE = N_("Nobody can take tasks right now: there is no active worker or accountant.")
NO_OPEN_TASKS = N_("There are no open tasks to shuffle.")
# Why a shuffle was given up, by its stored code: (singular, plural) messages; the plural
# ones count the shuffle's beginnings (`num`).
FAILURE_REASONS = {
    ShuffleFailure.NOBODY_ELIGIBLE: (NOBODY_ELIGIBLE, None),
    ShuffleFailure.NO_OPEN_TASKS: (NO_OPEN_TASKS, None),
    ShuffleFailure.WORKER_STOPPED: Nn_(
        "A worker stopped while running it, %(num)s time; nothing was changed. Press the "
        "button again to retry.",
        "A worker stopped while running it, %(num)s times; nothing was changed. Press the "
        "button again to retry.",
    ),
    ShuffleFailure.UNEXPECTED: (
        N_("It stopped on an unexpected error; nothing was changed. Press the button again."),
        None,
    ),
}
# Presses of the shuffle button queue one after the other (PostgreSQL; SQLite serialises
# writers), so at most one shuffle waits to start.
SHUFFLE_QUEUE_LOCK = "shuffle-queue"
# How many times the job worker begins a shuffle whose worker stopped before it is failed.
SHUFFLE_ATTEMPTS = 3


class AlreadyShuffled(ServiceError):
    """The same shuffle form was submitted again; `shuffle` is the first result."""

    def __init__(self, shuffle: Shuffle):
        super().__init__(N_("This shuffle was already done."))
        self.shuffle = shuffle


# The confirmation counts open tasks up to this many and says "more than" beyond: an exact
# count reads every open task, which at a million takes longer than a page may.
PREVIEW_COUNT_MAX = 100_000


@dataclass(frozen=True)
class ShufflePreview:
    open_tasks: int  # at most PREVIEW_COUNT_MAX
    popugs: int
    more_open_tasks: bool = False  # more than `open_tasks` are open


def preview_shuffle() -> ShufflePreview:
    """What a shuffle pressed now would do: move `open_tasks` tasks (or more, when
    `more_open_tasks`) among `popugs` popugs."""
    eligible = auth.eligible_assignees().subquery("eligible")
    some_open = select(TASKS.c.id).where(TASKS.c.status == OPEN).limit(PREVIEW_COUNT_MAX + 1)
    counted = db.session.scalar(select(func.count()).select_from(some_open.subquery()))
    return ShufflePreview(
        open_tasks=min(counted, PREVIEW_COUNT_MAX),
        popugs=db.session.scalar(select(func.count()).select_from(eligible)),
        more_open_tasks=counted > PREVIEW_COUNT_MAX,
    )


@dataclass(frozen=True)
class ShufflePress:
    shuffle: Shuffle
    joined: bool  # the press joined a shuffle that was already waiting to start


class ShuffleRefused(ServiceError):
    """Nobody or nothing to shuffle; `failure` is the code a shuffle given up stores."""

    def __init__(self, failure: ShuffleFailure):
        super().__init__(FAILURE_REASONS[failure][0])
        self.failure = failure


def _check_something_to_shuffle() -> int:
    """The number of eligible popugs; refuses when there is nobody or nothing to shuffle."""
    pool_size = db.session.scalar(
        select(func.count()).select_from(auth.eligible_assignees().subquery("eligible"))
    )
    if not pool_size:
        raise ShuffleRefused(ShuffleFailure.NOBODY_ELIGIBLE)
    if not db.session.scalar(select(TASKS.c.id).where(TASKS.c.status == OPEN).limit(1)):
        raise ShuffleRefused(ShuffleFailure.NO_OPEN_TASKS)
    return pool_size


def request_shuffle(*, actor, form_token: str | None = None) -> ShufflePress:
    """Record a press of "Shuffle open tasks" as a queued shuffle, for the job worker to run
    (a million open tasks take longer than a request may).

    A press while a shuffle waits to start joins it (recorded in the audit trail): it will
    move every open task anyway.
    A press while one runs queues one more, so at most one shuffle ever waits. A repeated
    `form_token` raises AlreadyShuffled with the first press's shuffle. With nothing to
    shuffle the press is refused at once.
    """
    if actor.role not in ACCESS["shuffle"]:
        raise NotAllowed(N_("Only managers and admins shuffle tasks."))
    check_form_token(form_token)
    advisory_lock(SHUFFLE_QUEUE_LOCK)  # presses one after the other
    if form_token:
        first = db.session.scalar(select(Shuffle).where(Shuffle.form_token == form_token))
        if first is not None and first.requested_at >= clock.now() - FORM_TOKEN_HOLDS:
            raise AlreadyShuffled(first)
        if first is not None:  # expired, not yet forgotten: free for this press
            first.form_token = None
            db.session.flush()
    _check_something_to_shuffle()
    waiting = db.session.scalar(
        select(Shuffle).where(Shuffle.status == ShuffleStatus.QUEUED).order_by(Shuffle.id).limit(1)
    )
    if waiting is not None:
        # The shuffle's own record names only the first press; each press that joined it
        # is recorded as it happens.
        first = auth.get_popug_by_id(waiting.actor_id).username
        audit.record(actor, "press.joined", {"shuffle": waiting.public_id, "first": first})
        db.session.flush()
        return ShufflePress(waiting, joined=True)
    shuffle = Shuffle(
        actor_id=actor.id,
        form_token=form_token or None,
        status=ShuffleStatus.QUEUED,
        requested_at=clock.now(),
    )
    db.session.add(shuffle)
    db.session.flush()
    return ShufflePress(shuffle, joined=False)


def claim_next_shuffle() -> Shuffle | None:
    """The oldest shuffle still to run, marked running (the job worker's claim, committed
    before the shuffle itself runs, so pages show it running).

    Only the worker holding the runner lock claims, so a shuffle found still running was
    begun by a worker that stopped mid-shuffle (its transaction rolled back, nothing
    changed): it is begun again, and after SHUFFLE_ATTEMPTS beginnings marked failed.
    """
    shuffle = db.session.scalar(
        select(Shuffle)
        .where(Shuffle.finished_at.is_(None))  # queued or running
        .order_by(Shuffle.id)
        .limit(1)
        .with_for_update()
    )
    if shuffle is None:
        return None
    if shuffle.status == ShuffleStatus.RUNNING and shuffle.attempts >= SHUFFLE_ATTEMPTS:
        fail_shuffle(shuffle.id, ShuffleFailure.WORKER_STOPPED)
        return claim_next_shuffle()
    shuffle.status = ShuffleStatus.RUNNING
    shuffle.attempts += 1
    shuffle.started_at = clock.now()
    db.session.flush()
    return shuffle


def run_shuffle(shuffle_id: int) -> Shuffle:
    """Run a claimed shuffle: reassign every open task to a random eligible popug and charge
    each task's fee to its new assignee — an UPDATE of tasks, one summed fee entry per popug
    with a ledger line per task, an UPDATE of balances (one statement on PostgreSQL) — and
    mark the shuffle done, all in the caller's transaction: everything or nothing.

    Shuffles run one after the other (TASKS_LOCK). A shuffle that is no longer running
    once the lock is held (another worker finished it) is returned as it is, never run twice.
    """
    started = time.perf_counter()
    advisory_lock(TASKS_LOCK)
    shuffle = db.session.get(Shuffle, shuffle_id, with_for_update=True, populate_existing=True)
    if shuffle is None or shuffle.status != ShuffleStatus.RUNNING:
        return shuffle
    pool_size = _check_something_to_shuffle()
    pool = auth.eligible_assignees().subquery("eligible")

    moved, pool_size, charged = move_open_tasks(pool, pool_size, shuffle.id)
    if not charged["entries"] == charged["by_task"] == moved:  # each moved task charged once
        raise RuntimeError(
            f"shuffle moved {moved} tasks but charged {charged['entries']} "
            f"({charged['by_task']} by task)"
        )
    signals.tell(signals.shuffle_done, shuffle_id=shuffle.id)  # timed with the shuffle
    shuffle.status = ShuffleStatus.DONE
    shuffle.tasks_count = moved
    shuffle.popugs_count = pool_size
    shuffle.finished_at = clock.now()
    shuffle.duration_ms = int((time.perf_counter() - started) * 1000)
    audit.record(
        auth.get_popug_by_id(shuffle.actor_id),
        "tasks.shuffle",
        {"num": moved, "popugs": pool_size},
        address=audit.WORKER,
    )
    db.session.flush()
    return shuffle


def fail_shuffle(shuffle_id: int, failure: ShuffleFailure) -> Shuffle:
    """Give a shuffle up, with the code of why (its own transaction rolled back)."""
    shuffle = db.session.get(Shuffle, shuffle_id, populate_existing=True)
    shuffle.status = ShuffleStatus.FAILED
    shuffle.error = failure
    shuffle.finished_at = clock.now()
    db.session.flush()
    return shuffle


def get_shuffle(public_id: str) -> Shuffle:
    shuffle = db.session.scalar(select(Shuffle).where(Shuffle.public_id == public_id))
    return found(shuffle, N_("No such shuffle."))
