"""The Tasks board's Search over HTTP in the production deployment (docs/deploying.md), at scale.

    python bench/deploy_search.py [--database-url postgresql://postgres@127.0.0.1:5432/NAME]
                                  [--tasks 1000000] [--rounds 40] [--quick]

Seeds a fresh database (SQLite in a temporary directory without --database-url; with it,
that PostgreSQL database is created and dropped afterwards): the schema by
`flask --app wsgi db upgrade` (so SQLite's FTS5 table and its triggers and PostgreSQL's GIN
index are the migrations' own), then bench.common.seed with 10,000 popugs and --tasks tasks,
a tenth of them done (every title "Seeded task <i>", every third task Jira ID
"UBERPOP-<i>"); seed() ends with VACUUM ANALYZE (PostgreSQL) or a WAL checkpoint (SQLite).
Then starts the repository's `Procfile` as bench/deploy_shuffle.py does (gunicorn with its
4 sync workers and the job worker, ATES_ENV=production, only gunicorn's port swapped), signs
in as the active worker with the most open tasks, and over plain HTTP on loopback requests
the board, its searches, a task's page and My tasks round-robin: 5 warm-up rounds, then
--rounds timed ones (client-side, around each request). Every response must be 200 and every
search page must show at least one row.

Reported: a markdown table (page, rows, median ms, p95 ms, × the unfiltered board's median),
the load average before and after, and any errors in the deployment's logs.
"""

from __future__ import annotations

import argparse
import os
import re
import secrets
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import text  # noqa: E402

from bench.common import (  # noqa: E402
    Population,
    bench_app,
    describe_database,
    fresh_database,
    load,
    machine,
    markdown_table,
    quantile,
    search_paths,
    seed,
)
from bench.load import flask  # noqa: E402
from tests.support.deployment import HOST_PORT, procfile, start_deployment, stop  # noqa: E402
from tests.support.http import Client  # noqa: E402

POPUGS = 10_000
WARMUP = 5
ROW = '<tr id="task-'
PUBLIC_ID_RE = re.compile(r'<tr id="task-([0-9a-f-]{36})"')
LOG_TROUBLE = re.compile(r"Traceback|ERROR|CRITICAL|WARNING|Exception")


def pages(tasks: int, task_path: str) -> list[tuple[str, bool]]:
    """(path, is a search that must show a row), in the order of each round."""
    searches = [(path, True) for path in search_paths(tasks).values()]
    return [("/", True), *searches, (task_path, False), ("/my-tasks", False)]


def prepare(url: str, population: Population) -> tuple[str, str, dict, int, int]:
    """Migrate and seed `url`; (URL for the processes, database, seed figures, worker id,
    its open tasks)."""
    env_url = url.replace("postgresql+psycopg://", "postgresql://")
    cli_env = {
        **os.environ,
        "DATABASE_URL": env_url,
        "ATES_ENV": "development",
        "SECRET_KEY": secrets.token_hex(32),  # nothing written to instance/
    }
    migrate = flask(cli_env, "db", "upgrade")
    assert migrate.returncode == 0, migrate.stdout + migrate.stderr
    app = bench_app(url)
    with app.app_context():
        from app.extensions import db

        seeded = seed(db.engine, population)  # ends with settle(): VACUUM ANALYZE on PostgreSQL
        database = describe_database(db.engine)
        with db.engine.connect() as conn:
            worker_id, open_count = conn.execute(
                text(
                    "SELECT t.assignee_id, count(*) FROM tasks t "
                    "JOIN popugs p ON p.id = t.assignee_id "
                    "WHERE t.status = 'open' AND p.role = 'worker' AND p.active "
                    "GROUP BY t.assignee_id ORDER BY count(*) DESC, t.assignee_id LIMIT 1"
                )
            ).one()
        db.engine.dispose()
    return env_url, database, seeded, worker_id, open_count


