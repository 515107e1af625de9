"""Benchmark of "Shuffle open tasks" (issue 4): the service against the minimal hand-written
SQL making the same row changes, on the same data, plus the original per-task loop.

    python bench/shuffle.py [--quick] [--rounds N] [--only main,small,loop]
                            [--database-url postgresql://postgres@127.0.0.1:5432/NAME]

Without --database-url it runs on SQLite files in a temporary directory. With it, it uses
databases named NAME_main_base, NAME_main_run, … on that server (each dropped if it exists,
created, and dropped at the end; the user must be allowed to CREATE DATABASE).

Data sets (10,000 popugs each; tasks with their accounts and ledger entries, consistent):
  main   1,000,000 open + 100,000 done tasks: service vs hand-written SQL
  small    100,000 open +  10,000 done tasks: service vs hand-written SQL
  loop      10,000 open +   1,000 done tasks: the original design's per-task loop vs service

Each data set is seeded once into a base database and settled (PostgreSQL VACUUM ANALYZE;
SQLite a WAL checkpoint). Every timed run works on a fresh copy of that base (a file copy,
or CREATE DATABASE … TEMPLATE), after a CHECKPOINT, in a fresh child process, so every run
starts from identical data and the child's peak memory (ru_maxrss; tracemalloc peak for
Python allocations during the shuffle) belongs to that run alone. With --rounds N the
runs alternate A B B A … to cancel order effects. After each run the child checks the
result: every balance equals its ledger sum, one new entry per open task charging its fee
to its assignee's account, every open task on an eligible popug, done tasks untouched.

Goals (issue 4): service / hand-written ≤ 1.5 on both databases, peak memory < 200 MB.
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

from sqlalchemy import make_url, select, text, update  # noqa: E402

from app import clock  # noqa: E402
from app.blueprints.accounting import service as accounting  # noqa: E402
from app.blueprints.auth.models import Popug  # noqa: E402
from app.blueprints.tasks import service as tasks_service  # noqa: E402
from app.blueprints.tasks.models import OPEN, Task  # noqa: E402
from app.db import write_intent  # noqa: E402
from app.extensions import db  # noqa: E402
from bench.common import (  # noqa: E402
    ELIGIBLE_ROLES,
    Population,
    StatementLog,
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
GOAL_MB = 200
ELIGIBLE_SQL = "active = true AND role IN ('worker', 'accountant')"
assert ELIGIBLE_ROLES == ("worker", "accountant")


# --- what one child process runs ---------------------------------------------------------


def _sql(conn, statement: str, params: dict | None = None):
    """Run literal SQL the same way on both drivers (text() escapes % for psycopg)."""
    return conn.execute(text(statement), params or {})


def _fingerprint(conn) -> dict:
    """Counts and checksums that a shuffle must leave alone (done tasks) or must keep."""
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
        "entries": _sql(conn, "SELECT count(*) FROM ledger_entries").scalar(),
        "pool": _sql(conn, f"SELECT count(*) FROM popugs WHERE {ELIGIBLE_SQL}").scalar(),
    }


def _verify(conn, before: dict, shuffle_id: int | None) -> dict:
    """Re-check the data after one shuffle; raises AssertionError on any violation."""
    after = _fingerprint(conn)
    ledger = check_ledger(conn)
    new_entries = after["entries"] - before["entries"]
    problems = []
    if ledger["mismatched_accounts"] or ledger["balances"] != ledger["entries"]:
        problems.append(f"balances differ from ledger sums: {ledger}")
    if new_entries != before["open"]:
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
        wrong, charged = conn.execute(
            text(
                "SELECT sum(CASE WHEN l.amount <> -t.fee OR a.popug_id <> t.assignee_id "
                "OR l.kind <> 'assign_fee' THEN 1 ELSE 0 END), -sum(l.amount) "
                "FROM ledger_entries l JOIN tasks t ON t.id = l.task_id "
                "JOIN accounts a ON a.id = l.account_id WHERE l.shuffle_id = :shuffle_id"
            ),
            {"shuffle_id": shuffle_id},
        ).one()
        if wrong:
            problems.append(f"{wrong} entries with a wrong amount, kind or account")
        if int(charged or 0) != before["open_fees"]:
            problems.append(f"charged {charged}, open fees sum to {before['open_fees']}")
    if problems:
        raise AssertionError("; ".join(problems))
    return {"new_entries": new_entries, "distinct_assignees": distinct, "pool": before["pool"]}


def _shuffle_by_service(actor, shuffle_open_tasks) -> int:
    shuffle = shuffle_open_tasks(actor=actor, form_token=secrets.token_urlsafe(24))
    return shuffle.id


def _load_candidate(path: str):
    """A proposed replacement of app/blueprints/tasks/service.py, loaded as a sibling module
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
            "INSERT INTO shuffles (public_id, actor_id, form_token, started_at, duration_ms, "
            "tasks_count, popugs_count) VALUES (:public_id, :actor_id, :token, :now, 0, 0, 0) "
            "RETURNING id"
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


