"""Faults, on SQLite (a file) and on PostgreSQL (a fresh database on the
TEST_DATABASE_URL server), with real separate processes killed by SIGKILL:

- a shuffle killed while its big UPDATE runs, and killed after each of its statements;
- closing a day killed after each of its statements, then rerun: nobody paid twice, every
  paid popug's e-mail queued once and delivered once to a real SMTP server (aiosmtpd);
- the SMTP server down while a day closes: payouts commit, e-mails wait, and go out once
  the server is back;
- the database unreachable (a 503 page, never a 500), and the server-side connections of
  the app's pool killed between requests and during one (pool pre-ping). A real restart of
  a PostgreSQL server is in test_pg_restart.py.
"""

from __future__ import annotations

import dataclasses
import os
import socket
import sqlite3
import threading
from collections import Counter
from contextlib import closing
from datetime import UTC, datetime, time, timedelta
from email import message_from_bytes
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import create_engine, select, text

from app import clock, create_app
from app.blueprints.accounting import queries
from app.blueprints.accounting.models import (
    MAIL_PENDING,
    MAIL_SENT,
    PAYOUT,
    Account,
    BillingDay,
    LedgerEntry,
    OutboxMessage,
    Payout,
)
from app.blueprints.auth import sessions
from app.blueprints.tasks.models import Shuffle, ShuffleFailure, ShuffleStatus, Task
from app.blueprints.tasks.shuffles import SHUFFLE_ATTEMPTS, SHUFFLE_QUEUE_LOCK
from app.config import database_url
from app.db import lock_key
from app.extensions import db
from tests import factories
from tests.helpers import count, signed_in_client
from tests.reliability.helpers import (
    ON_POSTGRES,
    PYTHON,
    TEST_DATABASE_URL,
    Child,
    app_on,
    assert_books,
    config_for,
    create_schema,
    flask_cli,
    poll,
    scratch_database,
    waiting_on_advisory_lock,
)
from tests.support.seeding import Population, seed
from tests.tasks.helpers import fee_charges

# Each fault runs on the database the suite runs on: a SQLite file in a SQLite run, a fresh
# PostgreSQL database on the TEST_DATABASE_URL server in a PostgreSQL run.
BACKENDS = ["postgresql" if ON_POSTGRES else "sqlite"]
# Enough open tasks that the shuffle's UPDATE runs for a noticeable time (about a second or
# more), few enough that a test stays well under 30 s.
BIG_SHUFFLE = {
    "sqlite": int(os.environ.get("RELIABILITY_SHUFFLE_TASKS_SQLITE", 100_000)),
    "postgresql": int(os.environ.get("RELIABILITY_SHUFFLE_TASKS_PG", 60_000)),
}
WORKER = [PYTHON, "-m", "tests.reliability.fault_worker"]


@pytest.fixture(params=BACKENDS)
def backend(request):
    return request.param


@pytest.fixture
def database(backend, tmp_path):
    with scratch_database(backend, tmp_path) as url:
        create_schema(url)
        yield url


# --- shuffle ---------------------------------------------------------------------------


def snapshot() -> dict:
    return {
        "assignees": dict(db.session.execute(select(Task.id, Task.assignee_id)).all()),
        "balances": dict(db.session.execute(select(Account.id, Account.balance)).all()),
    }


