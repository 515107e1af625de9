"""The job worker: `flask --app wsgi jobs work` runs queued shuffles outside web requests.

The queue is the `shuffles` table itself, in the app's own database: a press commits a
queued shuffle row, and the worker claims the oldest one and runs it in one transaction.
There is no second system to keep in step with the database (a press is never lost between
a commit and an enqueue), and nothing to run beyond the database.

One worker runs shuffles at a time: it holds the runner lock for as long as it runs, and
any further workers wait as standbys. The lock is released by the database (PostgreSQL:
a session advisory lock on the worker's own connection) or by the kernel (SQLite: a
`flock` on a file beside the database) when the worker's process dies, however it dies;
so a shuffle the next lock holder finds still "running" was cut off, and is begun again.

The worker outlives its database: whatever goes wrong around the lock (the lock's
connection terminated, the server restarted or failing over, an idle timeout) lets the lock
go and returns the worker to acquiring it after a short wait. Only `stop` ends it.
"""

import fcntl
import logging
import signal
import threading
import time
from contextlib import contextmanager
from pathlib import Path

import click
from flask import current_app
from flask.cli import AppGroup
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from app.db import lock_key, write_intent
from app.extensions import db

log = logging.getLogger(__name__)
RUNNER_LOCK = "job-runner"
RETRY_MAX_SECONDS = 5.0  # the longest wait between attempts while the database is away
jobs_cli = AppGroup("jobs", help="Run queued work (shuffles).")


class LockLost(RuntimeError):
    """The runner lock's connection is no longer the one that took the lock."""


