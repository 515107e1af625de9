"""Benchmark of "Shuffle open tasks": the service against the minimal hand-written
SQL making the same row changes, on the same data, plus the original per-task loop, and a
lean anchor: the same facts in the leanest schema that holds them, shuffled the same way.

    python bench/shuffle.py [--quick] [--rounds N] [--only main,small,loop]
                            [--kinds service,hand,lean]
                            [--database-url postgresql://postgres@127.0.0.1:5432/NAME]

Without --database-url it runs on SQLite files in a temporary directory. With it, it uses
databases named NAME_main_base, NAME_main_run, NAME_main_lean_base, … on that server (each
dropped if it exists, created, and dropped at the end; the user must be allowed to CREATE
DATABASE).

Data sets (10,000 popugs each; tasks with their accounts and ledger entries, consistent):
  main   1,000,000 open + 100,000 done tasks: service vs hand-written SQL vs lean
  small    100,000 open +  10,000 done tasks: service vs hand-written SQL vs lean
  loop      10,000 open +   1,000 done tasks: the original design's per-task loop vs service

Each data set is seeded once into a base database and settled (PostgreSQL VACUUM ANALYZE;
SQLite a WAL checkpoint). Every timed run works on a fresh copy of that base (a file copy,
or CREATE DATABASE … TEMPLATE), after a CHECKPOINT, in a fresh child process, so every run
starts from identical data and the child's peak memory (ru_maxrss; tracemalloc peak for
Python allocations during the shuffle) belongs to that run alone. With --rounds N the
runs alternate A B C, C B A … to cancel order effects. After each run the child checks the
result: every balance equals its ledger sum, one new entry per open task charging its fee
to its assignee's account, every open task on an eligible popug, done tasks untouched.

"hand" is the least SQL on the app's own schema, so it pays for that schema (wider rows,
the indexes on tasks and the ledger, foreign keys, the shuffles row). "lean" says what the
shuffle itself costs on this machine: popugs(id, role, active), accounts(popug_id,
balance), tasks(id, assignee_id, status, fee, reward) with one index on status,
ledger(id, account_id, task_id, amount, kind, at) and no other index, seeded from the
same Population into its own database (NAME_main_lean_base; on SQLite its own file), and
one transaction: a numbered pool of eligible popugs, a temporary table of moves (a random
slot per open task, joined on the pool's key), then UPDATE tasks, INSERT ledger, UPDATE
accounts, all from the moves.

Goals: service / hand-written ≤ 1.5 and service / lean ≤ 1.5 on both databases,
peak memory < 200 MB.
--quick: 1,000 popugs and 100 times fewer tasks (a smoke run).
"""

from __future__ import annotations

import argparse
import importlib.machinery
import importlib.util
import multiprocessing
import secrets
import sys
import time
import tracemalloc
import uuid
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import create_engine, make_url, select, text, update  # noqa: E402

from app import clock  # noqa: E402
from app.blueprints.accounting import posting  # noqa: E402
from app.blueprints.auth.models import Popug  # noqa: E402
from app.blueprints.tasks import service as tasks_service  # noqa: E402
from app.blueprints.tasks import shuffles  # noqa: E402
from app.blueprints.tasks.models import OPEN, TASKS  # noqa: E402
from app.config import database_url  # noqa: E402
from app.db import write_intent  # noqa: E402
from app.extensions import db  # noqa: E402
from bench.common import (  # noqa: E402
    ELIGIBLE_ROLES,
    Population,
    StatementLog,
    _Sql,
    bench_app,
    check_ledger,
    checkpoint,
    copy_database,
    create_database,
    current_rss_mb,
    describe_database,
    drop_database,
    fresh_database,
    is_postgres_url,
    load,
    machine,
    markdown_table,
    peak_rss_mb,
    process_cpu_seconds,
    raise_priority,
    seed,
    settle,
    vm_hwm_mb,
    with_database_name,
)

DATA_SETS = {
    "main": Population(10_000, 1_000_000, 100_000),
    "small": Population(10_000, 100_000, 10_000),
    "loop": Population(10_000, 10_000, 1_000),
}
QUICK_DATA_SETS = {
    "main": Population(1_000, 10_000, 1_000),
    "small": Population(1_000, 1_000, 100),
    "loop": Population(1_000, 100, 10),
}
MANAGER_ID = 2  # Population puts the managers right after the admin (id 1)
GOAL_RATIO = 1.5
GOAL_LEAN_RATIO = 1.5
GOAL_MB = 200
ELIGIBLE_SQL = "active = true AND role IN ('worker', 'accountant')"
assert ELIGIBLE_ROLES == ("worker", "accountant")
KINDS = ("service", "hand", "lean")
# The lean anchor's schema: just the columns the shuffle reads or writes (plus what a done
# task keeps: its reward), keyed by the ids; one index, on tasks.status, which the open-task
# scan uses; the ledger has only its key. {ledger_id}: an identity column on either database.
LEAN_SCHEMA = (
    "CREATE TABLE popugs (id INTEGER PRIMARY KEY, role TEXT NOT NULL, active BOOLEAN NOT NULL)",
    "CREATE TABLE accounts (popug_id INTEGER PRIMARY KEY, balance BIGINT NOT NULL)",
    "CREATE TABLE tasks (id INTEGER PRIMARY KEY, assignee_id INTEGER NOT NULL, "
    "status TEXT NOT NULL, fee BIGINT NOT NULL, reward BIGINT NOT NULL)",
    "CREATE INDEX ix_tasks_status ON tasks (status)",
    "CREATE TABLE ledger (id {ledger_id}, account_id INTEGER NOT NULL, task_id INTEGER, "
    "amount BIGINT NOT NULL, kind TEXT NOT NULL, at TIMESTAMP NOT NULL)",
)


