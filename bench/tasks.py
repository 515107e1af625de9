"""Benchmark of tasks: creations per second, and page render times next to a bare
Flask + Jinja page with the same number of rows.

    python bench/tasks.py [--quick] [--database-url postgresql://postgres@127.0.0.1:5432/NAME]

Without --database-url it runs on a new SQLite file in a temporary directory. With it, the
named PostgreSQL database is dropped if it exists, created, used and dropped again.
Seeds 1,000 popugs and 100,000 tasks (70,000 open, 30,000 done) with their accounts and
ledger entries by set-based SQL, then measures:

- task creations through tasks.service.create_task, one commit each as the route does
  (and, for context, through the route: POST /tasks with the test client);
- median and 95th percentile time of the Tasks board, the board filtered (open, mine),
  searched (a word of every title, a rare word, a prefix, a Jira ID, with filters) and
  My tasks, fetched with the test client as a signed-in worker, interleaved round-robin
  with a bare Flask + Jinja app rendering a 50-row table of the same tasks from memory.

Goals: every page within 3x the bare page; at least 500 creations/s on SQLite; search pages
within 3x the unfiltered board (--tasks 1000000 for its size).
--quick: 200 popugs, 10,000 tasks, fewer creations and rounds (a smoke run).
--only-orders: only the default board (the anchor), the board's orders and "Created by me"
(issue 25), no creations; --rounds N: that many rounds.
"""

from __future__ import annotations

import argparse
import secrets
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from flask import Flask, render_template  # noqa: E402
from jinja2 import DictLoader  # noqa: E402
from sqlalchemy import func, select, text  # noqa: E402

from app.blueprints.auth import sessions  # noqa: E402
from app.blueprints.auth.models import Popug  # noqa: E402
from app.blueprints.tasks import service as tasks_service  # noqa: E402
from app.blueprints.tasks.models import OPEN, Task  # noqa: E402
from app.db import write_intent  # noqa: E402
from app.extensions import db  # noqa: E402
from app.money import format_cents  # noqa: E402
from bench.common import (  # noqa: E402
    Population,
    StatementLog,
    assert_ledger_consistent,
    bench_app,
    describe_database,
    fresh_database,
    load,
    machine,
    markdown_table,
    quantile,
    raise_priority,
    search_paths,
    seed,
)

FULL = {"population": Population(1_000, 70_000, 30_000), "creations": 2_000, "rounds": 300}
QUICK = {"population": Population(200, 7_000, 3_000), "creations": 200, "rounds": 40}
ROUTE_CREATIONS = 300
WARMUP = 15
ROWS = 50
GOAL_RATIO = 3.0
GOAL_CREATIONS = 500