def check_shuffle_state(url: str, before: dict, tasks: int) -> int:
    """How many shuffles committed (0 or more), after checking that the tasks are all where
    they were (none committed) or all where the last shuffle put them, with one assign fee
    per task per shuffle and every balance equal to its ledger sum."""
    with app_on(url):
        shuffles = db.session.scalars(
            select(Shuffle).where(Shuffle.status == ShuffleStatus.DONE).order_by(Shuffle.id)
        ).all()
        now = snapshot()
        fees = len(fee_charges())
        assert fees == tasks * (1 + len(shuffles)), (fees, len(shuffles))
        if not shuffles:
            assert now == before, "a killed shuffle left tasks or balances changed"
            assert count(LedgerEntry, LedgerEntry.shuffle_id.is_not(None)) == 0
        else:
            last = shuffles[-1]
            assert last.tasks_count == tasks
            assert len(fee_charges(shuffle_id=last.id)) == tasks
            # every open task's fee in the last shuffle was charged to its current assignee
            misplaced = db.session.scalar(
                text(
                    "SELECT count(*) FROM tasks t JOIN accounts a ON a.popug_id = t.assignee_id "
                    "WHERE t.status = 'open' AND NOT EXISTS (SELECT 1 FROM ledger_lines l "
                    "JOIN ledger_entries e ON e.id = l.entry_id WHERE l.task_id = t.id "
                    "AND e.shuffle_id = :s AND e.account_id = a.id AND e.kind = 'assign_fee')"
                ),
                {"s": last.id},
            )
            assert misplaced == 0
        assert_books("after the shuffle process died")
        return len(shuffles)


def on(day) -> datetime:
    """Noon of business day `day`: the seeded tasks end there, all on that day."""
    return datetime.combine(day, time(12), UTC)


def seeded(url: str, tasks: int) -> dict:
    rows = seed(url, Population(20, tasks, 0, end=on(clock.business_day())))["rows"]
    assert (rows["popugs"], rows["tasks"], rows["ledger_entries"]) == (20, tasks, tasks)
    with app_on(url):
        return snapshot()


def _pg_statement_running(url: str, prefix: str):
    """Poller: the pid of a backend of this database running a statement starting with
    `prefix`, or None."""
    engine = create_engine(database_url(url, url), isolation_level="AUTOCOMMIT")

    def running():
        with engine.connect() as conn:
            return conn.execute(
                text(
                    "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
                    "AND pid <> pg_backend_pid() AND state = 'active' "
                    "AND regexp_replace(query, '\\s+', ' ', 'g') ILIKE :q"
                ),
                {"q": prefix + "%"},
            ).scalar()

    return engine, running


def test_shuffle_killed_while_its_update_runs(backend, database):
    tasks = BIG_SHUFFLE[backend]
    before = seeded(database, tasks)
    child = Child([*WORKER, "shuffle", database, "--token", "killed"])
    try:
        child.wait_for("STARTED")
        if backend == "postgresql":
            engine, running = _pg_statement_running(database, SHUFFLE_STEPS[backend][0])
            try:
                caught = poll(running, timeout=60, interval=0.01)
            finally:
                engine.dispose()
        else:
            # SQLite: once the worker's claim has committed (the shuffle shows running), the
            # shuffle's transaction spills changed pages into the WAL while it runs; a commit
            # would also write it, hence COMMITTED is checked.
            path = database.removeprefix("sqlite:///")
            wal = Path(path + "-wal")

            def claimed():
                with closing(sqlite3.connect(path, timeout=5)) as conn:
                    return conn.execute("SELECT status FROM shuffles").fetchone() == ("running",)

            assert poll(lambda: claimed() or child.proc.poll() is not None, timeout=60)
            claimed_wal = wal.stat().st_size if wal.exists() else 0
            caught = poll(
                lambda: (
                    (wal.exists() and wal.stat().st_size > claimed_wal + 65536)
                    or child.proc.poll() is not None
                ),
                timeout=60,
                interval=0.005,
            )
        assert caught, "the shuffle statement was never seen running"
        child.kill()
    finally:
        child.close()
    # The kill came while the shuffle's statement ran: nothing of it may be left.
    assert "COMMITTED" not in child.lines, "the shuffle committed before the kill"
    assert check_shuffle_state(database, before, tasks) == 0
    # The worker restarts: it begins the cut-off shuffle again (once PostgreSQL has ended
    # the dead one's transaction and released its locks), and it commits, once.
    rerun = Child([*WORKER, "work", database])
    try:
        assert rerun.finish(timeout=120) == 0, rerun.output
    finally:
        rerun.close()
    assert check_shuffle_state(database, before, tasks) == 1
    with app_on(database):
        shuffle = db.session.scalars(select(Shuffle)).one()
        assert (shuffle.status, shuffle.form_token) == (ShuffleStatus.DONE, "killed")
        assert shuffle.attempts == 2  # begun by the killed worker, then by the new one
    verify = flask_cli(database, "accounting", "verify")
    assert verify.returncode == 0, verify.stdout + verify.stderr