# --- what one child process runs ---------------------------------------------------------


def _sql(conn, statement: str, params: dict | None = None):
    """Run literal SQL the same way on both drivers (text() escapes % for psycopg)."""
    return conn.execute(text(statement), params or {})


def _fingerprint(conn, ledger: str = "ledger_entries") -> dict:
    """Counts and checksums that a shuffle must leave alone (done tasks) or must keep.
    `ledger`: the app's ledger_entries, or the lean schema's ledger (whose new entries are
    told apart by id: it has no shuffle_id)."""
    done = _sql(
        conn,
        "SELECT count(*), coalesce(sum(assignee_id), 0), "
        "coalesce(sum((id % 1000) * assignee_id), 0) FROM tasks WHERE status = 'done'",
    ).one()
    return {
        "open": _sql(conn, "SELECT count(*) FROM tasks WHERE status = 'open'").scalar(),
        "open_fees": int(
            _sql(conn, "SELECT coalesce(sum(fee), 0) FROM tasks WHERE status = 'open'").scalar()
        ),
        "done": [int(value) for value in done],
        "entries": _sql(conn, f"SELECT count(*) FROM {ledger}").scalar(),
        "last_entry": _sql(conn, f"SELECT coalesce(max(id), 0) FROM {ledger}").scalar(),
        "pool": _sql(conn, f"SELECT count(*) FROM popugs WHERE {ELIGIBLE_SQL}").scalar(),
    }


def _check_lean_ledger(conn) -> dict:
    """check_ledger for the lean schema: accounts are keyed by popug_id, entries in ledger."""
    mismatched = _sql(
        conn,
        "SELECT count(*) FROM accounts a LEFT JOIN (SELECT account_id, sum(amount) AS total "
        "FROM ledger GROUP BY account_id) s ON s.account_id = a.popug_id "
        "WHERE a.balance <> coalesce(s.total, 0)",
    ).scalar()
    balances = _sql(conn, "SELECT coalesce(sum(balance), 0) FROM accounts").scalar()
    entries = _sql(conn, "SELECT coalesce(sum(amount), 0) FROM ledger").scalar()
    return {"mismatched_accounts": mismatched, "balances": int(balances), "entries": int(entries)}


