"""Benchmark of the live checks (app/live.py): what a page's "has it changed?" costs.

    python bench/live.py [--quick] [--database-url postgresql://…/NAME] [--part cpu|tabs|both]
                         [--tasks 100000] [--tabs 2000] [--every 15] [--duration 60]
                         [--port 5111] [--writes-every 5]

(a) cpu — in-process (the Flask test client; the app and, on SQLite, the database in this
process; on PostgreSQL the CPU of this database's backends, read from /proc, is added): the
server CPU per request of each page's check answered 304 and of the top bar's count
answered 304, against the page itself and the Tasks board (the anchor, measured in the same
run). Goal: a 304 check costs at most a tenth of the board.

(b) tabs — the Procfile deployment (bench/deploy_shuffle.py's start_deployment: gunicorn
with 4 sync workers, its bind moved to --port, and the job worker; ATES_ENV=production)
with --tabs open tabs, spread over signed-in popugs and their pages (the board, My tasks,
My account, a task's page, the accounting overview), each asking its page's check and the
count every --every seconds with If-None-Match, as static/js/live.js and the top bar do,
while a manager creates a task every --writes-every seconds (so some checks answer 200: a
tab on a page that updates itself then fetches its page, as live.js does; one that says
"Updated — show" takes the new version). Reported: the achieved rate against the target,
latency p50/p99 per request kind (client-side, over HTTP on loopback), statuses, errors
(5xx or failed connections: must be 0), how late the checks started, the CPU of gunicorn,
PostgreSQL and the load generator as shares of the machine, and the load average.

Without --database-url on SQLite files in a temporary directory; with it, the databases
NAME_cpu and NAME_tabs are created and dropped. --quick: 100 popugs, 1,000 tasks, 60 tabs
every 2 s for 4 s (a smoke run: its figures say nothing).
"""

from __future__ import annotations

import argparse
import heapq
import math
import os
import re
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import create_engine, make_url, text  # noqa: E402

from app.blueprints.auth import sessions  # noqa: E402
from app.config import database_url  # noqa: E402
from app.extensions import db  # noqa: E402
from bench.common import (  # noqa: E402
    Population,
    bench_app,
    describe_database,
    fresh_database,
    is_postgres_url,
    load,
    machine,
    markdown_table,
    named_database,
    popug_session_id,
    process_cpu_seconds,
    quantile,
    seed,
    settle,
)
from bench.deploy_search import prepare  # noqa: E402
from bench.load import CpuMeter, Renicer, children_of  # noqa: E402
from tests.support.deployment import HOST_PORT, procfile, start_deployment, stop  # noqa: E402
from tests.support.http import Client  # noqa: E402

BACKGROUND = {"X-Background": "1"}
COUNT_HEADERS = {"HX-Request": "true", "X-Background": "1"}  # as the top bar's htmx poll
CSRF_RE = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')
FORM_TOKEN_RE = re.compile(r'name="form_token" type="hidden" value="([^"]+)"')
VERSION_RE = re.compile(r'data-live-version="([0-9a-f]+)"')


def _task_of(engine, popug_id: int) -> str:
    """The public id of the popug's newest task (of the newest task, if they have none)."""
    with engine.connect() as conn:
        return conn.execute(
            text(
                "SELECT x.public_id FROM tasks t JOIN task_texts x ON x.task_id = t.id "
                "ORDER BY t.assignee_id = :p DESC, t.id DESC LIMIT 1"
            ),
            {"p": popug_id},
        ).scalar_one()


# --- (a) CPU per request, in-process -----------------------------------------------------


class Backends:
    """The CPU seconds so far of this database's PostgreSQL backends (none on SQLite)."""

    def __init__(self, url: str):
        self.engine = create_engine(url) if is_postgres_url(url) else None

    def seconds(self) -> float:
        if self.engine is None:
            return 0.0
        with self.engine.connect() as conn:
            pids = conn.execute(
                text(
                    "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
                    "AND pid <> pg_backend_pid()"
                )
            ).scalars()
            total = 0.0
            for pid in pids:
                try:
                    total += process_cpu_seconds(pid)
                except OSError:
                    pass
            return total


def _signed_in(app, popug_id: int):
    client = app.test_client()
    with client.session_transaction() as session:
        session["_user_id"] = popug_session_id(popug_id)
        session["_fresh"] = True
        sessions.begin(session)
    return client