def _per_task_loop(actor) -> None:
    """The original design: for each open task pick a random popug, UPDATE the task, and
    call accounting to charge the fee — one round trip (or several) per task."""
    for task_id, fee in db.session.execute(
        select(Task.id, Task.fee).where(Task.status == OPEN).order_by(Task.id)
    ).all():
        popug_id = tasks_service.random_assignee()
        db.session.execute(
            update(Task)
            .where(Task.id == task_id)
            .values(assignee_id=popug_id)
            .execution_options(synchronize_session=False)
        )
        accounting.charge_assign_fee(popug_id, fee, task_id=task_id)


def _backend_pid(conn, pg: bool) -> int | None:
    return _sql(conn, "SELECT pg_backend_pid()").scalar() if pg else None


def _server_cpu(backend: int | None) -> float:
    """CPU seconds of the PostgreSQL backend serving this run (0 on SQLite: in-process)."""
    return process_cpu_seconds(backend) if backend else 0.0


def run_one(kind: str, url: str, candidate: str | None = None, priority: int = 0) -> dict:
    """In a fresh process: one shuffle of `kind` (service, hand or loop), timed, then
    verified. Returns the figures."""
    app = bench_app(url)
    with app.app_context():
        engine = db.engine
        pg = engine.dialect.name == "postgresql"
        raise_priority(engine, priority)
        checkpoint(engine)
        with engine.connect() as conn:
            before = _fingerprint(conn)
        day = accounting.open_business_day()  # the hand run takes the same business day
        db.session.remove()
        engine.dispose()  # the timed run opens its connection like a request would
        log = StatementLog(engine)
        rss_before = current_rss_mb()
        tracemalloc.start()
        with write_intent():  # BEGIN IMMEDIATE on SQLite, as the route's POST
            if kind == "hand":
                with engine.connect() as conn:
                    backend = _backend_pid(conn, pg)
                    conn.rollback()  # the timed transaction starts below
                    server_started = _server_cpu(backend)
                    started, cpu_started = time.perf_counter(), time.process_time()
                    conn.begin()
                    shuffle_id = _shuffle_by_hand(conn, MANAGER_ID, day, pg)
                    statements_done = time.perf_counter()
                    conn.commit()
                    server_cpu = _server_cpu(backend) - server_started
            else:
                actor = db.session.get(Popug, MANAGER_ID)  # the route's current_user
                shuffle_open_tasks = (
                    _load_candidate(candidate).shuffle_open_tasks
                    if kind == "candidate"
                    else tasks_service.shuffle_open_tasks
                )
                backend = _backend_pid(db.session.connection(), pg)
                server_started = _server_cpu(backend)
                started, cpu_started = time.perf_counter(), time.process_time()
                if kind in ("service", "candidate"):
                    shuffle_id = _shuffle_by_service(actor, shuffle_open_tasks)
                else:
                    _per_task_loop(actor)
                    shuffle_id = None
                statements_done = time.perf_counter()
                db.session.commit()
                server_cpu = _server_cpu(backend) - server_started
            finished, cpu = time.perf_counter(), time.process_time() - cpu_started
        traced_peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        rss_peak, hwm = peak_rss_mb(), vm_hwm_mb()
        log.close()
        db.session.remove()
        with engine.connect() as conn:
            checked = _verify(conn, before, shuffle_id)
        engine.dispose()
    return {
        "kind": kind,
        "seconds": finished - started,
        "commit_seconds": finished - statements_done,
        "cpu_seconds": cpu,
        "server_cpu_seconds": server_cpu,
        "tasks": before["open"],
        "statements": log.count,
        "by_statement": log.by_statement(110),
        "rss_before_mb": rss_before,
        "rss_peak_mb": rss_peak,
        "vm_hwm_mb": hwm,
        "traced_peak_mb": traced_peak / 1024 / 1024,
        **checked,
    }


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
    base_url = named(prefix, f"{label}_base")
    run_url = named(prefix, f"{label}_run")
    results = []
    for kind in kinds:
        copy_database(base_url, run_url)
        try:
            result = in_child(run_one, kind, run_url, candidate, priority)
        finally:
            drop_database(run_url)
        result["load"] = load()
        results.append(result)
        print(
            f"  {label:5} {kind:7} {result['tasks']:>9,} tasks: {result['seconds']:8.2f} s "
            f"(commit {result['commit_seconds']:.2f} s, CPU {result['cpu_seconds']:.2f} s + "
            f"backend {result['server_cpu_seconds']:.2f} s), "
            f"peak RSS {result['rss_peak_mb']:.0f} MB, tracemalloc peak "
            f"{result['traced_peak_mb']:.2f} MB, VmHWM {result['vm_hwm_mb']:.0f} MB, "
            f"load {result['load']}",
            flush=True,
        )
    return results


def alternating(a: str, b: str, rounds: int) -> list[str]:
    """A B, then B A, then A B …: each kind goes first equally often."""
    order: list[str] = []
    for round_ in range(rounds):
        order += [a, b] if round_ % 2 == 0 else [b, a]
    return order


def median(values: list[float]) -> float:
    ordered = sorted(values)
    middle = len(ordered) // 2
    return ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2


