"""The job worker outlives its database (PostgreSQL).

Real worker processes (the Procfile's `flask --app wsgi jobs work`), one alone or a standby
pair, while the test terminates the server session holding the runner lock
(pg_terminate_backend, as an idle timeout or a failover does) again and again, or restarts
a PostgreSQL server of its own: every time, a worker takes the lock again, a shuffle
pressed afterwards completes, and no worker process has exited.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import create_engine, select, text
from sqlalchemy.engine import Engine
from sqlalchemy.pool import NullPool

from app import clock
from app.blueprints.auth.models import Popug
from app.blueprints.tasks import shuffles
from app.blueprints.tasks.models import Shuffle, ShuffleStatus
from app.config import database_url
from app.db import lock_key, write_intent
from app.extensions import db
from app.worker import RUNNER_LOCK
from tests.reliability.helpers import (
    ON_POSTGRES,
    PYTHON,
    Child,
    app_on,
    assert_books,
    create_schema,
    poll,
    private_postgres,
    scratch_database,
    server_env,
)
from tests.support.seeding import Population, seed

pytestmark = pytest.mark.skipif(not ON_POSTGRES, reason="the PostgreSQL pass runs it")

TASKS = 40
ROUNDS = 3  # a worker that survives once but not twice (its standby's turn) fails here
DEADLINE = 60.0
WORKER = [str(Path(PYTHON).parent / "flask"), "--app", "wsgi", "jobs", "work"]


@contextmanager
def workers(url: str, count: int) -> Iterator[list[Child]]:
    children = [Child(WORKER, env=server_env(url, JOBS_POLL_SECONDS="0.05")) for _ in range(count)]
    try:
        yield children
    finally:
        for child in children:
            child.close()


def observer(url: str) -> Engine:
    """The test's own connections, none kept between uses (they would not survive a restart)."""
    return create_engine(database_url(url, url), poolclass=NullPool, isolation_level="AUTOCOMMIT")


def lock_holder(engine: Engine) -> int | None:
    """The pid of the server session holding the runner lock, or None (none, or the server
    is away)."""
    try:
        with engine.connect() as conn:
            return conn.execute(
                text(
                    "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted "
                    "AND database = (SELECT oid FROM pg_database WHERE datname = "
                    "current_database()) AND classid = 0 AND objid::bigint = :key "
                    "AND objsubid = 1"
                ),
                {"key": lock_key(RUNNER_LOCK)},
            ).scalar()
    except Exception:  # the server restarting
        return None


def shuffle_status(engine: Engine, shuffle_id: int) -> str | None:
    with engine.connect() as conn:
        return conn.execute(
            text("SELECT status FROM shuffles WHERE id = :id"), {"id": shuffle_id}
        ).scalar()


def seeded(url: str) -> None:
    end = clock.now().replace(microsecond=0)
    rows = seed(url, Population(12, TASKS, 0, end=end))["rows"]
    assert rows["tasks"] == TASKS


def press(url: str, token: str) -> int:
    """A manager presses "Shuffle open tasks" (as the route does: queue it, commit)."""
    with app_on(url), write_intent():
        manager = db.session.scalars(select(Popug).where(Popug.role == "manager")).first()
        shuffle = shuffles.request_shuffle(actor=manager, form_token=token).shuffle
        db.session.commit()
        return shuffle.id


def assert_a_press_completes(url: str, engine: Engine, token: str, children: list[Child]) -> None:
    shuffle_id = press(url, token)
    done = poll(lambda: shuffle_status(engine, shuffle_id) == ShuffleStatus.DONE, timeout=DEADLINE)
    assert done, f"shuffle {token} never ran:\n" + "\n\n".join(c.output[-3000:] for c in children)


def assert_all_running(children: list[Child]) -> None:
    for child in children:
        assert child.proc.poll() is None, f"a worker exited:\n{child.output[-3000:]}"


def new_holder(engine: Engine, old: int | None, children: list[Child]) -> int:
    """Wait for a session other than `old` to hold the runner lock (not once every worker
    has exited)."""

    def taken() -> int | bool | None:
        if all(child.proc.poll() is not None for child in children):
            return True
        pid = lock_holder(engine)
        return pid if pid != old else None

    holder = poll(taken, timeout=DEADLINE)
    assert_all_running(children)
    assert holder, "nobody took the runner lock:\n" + "\n\n".join(
        c.output[-3000:] for c in children
    )
    return holder


@pytest.mark.parametrize("count", [1, 2], ids=["single", "standby-pair"])
def test_worker_survives_its_lock_session_terminated(tmp_path, count):
    with scratch_database("postgresql", tmp_path) as url:
        create_schema(url)
        seeded(url)
        engine = observer(url)
        try:
            with workers(url, count) as children:
                holder = new_holder(engine, None, children)
                for round in range(ROUNDS):
                    with engine.connect() as conn:
                        killed = conn.execute(
                            text("SELECT pg_terminate_backend(:pid)"), {"pid": holder}
                        ).scalar()
                    assert killed
                    holder = new_holder(engine, holder, children)
                    assert_a_press_completes(url, engine, f"terminated-{round}", children)
                assert_all_running(children)
            with app_on(url):
                statuses = db.session.scalars(select(Shuffle.status)).all()
                assert statuses == [ShuffleStatus.DONE] * ROUNDS
                assert_books("after the lock sessions were terminated")
        finally:
            engine.dispose()


@pytest.mark.parametrize("count", [1, 2], ids=["single", "standby-pair"])
def test_worker_survives_a_postgresql_restart(count):
    with private_postgres() as server:
        url = server.url
        create_schema(url)
        seeded(url)
        engine = observer(url)
        with workers(url, count) as children:
            new_holder(engine, None, children)
            for round in range(2):
                server.restart()
                new_holder(engine, None, children)
                assert_a_press_completes(url, engine, f"restarted-{round}", children)
            assert_all_running(children)
        with app_on(url):
            assert db.session.scalars(select(Shuffle.status)).all() == [ShuffleStatus.DONE] * 2
            assert_books("after the restarts")