def cpu_per_request(client, backends, path, headers, expected, rounds) -> float:
    """Server CPU milliseconds per request: this process plus the database's backends."""
    client.get(path, headers=headers).close()  # warm
    started, db_started = time.process_time(), backends.seconds()
    for _ in range(rounds):
        response = client.get(path, headers=headers)
        assert response.status_code == expected, (path, response.status_code)
        response.close()
    app_s = time.process_time() - started
    return 1000 * (app_s + backends.seconds() - db_started) / rounds


def cpu_part(url: str | None, population: Population, rounds: int) -> str:
    with fresh_database(url, "ates_bench_live_cpu") as url:
        app = bench_app(url)
        with app.app_context():
            db.create_all()
        engine = create_engine(database_url(url, url))
        seeded = seed(engine, population)
        settle(engine)
        worker, accountant = population.popugs, population.last_accountant
        task = _task_of(engine, worker)
        database = describe_database(engine)
        pages = [  # (page, its check, who looks)
            ("Tasks board `/`", "/", "/board/version", worker),
            ("My tasks", "/my-tasks", "/my-tasks/version", worker),
            ("a task's page", f"/tasks/{task}", f"/tasks/{task}/version", worker),
            ("My account", "/account", "/account/version", worker),
            ("Accounting overview", "/accounting", "/accounting/version", accountant),
        ]
        backends = Backends(url)
        rows = []
        # Requests outside an app context of our own: each gets its own (and its own `g`,
        # so the signed-in popug is loaded by every request, as in a server).
        clients = {who: _signed_in(app, who) for who in (worker, accountant)}
        board_ms = cpu_per_request(clients[worker], backends, "/", {}, 200, rounds)
        for label, page, check, who in pages:
            client = clients[who]
            first = client.get(check, headers=BACKGROUND)
            assert first.status_code == 200, (check, first.status_code)
            etag = first.headers["ETag"]
            page_ms = cpu_per_request(client, backends, page, {}, 200, rounds)
            check_ms = cpu_per_request(
                client, backends, check, {**BACKGROUND, "If-None-Match": etag}, 304, rounds
            )
            rows.append(
                [
                    label,
                    f"`{check}`",
                    f"{page_ms:.2f}",
                    f"{check_ms:.2f}",
                    f"{check_ms / board_ms:.3f}",
                ]
            )
        etag = clients[worker].get("/notifications/count", headers=COUNT_HEADERS).headers["ETag"]
        count_ms = cpu_per_request(
            clients[worker],
            backends,
            "/notifications/count",
            {**COUNT_HEADERS, "If-None-Match": etag},
            304,
            rounds,
        )
        rows.append(
            [
                "(top bar)",
                "`/notifications/count`",
                "—",
                f"{count_ms:.2f}",
                f"{count_ms / board_ms:.3f}",
            ]
        )
        with app.app_context():
            db.engine.dispose()
        engine.dispose()
        if backends.engine is not None:
            backends.engine.dispose()
    head = (
        f"### (a) CPU per request, in-process — {datetime.now(UTC):%Y-%m-%d %H:%M} UTC — "
        f"{database} — {population.tasks:,} tasks, {population.popugs:,} popugs (seeded in "
        f"{seeded['seconds']:.0f} s) — {rounds} requests each — Tasks board (anchor) "
        f"{board_ms:.2f} ms — load {load()}\n\n"
    )
    table = markdown_table(
        ["page", "check", "page CPU ms", "check 304 CPU ms", "check ÷ board"], rows
    )
    return head + table


# --- (b) open tabs against the Procfile deployment ---------------------------------------


class Tab:
    """One open tab: its popug's client, its page and check, and the versions it holds."""

    def __init__(self, client: Client, kind: str, page: str, check: str, auto: bool):
        self.client, self.kind, self.page, self.check, self.auto = client, kind, page, check, auto
        self.version = ""
        self.count_version = ""


