"""Benchmark the analytics dashboard on a year of history.

Seeds a fresh database (a SQLite file in a temporary directory, or with --database-url that
PostgreSQL database, created and dropped afterwards) by bench.common.seed: 1,000 popugs and
1,000,000 completed tasks over 365 days with their fees and rewards, every day before
"today" closed as close-day closes it (payouts and their entries, the totals in
billing_days); `accounting verify` must find nothing. Then, through Flask's test client
and signed in as an admin, times these pages round-robin in one run (median and 95th
percentile, wall clock, plus the median CPU time of this process, which other processes
disturb less):

  bare hello page             a minimal Flask app: one route, a one-line Jinja template
  empty aTES page             signed in, aTES's layout and top bar, no content: the floor
  bare, N days of rows        the same minimal app rendering, from memory, the rows the
                              dashboard shows for N days (its four tables, the bars of its
                              two charts): the bare page the goal compares with
  dashboard N days            GET /analytics?from=…&to=… (sign-in, layout, queries, charts)
  of which queries            analytics.report.range_report() alone, no HTTP or templates
  dashboard, no day closed    billing_days set aside, so every day is summed from the ledger
                              (the "indexed queries over the ledger only" alternative)

    .venv/bin/python bench/analytics.py            # full size (about 6 minutes)
    .venv/bin/python bench/analytics.py --quick    # 20,000 tasks, for a smoke run
    .venv/bin/python bench/analytics.py --quick --database-url postgresql://…/NAME

The schema comes from the models (db.create_all()). The index the tasks report needs,
tasks(reward, completed_at, id), is created here if the models do not have it yet;
--without-reward-index leaves it out.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from flask import Flask, render_template  # noqa: E402
from jinja2 import DictLoader  # noqa: E402
from sqlalchemy import create_engine, event, inspect, make_url  # noqa: E402

from app import clock, create_app  # noqa: E402
from app.blueprints.auth import sessions  # noqa: E402
from app.config import Config  # noqa: E402
from bench.common import (  # noqa: E402
    Population,
    assert_ledger_consistent,
    bench_config,
    fresh_database,
    popug_session_id,
    seed,
)

TODAY = date(2026, 3, 3)
NOW = datetime(2026, 3, 3, 12, 0, tzinfo=UTC)  # the seeded history ends here
YEAR_S = 365 * 24 * 3600
POPUGS = 1000
REWARD_INDEX = "ix_tasks_reward_completed_at"

HELLO_TEMPLATE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{{ title }}</title></head>
<body><h1>{{ title }}</h1></body></html>"""

# The bare page: a minimal Flask + Jinja app rendering, from memory, the same rows the
# dashboard shows (its four tables and the bars of its two charts), with no sign-in, no
# database and no layout. What the dashboard costs beyond it is the price of aTES.
BARE_TEMPLATE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Bare</title></head><body><h1>Analytics</h1>
{% for bars in charts %}<svg viewBox="0 0 720 240">{% for b in bars %}<rect x="{{ b.x }}" \
y="{{ b.y }}" width="{{ b.width }}" height="{{ b.height }}"><title>{{ b.tooltip }}</title></rect>
{% endfor %}</svg>{% endfor %}
{% for rows in tables %}<table><tbody>{% for row in rows %}<tr>{% for cell in row %}\
<td>{{ cell }}</td>{% endfor %}</tr>
{% endfor %}</tbody></table>{% endfor %}
</body></html>"""


def analytics_config(url: str) -> type[Config]:
    class AnalyticsBenchConfig(bench_config(url)):
        ATES_TIMEZONE = "UTC"

    return AnalyticsBenchConfig


def seed_year(url: str, tasks: int, *, reward_index: bool) -> dict:
    """`tasks` completed tasks over the year before NOW with their fees and rewards, and
    every day before TODAY closed (bench.common.seed: payouts, billing days)."""
    from app.extensions import db

    started = time.perf_counter()
    app = create_app(analytics_config(url))
    with app.app_context():
        db.create_all()
        engine = db.engine
        seed(engine, Population(POPUGS, 0, tasks, days=365, close_days=True, end=NOW))
        created = reward_index and REWARD_INDEX not in _indexes(engine)
        if created:
            with engine.begin() as conn:
                conn.exec_driver_sql(
                    f"CREATE INDEX {REWARD_INDEX} ON tasks (reward, completed_at, id)"
                )
        db.session.remove()
        engine.dispose()
    info = describe(url, seconds=round(time.perf_counter() - started, 1))
    if created:
        info["reward_index"] = "created by the bench (proposed for tasks/models.py)"
    return info


def _indexes(engine) -> set[str]:
    return {index["name"] for index in inspect(engine).get_indexes("tasks")}


def check(url: str) -> None:
    """The seeded books are consistent: every balance equals its ledger sum, and
    `accounting verify` (closed days' totals, payouts, closing balances) finds nothing."""
    from app.blueprints.accounting.verify import verify
    from app.extensions import db

    app = create_app(analytics_config(url))
    with app.app_context():
        with db.engine.connect() as conn:
            assert_ledger_consistent(conn)
        problems = verify()
        db.session.remove()
        db.engine.dispose()
    if problems:
        sys.exit(f"seeded books are wrong: {problems[:5]}")


def describe(url: str, *, seconds: float | None) -> dict:
    engine = create_engine(url)
    try:
        indexes = _indexes(engine)
        with engine.connect() as conn:
            counts = {
                table: conn.exec_driver_sql(f"SELECT count(*) FROM {table}").scalar()
                for table in ("tasks", "ledger_entries", "billing_days", "accounts")
            }
            if engine.dialect.name == "postgresql":
                size = conn.exec_driver_sql("SELECT pg_database_size(current_database())").scalar()
                kind = "PostgreSQL database"
            else:
                size = Path(make_url(url).database).stat().st_size
                kind = "SQLite file"
    finally:
        engine.dispose()
    return {
        "seconds": seconds,
        "counts": counts,
        "reward_index": "present" if REWARD_INDEX in indexes else "absent",
        "size_mb": round(size / 1e6),
        "kind": kind,
    }


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(share * len(ordered)) - 1))]