BARE_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Bare</title>
<link rel="stylesheet" href="/static/bare.css"></head>
<body><main><h1>Tasks</h1>
<table class="table"><thead><tr><th>Jira ID</th><th>Title</th><th>Assignee</th><th>Status</th>
<th class="num">Fee</th><th class="num">Reward</th><th>Created</th><th>Action</th></tr></thead>
<tbody>
{% for task in rows %}<tr id="task-{{ task.public_id }}">
<td>{{ task.jira_id or '—' }}</td><td>{{ task.title }}</td><td>{{ task.assignee }}</td>
<td><span class="badge badge-{{ task.status }}">{{ task.status }}</span></td>
<td class="num">{{ task.fee|money }}</td><td class="num">{{ task.reward|money }}</td>
<td>{{ task.created_at.strftime('%Y-%m-%d %H:%M') }}</td>
<td><a href="{{ url_for('bare', task=task.public_id) }}">open</a></td></tr>
{% endfor %}</tbody></table></main></body></html>"""


def bare_app(rows: list[dict]) -> Flask:
    """The floor: Flask + Jinja rendering the same 50 tasks as a table, from memory."""
    app = Flask("bare")
    app.jinja_loader = DictLoader({"bare.html": BARE_PAGE})  # compiled once, cached
    app.jinja_env.filters["money"] = format_cents

    @app.get("/")
    def bare():
        return render_template("bare.html", rows=rows)

    return app


def first_board_rows(app) -> list[dict]:
    with app.app_context():
        tasks = db.session.scalars(select(Task).order_by(Task.id.desc()).limit(ROWS)).all()
        names = dict(
            db.session.execute(
                select(Popug.id, Popug.username).where(Popug.id.in_({t.assignee_id for t in tasks}))
            ).all()
        )
        rows = [
            {
                "public_id": t.public_id,
                "jira_id": t.jira_id,
                "title": t.title,
                "assignee": names[t.assignee_id],
                "status": t.status,
                "fee": t.fee,
                "reward": t.reward,
                "created_at": t.created_at,
            }
            for t in tasks
        ]
        db.session.remove()
    return rows


def pick_worker(app) -> tuple[int, str, int]:
    """(id, session id, open tasks) of the active worker with the most open tasks."""
    with app.app_context():
        popug_id, open_count = db.session.execute(
            select(Task.assignee_id, func.count())
            .join(Popug, Popug.id == Task.assignee_id)
            .where(Task.status == OPEN, Popug.role == "worker", Popug.active.is_(True))
            .group_by(Task.assignee_id)
            .order_by(func.count().desc(), Task.assignee_id)
            .limit(1)
        ).one()
        popug = db.session.get(Popug, popug_id)
        session_id = popug.get_id()
        db.session.remove()
    return popug_id, session_id, open_count


def bench_creations(app, count: int, actor_id: int) -> dict:
    """`count` tasks through the service, committing each (as the route does)."""
    with app.app_context():
        before_tasks = db.session.scalar(select(func.count()).select_from(Task))
        db.session.remove()
        # The route passes current_user, loaded once per request; create_task reads only
        # actor.id, so a plain object keeps expire-on-commit reloads out of the loop.
        actor = SimpleNamespace(id=actor_id, role="worker")
        log = StatementLog(db.engine)
        with write_intent():  # the route's POST opens its transaction with BEGIN IMMEDIATE
            started, cpu_started = time.perf_counter(), time.process_time()
            for n in range(count):
                tasks_service.create_task(
                    title=f"Bench task {n}",
                    jira_id=f"BENCH-{n + 1}",
                    description="Created by bench/tasks.py",
                    actor=actor,
                    form_token=secrets.token_urlsafe(24),
                )
                db.session.commit()
            elapsed = time.perf_counter() - started
            cpu = time.process_time() - cpu_started
        log.close()
        with db.engine.connect() as conn:
            ledger = assert_ledger_consistent(conn)
            created = db.session.scalar(select(func.count()).select_from(Task)) - before_tasks
            unpaired = conn.execute(
                text(
                    "SELECT count(*) FROM tasks t JOIN task_texts x ON x.task_id = t.id "
                    "WHERE x.title LIKE :pattern AND "
                    "(SELECT count(*) FROM ledger_entries l WHERE l.task_id = t.id "
                    "AND l.kind = 'assign_fee') <> 1"
                ),
                {"pattern": "Bench task %"},
            ).scalar()
        db.session.remove()
    if created != count or unpaired:
        raise AssertionError(f"created {created} of {count} tasks, {unpaired} without one fee")
    return {
        "count": count,
        "seconds": elapsed,
        "per_second": count / elapsed,
        "per_cpu_second": count / cpu,
        "statements": log.count / count,
        "sql_seconds": log.seconds,
        "by_statement": log.by_statement(),
        "ledger": ledger,
    }


def bench_route_creations(app, count: int, session_id: str) -> dict:
    """`count` tasks through POST /tasks (form, service, commit, redirect) as a worker."""
    client = app.test_client()
    with client.session_transaction() as session:
        session["_user_id"] = session_id
        sessions.begin(session)
        session["_fresh"] = True
    started, cpu_started = time.perf_counter(), time.process_time()
    for n in range(count):
        response = client.post(
            "/tasks",
            data={
                "title": f"Route bench task {n}",
                "jira_id": f"ROUTE-{n + 1}",
                "description": "",
                "form_token": secrets.token_urlsafe(24),
            },
        )
        if response.status_code != 303:
            raise AssertionError(f"POST /tasks answered {response.status_code}")
    elapsed = time.perf_counter() - started
    cpu = time.process_time() - cpu_started
    return {
        "count": count,
        "seconds": elapsed,
        "per_second": count / elapsed,
        "per_cpu_second": count / cpu,
    }


def order_paths() -> dict[str, str]:
    """The board's orders and "Created by me" (issue 25): {label: path}."""
    return {
        "Board ?sort=oldest": "/?sort=oldest",
        "Board ?sort=fee-high": "/?sort=fee-high",
        "Board ?sort=reward-low": "/?sort=reward-low",
        "Board ?sort=fee-high&filter=open": "/?sort=fee-high&filter=open",
        "Board ?sort=reward-high&filter=done": "/?sort=reward-high&filter=done",
        "Board ?sort=fee-low&filter=mine": "/?sort=fee-low&filter=mine",
        "Board ?filter=created": "/?filter=created",
        "Board ?sort=reward-high&filter=created": "/?sort=reward-high&filter=created",
        "Board ?sort=fee-high&page=200 (the deepest)": "/?sort=fee-high&page=200",
        "Search ?q=task&sort=fee-high (every title)": "/?q=task&sort=fee-high",
        "Search ?q=<4 digits>&sort=reward-high": "/?q={prefix}&sort=reward-high",
    }


