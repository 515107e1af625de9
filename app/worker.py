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
"""

import fcntl
import logging
import signal
import threading
from contextlib import contextmanager
from pathlib import Path

import click
from flask import current_app
from flask.cli import AppGroup
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from app.db import lock_key
from app.extensions import db

log = logging.getLogger(__name__)
RUNNER_LOCK = "job-runner"
jobs_cli = AppGroup("jobs", help="Run queued work (shuffles).")


@contextmanager
def runner_lock(engine, stop: threading.Event, poll: float):
    """Wait (polling every `poll` seconds, until `stop`) to be the one worker that runs
    jobs; yields True while held, False if stopped first."""
    if engine.dialect.name == "postgresql":
        with engine.connect() as conn:
            key = {"key": lock_key(RUNNER_LOCK)}
            while not conn.execute(text("SELECT pg_try_advisory_lock(:key)"), key).scalar():
                conn.rollback()
                if stop.wait(poll):
                    yield False
                    return
            conn.commit()  # a session lock: it outlives the transaction

            def check() -> None:  # raises when the connection, and with it the lock, is gone
                conn.execute(text("SELECT 1"))
                conn.rollback()

            try:
                yield check
            finally:
                conn.execute(text("SELECT pg_advisory_unlock(:key)"), key)
                conn.commit()
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


def work(stop: threading.Event, *, poll: float, once: bool = False) -> None:
    """Run queued shuffles until `stop` is set (or, with `once`, until none is waiting).
    A database outage is logged and waited out; the runner lock is then taken again."""
    from app.blueprints.tasks.jobs import run_next_shuffle

    while not stop.is_set():
        try:
            with runner_lock(db.engine, stop, poll) as still_held:
                if not still_held:
                    return
                log.info("job worker running (pid lock held)")
                while not stop.is_set():
                    still_held()
                    if run_next_shuffle() is None:
                        if once:
                            return
                        stop.wait(poll)
        except DBAPIError:
            log.exception("job worker: database error; retrying in %s s", poll)
            db.session.remove()
            stop.wait(poll)
        finally:
            db.session.remove()


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