def _verify(conn, before: dict, shuffle_id: int | None, lean: bool = False) -> dict:
    """Re-check the data after one shuffle; raises AssertionError on any violation.
    `lean`: the lean schema, whose new entries are those after before["last_entry"]."""
    after = _fingerprint(conn, "ledger" if lean else "ledger_entries")
    ledger = _check_lean_ledger(conn) if lean else check_ledger(conn)
    new_entries = after["entries"] - before["entries"]
    problems = []
    if ledger["mismatched_accounts"] or ledger["balances"] != ledger["entries"]:
        problems.append(f"balances differ from ledger sums: {ledger}")
    if shuffle_id is None and not lean and new_entries != before["open"]:
        problems.append(f"{new_entries} new ledger entries for {before['open']} open tasks")
    if after["open"] != before["open"] or after["done"] != before["done"]:
        problems.append(f"task counts or done tasks changed: {before} -> {after}")
    ineligible = _sql(
        conn,
        "SELECT count(*) FROM tasks t JOIN popugs p ON p.id = t.assignee_id "
        f"WHERE t.status = 'open' AND NOT (p.{ELIGIBLE_SQL.replace(' AND ', ' AND p.')})",
    ).scalar()
    if ineligible:
        problems.append(f"{ineligible} open tasks on ineligible popugs")
    distinct = _sql(
        conn, "SELECT count(DISTINCT assignee_id) FROM tasks WHERE status = 'open'"
    ).scalar()
    if distinct < 0.5 * min(before["pool"], before["open"]):
        problems.append(f"only {distinct} distinct assignees: not random per task")
    if shuffle_id is not None:
        # The shuffle's charge per task: a line of its summed entry per popug (the service),
        # or an entry naming the task (the hand-written SQL, in the shape of old shuffles).
        count, tasks, wrong, charged = conn.execute(
            text(
                "SELECT count(*), count(DISTINCT l.task_id), sum(CASE WHEN l.amount <> -t.fee "
                "OR a.popug_id <> t.assignee_id OR l.kind <> 'assign_fee' THEN 1 ELSE 0 END), "
                "-sum(l.amount) FROM (SELECT e.account_id, x.task_id, x.amount, e.kind "
                "FROM ledger_lines x JOIN ledger_entries e ON e.id = x.entry_id "
                "WHERE e.shuffle_id = :shuffle_id UNION ALL SELECT account_id, task_id, "
                "amount, kind FROM ledger_entries WHERE shuffle_id = :shuffle_id "
                "AND task_id IS NOT NULL) l JOIN tasks t ON t.id = l.task_id "
                "JOIN accounts a ON a.id = l.account_id"
            ),
            {"shuffle_id": shuffle_id},
        ).one()
        if count != before["open"] or tasks != before["open"]:
            problems.append(f"{count} charges on {tasks} tasks for {before['open']} open")
        if wrong:
            problems.append(f"{wrong} entries with a wrong amount, kind or account")
        if int(charged or 0) != before["open_fees"]:
            problems.append(f"charged {charged}, open fees sum to {before['open_fees']}")
        # The service's lines are also kept by task, one row for each.
        lines, by_task = conn.execute(
            text(
                "SELECT (SELECT count(*) FROM ledger_lines x JOIN ledger_entries e "
                "ON e.id = x.entry_id WHERE e.shuffle_id = :s), (SELECT count(*) FROM "
                "shuffle_lines y JOIN ledger_lines x ON x.entry_id = y.entry_id "
                "AND x.task_id = y.task_id WHERE y.shuffle_id = :s)"
            ),
            {"s": shuffle_id},
        ).one()
        if lines != by_task:
            problems.append(f"{lines} ledger lines but {by_task} of them in shuffle_lines")
    if lean:
        # One entry per open task (distinct tasks), each charging that task's fee to the
        # account of the popug it now belongs to.
        count, tasks, wrong, charged = conn.execute(
            text(
                "SELECT count(*), count(DISTINCT l.task_id), sum(CASE WHEN l.amount <> -t.fee "
                "OR l.account_id <> t.assignee_id OR l.kind <> 'assign_fee' "
                "OR t.status <> 'open' THEN 1 ELSE 0 END), -sum(l.amount) "
                "FROM ledger l JOIN tasks t ON t.id = l.task_id WHERE l.id > :last"
            ),
            {"last": before["last_entry"]},
        ).one()
        if count != before["open"] or tasks != before["open"]:
            problems.append(f"{count} new entries on {tasks} tasks for {before['open']} open")
        if wrong:
            problems.append(f"{wrong} entries with a wrong amount, kind, account or task")
        if int(charged or 0) != before["open_fees"]:
            problems.append(f"charged {charged}, open fees sum to {before['open_fees']}")
    if problems:
        raise AssertionError("; ".join(problems))
    return {"new_entries": new_entries, "distinct_assignees": distinct, "pool": before["pool"]}


def _shuffle_by_service(actor, service) -> int:
    """What a press and the job worker do, timed together: the press records a queued
    shuffle and commits; the worker claims it and commits, then runs it in one transaction
    and commits (app/blueprints/tasks/jobs.py, with `service` as tasks.shuffles)."""
    service.request_shuffle(actor=actor, form_token=secrets.token_urlsafe(24))
    db.session.commit()
    shuffle_id = service.claim_next_shuffle().id
    db.session.commit()
    service.run_shuffle(shuffle_id)
    db.session.commit()
    return shuffle_id


def _load_candidate(path: str):
    """A proposed replacement of app/blueprints/tasks/shuffles.py, loaded as a sibling module
    of the real one (its relative imports resolve inside the tasks package)."""
    name = "app.blueprints.tasks._candidate"
    loader = importlib.machinery.SourceFileLoader(name, path)  # any file name, not only *.py
    module = importlib.util.module_from_spec(importlib.util.spec_from_loader(name, loader))
    loader.exec_module(module)
    return module