class Tabs:
    def __init__(self, tabs: list[Tab], every: float, duration: float, threads: int):
        self.tabs, self.every, self.duration, self.threads = tabs, every, duration, threads
        self.lock = threading.Lock()
        self.latency: dict[str, list[float]] = defaultdict(list)
        self.statuses: Counter = Counter()
        self.late: list[float] = []
        self.visits = 0
        self.due = 0  # visits due before the end of the run

    def _ask(self, tab: Tab, kind: str, path: str, headers: dict) -> tuple[int, str]:
        started = time.perf_counter()
        status, _ = tab.client.request(None, "GET", path, headers=headers)
        seconds = time.perf_counter() - started
        with self.lock:
            self.latency[kind].append(seconds)
            self.statuses[(kind, status)] += 1
        return status, tab.client.etag

    def visit(self, tab: Tab) -> None:
        """What the tab does every `every` seconds: the top bar's count, then the page's
        check; a changed page that updates itself fetches its page (a background fetch)."""
        status, etag = self._ask(
            tab,
            "count",
            "/notifications/count",
            {**COUNT_HEADERS, "If-None-Match": tab.count_version},
        )
        if status == 200:
            tab.count_version = etag
        status, etag = self._ask(
            tab, "check", tab.check, {**BACKGROUND, "If-None-Match": f'"{tab.version}"'}
        )
        if status == 200:
            if tab.auto:
                status, page = self._ask(tab, "page after a change", tab.page, BACKGROUND)
                found = VERSION_RE.search(page)
                tab.version = found.group(1) if found else etag.strip('"')
            else:  # "Updated — show": the reader will press it; the tab holds the new version
                tab.version = etag.strip('"')

    def run(self) -> float:
        start = time.monotonic() + 0.5
        spacing = self.every / len(self.tabs)
        due = [(start + i * spacing, i) for i in range(len(self.tabs))]
        heapq.heapify(due)
        end = start + self.duration
        self.due = sum(
            math.ceil((self.duration - i * spacing) / self.every)
            for i in range(len(self.tabs))
            if i * spacing < self.duration
        )

        def work():
            while True:
                with self.lock:
                    at, i = heapq.heappop(due)
                    heapq.heappush(due, (at + self.every, i))
                    if at >= end:
                        return
                wait = at - time.monotonic()
                if wait > 0:
                    time.sleep(wait)
                if time.monotonic() >= end:  # not started in time: the rate says so
                    return
                with self.lock:
                    self.late.append(max(0.0, -wait))
                    self.visits += 1
                self.visit(self.tabs[i])

        workers = [threading.Thread(target=work) for _ in range(self.threads)]
        for thread in workers:
            thread.start()
        for thread in workers:
            thread.join()
        return time.monotonic() - start


def _backend_pids(url: str):
    engine = create_engine(url)

    def pids() -> set[int]:
        with engine.connect() as conn:
            return set(
                conn.execute(
                    text(
                        "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
                        "AND pid <> pg_backend_pid()"
                    )
                ).scalars()
            )

    return engine, pids


def make_tabs(port: int, population: Population, count: int, popugs: int, engine_url: str):
    """`count` tabs over `popugs` signed-in workers/accountants (and two accountants for
    the overview): 35% board, 25% My tasks, 20% My account, 15% a task's page, 5% overview."""
    p = population
    ids = [i for i in range(p.first_assignable, p.popugs + 1) if i % 97][-popugs:]
    accountant_ids = list(range(p.last_manager + 1, p.last_manager + 3))
    clients = {}
    for i in ids + accountant_ids:
        client = Client(port, [], threading.Lock())
        if not client.sign_in(f"popug-{i}"):
            raise RuntimeError(f"popug-{i} could not sign in")
        clients[i] = client
    engine = create_engine(engine_url)
    tasks = {i: _task_of(engine, i) for i in ids}
    engine.dispose()
    kinds = ["board"] * 7 + ["my tasks"] * 5 + ["my account"] * 4 + ["task"] * 3 + ["overview"]
    tabs = []
    for n in range(count):
        kind = kinds[n % len(kinds)]
        if kind == "overview":
            who = accountant_ids[n % 2]
            tab = Tab(clients[who], kind, "/accounting", "/accounting/version", False)
        else:
            who = ids[n % len(ids)]
            page, check, auto = {
                "board": ("/", "/board/version", False),
                "my tasks": ("/my-tasks", "/my-tasks/version", True),
                "my account": ("/account", "/account/version", True),
                "task": (f"/tasks/{tasks[who]}", f"/tasks/{tasks[who]}/version", True),
            }[kind]
            tab = Tab(clients[who], kind, page, check, auto)
        tabs.append(tab)
    # Each tab opened its page: the versions it holds (one look-up per popug and page).
    versions: dict[tuple[int, str], tuple[str, str]] = {}
    for tab in tabs:
        key = (id(tab.client), tab.check)
        if key not in versions:
            tab.client.request(None, "GET", tab.check, headers=BACKGROUND)
            check_etag = tab.client.etag.strip('"')
            tab.client.request(None, "GET", "/notifications/count", headers=COUNT_HEADERS)
            versions[key] = (check_etag, tab.client.etag)
        tab.version, tab.count_version = versions[key]
    return tabs, clients