def bench_pages(
    app, rounds: int, session_id: str, total_tasks: int, only_orders: bool = False
) -> dict:
    client = app.test_client()
    with client.session_transaction() as session:
        session["_user_id"] = session_id
        sessions.begin(session)
        session["_fresh"] = True
    bare = bare_app(first_board_rows(app)).test_client()
    last_page = -(-total_tasks // ROWS)
    pages = {
        "bare Flask+Jinja, 50 rows": (bare, "/", ROWS),
        "Tasks board (all)": (client, "/", ROWS),
        "Tasks board ?filter=open": (client, "/?filter=open", ROWS),
        "Tasks board ?filter=mine": (client, "/?filter=mine", ROWS),
        "My tasks": (client, "/my-tasks", ROWS),  # up to 50 open + 20 done
        f"Tasks board, last page (?page={last_page})": (client, f"/?page={last_page}", 1),
        # Search: at least one row each
        **{label: (client, path, 1) for label, path in search_paths(total_tasks).items()},
    }
    if only_orders:
        pages = {name: pages[name] for name in ("bare Flask+Jinja, 50 rows", "Tasks board (all)")}
    prefix = str(total_tasks)[:4]
    pages.update(
        {label: (client, path.format(prefix=prefix), 1) for label, path in order_paths().items()}
    )
    with app.app_context():
        engine = db.engine
    log = StatementLog(engine)
    timings: dict[str, list[float]] = {name: [] for name in pages}
    queries: dict[str, list[int]] = {name: [] for name in pages}
    sql_ms: dict[str, list[float]] = {name: [] for name in pages}
    rows_seen: dict[str, int] = {}
    for round_ in range(WARMUP + rounds):
        for name, (test_client, url, min_rows) in pages.items():
            log.reset()
            started = time.perf_counter()
            response = test_client.get(url)
            elapsed = time.perf_counter() - started
            if response.status_code != 200:
                raise AssertionError(f"{url} answered {response.status_code}")
            rows = response.get_data(as_text=True).count('<tr id="task-')
            if rows < min_rows:
                raise AssertionError(f"{url} showed {rows} rows, expected at least {min_rows}")
            rows_seen[name] = rows
            if round_ >= WARMUP:
                timings[name].append(elapsed)
                queries[name].append(log.count)
                sql_ms[name].append(log.seconds * 1000)
    log.close()
    bare_median = quantile(timings["bare Flask+Jinja, 50 rows"], 0.5)
    results = {}
    for name, values in timings.items():
        median = quantile(values, 0.5)
        results[name] = {
            "median_ms": median * 1000,
            "p95_ms": quantile(values, 0.95) * 1000,
            "ratio": median / bare_median,
            "rows": rows_seen[name],
            "queries": max(queries[name]),
            "sql_ms": quantile(sql_ms[name], 0.5),
        }
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, for a smoke run")
    parser.add_argument(
        "--database-url", help="PostgreSQL URL of a database to create, use and drop"
    )
    parser.add_argument(
        "--priority",
        type=int,
        default=0,
        help="niceness of this process and its PostgreSQL backends (e.g. -10, needs root)",
    )
    parser.add_argument("--rounds", type=int, help="rounds of the pages instead")
    parser.add_argument(
        "--only-orders",
        action="store_true",
        help="time only the board, its orders and Created by me (no creations)",
    )
    parser.add_argument(
        "--tasks",
        type=int,
        help="seed this many tasks instead (90 %% open, 10 %% done, 10,000 popugs)",
    )
    args = parser.parse_args()
    sizes = dict(QUICK if args.quick else FULL)
    if args.tasks:
        sizes["population"] = Population(10_000, args.tasks * 9 // 10, args.tasks // 10)
    population: Population = sizes["population"]

    print(f"# bench/tasks.py — {datetime.now(UTC):%Y-%m-%d %H:%M} UTC — {machine()}")
    with fresh_database(args.database_url, "ates_bench_tasks") as url:
        app = bench_app(url)
        with app.app_context():
            raise_priority(db.engine, args.priority)
            db.create_all()
            engine_name = describe_database(db.engine)
            seeded = seed(db.engine, population)
        print(f"database: {engine_name}; load average before: {load()}")
        print(
            f"seeded {population.popugs:,} popugs, {population.tasks:,} tasks "
            f"({population.open_tasks:,} open, {population.done_tasks:,} done), "
            f"{seeded['rows']['ledger_entries']:,} ledger entries in {seeded['seconds']:.1f} s"
        )
        worker_id, session_id, open_count = pick_worker(app)
        print(f"signed in as worker #{worker_id} with {open_count} open tasks")

        if args.rounds:
            sizes["rounds"] = args.rounds
        pages = bench_pages(
            app, sizes["rounds"], session_id, population.tasks, only_orders=args.only_orders
        )
        print(f"\n## Pages ({sizes['rounds']} rounds after {WARMUP} warm-up, interleaved)\n")
        board_ms = pages["Tasks board (all)"]["median_ms"]
        print(
            markdown_table(
                [
                    "page",
                    "rows",
                    "median ms",
                    "p95 ms",
                    "× bare",
                    "× board",
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
                        f"{r['median_ms'] / board_ms:.2f}",
                        r["queries"],
                        f"{r['sql_ms']:.2f}",
                    ]
                    for name, r in pages.items()
                ],
            )
        )
        creations = None
        if not args.only_orders:
            creations = bench_creations(app, sizes["creations"], worker_id)
            print(
                f"\n## Creations\n\n{creations['count']:,} tasks through "
                "tasks.service.create_task, "
                f"one commit each: {creations['seconds']:.2f} s = "
                f"**{creations['per_second']:.0f} creations/s** wall clock, "
                f"{creations['per_cpu_second']:.0f}/s of this process's CPU time "
                f"({creations['statements']:.1f} SQL statements each, "
                f"{creations['sql_seconds'] / creations['count'] * 1000:.2f} ms of SQL each); "
                "ledger consistent: "
                f"{creations['ledger']['mismatched_accounts']} mismatched accounts"
            )
            print("\nSQL time per statement (all creations):\n")
            print(
                markdown_table(
                    ["statement", "runs", "total s", "ms each"],
                    [
                        [f"`{sql}`", n, f"{s:.3f}", f"{s / n * 1000:.3f}"]
                        for sql, n, s in creations["by_statement"][:12]
                    ],
                )
            )
            route = bench_route_creations(app, ROUTE_CREATIONS, session_id)
            print(
                f"\nFor context, {route['count']} creations through POST /tasks (test client, "
                "session, form, service, commit, redirect): "
                f"{route['per_second']:.0f}/s wall clock, "
                f"{route['per_cpu_second']:.0f}/s of CPU time"
            )
        with app.app_context():
            db.session.remove()
            db.engine.dispose()

    print(f"\nload average after: {load()}")
    print("\n## Goals\n")
    for name, r in pages.items():
        if "bare" in name or "last page" in name:
            continue
        verdict = "met" if r["ratio"] <= GOAL_RATIO else "MISSED"
        print(f"- {name}: {r['ratio']:.1f}× bare (goal ≤ {GOAL_RATIO:.0f}×): {verdict}")
    if creations is None:
        return
    verdict = "met" if creations["per_second"] >= GOAL_CREATIONS else "MISSED"
    print(
        f"- creations: {creations['per_second']:.0f}/s (goal ≥ {GOAL_CREATIONS}/s on SQLite): "
        f"{verdict}"
    )


if __name__ == "__main__":
    main()
