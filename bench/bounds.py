"""A bound on every request: every GET page and fragment of aTES, as every role, with hostile
query strings, timed one by one at scale.

    python bench/bounds.py [--quick] [--database-url postgresql://postgres@127.0.0.1:5432/NAME]
                           [--existing URL] [--cases N] [--bound 1.0] [--seed 28]
                           [--priority -10]

The database: with --existing, a database already seeded by bench.common.seed (a SQLite
URL, which is copied to a temporary directory first, or a PostgreSQL URL, opened with
`default_transaction_read_only`: nothing is written to either). Otherwise a fresh one (SQLite
in a temporary directory, or with --database-url that PostgreSQL database, created and
dropped afterwards) seeded with 10,000 popugs and 1,000,000 tasks (a tenth done) over 30
business days, every day but the last closed (payouts, e-mails, billing days); --quick seeds
1,000 popugs and 10,000 tasks.

The requests: every GET rule of the app's URL map (static files aside), its path arguments
filled with real ids from the database (the newest, oldest and a done task, a popug of each
role, the newest shuffle, a closed day) and with unknown and malformed ones; as anonymous
and as each role (the seeded admin, a manager, an accountant, the active worker with the most
open tasks); with query strings drawn from a fixed random seed: `q` (one-letter words, eight
words, digits, Jira IDs, search syntax and punctuation, 10,000 characters, unicode), `page`
(0, -1, 20, 200, 100000, 'x', 10**30, …), `filter` (each valid one and garbage), the date
parameters (`day`, `start`/`end`, `from`/`to`: reversed, huge ranges, year 1 and 9999, the
year of data, garbage) and the other parameters pages read (`sort`, `dir`, `status`, `seen`,
`next`), now and then as htmx asks for a fragment (HX-Request, HX-Target). A fixed list of
known-worst query strings goes first to every endpoint, as every role that may see it. The
clock is frozen an hour after the newest task was created, so "today" and the default ranges
hold data.

Every request is timed around the test client's call, the body read (one process, one
request at a time, each in its own app context as in production; the app's read timeout,
ATES_READ_TIMEOUT_SECONDS, as configured). One untimed warm-up request per endpoint and role
(plain URL) comes first. The first few responses of an endpoint slower than --bound are
requested again with no read timeout, to find their real time, the SQL they ran, and their
slowest statement's plan (PostgreSQL EXPLAIN (ANALYZE, BUFFERS), SQLite EXPLAIN QUERY PLAN); a
response fast the second time was slowed by the machine, not by its query.

Reported: per endpoint the requests, their statuses, the median and maximum wall time, the
most CPU time this process spent on one (on SQLite all of a request's work; on a busy machine
the wall time also holds the wait for a core) and the slowest URL; then every response over
the bound. Exits 1 on any 500 (an exception in a view), and in a full run also on any
response slower than --bound; a --quick run fails only on 500s (a smoke test: its times say
nothing).
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import sys
import tempfile
import time
from collections import Counter, defaultdict
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import event, make_url  # noqa: E402

from bench.common import (  # noqa: E402
    Population,
    bench_config,
    describe_database,
    fresh_database,
    is_postgres_url,
    load,
    machine,
    markdown_table,
    quantile,
    raise_priority,
    seed,
)
from tests.support.hostile import (  # noqa: E402 - the requests, shared with tests/test_bounds.py
    REFUSED,
    Case,
    Facts,
    Result,
    clients,
    gather_facts,
    known_worst,
    make_cases,
    send,
)

FULL = Population(10_000, 900_000, 100_000, days=30, close_days=True)
QUICK = Population(1_000, 9_000, 1_000, days=10, close_days=True)
DIAGNOSED_PER_ENDPOINT = 3  # slow responses run again and explained; the rest are counted


# --- timing ----------------------------------------------------------------------------


class Statements:
    """The SQL statements (text, parameters, seconds) run while `recording`."""

    def __init__(self, engine):
        self.engine = engine
        self.recording = False
        self.entries: list[tuple[str, object, float]] = []
        event.listen(engine, "before_cursor_execute", self._before)
        event.listen(engine, "after_cursor_execute", self._after)

    def _before(self, conn, cursor, statement, parameters, context, executemany):
        conn.info["bounds_started"] = time.perf_counter()

    def _after(self, conn, cursor, statement, parameters, context, executemany):
        if self.recording:
            seconds = time.perf_counter() - conn.info.pop("bounds_started", time.perf_counter())
            self.entries.append((statement, parameters, seconds))

    @contextmanager
    def record(self):
        self.entries = []
        self.recording = True
        try:
            yield self.entries
        finally:
            self.recording = False


def explain(engine, statement: str, parameters) -> list[str]:
    """The plan of one statement: PostgreSQL runs it (EXPLAIN ANALYZE, in a transaction
    that is rolled back), SQLite only plans it."""
    postgres = engine.dialect.name == "postgresql"
    prefix = "EXPLAIN (ANALYZE, BUFFERS) " if postgres else "EXPLAIN QUERY PLAN "
    with engine.connect() as conn:
        try:
            rows = conn.exec_driver_sql(prefix + statement, parameters).all()
        finally:
            conn.rollback()
    if postgres:
        return [row[0] for row in rows]
    return [f"{row[0]}/{row[1]}: {row[-1]}" for row in rows]


def diagnose(app, client, case: Case, statements: Statements, engine) -> dict:
    """A slow response again, with no read timeout: its real time, statements, the plan of
    the slowest."""
    timeout = app.config["READ_TIMEOUT_SECONDS"]
    app.config["READ_TIMEOUT_SECONDS"] = 0
    try:
        with statements.record() as run:
            again = send(client, case)
        ran = list(run)
    finally:
        app.config["READ_TIMEOUT_SECONDS"] = timeout
    found = {"again": again, "statements": len(ran), "sql_seconds": sum(s for *_, s in ran)}
    if ran:
        statement, parameters, seconds = max(ran, key=lambda entry: entry[2])
        found["slowest"] = (" ".join(statement.split()), parameters, seconds)
        try:
            found["plan"] = explain(engine, statement, parameters)
        except Exception as error:  # noqa: BLE001 - a plan is a nicety of the report
            found["plan"] = [f"(no plan: {error})"]
    return found


# --- the run ---------------------------------------------------------------------------


def run(app, facts: Facts, cases: list[Case], bound: float) -> dict:
    from app import clock
    from app.extensions import db

    clock.freeze(facts.now)
    by_role = clients(app, facts)
    with app.app_context():
        engine = db.engine
    statements = Statements(engine)
    warmed: dict[tuple[str, str], int | str] = {}
    results: list[Result] = []
    slow: list[tuple[Result, dict | None]] = []
    started = time.perf_counter()
    for number, case in enumerate(cases, 1):
        key = (case.endpoint, case.role)
        if key not in warmed:
            plain = send(by_role[case.role], Case(case.endpoint, case.role, case.path))
            warmed[key] = plain.status
        if case.known_worst and warmed[key] in REFUSED:
            continue  # the role may not see the page: its drawn cases test the refusal
        result = send(by_role[case.role], case)
        results.append(result)
        if result.error:
            print(f"\n500 {case.label()}:\n{result.error}", file=sys.stderr, flush=True)
        if result.seconds > bound:
            diagnosed = sum(1 for r, found in slow if found and r.case.endpoint == case.endpoint)
            found = None
            if diagnosed < DIAGNOSED_PER_ENDPOINT:
                found = diagnose(app, by_role[case.role], case, statements, engine)
            slow.append((result, found))
        if number % 500 == 0:
            elapsed = time.perf_counter() - started
            print(
                f"  {number:,}/{len(cases):,} requests, {elapsed:.0f} s",
                file=sys.stderr,
                flush=True,
            )
    clock.freeze(None)
    return {"results": results, "slow": slow, "seconds": time.perf_counter() - started}


def report(figures: dict, bound: float) -> str:
    by_endpoint: dict[str, list[Result]] = defaultdict(list)
    for result in figures["results"]:
        by_endpoint[result.case.endpoint].append(result)
    rows = []
    for endpoint, results in sorted(
        by_endpoint.items(), key=lambda item: -max(r.seconds for r in item[1])
    ):
        times = [r.seconds for r in results]
        slowest = max(results, key=lambda r: r.seconds)
        statuses = Counter(r.status for r in results)
        rows.append(
            [
                f"`{endpoint}`",
                len(results),
                " ".join(f"{s}×{n}" for s, n in sorted(statuses.items(), key=str)),
                f"{quantile(times, 0.5) * 1000:.1f}",
                f"{max(times) * 1000:.0f}",
                f"{max(r.cpu_seconds for r in results) * 1000:.0f}",
                slowest.case.label(),
            ]
        )
    header = ["endpoint", "requests", "statuses", "median ms", "max ms", "max CPU ms"]
    lines = [markdown_table([*header, "slowest (role, URL)"], rows)]
    slow = figures["slow"]
    lines.append(f"\nResponses slower than {bound:g} s: {len(slow)}")
    undiagnosed: dict[str, list[Result]] = defaultdict(list)
    for result, found in slow:
        if found is None:
            undiagnosed[result.case.endpoint].append(result)
            continue
        again = found["again"]
        lines.append(
            f"\n- {result.case.label()}: {result.seconds * 1000:.0f} ms ({result.status}, "
            f"{result.cpu_seconds * 1000:.0f} ms CPU); again without the read timeout "
            f"{again.seconds * 1000:.0f} ms ({again.status}, "
            f"{again.cpu_seconds * 1000:.0f} ms CPU), "
            f"{found['statements']} statements, {found['sql_seconds'] * 1000:.0f} ms of SQL"
        )
        if "slowest" in found:
            statement, parameters, seconds = found["slowest"]
            shown = {
                k: (v if len(str(v)) < 60 else f"{str(v)[:40]}…")
                for k, v in (
                    parameters.items()
                    if isinstance(parameters, dict)
                    else enumerate(parameters or ())
                )
            }
            lines.append(
                f"  slowest statement ({seconds * 1000:.0f} ms): `{statement[:600]}` with {shown}"
            )
            lines.append("  plan:\n")
            lines += [f"      {line}" for line in found.get("plan", [])]
    for endpoint, results in undiagnosed.items():
        statuses = Counter(r.status for r in results)
        lines.append(
            f"\n- and {len(results)} more of `{endpoint}` (not run again), "
            + ", ".join(f"{s}×{n}" for s, n in sorted(statuses.items(), key=str))
            + f", {min(r.seconds for r in results) * 1000:.0f}–"
            f"{max(r.seconds for r in results) * 1000:.0f} ms"
        )
    return "\n".join(lines)


# --- databases -------------------------------------------------------------------------


def existing_config(url: str, read_only: bool):
    config = bench_config(url)
    if read_only and is_postgres_url(url):

        class ReadOnly(config):
            SQLALCHEMY_ENGINE_OPTIONS = {
                **config.SQLALCHEMY_ENGINE_OPTIONS,
                "connect_args": {"options": "-c default_transaction_read_only=on"},
            }

        return ReadOnly
    return config


@contextmanager
def database(args, population: Population):
    """(URL, what it is, seeding figures or None) of the database to measure."""
    if args.existing:
        if is_postgres_url(args.existing):
            yield args.existing, "existing, read-only", None
            return
        source = Path(make_url(args.existing).database or "")
        with tempfile.TemporaryDirectory(prefix="ates-bounds-") as tmp:
            copy = Path(tmp) / source.name
            shutil.copyfile(source, copy)
            yield f"sqlite:///{copy}", f"a copy of {source}", None
        return
    with fresh_database(args.database_url, "ates_bounds") as url:
        from app import create_app
        from app.extensions import db

        app = create_app(bench_config(url))
        with app.app_context():
            db.create_all()
            seeded = seed(db.engine, population)
            db.engine.dispose()
        yield url, "fresh, seeded by bench.common.seed", seeded


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="10,000 tasks, 3 cases: a smoke run")
    parser.add_argument("--database-url", help="PostgreSQL URL of a database to create and drop")
    parser.add_argument("--existing", help="URL of a seeded database to measure, read-only")
    parser.add_argument(
        "--cases",
        type=int,
        help="drawn query strings per endpoint and role "
        "(default 25, quick 3), after the known-worst ones",
    )
    parser.add_argument("--bound", type=float, default=1.0, help="seconds (default 1.0)")
    parser.add_argument("--seed", type=int, default=28, help="random seed of the query strings")
    parser.add_argument(
        "--priority",
        type=int,
        default=0,
        help="niceness of this process and its PostgreSQL backends (root)",
    )
    args = parser.parse_args()
    population = QUICK if args.quick else FULL
    per_role = args.cases if args.cases is not None else (3 if args.quick else 25)
    began = time.perf_counter()
    load_before = load()
    print(f"# bench/bounds.py — {machine()} — load {load_before}", flush=True)
    from app import create_app
    from app.extensions import db

    with database(args, population) as (url, origin, seeded):
        app = create_app(existing_config(url, read_only=bool(args.existing)))
        with app.app_context():
            raise_priority(db.engine, args.priority)
            described = describe_database(db.engine)
            with db.engine.connect() as conn:
                facts = gather_facts(conn)
        cases = make_cases(app, facts, random.Random(args.seed), per_role)
        if seeded:
            print(f"seeded in {seeded['seconds']:.0f} s: {seeded['rows']}", flush=True)
        print(f"{len(cases):,} requests to send", flush=True)
        load_start = load()
        figures = run(app, facts, cases, args.bound)
        with app.app_context():
            db.engine.dispose()
    results = figures["results"]
    errors = [r for r in results if r.error or r.status == 500]
    over = [r for r in results if r.seconds > args.bound]
    statuses = Counter(r.status for r in results)
    worker = facts.popugs["worker"]
    print(
        f"\n{datetime.now(UTC):%Y-%m-%d %H:%M} UTC — {described} ({origin}) — "
        f"{facts.total_tasks:,} tasks — clock frozen at {facts.now:%Y-%m-%d %H:%M} UTC — "
        f"worker popug #{worker.id} ({facts.open_tasks_of_worker} open tasks) — "
        f"read timeout {app.config['READ_TIMEOUT_SECONDS']:g} s — bound {args.bound:g} s — "
        f"seed {args.seed}, {len(known_worst(facts))} known-worst + {per_role} drawn query "
        f"strings per endpoint and role — niceness {os.getpriority(os.PRIO_PROCESS, 0)} — "
        f"load average {load_before} at start, {load_start} before the requests, {load()} "
        f"at the end\n"
    )
    print(report(figures, args.bound))
    print(
        f"\n{len(results):,} requests in {figures['seconds']:.0f} s "
        f"(run {time.perf_counter() - began:.0f} s); statuses "
        + ", ".join(f"{s}: {n:,}" for s, n in sorted(statuses.items(), key=str))
        + f"; 500s: {len(errors)}; slower than {args.bound:g} s: {len(over)}; slowest "
        f"{max(r.seconds for r in results) * 1000:.0f} ms"
    )
    if errors:
        return 1
    return 1 if over and not args.quick else 0


if __name__ == "__main__":
    sys.exit(main())