# The statements that change rows, in order. On PostgreSQL the move of the tasks, their
# ledger entries and the balances are one statement (WITH … UPDATE tasks …).
SHUFFLE_STEPS = {
    "sqlite": [
        "UPDATE tasks",
        "INSERT INTO ledger_entries",
        "INSERT INTO ledger_lines",
        "INSERT INTO shuffle_lines",
        "UPDATE accounts",
    ],
    "postgresql": ["WITH assignments AS (UPDATE tasks"],
}


@pytest.mark.parametrize("step", SHUFFLE_STEPS[BACKENDS[0]])
def test_shuffle_killed_after_each_statement_changes_nothing(database, step):
    """Killed right after `step` (tasks moved but not charged, charged but balances not
    moved, everything but the commit): nothing of it survives."""
    before = seeded(database, 300)
    child = Child([*WORKER, "shuffle", database, "--pause-after", step])
    try:
        child.wait_for("PAUSED")
        child.kill()
    finally:
        child.close()
    assert "COMMITTED" not in child.lines
    assert check_shuffle_state(database, before, 300) == 0
    with app_on(database):
        cut_off = db.session.scalars(select(Shuffle)).one()
        assert (cut_off.status, cut_off.attempts) == (ShuffleStatus.RUNNING, 1), (
            "shown running, not lost"
        )


def test_shuffle_whose_worker_keeps_dying_fails_with_a_reason(database):
    """A worker killed mid-shuffle SHUFFLE_ATTEMPTS times: the next worker gives the shuffle
    up as failed, with a reason, and nothing ever changed; the next press works."""
    step = SHUFFLE_STEPS[BACKENDS[0]][-1]
    before = seeded(database, 300)
    for attempt in range(SHUFFLE_ATTEMPTS):
        action = ["shuffle", database, "--token", "doomed"] if attempt == 0 else ["work", database]
        child = Child([*WORKER, *action, "--pause-after", step])
        try:
            child.wait_for("PAUSED")
            child.kill()
        finally:
            child.close()
    survivor = Child([*WORKER, "shuffle", database, "--token", "next"])
    try:
        assert survivor.finish(timeout=120) == 0, survivor.output
    finally:
        survivor.close()
    with app_on(database):
        doomed, following = db.session.scalars(select(Shuffle).order_by(Shuffle.id)).all()
        assert (doomed.status, doomed.attempts) == (ShuffleStatus.FAILED, SHUFFLE_ATTEMPTS)
        assert doomed.error == ShuffleFailure.WORKER_STOPPED  # worded when shown
        assert count(LedgerEntry, LedgerEntry.shuffle_id == doomed.id) == 0
        assert following.status == ShuffleStatus.DONE
    assert check_shuffle_state(database, before, 300) == 1


# --- closing a day ---------------------------------------------------------------------


class Inbox:
    """A real SMTP server (aiosmtpd) on a loopback port, recording every message."""

    def __init__(self, port: int):
        self.port = port
        self.messages: list[tuple[tuple[str, ...], bytes]] = []
        self._lock = threading.Lock()
        self.controller = Controller(self, hostname="127.0.0.1", port=port)

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's name
        with self._lock:
            self.messages.append((tuple(envelope.rcpt_tos), envelope.content))
        return "250 Message accepted"

    def start(self) -> Inbox:
        self.controller.start()
        return self

    def stop(self) -> None:
        self.controller.stop()

    def recipients(self) -> Counter:
        return Counter(rcpt for rcpts, _ in self.messages for rcpt in rcpts)

    def message_ids(self) -> Counter:
        return Counter(message_from_bytes(content)["Message-ID"] for _, content in self.messages)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def inbox():
    server = Inbox(free_port()).start()
    yield server
    server.stop()