def writer(port: int, every: float, stop_writing: threading.Event, made: list) -> None:
    """A manager creating a task every `every` seconds (it lands on some popug)."""
    manager = Client(port, [], threading.Lock())
    if not manager.sign_in("popug-2"):
        raise RuntimeError("the manager could not sign in")
    n = 0
    while not stop_writing.wait(every):
        status, board = manager.request(None, "GET", "/")
        token = FORM_TOKEN_RE.search(board)
        n += 1
        status, _ = manager.request(
            None,
            "POST",
            "/tasks",
            {
                "csrf_token": manager.csrf,
                "title": f"Live bench task {n}",
                "form_token": token.group(1) if token else "",
            },
        )
        made.append(status)


def created(url: str, population: Population) -> tuple[str, str, dict]:
    app = bench_app(url)
    with app.app_context():
        db.create_all()
        seeded = seed(db.engine, population)
        database = describe_database(db.engine)
        db.engine.dispose()
    return url.replace("postgresql+psycopg://", "postgresql://"), database, seeded


def tabs_part(url, population, args) -> str:
    settings = {
        "ARGON2_TIME_COST": "1",
        "ARGON2_MEMORY_COST": "8",
        "ARGON2_PARALLELISM": "1",
        # One load generator signs many popugs in from one address.
        "SIGN_IN_LIMIT_PER_ADDRESS": "100000 per minute",
    }
    with (
        fresh_database(url, "ates_bench_live_tabs") as url,
        tempfile.TemporaryDirectory(prefix="ates-bench-live-") as tmp,
    ):
        if args.quick:  # the schema by create_all: a smoke run does not wait for Alembic
            env_url, database, seeded = created(url, population)
        else:
            env_url, database, seeded, _, _ = prepare(url, population)
        logs = Path(tmp)
        if args.priority:  # inherited by gunicorn and the job worker
            os.setpriority(os.PRIO_PROCESS, 0, args.priority)
        renicer = Renicer(url, make_url(url).database or "", args.priority)
        processes, port = start_deployment(env_url, logs, port=args.port, **settings)
        pg_engine, pids = _backend_pids(url) if is_postgres_url(url) else (None, lambda: set())
        try:
            tabs, _ = make_tabs(port, population, args.tabs, args.popugs, url)
            run = Tabs(tabs, args.every, args.duration, args.threads)
            meter = CpuMeter(
                {
                    "gunicorn": lambda: children_of(processes["web"].pid) | {processes["web"].pid},
                    "job worker": lambda: {processes["worker"].pid},
                    "PostgreSQL": pids,
                    "load generator": lambda: {os.getpid()},
                }
            )
            load_before = load()
            stop_writing, made = threading.Event(), []
            writing = threading.Thread(
                target=writer, args=(port, args.writes_every, stop_writing, made)
            )
            writing.start()
            meter.start()
            elapsed = run.run()
            shares = meter.stop()
            stop_writing.set()
            writing.join()
            load_after = load()
        finally:
            stop(processes)
            renicer.close()
            if pg_engine is not None:
                pg_engine.dispose()
        trouble = [
            line
            for log in sorted(logs.glob("*.log"))
            for line in log.read_text(errors="replace").splitlines()
            if re.search(r"Traceback|ERROR|CRITICAL", line)
        ]
    requests = sum(len(v) for v in run.latency.values())
    errors = sum(n for (_, status), n in run.statuses.items() if status == 0 or status >= 500)
    target = args.tabs / args.every
    rows = []
    for kind, samples in run.latency.items():
        statuses = ", ".join(
            f"{status}×{n}" for (k, status), n in sorted(run.statuses.items()) if k == kind
        )
        rows.append(
            [
                kind,
                len(samples),
                f"{len(samples) / elapsed:.1f}",
                statuses,
                f"{quantile(samples, 0.5) * 1000:.1f}",
                f"{quantile(samples, 0.99) * 1000:.1f}",
            ]
        )
    cores = os.cpu_count() or 1
    cpu = ", ".join(
        f"{name} {share:.0%}"
        + (
            f" ({share * cores * elapsed * 1000 / requests:.2f} ms/request)"
            if name in ("gunicorn", "PostgreSQL") and requests
            else ""
        )
        for name, share in shares.items()
    )
    commands = "; ".join(
        f"{name}: `{' '.join(argv).replace(HOST_PORT, f'127.0.0.1:{port}')}`"
        for name, argv in procfile().items()
    )
    head = (
        f"### (b) {args.tabs:,} open tabs, each asking every {args.every:g} s — "
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC — {database} — {population.tasks:,} tasks, "
        f"{population.popugs:,} popugs (seeded in {seeded['seconds']:.0f} s) — "
        f"Procfile, ATES_ENV=production: {commands} — {args.popugs} signed-in popugs (+2 "
        f"accountants), {args.threads} client threads, a task created every "
        f"{args.writes_every:g} s ({len(made)} created, statuses "
        f"{dict(Counter(made))}) — {elapsed:.0f} s — niceness {args.priority}\n\n"
        f"Target {target:.1f} tab visits/s (each: the count and the page's check); achieved "
        f"{run.visits / elapsed:.1f} visits/s ({run.visits:,} of the {run.due:,} due), "
        f"{requests / elapsed:.1f} requests/s; visits "
        f"started late by p50 {quantile(run.late, 0.5) * 1000:.0f} ms, p99 "
        f"{quantile(run.late, 0.99) * 1000:.0f} ms; errors (5xx or failed connections): "
        f"{errors}; log lines that look like trouble: {len(trouble)}\n\n"
        f"CPU as shares of the machine's {cores} cores: {cpu}; load average {load_before} "
        f"before, {load_after} after\n\n"
    )
    table = markdown_table(["request", "count", "per s", "statuses", "p50 ms", "p99 ms"], rows)
    for line in trouble[:20]:
        table += f"\n    {line}"
    return head + table + "\n", errors


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--database-url")
    parser.add_argument("--part", choices=("cpu", "tabs", "both"), default="both")
    parser.add_argument("--tasks", type=int)
    parser.add_argument("--rounds", type=int, help="requests per CPU figure (default 300)")
    parser.add_argument("--tabs", type=int)
    parser.add_argument("--popugs", type=int, help="signed-in popugs the tabs belong to")
    parser.add_argument("--every", type=float)
    parser.add_argument("--duration", type=float)
    parser.add_argument("--threads", type=int, default=48)
    parser.add_argument("--writes-every", type=float, default=5.0)
    parser.add_argument("--port", type=int, default=5111)
    parser.add_argument(
        "--priority",
        type=int,
        default=0,
        help="niceness of this script, the deployment and its database backends (tabs)",
    )
    args = parser.parse_args()
    quick = args.quick
    tasks = args.tasks or (1_000 if quick else 100_000)
    population = Population(100 if quick else 1_000, tasks - tasks // 10, tasks // 10)
    args.rounds = args.rounds or (20 if quick else 300)
    args.tabs = args.tabs or (60 if quick else 2_000)
    args.popugs = args.popugs or (10 if quick else 200)
    args.every = args.every or (2.0 if quick else 15.0)
    args.duration = args.duration or (4.0 if quick else 60.0)
    if quick:
        args.writes_every = min(args.writes_every, 1.0)
        args.threads = min(args.threads, 8)
    print(f"# bench/live.py — {machine()} — load {load()}", flush=True)
    errors = 0
    if args.part in ("cpu", "both"):
        print(
            cpu_part(named_database(args.database_url, "cpu"), population, args.rounds), flush=True
        )
    if args.part in ("tabs", "both"):
        report, errors = tabs_part(named_database(args.database_url, "tabs"), population, args)
        print("\n" + report, flush=True)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