def _shuffle_by_hand(conn, actor_id: int, day, pg: bool) -> int:
    """The minimal SQL making the same row changes: one shuffles row, one UPDATE of tasks
    (a random eligible popug per open task), one INSERT … SELECT of ledger entries, one
    UPDATE of balances from grouped sums."""
    now = clock.now()
    shuffle_id = conn.execute(
        text(
            "INSERT INTO shuffles (public_id, actor_id, form_token, status, requested_at, "
            "started_at, attempts, duration_ms, tasks_count, popugs_count) "
            "VALUES (:public_id, :actor_id, :token, 'done', :now, :now, 1, 0, 0, 0) RETURNING id"
        ),
        {
            "public_id": str(uuid.uuid4()),
            "actor_id": actor_id,
            "token": secrets.token_urlsafe(24),
            "now": now if pg else now.replace(tzinfo=None).isoformat(sep=" "),
        },
    ).scalar_one()
    if pg:
        # The eligible ids as one array, computed once; random() is drawn per row.
        moved = _sql(
            conn,
            "UPDATE tasks SET assignee_id = pool.ids[1 + floor(random() * pool.n)::int] "
            "FROM (SELECT array_agg(id ORDER BY id) AS ids, count(*) AS n FROM popugs "
            f"WHERE {ELIGIBLE_SQL}) AS pool WHERE tasks.status = 'open'",
        ).rowcount
    else:
        # SQLite has no arrays: a numbered temporary table, looked up by its primary key
        # from a subquery that is correlated (tasks.id) so random() is drawn per row.
        _sql(conn, "CREATE TEMP TABLE pool (slot INTEGER PRIMARY KEY, popug_id INT)")
        _sql(
            conn,
            "INSERT INTO pool (slot, popug_id) SELECT row_number() OVER (ORDER BY id) - 1, id "
            f"FROM popugs WHERE {ELIGIBLE_SQL}",
        )
        n = _sql(conn, "SELECT count(*) FROM pool").scalar()
        moved = _sql(
            conn,
            "UPDATE tasks SET assignee_id = (SELECT popug_id FROM pool "
            f"WHERE slot = ((random() + 0 * tasks.id) % {n} + {n}) % {n}) "
            "WHERE status = 'open'",
        ).rowcount
        _sql(conn, "DROP TABLE temp.pool")
    entries = conn.execute(
        text(
            "INSERT INTO ledger_entries (account_id, kind, amount, task_id, shuffle_id, "
            "business_day, created_at) SELECT a.id, 'assign_fee', -t.fee, t.id, :shuffle_id, "
            ":day, :now FROM tasks t JOIN accounts a ON a.popug_id = t.assignee_id "
            "WHERE t.status = 'open'"
        ),
        {
            "shuffle_id": shuffle_id,
            "day": day if pg else day.isoformat(),
            "now": now if pg else now.replace(tzinfo=None).isoformat(sep=" "),
        },
    ).rowcount
    _sql(
        conn,
        "UPDATE accounts SET balance = accounts.balance - s.total FROM (SELECT assignee_id, "
        "sum(fee) AS total FROM tasks WHERE status = 'open' GROUP BY assignee_id) AS s "
        "WHERE accounts.popug_id = s.assignee_id",
    )
    if entries != moved:
        raise AssertionError(f"moved {moved} tasks but wrote {entries} entries")
    return shuffle_id


def _shuffle_lean(conn, pg: bool) -> int:
    """The lean anchor's transaction (the caller begins and commits it), the same on both
    databases but for random(): number the eligible popugs in a temporary table keyed by
    slot; draw a slot per open task and join it to that key into a temporary table of
    moves; then every write is one set-based statement reading the moves. The slot is drawn
    in a MATERIALIZED CTE: joined directly (`ON p.slot = <random>`), random() refers to no
    task column, so SQLite reads the pool first, draws one slot and gives every task the
    same popug, and PostgreSQL would filter the pool by it. Returns the tasks moved."""
    now = clock.now().replace(tzinfo=None)  # UTC, into a TIMESTAMP column
    _sql(conn, "CREATE TEMP TABLE pool (slot INTEGER PRIMARY KEY, popug_id INT)")
    n = _sql(
        conn,
        "INSERT INTO pool (slot, popug_id) SELECT row_number() OVER (ORDER BY id) - 1, id "
        f"FROM popugs WHERE {ELIGIBLE_SQL}",
    ).rowcount
    slot = f"floor(random() * {n})::int" if pg else f"(random() % {n} + {n}) % {n}"
    _sql(conn, f"CREATE TEMP TABLE moves AS {_lean_moves_select(slot)}")
    moved = _sql(
        conn,
        "UPDATE tasks SET assignee_id = m.popug_id FROM moves m WHERE tasks.id = m.task_id",
    ).rowcount
    entries = conn.execute(
        text(
            "INSERT INTO ledger (account_id, task_id, amount, kind, at) "
            "SELECT popug_id, task_id, -fee, 'assign_fee', :now FROM moves"
        ),
        {"now": now if pg else now.isoformat(sep=" ")},
    ).rowcount
    _sql(
        conn,
        "UPDATE accounts SET balance = balance - s.total FROM (SELECT popug_id, "
        "sum(fee) AS total FROM moves GROUP BY popug_id) AS s "
        "WHERE accounts.popug_id = s.popug_id",
    )
    _sql(conn, "DROP TABLE moves")
    _sql(conn, "DROP TABLE pool")
    if entries != moved:
        raise AssertionError(f"moved {moved} tasks but wrote {entries} entries")
    return moved


def _lean_moves_select(slot: str) -> str:
    """The SELECT filling the lean moves table, `slot` being the per-row random slot."""
    return (
        f"WITH drawn AS MATERIALIZED (SELECT id, fee, {slot} AS slot FROM tasks "
        "WHERE status = 'open') "
        "SELECT d.id AS task_id, p.popug_id, d.fee FROM drawn d JOIN pool p ON p.slot = d.slot"
    )


def _per_task_loop(actor) -> None:
    """The original design: for each open task pick a random popug, UPDATE the task, and
    call accounting to charge the fee — one round trip (or several) per task."""
    for task_id, fee in db.session.execute(
        select(TASKS.c.id, TASKS.c.fee).where(TASKS.c.status == OPEN).order_by(TASKS.c.id)
    ).all():
        popug_id = tasks_service.random_assignee()
        db.session.execute(
            update(TASKS)
            .where(TASKS.c.id == task_id)
            .values(assignee_id=popug_id)
            .execution_options(synchronize_session=False)
        )
        posting.charge_assign_fee(popug_id, fee, task_id=task_id)