def mail_env(port: int) -> dict[str, str]:
    return {"MAIL_SERVER": "127.0.0.1", "MAIL_PORT": str(port)}


def seed_day(url: str) -> tuple:
    """30 popugs with a day of done and open tasks on yesterday's business day; returns
    (day, {email: balance} of the popugs a close must pay)."""
    day = clock.business_day() - timedelta(days=1)
    population = Population(30, 40, 0, end=on(day))
    seed(url, dataclasses.replace(population, done_tasks=2 * population.assignable))
    with app_on(url):
        to_pay = dict(
            db.session.execute(
                select(Account.email, Account.balance).where(Account.balance > 0)
            ).all()
        )
    assert len(to_pay) >= 10, "the seed must leave popugs to pay"
    return day, to_pay


def check_closed_once(url: str, day, to_pay: dict) -> None:
    """The day is closed; each popug to pay has exactly one payout of its balance, one
    payout ledger entry and one outbox e-mail; the books balance."""
    with app_on(url):
        assert db.session.get(BillingDay, day) is not None
        payouts = db.session.execute(
            select(Account.email, Payout.amount, Payout.id)
            .join(Account, Account.id == Payout.account_id)
            .where(Payout.day == day)
        ).all()
        assert Counter(email for email, _, _ in payouts) == Counter(to_pay.keys())
        assert {email: amount for email, amount, _ in payouts} == to_pay
        assert count(Payout) == len(to_pay)
        assert count(LedgerEntry, LedgerEntry.kind == PAYOUT) == len(to_pay)
        outbox = db.session.execute(select(OutboxMessage.recipient, OutboxMessage.payout_id)).all()
        assert Counter(recipient for recipient, _ in outbox) == Counter(to_pay.keys())
        assert {payout_id for _, payout_id in outbox} == {pid for _, _, pid in payouts}
        assert count(Account, Account.balance > 0) == 0
        assert_books("after closing the day")


def check_nothing_closed(url: str, day) -> None:
    with app_on(url):
        assert db.session.get(BillingDay, day) is None
        assert count(Payout) == 0
        assert count(LedgerEntry, LedgerEntry.kind == PAYOUT) == 0
        assert count(OutboxMessage) == 0
        assert_books("after the close process died")


def check_delivered_once(url: str, inbox: Inbox, to_pay: dict) -> None:
    assert inbox.recipients() == Counter(to_pay.keys()), "each paid popug gets exactly one e-mail"
    assert all(n == 1 for n in inbox.message_ids().values())
    with app_on(url):
        statuses = Counter(db.session.scalars(select(OutboxMessage.status)))
        assert statuses == Counter({MAIL_SENT: len(to_pay)})


# Kill points of a close, in order: its first statement, the one after the money moved,
# its last one before the commit, and the first statement of sending its e-mails (the claim
# of a batch, after the close committed).
CLOSE_STEPS = [
    "INSERT INTO payouts",
    "INSERT INTO mail_outbox",
    "INSERT INTO audit_events",
    "UPDATE mail_outbox",
]


def close_day_cli(url: str, day, port: int):
    return flask_cli(url, "billing", "close-day", "--date", day.isoformat(), **mail_env(port))