@contextmanager
def runner_lock(engine, stop: threading.Event, poll: float):
    """Wait (polling every `poll` seconds, until `stop`) to be the one worker that runs
    jobs; yields a check that raises once the lock is lost while held, or False if stopped
    first. Errors of the database while waiting or holding propagate, with the lock let go."""
    if engine.dialect.name == "postgresql":
        with _pg_runner_lock(engine, stop, poll) as held:
            yield held
        return
    database = engine.url.database
    if not database or database == ":memory:":
        yield lambda: None  # one process holds an in-memory database anyway
        return
    with open(Path(database).with_name(Path(database).name + ".worker-lock"), "a") as file:
        while True:
            try:
                fcntl.flock(file, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if stop.wait(poll):
                    yield False
                    return
        try:
            yield lambda: None
        finally:
            fcntl.flock(file, fcntl.LOCK_UN)


@contextmanager
def _pg_runner_lock(engine, stop: threading.Event, poll: float):
    key = {"key": lock_key(RUNNER_LOCK)}
    conn = engine.connect()
    try:
        while not conn.execute(text("SELECT pg_try_advisory_lock(:key)"), key).scalar():
            conn.rollback()
            if stop.wait(poll):
                yield False
                return
        # A session lock outlives the transaction; it lives exactly as long as this
        # server session, which the backend's pid names.
        backend = conn.execute(text("SELECT pg_backend_pid()")).scalar()
        conn.commit()

        def check() -> None:
            # A dead connection raises here; a connection that SQLAlchemy replaced
            # behind our back has another pid and no lock.
            if conn.execute(text("SELECT pg_backend_pid()")).scalar() != backend:
                raise LockLost(f"the runner lock's session {backend} is gone")
            conn.rollback()

        yield check
        conn.execute(text("SELECT pg_advisory_unlock(:key)"), key)
        conn.commit()
    finally:
        _let_go(conn)


def _let_go(conn) -> None:
    """Return the lock's connection to the pool if it is known healthy (unlocked and
    committed above), otherwise discard it: closing its server session releases the lock
    wherever it still exists, and never raises."""
    try:
        if conn.in_transaction() or conn.invalidated:
            conn.invalidate()
        conn.close()
    except SQLAlchemyError:
        log.warning("job worker: could not close the runner lock's connection", exc_info=True)


def _reset_session() -> None:
    try:
        db.session.remove()
    except SQLAlchemyError:
        log.warning("job worker: could not close the session", exc_info=True)


def work(stop: threading.Event, *, poll: float, once: bool = False) -> None:
    """Run queued shuffles until `stop` is set (or, with `once`, until none is waiting).
    Any error — the database gone, the lock's connection terminated — is logged, the lock
    let go, and after a short wait (growing while the errors go on) taken again."""
    from app.blueprints.tasks.jobs import run_next_shuffle

    chores = Chores(current_app.config["CHORES_EVERY_SECONDS"])
    failures = 0
    while not stop.is_set():
        try:
            with runner_lock(db.engine, stop, poll) as still_held:
                if not still_held:
                    return
                log.info("job worker running (runner lock held)")
                failures = 0
                while not stop.is_set():
                    still_held()
                    if run_next_shuffle() is None:
                        chores.run_when_due()
                        if once:
                            return
                        stop.wait(poll)
        except Exception:
            failures += 1
            wait = min(poll * 2 ** min(failures - 1, 10), max(poll, RETRY_MAX_SECONDS))
            log.exception("job worker: lost the database or the lock; retrying in %.2f s", wait)
            _reset_session()
            stop.wait(wait)
        finally:
            _reset_session()


FORGET_EVERY_SECONDS = 3600  # notifications have no index by age: a scan, once an hour


class Chores:
    """What the worker does between shuffles: queue the daily digest of notifications once
    its day is over (once per day and process; the digests' unique records make a restarted
    or second worker queue none again), send the e-mail outbox at most every `every`
    seconds, and remove notifications older than NOTIFICATIONS_KEEP_DAYS and forget
    one-time form tokens (Idempotency-Keys) past their 24 hours at most every
    FORGET_EVERY_SECONDS."""

    def __init__(self, every: float):
        self.every, self.sent_at, self.forgot_at = every, None, None
        self.digested = None  # the last day whose digests this process queued (or found)

    @staticmethod
    def _due(last: float | None, every: float, now: float) -> bool:
        return last is None or now - last >= every

    def run_when_due(self) -> None:
        from app.blueprints.accounting.mail import send_pending
        from app.blueprints.notifications.service import forget_older_than
        from app.blueprints.tasks.service import FORGET_BATCH, forget_form_tokens

        self._digest_when_due()
        now = time.monotonic()
        if self._due(self.sent_at, self.every, now):
            self.sent_at = now
            with write_intent():
                report = send_pending()
            if report.sent or report.logged or report.failed:
                log.info("outbox: %s", report.summary())
        if self._due(self.forgot_at, FORGET_EVERY_SECONDS, now):
            self.forgot_at = now
            with write_intent():
                forgotten = forget_older_than(current_app.config["NOTIFICATIONS_KEEP_DAYS"])
                db.session.commit()
            if forgotten:
                log.info("removed %s old notifications", forgotten)
            tokens, batch = 0, FORGET_BATCH
            while batch == FORGET_BATCH:  # in batches: the first run may find years of them
                with write_intent():
                    batch = forget_form_tokens()
                    db.session.commit()
                tokens += batch
            if tokens:
                log.info("forgot %s expired form tokens", tokens)

    def _digest_when_due(self) -> None:
        from app.blueprints.notifications.service import digest_day_due, queue_digests

        day = digest_day_due()
        if day == self.digested:
            return
        try:
            with write_intent():
                queued = queue_digests(day)
                db.session.commit()
        except IntegrityError:  # another worker (or the command line) queued them meanwhile
            db.session.rollback()
            queued = 0
        self.digested = day
        if queued:
            log.info("queued %s daily digests of %s", queued, day.isoformat())


@jobs_cli.command("work")
@click.option("--once", is_flag=True, help="Stop when no shuffle is waiting.")
def work_command(once: bool) -> None:
    """Run queued shuffles as they are pressed. SIGTERM or Ctrl-C lets the shuffle that is
    running finish (or, if killed, it is begun again by the next worker)."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    work(stop, poll=current_app.config["JOBS_POLL_SECONDS"], once=once)