def interleaved(pages: dict, runs: int, warmup: int) -> dict:
    """Time every page once per round, round-robin, so a busy machine slows them alike.
    Wall-clock and this process's CPU time (less disturbed by other processes)."""
    for _ in range(warmup):
        for call in pages.values():
            call()
    wall = {name: [] for name in pages}
    cpu = {name: [] for name in pages}
    for _ in range(runs):
        for name, call in pages.items():
            started, started_cpu = time.perf_counter(), time.process_time()
            call()
            wall[name].append((time.perf_counter() - started) * 1000)
            cpu[name].append((time.process_time() - started_cpu) * 1000)
    return {
        name: {
            "median_ms": round(statistics.median(wall[name]), 2),
            "p95_ms": round(percentile(wall[name], 0.95), 2),
            "cpu_median_ms": round(statistics.median(cpu[name]), 2),
            "runs": runs,
        }
        for name in pages
    }


def bare_app(reports: dict) -> Flask:
    """The bare page for each range: the same rows as the dashboard, from memory."""
    bare = Flask("bare")
    bare.jinja_loader = DictLoader({"bare.html": BARE_TEMPLATE, "hello.html": HELLO_TEMPLATE})
    content = {}
    for days, report in reports.items():
        content[days] = {
            "charts": [report.earnings_chart.bars, report.rewards_chart.bars],
            "tables": [
                [
                    [p.line, p.top.jira_id or "", p.top.title, p.completed] if p.top else [p.line]
                    for p in periods
                ]  # fmt: skip
                for periods in (report.days, report.weeks, report.months)
            ]
            + [[[row.label, row.money] for row in report.earnings]],
        }

    @bare.get("/<int:days>")
    def page(days: int):
        return render_template("bare.html", **content[days])

    @bare.get("/hello")
    def hello():
        return render_template("hello.html", title="Bare page")

    return bare


class StatementCounter:
    def __init__(self, engine):
        self.count = 0
        event.listen(engine, "before_cursor_execute", self._seen)

    def _seen(self, *args):
        self.count += 1