@pytest.mark.parametrize("step", CLOSE_STEPS)
def test_close_day_killed_then_rerun_pays_once_and_mails_once(database, inbox, step):
    day, to_pay = seed_day(database)
    command = ["billing", "close-day", "--date", day.isoformat()]
    child = Child(
        [*WORKER, "cli", database, "--pause-after", step, "--", *command],
        env={**os.environ, **mail_env(inbox.port)},
    )
    try:
        child.wait_for("PAUSED")
        child.kill()
    finally:
        child.close()
    assert inbox.messages == []
    if step == "UPDATE mail_outbox":  # the close had committed; its e-mails had not gone
        check_closed_once(database, day, to_pay)
    else:
        check_nothing_closed(database, day)

    rerun = close_day_cli(database, day, inbox.port)
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    check_closed_once(database, day, to_pay)
    check_delivered_once(database, inbox, to_pay)
    if step != CLOSE_STEPS[-1]:
        return
    # Once more, as cron would: nothing is paid or sent again.
    again = close_day_cli(database, day, inbox.port)
    assert again.returncode == 0, again.stdout + again.stderr
    assert "already closed" in again.stdout
    send = flask_cli(database, "billing", "send-mail", "--retry-now", **mail_env(inbox.port))
    assert send.returncode == 0, send.stdout + send.stderr
    check_closed_once(database, day, to_pay)
    check_delivered_once(database, inbox, to_pay)
    verify = flask_cli(database, "accounting", "verify")
    assert verify.returncode == 0, verify.stdout + verify.stderr


def test_smtp_down_while_closing_then_mail_goes_out_once(database):
    day, to_pay = seed_day(database)
    port = free_port()  # nothing listens here yet
    closed = flask_cli(
        database, "billing", "close-day", "--date", day.isoformat(), **mail_env(port)
    )
    assert closed.returncode == 0, closed.stdout + closed.stderr
    check_closed_once(database, day, to_pay)
    with app_on(database):
        waiting = db.session.execute(
            select(OutboxMessage.status, OutboxMessage.attempts, OutboxMessage.last_error)
        ).all()
    assert {status for status, _, _ in waiting} == {MAIL_PENDING}
    assert all(attempts >= 1 and error for _, attempts, error in waiting), waiting

    still_down = flask_cli(database, "billing", "send-mail", "--retry-now", **mail_env(port))
    assert still_down.returncode == 1, still_down.stdout + still_down.stderr
    with app_on(database):
        assert queries.pending_mail() == len(to_pay)

    server = Inbox(port).start()
    try:
        # Not due yet (backoff): a plain run sends nothing; --retry-now sends them all.
        early = flask_cli(database, "billing", "send-mail", **mail_env(port))
        assert early.returncode == 0, early.stdout + early.stderr
        assert server.messages == []
        back = flask_cli(database, "billing", "send-mail", "--retry-now", **mail_env(port))
        assert back.returncode == 0, back.stdout + back.stderr
        check_delivered_once(database, server, to_pay)
        again = flask_cli(database, "billing", "send-mail", "--retry-now", **mail_env(port))
        assert again.returncode == 0
        check_delivered_once(database, server, to_pay)
    finally:
        server.stop()
    check_closed_once(database, day, to_pay)


# --- the database going away -----------------------------------------------------------

UNREACHABLE = "postgresql+psycopg://ates@127.0.0.1:1/ates"


@pytest.mark.parametrize("signed_in", [False, True])
@pytest.mark.parametrize("htmx", [False, True])
def test_unreachable_database_gets_a_clean_503(signed_in, htmx):
    """PostgreSQL not reachable at all (a closed port): a 503 page, never a 500 — whether
    the request is anonymous or carries a session, a page or an htmx fragment."""
    app = create_app(config_for(UNREACHABLE, TESTING=False))
    client = app.test_client()
    if signed_in:
        with client.session_transaction() as session:
            session["_user_id"] = "00000000-0000-4000-8000-000000000001.0"
            sessions.begin(session)
            session["_fresh"] = True
    headers = {"HX-Request": "true"} if htmx else {}
    for method, path, data in [
        ("GET", "/sign-in", None),
        ("POST", "/sign-in", {"username": "someone", "beak_shape": "a fine test beak"}),
        ("GET", "/", None),
        ("GET", "/my-tasks", None),
        ("POST", "/tasks", {"title": "A task"}),
        ("GET", "/accounting", None),
    ]:
        response = client.open(path, method=method, data=data, headers=headers)
        where = f"{method} {path} signed_in={signed_in} htmx={htmx}"
        if not signed_in and (
            response.status_code in (302, 303) or "HX-Redirect" in response.headers
        ):
            continue  # anonymous: sent to sign in before any query
        if not signed_in and method == "GET" and path == "/sign-in":
            # the sign-in page itself needs no database on GET
            assert response.status_code in (200, 503), where
            continue
        assert response.status_code == 503, f"{where}: {response.status_code}"
        assert "Temporarily unavailable" in response.get_data(as_text=True), where


