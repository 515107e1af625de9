"""Benchmark of accounting (issue 5): My account, the accounting overview and the balances
CSV next to a bare Flask + Jinja page with the same number of rows, and closing a day.

    python bench/accounting.py [--quick] [--runs N]

Part 1, pages. A new SQLite file in a temporary directory gets 1,000 popugs and 3,000,000
ledger entries over 90 business days by set-based SQL (INSERT … SELECT over a generated
series): ~1.5 million tasks with their assign fees and rewards, and for each of the 89 past
days the close it would have had (payouts, payout entries, billing days and logged
e-mails, computed from the per-day sums of every account). Every balance equals its ledger;
`accounting verify` is run and timed. Then, with the clock on the last (open) day:

- median and 95th percentile time of My account (today's audit log) as a worker, the
  accounting overview and the balances CSV as an accountant, fetched with the test client;
- in the same run, interleaved round-robin, a bare Flask + Jinja app rendering a table of
  the same number of rows from memory, once per page size.

Part 2, closing a day. Another new SQLite file gets 10,000 popugs with three ledger entries
each on each of 6 days; the first 5 days are closed through accounting.service.close_day.
The 6th is closed in a fresh child process and timed (wall clock; set-based SQL, one
transaction, commit included), with that process's peak RSS; then closed again on a copy
of the database, in another child, under tracemalloc for the peak Python memory. Sending
the queued e-mails afterwards (log mode) is timed too.

--database PATH keeps part 1's SQLite file and reuses it on the next run (no re-seeding).
Goals (issue 5): pages within 3x the bare page; close-day of 10,000 accounts under 5 s.
--quick: 200 popugs, 100,000 entries over 20 days, 2,000 accounts to close, fewer runs.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import random
import resource
import shutil
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from flask import Flask, render_template  # noqa: E402
from jinja2 import DictLoader  # noqa: E402
from sqlalchemy import insert  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from app import clock  # noqa: E402
from app.blueprints.accounting import mail, service  # noqa: E402
from app.blueprints.accounting.models import BillingDay, Payout  # noqa: E402
from app.blueprints.auth import sessions  # noqa: E402
from app.db import write_intent  # noqa: E402
from app.extensions import db  # noqa: E402
from app.money import format_cents  # noqa: E402
from bench.common import (  # noqa: E402
    StatementLog,
    bench_app,
    describe_database,
    fresh_database,
    load,
    machine,
    markdown_table,
    quantile,
    settle,
)

FULL = {"popugs": 1_000, "entries": 3_000_000, "days": 90, "close_accounts": 10_000, "runs": 100}
QUICK = {"popugs": 200, "entries": 100_000, "days": 20, "close_accounts": 2_000, "runs": 20}
WARMUP = 5
DONE_SHARE = 0.9  # share of tasks done (each done task has a reward entry)
CLOSE_DAYS = 6
GOAL_RATIO = 3.0
FLOOR = "aTES floor: a signed-in 404 page (no rows)"
GOAL_CLOSE_SECONDS = 5.0
# The seeded history ends on this day ("today"); times are UTC, like ATES_TIMEZONE's default.
END = datetime(2026, 5, 1, 12, 0, 0, tzinfo=UTC)
FIRST_ASSIGNABLE = 3  # popug 1 is the admin, 2 the manager; then accountants and workers


def _ts(moment: datetime) -> str:
    """How SQLAlchemy stores a UTC datetime in SQLite (naive, ISO with microseconds)."""
    return moment.astimezone(UTC).replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds")


def _series(n: int) -> str:
    """A recursive CTE yielding i = 1..n, to prefix an INSERT … SELECT … FROM series."""
    return (
        "WITH RECURSIVE series(i) AS "
        f"(SELECT 1 UNION ALL SELECT i + 1 FROM series WHERE i < {int(n)}) "
    )


def seed_popugs(conn, popugs: int, *, first_worker: int) -> None:
    """Popugs 1..n with accounts 1..n (same ids): admin, manager, accountants, workers."""
    conn.exec_driver_sql(
        _series(popugs) + "INSERT INTO popugs (id, public_id, username, email, role, beak_hash, "
        "active, session_epoch, created_at) SELECT i, printf('00000000-0000-4000-8000-%012d', i), "
        "'popug-' || i, 'popug-' || i || '@uberpopug.inc', CASE WHEN i = 1 THEN 'admin' "
        f"WHEN i = 2 THEN 'manager' WHEN i < {first_worker} THEN 'accountant' ELSE 'worker' END, "
        f"'not a real hash', 1, 0, '{_ts(END - timedelta(days=400))}' FROM series"
    )
    conn.exec_driver_sql(
        "INSERT INTO accounts (id, popug_id, owner_public_id, username, email, balance, "
        "created_at) SELECT id, id, public_id, username, email, 0, created_at FROM popugs"
    )


def seed_history(url: str, popugs: int, entries: int, days: int) -> dict:
    """Tasks, fees and rewards over `days` days, then the closes of every day but the last."""
    started = time.perf_counter()
    assignable = popugs - FIRST_ASSIGNABLE + 1
    expected_payouts = assignable * (days - 1)
    tasks = max(1, round((entries - expected_payouts) / (1 + DONE_SHARE)))
    start = datetime.combine(END.date() - timedelta(days=days - 1), datetime.min.time(), UTC)
    spacing = (END - start).total_seconds() / tasks
    last_done = END - timedelta(hours=2)  # later tasks stay open: no completion after "now"

    def created_at(i: str) -> str:
        """When task `i` (a column or expression) was created: tasks spread evenly in time."""
        return (
            f"strftime('%Y-%m-%d %H:%M:%f', '{_ts(start)}', "
            f"'+' || CAST(({i} - 1) * {spacing!r} AS INTEGER) || ' seconds') || '000'"
        )

    app = bench_app(url)
    with app.app_context():
        db.create_all()
        engine = db.engine
        with engine.begin() as conn:
            conn.exec_driver_sql("PRAGMA cache_size = -1048576")
            seed_popugs(conn, popugs, first_worker=FIRST_ASSIGNABLE + max(1, popugs // 20))
            conn.exec_driver_sql(
                _series(tasks) + "INSERT INTO tasks (id, status, assignee_id, fee, "
                "reward, completed_at) SELECT i, "
                "CASE WHEN done THEN 'done' ELSE 'open' END, "
                f"{FIRST_ASSIGNABLE} + abs(random()) % {assignable}, "
                "(10 + abs(random()) % 11) * 100, (20 + abs(random()) % 21) * 100, "
                "CASE WHEN done THEN strftime('%Y-%m-%d %H:%M:%f', created_at, "
                "'+' || (60 + abs(random()) % 7140) || ' seconds') || '000' END "
                f"FROM (SELECT i, {created_at('i')} AS created_at, "
                f"(i % 10 <> 0 AND (i - 1) * {spacing!r} < "
                f"{(last_done - start).total_seconds()!r}) AS done FROM series)"
            )
            # Each task's texts: its own table, one row per task (app/blueprints/tasks/models.py).
            conn.exec_driver_sql(
                "INSERT INTO task_texts (task_id, public_id, title, jira_id, description, "
                "creator_id, created_at, form_token) SELECT id, "
                "printf('10000000-0000-4000-8000-%012d', id), 'Bench task number ' || id, "
                f"CASE WHEN id % 3 = 0 THEN 'UBERPOP-' || id END, '', 1 + id % {popugs}, "
                f"{created_at('id')}, NULL FROM tasks ORDER BY id"
            )
            # Fees and rewards in time order, so ids grow with time as in production.
            conn.exec_driver_sql(
                "INSERT INTO ledger_entries (account_id, kind, amount, task_id, shuffle_id, "
                "business_day, created_at) SELECT account_id, kind, amount, task_id, NULL, "
                "date(at), at FROM (SELECT assignee_id AS account_id, 'assign_fee' AS kind, "
                "-fee AS amount, id AS task_id, x.created_at AS at FROM tasks "
                "JOIN task_texts x ON x.task_id = tasks.id UNION ALL "
                "SELECT assignee_id, 'reward', reward, id, completed_at FROM tasks "
                "WHERE status = 'done') ORDER BY at, task_id"
            )
            closes = _seed_closes(conn, END.date(), days)
            counts = {
                table: conn.exec_driver_sql(f"SELECT count(*) FROM {table}").scalar()
                for table in ("popugs", "tasks", "ledger_entries", "payouts", "billing_days")
            }
        settle(engine)
        db.session.remove()
    return {"seconds": time.perf_counter() - started, "rows": counts, **closes}


def _seed_closes(conn, today: date, days: int) -> dict:
    """The closes days 1..n-1 would have had, from each account's per-day sums: payouts of
    every positive balance at each day's end, their ledger entries and logged e-mails, the
    billing days with their totals, and the final balances."""
    daily: dict[date, dict[int, int]] = {}
    for account_id, day, total in conn.exec_driver_sql(
        "SELECT account_id, business_day, sum(amount) FROM ledger_entries "
        "GROUP BY account_id, business_day"
    ):
        daily.setdefault(date.fromisoformat(day), {})[account_id] = total
    kinds: dict[tuple[date, str], int] = {
        (date.fromisoformat(day), kind): total
        for day, kind, total in conn.exec_driver_sql(
            "SELECT business_day, kind, sum(amount) FROM ledger_entries GROUP BY business_day, kind"
        )
    }
    running: dict[int, int] = {}
    payouts, billing_days = [], []
    for offset in range(days - 1, 0, -1):
        day = today - timedelta(days=offset)
        for account_id, total in daily.get(day, {}).items():
            running[account_id] = running.get(account_id, 0) + total
        closed_at = _ts(
            datetime.combine(day + timedelta(days=1), datetime.min.time(), UTC)
            + timedelta(minutes=5)
        )
        paid = [(a, amount) for a, amount in running.items() if amount > 0]
        for account_id, amount in paid:
            payouts.append(
                {"account_id": account_id, "day": day, "amount": amount, "created_at": closed_at}
            )
            running[account_id] = 0
        billing_days.append(
            {
                "day": day,
                "closed_at": closed_at,
                "fees": -kinds.get((day, "assign_fee"), 0),
                "rewards": kinds.get((day, "reward"), 0),
                "payouts": sum(amount for _, amount in paid),
                "popugs_paid": len(paid),
                "popugs_in_red": sum(1 for amount in running.values() if amount < 0),
            }
        )
    for account_id, total in daily.get(today, {}).items():
        running[account_id] = running.get(account_id, 0) + total
    # Plain executemany: dates and timestamps as SQLite stores them.
    conn.exec_driver_sql(
        "INSERT INTO payouts (account_id, day, amount, created_at) VALUES (?, ?, ?, ?)",
        [(p["account_id"], p["day"].isoformat(), p["amount"], p["created_at"]) for p in payouts],
    )
    conn.exec_driver_sql(
        "INSERT INTO ledger_entries (account_id, kind, amount, task_id, shuffle_id, "
        "business_day, created_at) SELECT account_id, 'payout', -amount, NULL, NULL, day, "
        "created_at FROM payouts ORDER BY day, account_id"
    )
    conn.exec_driver_sql(
        "INSERT INTO mail_outbox (payout_id, recipient, subject, body, status, attempts, "
        "next_attempt_at, last_error, created_at, sent_at) SELECT p.id, a.email, "
        "'aTES payout for ' || p.day, 'Hello ' || a.username || ', your balance was paid out.', "
        "'logged', 1, p.created_at, NULL, p.created_at, p.created_at "
        "FROM payouts p JOIN accounts a ON a.id = p.account_id ORDER BY p.id"
    )
    conn.exec_driver_sql(
        "INSERT INTO billing_days (day, closed_at, fees, rewards, payouts, popugs_paid, "
        "popugs_in_red) VALUES (?, ?, ?, ?, ?, ?, ?)",
        [
            (
                d["day"].isoformat(),
                d["closed_at"],
                d["fees"],
                d["rewards"],
                d["payouts"],
                d["popugs_paid"],
                d["popugs_in_red"],
            )
            for d in billing_days
        ],
    )
    conn.exec_driver_sql(
        "UPDATE accounts SET balance = ? WHERE id = ?",
        [(balance, account_id) for account_id, balance in running.items()],
    )
    return {"payouts": len(payouts), "closed_days": len(billing_days)}


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
        session["_user_id"] = f"00000000-0000-4000-8000-{popug_id:012d}.0"
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
    accountant = signed_in(app, FIRST_ASSIGNABLE)
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
        started = time.perf_counter()
        problems = service.verify()
        verify_seconds = time.perf_counter() - started
        db.session.remove()
        db.engine.dispose()
    return {"pages": results, "verify_seconds": verify_seconds, "problems": problems}


# --- closing a day ---------------------------------------------------------------------


def seed_close(url: str, accounts: int) -> None:
    """`accounts` popugs (workers from id 3), each with 2 fees and 1 reward on each of
    CLOSE_DAYS days, and the first CLOSE_DAYS - 1 days closed by the real service."""
    app = bench_app(url)
    rng = random.Random(5)
    first_day = END.date() - timedelta(days=CLOSE_DAYS - 1)
    with app.app_context():
        db.create_all()
        engine = db.engine
        popugs = accounts + FIRST_ASSIGNABLE - 1
        with engine.begin() as conn:
            seed_popugs(conn, popugs, first_worker=FIRST_ASSIGNABLE)
            tasks, texts, entries = [], [], []
            task_id = 0
            for offset in range(CLOSE_DAYS):
                day = first_day + timedelta(days=offset)
                at = datetime.combine(day, datetime.min.time(), UTC) + timedelta(hours=9)
                for account_id in range(FIRST_ASSIGNABLE, popugs + 1):
                    for done in (True, False):
                        task_id += 1
                        fee, reward = rng.randint(10, 20) * 100, rng.randint(20, 40) * 100
                        tasks.append((task_id, "done" if done else "open", account_id, fee, reward))
                        texts.append(
                            (
                                task_id,
                                f"20000000-0000-4000-8000-{task_id:012d}",
                                f"Close bench task {task_id}",
                                _ts(at),
                            )
                        )
                        entries.append(
                            (account_id, "assign_fee", -fee, task_id, day.isoformat(), _ts(at))
                        )
                        if done:
                            entries.append(
                                (
                                    account_id,
                                    "reward",
                                    reward,
                                    task_id,
                                    day.isoformat(),
                                    _ts(at + timedelta(hours=1)),
                                )
                            )
            conn.exec_driver_sql(
                "INSERT INTO tasks (id, status, assignee_id, fee, reward) VALUES (?, ?, ?, ?, ?)",
                tasks,
            )
            conn.exec_driver_sql(
                "INSERT INTO task_texts (task_id, public_id, title, jira_id, description, "
                "creator_id, created_at) VALUES (?, ?, ?, NULL, '', 1, ?)",
                texts,
            )
            conn.exec_driver_sql(
                "INSERT INTO ledger_entries (account_id, kind, amount, task_id, business_day, "
                "created_at) VALUES (?, ?, ?, ?, ?, ?)",
                entries,
            )
            conn.exec_driver_sql(
                "UPDATE accounts SET balance = coalesce((SELECT sum(amount) FROM ledger_entries "
                "WHERE account_id = accounts.id), 0)"
            )
        for offset in range(CLOSE_DAYS - 1):
            day = first_day + timedelta(days=offset)
            clock.freeze(datetime.combine(day, datetime.min.time(), UTC) + timedelta(hours=23))
            with write_intent():
                service.close_day(day)
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
            result = service.close_day(day)
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
        problems = service.verify()
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


def bench_close(accounts: int) -> dict:
    """Seed here; time the close in a fresh child process (its own peak RSS), then again
    under tracemalloc in another child, on a copy of the same database."""
    with fresh_database(None, "ates_bench_close") as url:
        started = time.perf_counter()
        seed_close(url, accounts)
        seeded = time.perf_counter() - started
        source = Path(make_url(url).database)
        copy = source.with_name("ates_bench_close_copy.sqlite3")
        shutil.copyfile(source, copy)
        timing = _close_in_child(source, trace=False)
        memory = _close_in_child(copy, trace=True)
        for suffix in ("", "-wal", "-shm"):
            Path(str(copy) + suffix).unlink(missing_ok=True)
    return {"seed_seconds": seeded, "timing": timing, "memory": memory}


def _close_in_child(path: Path, *, trace: bool) -> dict:
    command = [sys.executable, __file__, "--close-run", str(path)] + (["--trace"] if trace else [])
    output = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    return json.loads(output.strip().splitlines()[-1])


def _insert_check() -> None:
    """The bench writes rows by hand; keep it honest about the columns it fills."""
    insert(Payout.__table__)  # fails loudly at import time if the model moved


@contextmanager
def _history_database(path: str | None) -> Iterator[str]:
    """A new temporary SQLite file, or `path` (kept, and reused when it exists)."""
    if path:
        yield f"sqlite:///{Path(path).resolve()}"
        return
    with fresh_database(None, "ates_bench_accounting") as url:
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, for a smoke run")
    parser.add_argument("--runs", type=int, help="timed rounds per page (default 100, quick 20)")
    parser.add_argument(
        "--database",
        help="SQLite file for part 1, kept afterwards and reused (not re-seeded) if it exists",
    )
    parser.add_argument("--close-run", help=argparse.SUPPRESS)  # child: close a day in PATH
    parser.add_argument("--trace", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.close_run:
        print(json.dumps(timed_close(f"sqlite:///{args.close_run}", trace=args.trace)))
        return
    sizes = dict(QUICK if args.quick else FULL)
    if args.runs:
        sizes["runs"] = args.runs
    _insert_check()

    print(f"# bench/accounting.py — {datetime.now(UTC):%Y-%m-%d %H:%M} UTC — {machine()}")
    with _history_database(args.database) as url:
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
    print(
        f"\n`accounting verify` over the whole ledger: {measured['verify_seconds']:.1f} s, "
        f"{len(measured['problems'])} problems"
    )

    close = bench_close(sizes["close_accounts"])
    timing, memory = close["timing"], close["memory"]
    result = SimpleNamespace(**timing["result"])
    print(f"\n## Closing a day for {sizes['close_accounts']:,} accounts\n")
    print(
        f"seeded {sizes['close_accounts']:,} accounts × {CLOSE_DAYS} days "
        f"(3 entries each per day; the first {CLOSE_DAYS - 1} days closed by the service) "
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
    verdict = "met" if timing["seconds"] < GOAL_CLOSE_SECONDS else "MISSED"
    print(
        f"- close-day of {sizes['close_accounts']:,} accounts: {timing['seconds']:.2f} s "
        f"(goal < {GOAL_CLOSE_SECONDS:.0f} s on SQLite): {verdict}"
    )


if __name__ == "__main__":
    main()