def _backend_pid(conn, pg: bool) -> int | None:
    return _sql(conn, "SELECT pg_backend_pid()").scalar() if pg else None


def _server_cpu(backend: int | None) -> float:
    """CPU seconds of the PostgreSQL backend serving this run (0 on SQLite: in-process)."""
    return process_cpu_seconds(backend) if backend else 0.0


def run_one(kind: str, url: str, candidate: str | None = None, priority: int = 0) -> dict:
    """In a fresh process: one shuffle of `kind` (service, hand, lean or loop), timed, then
    verified. Returns the figures."""
    if kind == "lean":
        return _run_lean(url, priority)
    app = bench_app(url)
    with app.app_context():
        engine = db.engine
        pg = engine.dialect.name == "postgresql"
        raise_priority(engine, priority)
        checkpoint(engine)
        with engine.connect() as conn:
            before = _fingerprint(conn)
        day = posting.open_business_day()  # the hand run takes the same business day
        db.session.remove()
        engine.dispose()  # the timed run opens its connection like a request would
        log = StatementLog(engine)
        rss_before = current_rss_mb()
        tracemalloc.start()
        with write_intent():  # BEGIN IMMEDIATE on SQLite, as the route's POST
            if kind == "hand":
                shuffle_id, timing = _timed_sql(
                    engine, pg, lambda conn: _shuffle_by_hand(conn, MANAGER_ID, day, pg)
                )
            else:
                actor = db.session.get(Popug, MANAGER_ID)  # the route's current_user
                service = _load_candidate(candidate) if kind == "candidate" else shuffles
                backend = _backend_pid(db.session.connection(), pg)
                server_started = _server_cpu(backend)
                started, cpu_started = time.perf_counter(), time.process_time()
                if kind in ("service", "candidate"):
                    shuffle_id = _shuffle_by_service(actor, service)
                else:
                    _per_task_loop(actor)
                    shuffle_id = None
                statements_done = time.perf_counter()
                db.session.commit()
                timing = _timing(started, statements_done, cpu_started, backend, server_started)
        memory = _memory(rss_before)
        log.close()
        db.session.remove()
        with engine.connect() as conn:
            checked = _verify(conn, before, shuffle_id)
        engine.dispose()
    return _figures(kind, timing, memory, before, log, checked)


def _timing(started, statements_done, cpu_started, backend, server_started) -> dict:
    """Wall, COMMIT and CPU seconds of a timed run that has just committed."""
    finished = time.perf_counter()
    return {
        "seconds": finished - started,
        "commit_seconds": finished - statements_done,
        "cpu_seconds": time.process_time() - cpu_started,
        "server_cpu_seconds": _server_cpu(backend) - server_started,
    }


def _timed_sql(engine, pg: bool, work):
    """`work(conn)` as one timed transaction on a connection of its own (the hand-written
    and the lean runs). Returns (what `work` returned, its timing)."""
    with engine.connect() as conn:
        backend = _backend_pid(conn, pg)
        conn.rollback()  # the timed transaction starts below
        server_started = _server_cpu(backend)
        started, cpu_started = time.perf_counter(), time.process_time()
        conn.begin()
        result = work(conn)
        statements_done = time.perf_counter()
        conn.commit()
        return result, _timing(started, statements_done, cpu_started, backend, server_started)


def _memory(rss_before: float) -> dict:
    """Memory figures of the run that tracemalloc has followed since it started."""
    traced_peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return {
        "rss_before_mb": rss_before,
        "rss_peak_mb": peak_rss_mb(),
        "vm_hwm_mb": vm_hwm_mb(),
        "traced_peak_mb": traced_peak / 1024 / 1024,
    }


def _figures(kind: str, timing: dict, memory: dict, before: dict, log, checked: dict) -> dict:
    return {
        "kind": kind,
        **timing,
        "tasks": before["open"],
        "statements": log.count,
        "by_statement": log.by_statement(110),
        **memory,
        **checked,
    }


def _engine(url: str):
    """An engine on `url` without the app (the lean schema is not the app's), set up like
    the app's: app.db's connect and begin events apply to every engine (WAL,
    synchronous=NORMAL, BEGIN IMMEDIATE on SQLite)."""
    return create_engine(database_url(url, url), pool_pre_ping=True)


def _run_lean(url: str, priority: int) -> dict:
    """run_one for the lean anchor: no app (its schema is not the app's), otherwise timed
    and measured exactly as the hand run, and verified the same way."""
    engine = _engine(url)
    pg = engine.dialect.name == "postgresql"
    raise_priority(engine, priority)
    checkpoint(engine)
    with engine.connect() as conn:
        before = _fingerprint(conn, "ledger")
    engine.dispose()
    log = StatementLog(engine)
    rss_before = current_rss_mb()
    tracemalloc.start()
    with write_intent():  # BEGIN IMMEDIATE on SQLite, as the hand run
        _, timing = _timed_sql(engine, pg, lambda conn: _shuffle_lean(conn, pg))
    memory = _memory(rss_before)
    log.close()
    with engine.connect() as conn:
        checked = _verify(conn, before, None, lean=True)
    engine.dispose()
    return _figures("lean", timing, memory, before, log, checked)


