"""Benchmark of accounting: My account, the accounting overview and the balances
CSV next to a bare Flask + Jinja page with the same number of rows, and closing a day.

    python bench/accounting.py [--quick] [--runs N]
                               [--database-url postgresql://postgres@127.0.0.1:5432/NAME]

Part 1, pages. A new database (a SQLite file in a temporary directory, or with
--database-url the PostgreSQL database NAME_history, dropped afterwards) gets 1,000 popugs
and about 3,000,000 ledger entries over 90 business days by bench.common.seed: ~1.5
million tasks with their assign fees and rewards, and for each of the 89 past days the
close it would have had (payouts, payout entries, billing days and logged e-mails,
computed from the per-day sums of every account). Every balance equals its ledger;
`accounting verify` is run and timed. Then, with the clock on the last (open) day:

- median and 95th percentile time of My account (today's audit log) as a worker, the
  accounting overview and the balances CSV as an accountant, fetched with the test client;
- in the same run, interleaved round-robin, a bare Flask + Jinja app rendering a table of
  the same number of rows from memory, once per page size.

Part 2, closing a day. Another new database (NAME_close) gets 10,000 popugs, each
assignable one with about two tasks (one done) on each of 6 days; the first 5 days are
closed through accounting.closing.close_day. The 6th is closed in a fresh child process and
timed (wall clock; set-based SQL, one transaction, commit included), with that process's
peak RSS; then closed again on a copy of the database, in another child, under tracemalloc
for the peak Python memory. Sending the queued e-mails afterwards (log mode) is timed too.

--database PATH keeps part 1's SQLite file and reuses it on the next run (no re-seeding).
Goals: pages within 3x the bare page; close-day of 10,000 accounts under 5 s;
`accounting verify` over 3,000,000 entries under 30 s (--verify-only times it alone).
--quick: 200 popugs, 100,000 entries over 20 days, 2,000 accounts to close, fewer runs.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import resource
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from flask import Flask, render_template  # noqa: E402
from jinja2 import DictLoader  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from app import clock  # noqa: E402
from app.blueprints.accounting import closing, mail, verify  # noqa: E402
from app.blueprints.accounting.models import BillingDay, Payout  # noqa: E402
from app.blueprints.auth import sessions  # noqa: E402
from app.db import is_postgres, write_intent  # noqa: E402
from app.extensions import db  # noqa: E402
from app.money import format_cents  # noqa: E402
from bench.common import (  # noqa: E402
    Population,
    StatementLog,
    bench_app,
    copy_database,
    describe_database,
    drop_database,
    fresh_database,
    load,
    machine,
    markdown_table,
    named_database,
    popug_session_id,
    quantile,
    raise_priority,
    seed,
    settle,
    with_database_name,
)

FULL = {"popugs": 1_000, "entries": 3_000_000, "days": 90, "close_accounts": 10_000, "runs": 100}
QUICK = {"popugs": 200, "entries": 100_000, "days": 20, "close_accounts": 2_000, "runs": 20}
WARMUP = 5
DONE_SHARE = 0.9  # share of tasks done (each done task has a reward entry)
CLOSE_DAYS = 6
GOAL_RATIO = 3.0
FLOOR = "aTES floor: a signed-in 404 page (no rows)"
GOAL_CLOSE_SECONDS = 5.0
GOAL_VERIFY_SECONDS = 30.0
# The seeded history ends on this day ("today"); times are UTC, like ATES_TIMEZONE's default.
END = datetime(2026, 5, 1, 12, 0, 0, tzinfo=UTC)


def history_population(popugs: int, entries: int, days: int) -> Population:
    """About `entries` ledger entries over `days` days: tasks (DONE_SHARE of them done) with
    their fees and rewards, and the payouts of every day but the last."""
    shape = Population(popugs, 0, 0)
    payouts = shape.assignable * (days - 1)  # at most: each assignable popug paid each day
    tasks = max(1, round((entries - payouts) / (1 + DONE_SHARE)))
    done = round(tasks * DONE_SHARE)
    return Population(popugs, tasks - done, done, days=days, close_days=True, end=END)


def seed_history(url: str, popugs: int, entries: int, days: int) -> dict:
    """Tasks, fees and rewards over `days` days, then the closes of every day but the last
    (bench.common.seed)."""
    app = bench_app(url)
    with app.app_context():
        db.create_all()
        seeded = seed(db.engine, history_population(popugs, entries, days))
        db.session.remove()
        db.engine.dispose()
    return seeded


# --- pages -----------------------------------------------------------------------------

BARE_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Bare</title>
<link rel="stylesheet" href="/static/bare.css"></head>
<body><main><h1>Rows</h1>
<table class="table"><thead><tr><th>Time</th><th>Popug</th><th>E-mail</th><th>Kind</th>
<th class="num">Amount</th></tr></thead>
<tbody>
{% for row in rows %}<tr><td>{{ row.at.strftime('%Y-%m-%d %H:%M') }}</td><td>{{ row.username }}</td>
<td>{{ row.email }}</td><td>{{ row.kind }}</td>
<td class="num"><span class="money">{{ row.amount|money }}</span></td></tr>
{% endfor %}</tbody></table></main></body></html>"""