def measure(url: str, runs: int, warmup: int) -> tuple[dict, dict]:
    from app.access import role_required
    from app.blueprints.analytics import report as analytics_report
    from app.extensions import db

    app = create_app(analytics_config(url))

    empty = app.jinja_env.from_string('{% extends "base.html" %}{% block content %}{% endblock %}')

    @role_required("admin")
    def floor():
        """An empty aTES page: sign-in, the layout and its top bar, no content."""
        return render_template(empty)

    app.add_url_rule("/bench/floor", view_func=floor)
    ranges = {days: (TODAY - timedelta(days=days - 1), TODAY) for days in (30, 365)}
    clock.freeze(NOW)
    # Requests run outside any app context, as in production: each pushes its own, with its
    # own session and transaction (an outer context would be shared by every request).
    with app.app_context():
        reports = {days: analytics_report.range_report(*bounds) for days, bounds in ranges.items()}
        engine = db.engine
    client = app.test_client()
    with client.session_transaction() as session:
        session["_user_id"] = popug_session_id(1)  # the seeded admin
        sessions.begin(session)
        session["_fresh"] = True
    bare = bare_app(reports).test_client()

    def get(c, url):
        def call():
            response = c.get(url)
            assert response.status_code == 200, (url, response.status_code)

        return call

    def url(days):
        first, last = ranges[days]
        return f"/analytics?from={first.isoformat()}&to={last.isoformat()}"

    def report_only(days):
        def call():
            with app.app_context():
                analytics_report.range_report(*ranges[days])

        return call

    facts = {}
    counter = StatementCounter(engine)
    for days in ranges:
        counter.count = 0
        html = client.get(url(days)).get_data(as_text=True)
        facts[f"{days}d"] = {
            "sql_statements": counter.count,
            "html_kb": round(len(html.encode()) / 1024),
            "bare_html_kb": round(len(bare.get(f"/{days}").data) / 1024),
        }
    pages = {
        "bare hello page": get(bare, "/hello"),
        "empty aTES page": get(client, "/bench/floor"),
    }
    for days in ranges:
        pages[f"bare, {days} days of rows"] = get(bare, f"/{days}")
        pages[f"dashboard {days} days"] = get(client, url(days))
        pages[f"  of which queries ({days} days)"] = report_only(days)
    results = interleaved(pages, runs, warmup)

    # The alternative without day totals: every day summed from the ledger. The totals are
    # set aside and put back, so a kept file (--db) stays as seeded.
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE bench_saved_days AS SELECT * FROM billing_days")
        conn.exec_driver_sql("DELETE FROM billing_days")
    try:
        pages = {}
        for days in ranges:
            pages[f"bare, {days} days of rows (again)"] = get(bare, f"/{days}")
            pages[f"dashboard {days} days, no day closed"] = get(client, url(days))
        results.update(interleaved(pages, max(5, runs // 4), 1))
    finally:
        with engine.begin() as conn:
            conn.exec_driver_sql("INSERT INTO billing_days SELECT * FROM bench_saved_days")
            conn.exec_driver_sql("DROP TABLE bench_saved_days")
    clock.freeze(None)
    return results, facts


def markdown(results: dict, facts: dict, info: dict) -> str:
    def bare_for(name: str) -> str:
        days = "30" if "30" in name else "365"
        again = " (again)" if "no day closed" in name else ""
        return f"bare, {days} days of rows{again}"

    lines = [
        f"{info['counts']['tasks']:,} completed tasks, {info['counts']['ledger_entries']:,} "
        f"ledger entries, {info['counts']['billing_days']:,} closed days, "
        f"{info['counts']['accounts']:,} accounts ({info['size_mb']} MB {info['kind']}"
        + (f", seeded in {info['seconds']} s" if info["seconds"] else "")
        + f"); reward index: {info['reward_index']}.",
        "",
        "| page | median ms | p95 ms | CPU median ms | × bare (wall) | × bare (CPU) |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for name, figures in results.items():
        ratio = cpu_ratio = ""
        if name.startswith("dashboard"):
            bare = results[bare_for(name)]
            ratio = f"{figures['median_ms'] / bare['median_ms']:.1f}"
            cpu_ratio = f"{figures['cpu_median_ms'] / bare['cpu_median_ms']:.1f}"
        lines.append(
            f"| {name} | {figures['median_ms']:.2f} | {figures['p95_ms']:.2f} "
            f"| {figures['cpu_median_ms']:.2f} | {ratio} | {cpu_ratio} |"
        )
    lines.append("")
    for days, fact in facts.items():
        lines.append(
            f"- {days}: {fact['sql_statements']} SQL statements per page, "
            f"{fact['html_kb']} KB of HTML (bare page: {fact['bare_html_kb']} KB)"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="20,000 tasks, 10 runs")
    parser.add_argument("--tasks", type=int, help="completed tasks to seed (default 1,000,000)")
    parser.add_argument("--runs", type=int, help="timed runs per page (default 40; quick 10)")
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--db", type=Path, help="SQLite file to create and keep (default: temp)")
    parser.add_argument(
        "--database-url", help="PostgreSQL URL (that database is created and dropped afterwards)"
    )
    parser.add_argument(
        "--reuse", action="store_true", help="measure an existing --db file without seeding"
    )
    parser.add_argument("--json", type=Path, help="also write the figures as JSON here")
    parser.add_argument(
        "--without-reward-index",
        action="store_true",
        help=f"do not create {REWARD_INDEX} if the models lack it",
    )
    parser.add_argument(
        "--priority",
        type=int,
        help="nice value for this process, e.g. -10 (root) on a machine shared with others",
    )
    args = parser.parse_args()
    if args.priority is not None:
        os.setpriority(os.PRIO_PROCESS, 0, args.priority)
    tasks = args.tasks or (20_000 if args.quick else 1_000_000)
    runs = args.runs or (10 if args.quick else 40)
    if args.db and args.database_url:
        sys.exit("--db is a SQLite file; give it or --database-url, not both")
    if args.db:
        url = f"sqlite:///{args.db.resolve()}"
        if args.reuse:
            if not args.db.exists():
                sys.exit(f"--reuse: {args.db} does not exist")
            info = describe(url, seconds=None)
        else:
            if args.db.exists():
                sys.exit(f"{args.db} exists; give a new file (or --reuse it)")
            info = seed_year(url, tasks, reward_index=not args.without_reward_index)
            check(url)
        print(f"database: {info}", file=sys.stderr)
        results, facts = measure(url, runs, args.warmup)
    else:
        with fresh_database(args.database_url, "ates_bench_analytics") as url:
            info = seed_year(url, tasks, reward_index=not args.without_reward_index)
            check(url)
            print(f"database: {info}", file=sys.stderr)
            results, facts = measure(url, runs, args.warmup)
    print(markdown(results, facts, info))
    if args.json:
        args.json.write_text(
            json.dumps({"seed": info, "results": results, "pages": facts}, indent=2)
        )


if __name__ == "__main__":
    main()