def in_child(function, *args):
    """Call `function(*args)` in a new Python process (spawned, so it starts lean), so that
    its peak memory is its own. The seeding runs in one too: it gives SQLite a big page
    cache, and a parent that had grown would hand its ru_maxrss down to every child."""
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        return pool.submit(function, *args).result()


# --- the driver ------------------------------------------------------------------------


def prepare_base(url: str, population: Population) -> dict:
    app = bench_app(url)
    with app.app_context():
        db.create_all()
        seeded = seed(db.engine, population)
        db.session.remove()
        db.engine.dispose()
    return seeded


def seed_lean(engine, population: Population) -> dict:
    """Fill an empty lean schema with the same facts as common.seed: the same roles and
    active flags by id, the same number of open and done tasks spread the same way, the
    same assignees (done tasks in turn, open ones at random, drawn anew), fees and rewards
    (drawn anew, from the same ranges), one assign_fee entry per task and one reward entry
    per done task at the same times, and balances equal to the ledger sums. Also by
    INSERT … SELECT over a generated series, then settled like the base. Returns
    {"seconds": …, "rows": {table: n}}."""
    started = time.perf_counter()
    p = population
    sql = _Sql(engine.dialect.name, p.end)
    ledger_id = "BIGSERIAL PRIMARY KEY" if sql.pg else "INTEGER PRIMARY KEY"
    n, d = p.tasks, p.done_tasks
    created = sql.seconds_before_end(p.created_before_end_sql("t.id"))
    with engine.begin() as conn:
        if not sql.pg:
            conn.exec_driver_sql("PRAGMA cache_size = -524288")  # the load only, as seed()
        for statement in LEAN_SCHEMA:
            conn.exec_driver_sql(statement.format(ledger_id=ledger_id))
        prefix, series = sql.series(p.popugs)
        _sql(  # text(), as seed() does: it escapes the % (modulo) for psycopg
            conn,
            f"{prefix}INSERT INTO popugs (id, role, active) "
            f"SELECT i, CASE WHEN i = 1 THEN 'admin' WHEN i <= {p.last_manager} THEN 'manager' "
            f"WHEN i <= {p.last_accountant} THEN 'accountant' ELSE 'worker' END, "
            f"CASE WHEN i > {p.last_accountant} AND i % 97 = 0 THEN false ELSE true END "
            f"FROM {series}",
        )
        conn.exec_driver_sql("INSERT INTO accounts (popug_id, balance) SELECT id, 0 FROM popugs")
        prefix, series = sql.series(n)
        _sql(
            conn,
            f"{prefix}INSERT INTO tasks (id, assignee_id, status, fee, reward) "
            f"SELECT i, {p.assignee_sql(sql, 'i', 'status')}, status, "
            f"(10 + {sql.rand(11)}) * 100, (20 + {sql.rand(21)}) * 100 "
            f"FROM (SELECT i, {p.status_sql('i')} AS status FROM {series}) AS numbered",
        )
        conn.exec_driver_sql(
            "INSERT INTO ledger (account_id, task_id, amount, kind, at) "
            f"SELECT t.assignee_id, t.id, -t.fee, 'assign_fee', {created} FROM tasks t "
            "ORDER BY t.id"
        )
        conn.exec_driver_sql(
            "INSERT INTO ledger (account_id, task_id, amount, kind, at) "
            f"SELECT t.assignee_id, t.id, t.reward, 'reward', {sql.plus_seconds(created, 20)} "
            "FROM tasks t WHERE t.status = 'done' ORDER BY t.id"
        )
        conn.exec_driver_sql(
            "UPDATE accounts SET balance = s.total FROM (SELECT account_id, sum(amount) AS total "
            "FROM ledger GROUP BY account_id) AS s WHERE accounts.popug_id = s.account_id"
        )
        rows = {
            table: conn.exec_driver_sql(f"SELECT count(*) FROM {table}").scalar()
            for table in ("popugs", "accounts", "tasks", "ledger")
        }
        open_tasks = conn.exec_driver_sql(
            "SELECT count(*) FROM tasks WHERE status = 'open'"
        ).scalar()
    settle(engine)
    expected = {"popugs": p.popugs, "accounts": p.popugs, "tasks": n, "ledger": n + d}
    if rows != expected or open_tasks != p.open_tasks:
        raise RuntimeError(f"seeded {rows} ({open_tasks} open), expected {expected}")
    return {"seconds": time.perf_counter() - started, "rows": rows}


def prepare_lean(url: str, population: Population) -> dict:
    engine = _engine(url)
    try:
        return seed_lean(engine, population)
    finally:
        engine.dispose()


def named(prefix_url: str, suffix: str) -> str:
    """`prefix_url`'s server with database NAME_suffix (PostgreSQL) or file suffix (SQLite)."""
    if is_postgres_url(prefix_url):
        return with_database_name(prefix_url, f"{make_url(prefix_url).database}_{suffix}")
    return with_database_name(prefix_url, suffix)