def _backend_pids(admin, name: str) -> list[int]:
    with admin.connect() as conn:
        return list(
            conn.execute(
                text(
                    "SELECT pid FROM pg_stat_activity WHERE datname = :db "
                    "AND pid <> pg_backend_pid()"
                ),
                {"db": name},
            ).scalars()
        )


def _terminate(admin, name: str) -> int:
    with admin.connect() as conn:
        return len(
            conn.execute(
                text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = :db AND pid <> pg_backend_pid()"
                ),
                {"db": name},
            ).all()
        )


@pytest.mark.skipif(not TEST_DATABASE_URL.startswith("postgres"), reason="needs PostgreSQL")
def test_killed_database_connections_are_replaced(tmp_path):
    """The app's server-side connections terminated on the shared server (what an
    administrator's pg_terminate_backend does; test_pg_restart.py restarts a whole server).
    Between requests: the next request succeeds (pool pre-ping). During a request: that
    request gets the 503 page, and the next one succeeds."""
    with scratch_database("postgresql", tmp_path) as url:
        name = url.rsplit("/", 1)[1]
        app = create_app(config_for(url, TESTING=False))
        with app.app_context():
            db.create_all()
            manager = factories.make_popug(role="manager", username="boss")
            factories.make_popug(role="worker", username="worker-one")
            task_title = factories.make_task(manager, title="Survives a restart").title
            client = signed_in_client(app, manager)
            db.session.remove()
        admin = create_engine(database_url(url, url), isolation_level="AUTOCOMMIT")
        try:
            assert client.get("/").status_code == 200
            assert _backend_pids(admin, name), "the app's pool keeps a connection"
            assert _terminate(admin, name) >= 1
            response = client.get("/")
            assert response.status_code == 200, response.get_data(as_text=True)[:500]
            assert task_title in response.get_data(as_text=True)

            # In flight: the shuffle press waits for the lock of the shuffle queue the test
            # holds, and its connection is terminated while it waits.
            with admin.connect() as holder:
                holder.execute(text("BEGIN"))
                holder.execute(
                    text("SELECT pg_advisory_xact_lock(:k)"),
                    {"k": lock_key(SHUFFLE_QUEUE_LOCK)},
                )
                results = {}

                def shuffle():
                    results["response"] = client.post("/tasks/shuffle", data={"form_token": "t"})

                thread = threading.Thread(target=shuffle, daemon=True)
                thread.start()
                waiting = poll(
                    lambda: waiting_on_advisory_lock(admin, name), timeout=30, interval=0.02
                )
                assert waiting, "the shuffle press never waited for the lock"
                with admin.connect() as killer:
                    killer.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": waiting})
                thread.join(timeout=30)
                assert not thread.is_alive()
                holder.execute(text("ROLLBACK"))
            response = results["response"]
            assert response.status_code == 503, response.get_data(as_text=True)[:500]
            assert "Temporarily unavailable" in response.get_data(as_text=True)
            assert client.get("/").status_code == 200
            with app.app_context():
                assert count(Shuffle) == 0
                assert_books("after the connections were killed")
                db.session.remove()
        finally:
            admin.dispose()
            with app.app_context():
                db.engine.dispose()