def measure(port: int, worker_id: int, tasks: int, rounds: int) -> tuple[list, dict]:
    client = Client(port, [], threading.Lock())
    assert client.sign_in(f"popug-{worker_id}"), f"popug-{worker_id} could not sign in"
    status, board = client.request(None, "GET", "/")
    public_id = PUBLIC_ID_RE.search(board)
    assert status == 200 and public_id, f"board answered {status} without a task row"
    plan = pages(tasks, f"/tasks/{public_id.group(1)}")
    timings: dict[str, list[float]] = {path: [] for path, _ in plan}
    rows: dict[str, set[int]] = {path: set() for path, _ in plan}
    for round_no in range(WARMUP + rounds):
        for path, is_search in plan:
            started = time.perf_counter()
            status, page = client.request(None, "GET", path)
            seconds = time.perf_counter() - started
            shown = page.count(ROW)
            if status != 200:
                raise AssertionError(f"{path} answered {status} (round {round_no}):\n{page[:500]}")
            if is_search and shown < 1:
                raise AssertionError(f"{path} showed no rows (round {round_no})")
            rows[path].add(shown)
            if round_no >= WARMUP:
                timings[path].append(seconds)
    return plan, {"timings": timings, "rows": rows}


def log_trouble(logs: Path) -> list[str]:
    found = []
    for log in sorted(logs.glob("*.log")):
        for line in log.read_text(errors="replace").splitlines():
            if LOG_TROUBLE.search(line):
                found.append(f"{log.stem}: {line}")
    return found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", help="PostgreSQL URL (the database is created)")
    parser.add_argument("--tasks", type=int, help="default 1,000,000 (quick 10,000)")
    parser.add_argument("--rounds", type=int, help="default 40 (quick 5)")
    parser.add_argument(
        "--quick", action="store_true", help="1,000 popugs, 10,000 tasks, 5 rounds: a smoke run"
    )
    args = parser.parse_args()
    args.tasks = args.tasks or (10_000 if args.quick else 1_000_000)
    args.rounds = args.rounds or (5 if args.quick else 40)
    popugs = 1_000 if args.quick else POPUGS
    population = Population(popugs, args.tasks - args.tasks // 10, args.tasks // 10)
    began = time.perf_counter()
    load_before = load()
    print(f"# bench/deploy_search.py — {machine()} — load {load_before}", flush=True)
    with (
        fresh_database(args.database_url, "ates_deploy_search") as url,
        tempfile.TemporaryDirectory(prefix="ates-deploy-search-logs-") as tmp,
    ):
        env_url, database, seeded, worker_id, open_count = prepare(url, population)
        print(
            f"{database}; seeded {population} in {seeded['seconds']:.1f} s "
            f"(schema by `flask --app wsgi db upgrade`)",
            flush=True,
        )
        logs = Path(tmp)
        processes, port = start_deployment(env_url, logs)
        try:
            started_load = load()
            plan, figures = measure(port, worker_id, population.tasks, args.rounds)
        finally:
            stop(processes)
        trouble = log_trouble(logs)
    elapsed = time.perf_counter() - began
    commands = "; ".join(
        f"{name}: `{' '.join(argv).replace(HOST_PORT, f'127.0.0.1:{port}')}`"
        for name, argv in procfile().items()
    )
    board_ms = quantile(figures["timings"]["/"], 0.5) * 1000
    table = []
    for path, _ in plan:
        samples = figures["timings"][path]
        shown = sorted(figures["rows"][path])
        median_ms = quantile(samples, 0.5) * 1000
        table.append(
            [
                f"`{path}`",
                "/".join(str(n) for n in shown),
                f"{median_ms:.1f}",
                f"{quantile(samples, 0.95) * 1000:.1f}",
                f"{median_ms / board_ms:.2f}",
            ]
        )
    print(
        f"\n{datetime.now(UTC):%Y-%m-%d %H:%M} UTC — {database} — {population.tasks:,} tasks "
        f"({population.open_tasks:,} open), {population.popugs:,} popugs — signed in as "
        f"popug-{worker_id} (worker, {open_count:,} open tasks) — Procfile, ATES_ENV=production: "
        f"{commands} — niceness {os.getpriority(os.PRIO_PROCESS, 0)} — load average "
        f"{load_before} at start, {started_load} when the deployment was up, {load()} at "
        f"the end — {args.rounds} rounds after {WARMUP} warm-up, interleaved, timed by the "
        "client over HTTP on loopback\n"
    )
    print(markdown_table(["page", "rows", "median ms", "p95 ms", "× board"], table))
    print(f"\nrun took {elapsed:.0f} s (seeding {seeded['seconds']:.0f} s)")
    print(f"log lines that look like trouble: {len(trouble)}")
    for line in trouble[:40]:
        print(f"    {line}")
    return 1 if trouble else 0


if __name__ == "__main__":
    sys.exit(main())