def report(label: str, population: Population, results: list[dict], a: str, b: str) -> None:
    if not any(r["kind"] == a for r in results):
        a = "candidate"
    by_kind = {kind: [r for r in results if r["kind"] == kind] for kind in (a, b)}
    times = {kind: median([r["seconds"] for r in rs]) for kind, rs in by_kind.items()}
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
    ratio = times[a] / times[b]
    cpu = {
        kind: median([r["cpu_seconds"] + r["server_cpu_seconds"] for r in rs])
        for kind, rs in by_kind.items()
    }
    print(
        f"\nCPU time (this process + PostgreSQL backend), less sensitive to a busy machine: "
        f"{a} {cpu[a]:.2f} s, {b} {cpu[b]:.2f} s, {a} / {b} = {cpu[a] / cpu[b]:.2f}"
    )
    candidates = [r["seconds"] for r in results if r["kind"] == "candidate"]
    if candidates:
        print(
            f"\ncandidate (proposed service.py) {median(candidates):.2f} s: "
            f"**candidate / {b} = {median(candidates) / times[b]:.2f}**"
        )
    print(
        f"\nmedian {a} {times[a]:.2f} s, median {b} {times[b]:.2f} s: "
        f"**{a} / {b} = {ratio:.2f}**; verified after every run."
    )
    for kind, rs in by_kind.items():
        print(f"\nSQL statements of the first {kind} run (time each):\n")
        print(
            markdown_table(
                ["statement", "runs", "seconds"],
                [[f"`{sql}`", n, f"{s:.3f}"] for sql, n, s in rs[0]["by_statement"][:10]],
            )
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, for a smoke run")
    parser.add_argument("--database-url", help="PostgreSQL URL; its database name is a prefix")
    parser.add_argument("--rounds", type=int, default=1, help="service/hand pairs per data set")
    parser.add_argument("--only", default="main,small,loop", help="data sets to run")
    parser.add_argument(
        "--priority",
        type=int,
        default=0,
        help="niceness of the timed processes and their PostgreSQL backends (e.g. -10, root)",
    )
    parser.add_argument(
        "--skip-service",
        action="store_true",
        help="time only the hand-written SQL (and --candidate), e.g. to try a fix quickly",
    )
    parser.add_argument(
        "--candidate",
        help="path of a proposed tasks/service.py: also time its shuffle_open_tasks (once)",
    )
    args = parser.parse_args()
    sets = QUICK_DATA_SETS if args.quick else DATA_SETS
    chosen = [name.strip() for name in args.only.split(",") if name.strip()]

    print(f"# bench/shuffle.py — {datetime.now(UTC):%Y-%m-%d %H:%M} UTC — {machine()}")
    print(f"load average at start: {load()}", flush=True)
    summary = []
    with fresh_database(None, "scratch") as scratch:
        prefix = args.database_url if is_postgres_url(args.database_url) else scratch
        for label in chosen:
            population = sets[label]
            base_url = named(prefix, f"{label}_base")
            if is_postgres_url(base_url):
                create_database(base_url)
            try:
                seeded = in_child(prepare_base, base_url, population)
                app = bench_app(base_url)
                with app.app_context():
                    engine_name = describe_database(db.engine)
                    db.engine.dispose()
                print(
                    f"\n{label}: {engine_name}; seeded {asdict(population)} in "
                    f"{seeded['seconds']:.1f} s ({seeded['rows']['ledger_entries']:,} entries)",
                    flush=True,
                )
                if label == "loop":
                    kinds = ["loop", "service"]
                elif args.skip_service:
                    kinds = ["hand"] * args.rounds
                else:
                    kinds = alternating("service", "hand", args.rounds)
                if args.candidate and label != "loop":
                    kinds.append("candidate")
                results = run_data_set(
                    prefix, label, population, kinds, args.candidate, args.priority
                )
                a, b = ("loop", "service") if label == "loop" else ("service", "hand")
                report(label, population, results, a, b)
                summary.append((label, population, results, a, b))
            finally:
                drop_database(base_url)

    print("\n## Goals\n")
    for label, _population, results, a, b in summary:
        if not any(r["kind"] == a for r in results):
            a = "candidate"
        times = {k: median([r["seconds"] for r in results if r["kind"] == k]) for k in (a, b)}
        peak = max(r["rss_peak_mb"] for r in results if r["kind"] == a)
        if label == "loop":
            print(
                f"- {label}: per-task loop {times[a]:.2f} s vs set-based service "
                f"{times[b]:.2f} s ({times[a] / times[b]:.0f}× slower)"
            )
            continue
        ratio = times[a] / times[b]
        print(
            f"- {label}: {a}/hand {ratio:.2f} (goal ≤ {GOAL_RATIO}): "
            f"{'met' if ratio <= GOAL_RATIO else 'MISSED'}; {a} peak RSS {peak:.0f} MB "
            f"(goal < {GOAL_MB} MB): {'met' if peak < GOAL_MB else 'MISSED'}"
        )


if __name__ == "__main__":
    main()