def bare_app(max_rows: int) -> Flask:
    """The floor: Flask + Jinja rendering an n-row table of money rows from memory."""
    app = Flask("bare")
    app.jinja_loader = DictLoader({"bare.html": BARE_PAGE})  # compiled once, cached
    app.jinja_env.filters["money"] = format_cents
    rows = [
        {
            "at": END - timedelta(minutes=n),
            "username": f"popug-{n}",
            "email": f"popug-{n}@uberpopug.inc",
            "kind": ("Assign fee", "Reward", "Payout")[n % 3],
            "amount": (n * 137) % 5000 - 2500,
        }
        for n in range(max_rows)
    ]

    @app.get("/<int:n>")
    def bare(n: int):
        return render_template("bare.html", rows=rows[:n])

    return app


def signed_in(app, popug_id: int):
    client = app.test_client()
    with client.session_transaction() as session:
        session["_user_id"] = popug_session_id(popug_id)
        sessions.begin(session)
        session["_fresh"] = True
    return client


def rows_in(response) -> int:
    if response.mimetype == "text/csv":
        return response.get_data(as_text=True).count("\n") - 1
    return response.get_data(as_text=True).count("<tr")


def bench_pages(url: str, runs: int, popugs: int) -> dict:
    app = bench_app(url)
    clock.freeze(END)
    worker = signed_in(app, popugs // 2)
    accountant = signed_in(app, Population(popugs, 0, 0).first_assignable)
    pages = {
        # The app's own floor: sign-in check, top bar with the balance, base layout, no rows.
        FLOOR: (accountant, "/accounting/payouts/2000-01-01"),
        "My account (worker, today's audit log)": (worker, "/account"),
        "Accounting overview (7 days, 50 balances)": (accountant, "/accounting"),
        "Balances CSV (every popug)": (accountant, "/accounting/balances.csv"),
    }
    sizes = {}
    for name, (client, path) in pages.items():
        response = client.get(path)
        if response.status_code != (404 if name == FLOOR else 200):
            raise AssertionError(f"{path} answered {response.status_code}")
        sizes[name] = rows_in(response)
    bare = bare_app(max(sizes.values())).test_client()
    measured = {}
    for name, (client, path) in pages.items():
        measured[f"bare Flask+Jinja, {sizes[name]} rows"] = (bare, f"/{sizes[name]}")
        measured[name] = (client, path)
    with app.app_context():
        engine = db.engine
    log = StatementLog(engine)
    timings = {name: [] for name in measured}
    cpu = {name: [] for name in measured}
    queries = {name: [] for name in measured}
    sql_ms = {name: [] for name in measured}
    for round_ in range(WARMUP + runs):
        for name, (client, path) in measured.items():
            log.reset()
            started, cpu_started = time.perf_counter(), time.process_time()
            response = client.get(path)
            response.get_data()  # a streamed CSV is produced here
            elapsed = time.perf_counter() - started
            cpu_elapsed = time.process_time() - cpu_started
            if response.status_code != (404 if name == FLOOR else 200):
                raise AssertionError(f"{path} answered {response.status_code}")
            if round_ >= WARMUP:
                timings[name].append(elapsed)
                cpu[name].append(cpu_elapsed)
                queries[name].append(log.count)
                sql_ms[name].append(log.seconds * 1000)
    log.close()
    clock.freeze(None)
    results = {}
    for name in measured:
        bare_name = name if name.startswith("bare") else f"bare Flask+Jinja, {sizes[name]} rows"
        median = quantile(timings[name], 0.5)
        cpu_median = quantile(cpu[name], 0.5)
        results[name] = {
            "rows": sizes[name] if name in sizes else int(measured[name][1].strip("/")),
            "median_ms": median * 1000,
            "p95_ms": quantile(timings[name], 0.95) * 1000,
            "ratio": median / quantile(timings[bare_name], 0.5),
            "cpu_ms": cpu_median * 1000,
            "cpu_p95_ms": quantile(cpu[name], 0.95) * 1000,
            "cpu_ratio": cpu_median / quantile(cpu[bare_name], 0.5),
            "queries": max(queries[name]),
            "sql_ms": quantile(sql_ms[name], 0.5),
        }
    with app.app_context():
        db.session.remove()
        db.engine.dispose()
    return {"pages": results} | time_verify(url)


def time_verify(url: str, priority: int = 0) -> dict:
    """`accounting verify` as the command runs it (one REPEATABLE READ snapshot on
    PostgreSQL), each of its checks timed, wall clock and this process's CPU (all of the
    work on SQLite; on PostgreSQL the backend does it): {"verify_seconds", "problems",
    "checks": [(name, seconds, CPU seconds, problems found)]}. `priority`: as
    bench.common.raise_priority."""
    app = bench_app(url)
    timed, problems = [], []
    with app.app_context():
        raise_priority(db.engine, priority)
        if is_postgres():
            db.session.connection(execution_options={"isolation_level": "REPEATABLE READ"})
        for check in verify.checks():
            started, cpu_started = time.perf_counter(), time.process_time()
            found = check()
            seconds, cpu = time.perf_counter() - started, time.process_time() - cpu_started
            name = f"{check.__module__.rsplit('.', 2)[-2]}.{check.__name__.lstrip('_')}"
            timed.append((name, seconds, cpu, len(found)))
            problems += found
        db.session.rollback()
        db.session.remove()
        db.engine.dispose()
    return {
        "verify_seconds": sum(seconds for _, seconds, _, _ in timed),
        "verify_cpu_seconds": sum(cpu for _, _, cpu, _ in timed),
        "problems": problems,
        "checks": timed,
    }


# --- closing a day ---------------------------------------------------------------------


def seed_close(url: str, accounts: int) -> None:
    """`accounts` popugs, each assignable one with about 2 tasks a day (one done, so a fee
    and a reward, one open) on each of CLOSE_DAYS days (bench.common.seed), and the first
    CLOSE_DAYS - 1 days closed by the real service."""
    app = bench_app(url)
    first_day = END.date() - timedelta(days=CLOSE_DAYS - 1)
    shape = Population(accounts, 0, 0)
    tasks = CLOSE_DAYS * shape.assignable
    with app.app_context():
        db.create_all()
        engine = db.engine
        seed(engine, Population(accounts, tasks, tasks, days=CLOSE_DAYS, end=END))
        for offset in range(CLOSE_DAYS - 1):
            day = first_day + timedelta(days=offset)
            clock.freeze(datetime.combine(day, datetime.min.time(), UTC) + timedelta(hours=23))
            with write_intent():
                closing.close_day(day)
                db.session.commit()
                mail.send_pending()  # log mode: the outbox starts the timed close empty
        clock.freeze(None)
        db.session.remove()
        settle(engine)


def timed_close(url: str, *, trace: bool) -> dict:
    app = bench_app(url)
    day = END.date()
    clock.freeze(END)
    with app.app_context():
        db.engine.connect().close()  # open the pool outside the measurement
        rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        if trace:
            tracemalloc.start()
        started = time.perf_counter()
        with write_intent():
            result = closing.close_day(day)
            db.session.commit()
        seconds = time.perf_counter() - started
        peak = tracemalloc.get_traced_memory()[1] / 1024 / 1024 if trace else None
        if trace:
            tracemalloc.stop()
        rss_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        mail_seconds = None
        if not trace:
            started = time.perf_counter()
            with write_intent():
                report = mail.send_pending()
            mail_seconds = time.perf_counter() - started
            if report.logged != result.messages:
                raise AssertionError(f"logged {report.logged} of {result.messages} e-mails")
        paid = db.session.query(Payout).filter(Payout.day == day).count()
        closed = db.session.get(BillingDay, day)
        problems = verify.verify()
        db.session.remove()
        db.engine.dispose()
    clock.freeze(None)
    if paid != result.popugs_paid or closed is None or problems:
        raise AssertionError(f"close went wrong: {paid=} {closed=} {problems=}")
    return {
        "seconds": seconds,
        "result": dataclasses.asdict(result) | {"day": result.day.isoformat()},
        "peak_mb": peak,
        "rss_before_mb": rss_before,
        "rss_after_mb": rss_after,
        "mail_seconds": mail_seconds,
    }


def bench_close(accounts: int, database_url: str | None) -> dict:
    """Seed here; time the close in a fresh child process (its own peak RSS), then again
    under tracemalloc in another child, on a copy of the same database."""
    with fresh_database(named_database(database_url, "close"), "ates_bench_close") as url:
        started = time.perf_counter()
        seed_close(url, accounts)
        seeded = time.perf_counter() - started
        copy = with_database_name(url, f"{_database_name(url)}_copy")
        copy_database(url, copy)
        try:
            timing = _close_in_child(url, trace=False)
            memory = _close_in_child(copy, trace=True)
        finally:
            drop_database(copy)
    return {"seed_seconds": seeded, "timing": timing, "memory": memory}


def _database_name(url: str) -> str:
    name = make_url(url).database or ""
    return Path(name).stem if url.startswith("sqlite") else name


def _close_in_child(url: str, *, trace: bool) -> dict:
    command = [sys.executable, __file__, "--close-run", url] + (["--trace"] if trace else [])
    output = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    return json.loads(output.strip().splitlines()[-1])


@contextmanager
def _history_database(path: str | None, database_url: str | None) -> Iterator[str]:
    """A new temporary SQLite file or PostgreSQL database, or `path` (a SQLite file, kept,
    and reused when it exists)."""
    if path:
        yield f"sqlite:///{Path(path).resolve()}"
        return
    with fresh_database(named_database(database_url, "history"), "ates_bench_accounting") as url:
        yield url


def _counts(url: str) -> dict:
    app = bench_app(url)
    with app.app_context():
        with db.engine.connect() as conn:
            counts = {
                table: conn.exec_driver_sql(f"SELECT count(*) FROM {table}").scalar()
                for table in ("popugs", "tasks", "ledger_entries", "payouts", "billing_days")
            }
        db.engine.dispose()
    return counts


def report_verify(measured: dict, rows: dict, *, goal: bool = True) -> None:
    print(
        f"\n`accounting verify` over the whole ledger: {measured['verify_seconds']:.1f} s "
        f"(client CPU {measured['verify_cpu_seconds']:.1f} s), {len(measured['problems'])} "
        f"problems (load average after: {load()})\n"
    )
    print(
        markdown_table(
            ["check", "seconds", "client CPU s", "problems"],
            [
                [name, f"{seconds:.2f}", f"{cpu:.2f}", found]
                for name, seconds, cpu, found in measured["checks"]
            ],
        )
    )
    if goal:
        verdict = "met" if measured["verify_seconds"] < GOAL_VERIFY_SECONDS else "MISSED"
        print(
            f"\n- accounting verify over {rows['ledger_entries']:,} ledger entries: "
            f"{measured['verify_seconds']:.1f} s (goal < {GOAL_VERIFY_SECONDS:.0f} s): {verdict}"
        )
    if goal and measured["problems"]:
        sys.exit(f"accounting verify found problems: {measured['problems'][:5]}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, for a smoke run")
    parser.add_argument("--runs", type=int, help="timed rounds per page (default 100, quick 20)")
    parser.add_argument(
        "--database",
        help="SQLite file for part 1, kept afterwards and reused (not re-seeded) if it exists",
    )
    parser.add_argument(
        "--database-url",
        help="PostgreSQL URL; databases NAME_history and NAME_close are created and dropped",
    )
    parser.add_argument(
        "--verify-only",
        action="store_true",
        help="seed (or reuse) part 1's database and time `accounting verify` alone",
    )
    parser.add_argument(
        "--priority",
        type=int,
        default=0,
        help="niceness of the timed verify and its PostgreSQL backend (e.g. -10; root only)",
    )
    parser.add_argument("--close-run", help=argparse.SUPPRESS)  # child: close a day in URL
    parser.add_argument("--trace", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.close_run:
        print(json.dumps(timed_close(args.close_run, trace=args.trace)))
        return
    sizes = dict(QUICK if args.quick else FULL)
    if args.runs:
        sizes["runs"] = args.runs

    print(f"# bench/accounting.py — {datetime.now(UTC):%Y-%m-%d %H:%M} UTC — {machine()}")
    with _history_database(args.database, args.database_url) as url:
        if args.database and Path(args.database).exists():
            seeded = {"seconds": 0.0, "rows": _counts(url)}
        else:
            seeded = seed_history(url, sizes["popugs"], sizes["entries"], sizes["days"])
        app = bench_app(url)
        with app.app_context():
            engine_name = describe_database(db.engine)
            db.engine.dispose()
        rows = seeded["rows"]
        print(f"database: {engine_name}; load average before: {load()}")
        how = f"in {seeded['seconds']:.1f} s" if seeded["seconds"] else f"(reused {args.database})"
        print(
            f"seeded {rows['popugs']:,} popugs, {rows['tasks']:,} tasks, "
            f"{rows['ledger_entries']:,} ledger entries over {rows['billing_days'] + 1} days "
            f"({rows['payouts']:,} payouts on {rows['billing_days']} closed days) {how}"
        )
        if args.verify_only:
            report_verify(time_verify(url, args.priority), rows)
            return
        measured = bench_pages(url, sizes["runs"], sizes["popugs"])
    pages = measured["pages"]
    print(f"\n## Pages ({sizes['runs']} rounds after {WARMUP} warm-up, interleaved)\n")
    print(
        markdown_table(
            [
                "page",
                "rows",
                "median ms",
                "p95 ms",
                "× bare",
                "CPU median ms",
                "CPU p95 ms",
                "CPU × bare",
                "SQL queries",
                "SQL ms",
            ],
            [
                [
                    name,
                    r["rows"],
                    f"{r['median_ms']:.2f}",
                    f"{r['p95_ms']:.2f}",
                    f"{r['ratio']:.1f}",
                    f"{r['cpu_ms']:.2f}",
                    f"{r['cpu_p95_ms']:.2f}",
                    f"{r['cpu_ratio']:.1f}",
                    r["queries"],
                    f"{r['sql_ms']:.2f}",
                ]
                for name, r in pages.items()
            ],
        )
    )
    report_verify(measured, rows, goal=False)

    close = bench_close(sizes["close_accounts"], args.database_url)
    timing, memory = close["timing"], close["memory"]
    result = SimpleNamespace(**timing["result"])
    print(f"\n## Closing a day for {sizes['close_accounts']:,} accounts\n")
    print(
        f"seeded {sizes['close_accounts']:,} accounts × {CLOSE_DAYS} days "
        f"(about 3 entries each per day; the first {CLOSE_DAYS - 1} days closed by the service) "
        f"in {close['seed_seconds']:.1f} s\n"
    )
    print(
        markdown_table(
            ["measure", "value"],
            [
                [
                    "close-day, wall clock (one transaction, commit included)",
                    f"**{timing['seconds']:.2f} s**",
                ],
                [
                    "popugs paid / total paid / left in the red",
                    f"{result.popugs_paid:,} / {format_cents(result.total_paid)} / "
                    f"{result.popugs_in_red:,}",
                ],
                ["e-mails queued in the same transaction", f"{result.messages:,}"],
                ["close-day under tracemalloc (slower), wall clock", f"{memory['seconds']:.2f} s"],
                [
                    "peak Python memory during close-day (tracemalloc)",
                    f"{memory['peak_mb']:.1f} MiB",
                ],
                [
                    "peak RSS of the closing process (a fresh process: app, then the close), "
                    "before / after the close",
                    f"{timing['rss_before_mb']:.0f} / {timing['rss_after_mb']:.0f} MiB",
                ],
                [
                    "sending the e-mails afterwards (log mode, one commit each)",
                    f"{timing['mail_seconds']:.2f} s",
                ],
            ],
        )
    )
    print(f"\nload average after: {load()}")
    print("\n## Goals\n")
    for name, r in pages.items():
        if name.startswith("bare") or name == FLOOR:
            continue
        verdict = "met" if r["ratio"] <= GOAL_RATIO else "MISSED"
        print(
            f"- {name}: {r['ratio']:.1f}× bare by wall clock, {r['cpu_ratio']:.1f}× by CPU "
            f"time (goal ≤ {GOAL_RATIO:.0f}×, wall clock): {verdict}"
        )
    verdict = "met" if measured["verify_seconds"] < GOAL_VERIFY_SECONDS else "MISSED"
    print(
        f"- accounting verify over {rows['ledger_entries']:,} ledger entries: "
        f"{measured['verify_seconds']:.1f} s (goal < {GOAL_VERIFY_SECONDS:.0f} s): {verdict}"
    )
    verdict = "met" if timing["seconds"] < GOAL_CLOSE_SECONDS else "MISSED"
    print(
        f"- close-day of {sizes['close_accounts']:,} accounts: {timing['seconds']:.2f} s "
        f"(goal < {GOAL_CLOSE_SECONDS:.0f} s on SQLite): {verdict}"
    )
    if measured["problems"]:
        sys.exit(f"accounting verify found problems: {measured['problems'][:5]}")


if __name__ == "__main__":
    main()
