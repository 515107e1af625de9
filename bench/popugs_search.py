"""Benchmark of the Popugs list's search (issue 25): the admin's Popugs page with `?q=`
among 10,000 popugs, next to the same page without a search (the anchor, in the same run).

The search matches the beginning of a username or e-mail; on PostgreSQL it reads the
`*_pattern` indexes, on SQLite a range of the unique indexes. The script prints the median
and 95th percentile of each page's wall time and the plan of the search's page statement.

    .venv/bin/python bench/popugs_search.py [--quick] [--popugs N] [--runs N]
        [--database-url postgresql://postgres@127.0.0.1:5432/ates_bench_popugs]
"""

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import (  # noqa: E402
    Population,
    bench_app,
    fresh_database,
    markdown_table,
    popug_session_id,
    quantile,
    seed,
)
from tests.support.plans import captured  # noqa: E402


def pages(popugs: int) -> dict[str, str]:
    """{label: path}; seeded popugs are popug-<id> with e-mail popug-<id>@uberpopug.inc."""
    some = str(popugs)[:2]
    return {
        "Popugs, first page (anchor)": "/popugs",
        "Popugs, page 20 (anchor)": "/popugs?page=20",
        f"?q=popug-{some} (hundreds match)": f"/popugs?q=popug-{some}",
        f"?q=popug-{popugs} (one matches)": f"/popugs?q=popug-{popugs}",
        "?q=popug-1@ (an e-mail's beginning)": "/popugs?q=popug-1@",
        "?q=nobody (none match)": "/popugs?q=nobody",
        "?q=popug (every popug), page 20": "/popugs?q=popug&page=20",
    }


def measure(url: str, popugs: int, runs: int) -> tuple[list[list], str]:
    from app.blueprints.auth import service, sessions
    from app.extensions import db

    app = bench_app(url)
    with app.app_context():
        db.create_all()
        seed(db.engine, Population(popugs, 1, 0))
        if db.engine.dialect.name == "postgresql":
            with db.engine.begin() as conn:
                conn.exec_driver_sql("ANALYZE popugs")
        plan = _plan(db, lambda: service.list_popugs(1, 50, search="popug-12"))
        db.session.remove()
    client = app.test_client()
    with client.session_transaction() as session:
        session["_user_id"] = popug_session_id(1)  # the seeded admin
        session["_fresh"] = True
        sessions.begin(session)
    rows = []
    for label, path in pages(popugs).items():
        for _ in range(3):  # warm-up
            assert client.get(path).status_code == 200, path
        times = []
        for _ in range(runs):
            started = time.perf_counter()
            response = client.get(path)
            times.append((time.perf_counter() - started) * 1000)
            assert response.status_code == 200, path
        rows.append([label, f"{statistics.median(times):.1f}", f"{quantile(times, 0.95):.1f}"])
    return rows, plan


def _plan(db, call) -> str:
    """EXPLAIN of the page's statement (its LIMIT) among those `call()` runs."""
    statement, parameters = next((s, p) for s, p in captured(call) if "LIMIT" in s.upper())
    prefix = "EXPLAIN" if db.engine.dialect.name == "postgresql" else "EXPLAIN QUERY PLAN"
    result = db.session.connection().exec_driver_sql(f"{prefix} {statement}", parameters)
    return "\n".join(" ".join(str(v) for v in row) for row in result.all())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="1,000 popugs, 5 runs")
    parser.add_argument("--popugs", type=int, help="popugs to seed (default 10,000)")
    parser.add_argument("--runs", type=int, help="timed runs per page (default 30)")
    parser.add_argument("--database-url", help="PostgreSQL URL (created and dropped)")
    args = parser.parse_args()
    popugs = args.popugs or (1_000 if args.quick else 10_000)
    runs = args.runs or (5 if args.quick else 30)
    with fresh_database(args.database_url, "ates_bench_popugs") as url:
        rows, plan = measure(url, popugs, runs)
    database = "PostgreSQL" if args.database_url else "SQLite"
    print(f"### Popugs search, {popugs:,} popugs, {database}, {runs} runs\n")
    print(markdown_table(["page", "median ms", "p95 ms"], rows))
    print(f"\nPlan of the page of ?q=popug-12:\n\n```\n{plan}\n```")


if __name__ == "__main__":
    main()