def run_data_set(
    prefix: str,
    label: str,
    population: Population,
    kinds: list[str],
    candidate: str | None,
    priority: int = 0,
) -> list:
    results = []
    for kind in kinds:
        # The lean anchor has its own base (another schema); each run gets a fresh copy.
        stem = f"{label}_lean" if kind == "lean" else label
        base_url, run_url = named(prefix, f"{stem}_base"), named(prefix, f"{stem}_run")
        copy_database(base_url, run_url)
        try:
            result = in_child(run_one, kind, run_url, candidate, priority)
        finally:
            drop_database(run_url)
        result["load"] = load()
        results.append(result)
        print(
            f"  {label:5} {kind:9} {result['tasks']:>9,} tasks: {result['seconds']:8.2f} s "
            f"(commit {result['commit_seconds']:.2f} s, CPU {result['cpu_seconds']:.2f} s + "
            f"backend {result['server_cpu_seconds']:.2f} s), "
            f"peak RSS {result['rss_peak_mb']:.0f} MB, tracemalloc peak "
            f"{result['traced_peak_mb']:.2f} MB, VmHWM {result['vm_hwm_mb']:.0f} MB, "
            f"load {result['load']}",
            flush=True,
        )
    return results


def alternating(kinds: list[str], rounds: int) -> list[str]:
    """A B C, then C B A, then A B C …: each kind goes first (and last) equally often."""
    order: list[str] = []
    for round_ in range(rounds):
        order += kinds if round_ % 2 == 0 else kinds[::-1]
    return order


def median(values: list[float]) -> float:
    ordered = sorted(values)
    middle = len(ordered) // 2
    return ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2


def ratio_pairs(label: str, kinds: list[str]) -> list[tuple[str, str]]:
    """The ratios to print, of kinds that ran: on loop the per-task loop against the
    service; otherwise the service (or --candidate) against hand and lean, and hand against
    lean (what the app's schema costs the least SQL)."""
    if label == "loop":
        wanted = [("loop", "service")]
    else:
        wanted = [
            ("service", "hand"),
            ("service", "lean"),
            ("candidate", "hand"),
            ("candidate", "lean"),
            ("hand", "lean"),
        ]
    return [(a, b) for a, b in wanted if a in kinds and b in kinds]


def report(label: str, population: Population, results: list[dict]) -> None:
    kinds = list(dict.fromkeys(r["kind"] for r in results))  # in the order they first ran
    by_kind = {kind: [r for r in results if r["kind"] == kind] for kind in kinds}
    times = {kind: median([r["seconds"] for r in rs]) for kind, rs in by_kind.items()}
    pairs = ratio_pairs(label, kinds)
    print(
        f"\n### {label}: {population.popugs:,} popugs, {population.open_tasks:,} open + "
        f"{population.done_tasks:,} done tasks\n"
    )
    print(
        markdown_table(
            [
                "run",
                "wall s",
                "of which COMMIT s",
                "CPU s (this process)",
                "CPU s (PostgreSQL backend)",
                "peak RSS MB (ru_maxrss)",
                "VmHWM MB",
                "tracemalloc peak MB",
                "distinct assignees",
                "load avg after",
            ],
            [
                [
                    r["kind"],
                    f"{r['seconds']:.2f}",
                    f"{r['commit_seconds']:.2f}",
                    f"{r['cpu_seconds']:.2f}",
                    f"{r['server_cpu_seconds']:.2f}" if r["server_cpu_seconds"] else "—",
                    f"{r['rss_peak_mb']:.0f}",
                    f"{r['vm_hwm_mb']:.0f}",
                    f"{r['traced_peak_mb']:.2f}",
                    f"{r['distinct_assignees']:,} of {r['pool']:,}",
                    r["load"],
                ]
                for r in results
            ],
        )
    )
    cpu = {
        kind: median([r["cpu_seconds"] + r["server_cpu_seconds"] for r in rs])
        for kind, rs in by_kind.items()
    }
    print(
        "\nCPU time (this process + PostgreSQL backend), less sensitive to a busy machine: "
        + ", ".join(f"{kind} {cpu[kind]:.2f} s" for kind in kinds)
        + "".join(f"; {a} / {b} = {cpu[a] / cpu[b]:.2f}" for a, b in pairs)
    )
    if "candidate" in kinds:
        print(f"\ncandidate: the proposed shuffles.py, {times['candidate']:.2f} s")
    print(
        "\n"
        + ", ".join(f"median {kind} {times[kind]:.2f} s" for kind in kinds)
        + "".join(f": **{a} / {b} = {times[a] / times[b]:.2f}**" for a, b in pairs[:1])
        + "".join(f", **{a} / {b} = {times[a] / times[b]:.2f}**" for a, b in pairs[1:])
        + "; verified after every run."
    )
    for kind, rs in by_kind.items():
        print(f"\nSQL statements of the first {kind} run (time each):\n")
        print(
            markdown_table(
                ["statement", "runs", "seconds"],
                [[f"`{sql}`", n, f"{s:.3f}"] for sql, n, s in rs[0]["by_statement"][:10]],
            )
        )


def goals(label: str, results: list[dict]) -> str:
    """One line of the Goals section: the service (or --candidate) against hand and against
    lean, each ≤ 1.5, and its peak memory; hand / lean alongside, for what the schema costs."""
    kinds = {r["kind"] for r in results}
    times = {k: median([r["seconds"] for r in results if r["kind"] == k]) for k in kinds}
    if label == "loop":
        a, b = "loop", "service"
        return (
            f"- {label}: per-task loop {times[a]:.2f} s vs set-based service "
            f"{times[b]:.2f} s ({times[a] / times[b]:.0f}× slower)"
        )
    a = next((kind for kind in ("service", "candidate") if kind in times), None)
    parts = []
    for b, goal in (("hand", GOAL_RATIO), ("lean", GOAL_LEAN_RATIO)):
        if a and b in times:
            ratio = times[a] / times[b]
            parts.append(
                f"{a}/{b} {ratio:.2f} (goal ≤ {goal}): {'met' if ratio <= goal else 'MISSED'}"
            )
    if "hand" in times and "lean" in times:
        parts.append(f"hand/lean {times['hand'] / times['lean']:.2f}")
    if a:
        peak = max(r["rss_peak_mb"] for r in results if r["kind"] == a)
        parts.append(
            f"{a} peak RSS {peak:.0f} MB (goal < {GOAL_MB} MB): "
            f"{'met' if peak < GOAL_MB else 'MISSED'}"
        )
    if not parts:  # nothing to compare (say --kinds lean): the times alone
        parts = [f"{kind} {seconds:.2f} s" for kind, seconds in sorted(times.items())]
    return f"- {label}: " + "; ".join(parts)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, for a smoke run")
    parser.add_argument("--database-url", help="PostgreSQL URL; its database name is a prefix")
    parser.add_argument("--rounds", type=int, default=1, help="rounds of --kinds per data set")
    parser.add_argument("--only", default="main,small,loop", help="data sets to run")
    parser.add_argument(
        "--kinds",
        default=",".join(KINDS),
        help="what main and small time, in the first round's order (later rounds alternate): "
        "service (the app), hand (least SQL on the app's schema), lean (the lean anchor)",
    )
    parser.add_argument(
        "--priority",
        type=int,
        default=0,
        help="niceness of the timed processes and their PostgreSQL backends (e.g. -10, root)",
    )
    parser.add_argument(
        "--skip-service",
        action="store_true",
        help="leave the service out of --kinds (time hand, lean and --candidate), e.g. to try "
        "a fix quickly",
    )
    parser.add_argument(
        "--candidate",
        help="path of a proposed tasks/shuffles.py: also time its shuffle (once)",
    )
    args = parser.parse_args()
    sets = QUICK_DATA_SETS if args.quick else DATA_SETS
    chosen = [name.strip() for name in args.only.split(",") if name.strip()]
    wanted = [kind.strip() for kind in args.kinds.split(",") if kind.strip()]
    if unknown := sorted(set(wanted) - set(KINDS)):
        parser.error(f"unknown --kinds {', '.join(unknown)}; choose from {', '.join(KINDS)}")
    if args.skip_service:
        wanted = [kind for kind in wanted if kind != "service"]
    if not wanted and not args.candidate:
        parser.error("nothing to time: give --kinds (or --candidate)")

    print(f"# bench/shuffle.py — {datetime.now(UTC):%Y-%m-%d %H:%M} UTC — {machine()}")
    print(f"load average at start: {load()}", flush=True)
    summary = []
    with fresh_database(None, "scratch") as scratch:
        prefix = args.database_url if is_postgres_url(args.database_url) else scratch
        for label in chosen:
            population = sets[label]
            if label == "loop":
                kinds = ["loop", "service"]
            else:
                kinds = alternating(wanted, args.rounds)
                if args.candidate:
                    kinds.append("candidate")
            # Seed only the bases that the runs use: the app's, the lean anchor's, or both.
            bases = []
            if any(kind != "lean" for kind in kinds):
                bases.append((named(prefix, f"{label}_base"), prepare_base, "app"))
            if "lean" in kinds:
                bases.append((named(prefix, f"{label}_lean_base"), prepare_lean, "lean"))
            try:
                for base_url, prepare, schema in bases:
                    if is_postgres_url(base_url):
                        create_database(base_url)
                    seeded = in_child(prepare, base_url, population)
                    engine = _engine(base_url)
                    engine_name = describe_database(engine)
                    engine.dispose()
                    entries = seeded["rows"]["ledger" if schema == "lean" else "ledger_entries"]
                    print(
                        f"\n{label} ({schema} schema): {engine_name}; seeded "
                        f"{asdict(population)} in {seeded['seconds']:.1f} s ({entries:,} entries)",
                        flush=True,
                    )
                results = run_data_set(
                    prefix, label, population, kinds, args.candidate, args.priority
                )
                report(label, population, results)
                summary.append((label, results))
            finally:
                for base_url, _prepare, _schema in bases:
                    drop_database(base_url)

    print("\n## Goals\n")
    for label, results in summary:
        print(goals(label, results))


if __name__ == "__main__":
    main()
