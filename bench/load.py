"""Load test: aTES as in production under a mixed load, next to a bare page.

    python bench/load.py [--database-url postgresql://postgres@127.0.0.1:5432/]
                         [--duration 60] [--clients 8] [--signed-in 50] [--quick]
                         [--priority -10] [--shuffle-every 10] [--gunicorn-threads N]
                         [--allow-stale-migrations] [--out bench/results/load.md]

Follows docs/deploying.md: a fresh PostgreSQL database (created for the run on
the server of --database-url and dropped afterwards; without it a SQLite file in a temporary
directory), migrated with `flask --app wsgi db upgrade`, seeded with 1,000 popugs and 100,000
tasks (30,000 done, and every tenth popug has finished all of theirs) with their accounts
and ledger by bench.common.seed, then served by
`gunicorn --workers 4` with ATES_ENV=production, a generated SECRET_KEY,
RATELIMIT_STORAGE_URI=redis://127.0.0.1:6379 and cheap argon2 costs (ARGON2_*; the seeded
hashes use the same costs, so signing in does not rehash), with the job worker that runs the
shuffles, `flask --app wsgi jobs work`, beside it in the same environment (as the Procfile
has them); the worker is stopped with SIGTERM after the run (a shuffle it is running ends).

The load generator (standard library only: threads and http.client on 127.0.0.1) signs in
popugs through the sign-in form, then for --duration seconds runs --clients threads that mix:
the Tasks board (plain and filtered pages), My tasks, creating tasks (CSRF token taken from
the page), marking their own open tasks done, My account, and the accounting overview (as
accountants); a manager presses "Shuffle open tasks" every 10 s (the press only queues the
shuffle; the job worker runs it) and follows the redirect to the shuffle's page, and an
accountant presses "Close the day" once half-way through. Production cookies are `Secure`;
the client sends them over plain HTTP to loopback itself, as the TLS proxy in front of
gunicorn would.

Then the same load shape (same threads, mix, shuffle timer and duration) runs against a bare
Flask + Jinja page (a 50-row table from memory) under the same gunicorn settings.

Reported: requests per second, median / 95th / 99th percentile per endpoint, 4xx (expected
refusals, e.g. a task reassigned by a shuffle just before "Mark done") and errors (any 5xx or
failed connection). After the run: `flask --app wsgi accounting verify` exit code, and the
money identity sum(balances) + sum(payouts) == rewards − fees, i.e. sum(balances) equals the
sum of all ledger entries; the shuffles by state (done, failed, still queued or running when
the worker stopped), with how long each waited in the queue and ran. The report's Markdown
is printed and written to --out (default bench/results/load.md, git-ignored); the current
figures in bench/README.md are pasted from it by hand. Goals: zero 5xx, zero failed
shuffles, zero failed money checks, mixed throughput at least half the bare page's (not a
reason for a non-zero exit with --quick, whose figures say nothing about speed).
"""

from __future__ import annotations

import argparse
import os
import random
import re
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlencode, urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import create_engine, make_url  # noqa: E402

from app.extensions import db  # noqa: E402
from bench.common import (  # noqa: E402
    Population,
    bench_app,
    create_database,
    describe_database,
    drop_database,
    fresh_database,
    is_postgres_url,
    machine,
    markdown_table,
    process_cpu_seconds,
    quantile,
    seed,
    with_database_name,
)
from tests.support.http import HOST, Client, Sample, free_port  # noqa: E402, F401 - bench's names

VENV_BIN = Path(sys.executable).parent
WORKERS = 4
SHUFFLE_EVERY_S = 10.0
SOLO_ROUNDS = 15
SOLO = [  # (label, path, who): one request at a time, before the load, for service times
    ("board", "/", "worker"),
    ("board filtered", "/?filter=open&page=2", "worker"),
    ("my tasks", "/my-tasks", "worker"),
    ("my account", "/account", "worker"),
    ("overview", "/accounting", "accountant"),
]
# Every tenth popug has finished all its tasks, so that closing the day pays someone.
FULL = Population(1_000, 70_000, 30_000, diligent_every=10)
QUICK = Population(200, 7_000, 3_000, diligent_every=10)
RESULTS = ROOT / "bench" / "results" / "load.md"  # git-ignored
# What a client thread does, and how often (weights).
MIX = [
    ("board", 30),
    ("board filtered", 10),
    ("my tasks", 20),
    ("create task", 10),
    ("mark done", 10),
    ("my account", 12),
    ("overview", 5),
]
DONE_RE = re.compile(r'action="(/tasks/[^"/?]+/done)[^"]*"')
DAY_RE = re.compile(r'name="day"[^>]*value="([^"]+)"')


# --- the load --------------------------------------------------------------------------


@dataclass
class Run:
    name: str
    port: int
    duration: float
    samples: list[Sample] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    elapsed: float = 0.0
    started: float = 0.0
    events: list[str] = field(default_factory=list)
    client_errors: list[str] = field(default_factory=list)
    shuffle_every: float = 10.0
    solo: dict[str, float] = field(default_factory=dict)
    cpu: dict[str, float] = field(default_factory=dict)  # share of the machine, by group


def step(client: Client, action: str, rng: random.Random) -> None:
    if action == "board":
        client.request("board", "GET", "/")
    elif action == "board filtered":
        query = urlencode(
            {"filter": rng.choice(["open", "done", "mine"]), "page": rng.randint(1, 20)}
        )
        client.request("board filtered", "GET", f"/?{query}")
    elif action == "my tasks":
        status, text = client.request("my tasks", "GET", "/my-tasks")
        if status == 200:
            client.done_paths = DONE_RE.findall(text)
    elif action == "create task":
        form = {
            "csrf_token": client.csrf,
            "title": f"Load task {rng.randrange(10**9)}",
            "jira_id": f"UBERPOP-{rng.randrange(1, 10**6)}" if rng.random() < 0.5 else "",
            "description": "Made by bench/load.py",
            "form_token": secrets.token_urlsafe(18),
        }
        headers = {}
        if rng.random() < 0.5:  # as htmx posts it from the board: a fragment comes back
            headers = {"HX-Request": "true", "HX-Current-URL": f"http://{HOST}:{client.port}/"}
        client.request("create task", "POST", "/tasks", form, headers)
    elif action == "mark done":
        if not client.done_paths:
            status, text = client.request("my tasks", "GET", "/my-tasks")
            client.done_paths = DONE_RE.findall(text) if status == 200 else []
        try:  # another thread may use the same popug's list
            path = client.done_paths.pop(rng.randrange(len(client.done_paths)))
        except (IndexError, ValueError):
            path = None
        if path:
            headers = {"HX-Request": "true"} if rng.random() < 0.5 else {}
            client.request("mark done", "POST", path, {"csrf_token": client.csrf}, headers)
    elif action == "my account":
        client.request("my account", "GET", "/account")
    elif action == "overview":
        client.request("overview", "GET", "/accounting")


def client_loop(run: Run, workers: list[Client], accountants: list[Client], seed_: int, stop):
    rng = random.Random(seed_)
    actions, weights = zip(*MIX, strict=True)
    while not stop.is_set():
        action = rng.choices(actions, weights)[0]
        pool = accountants if action == "overview" else workers
        try:
            step(rng.choice(pool), action, rng)
        except Exception as error:  # noqa: BLE001 - a bug in this script, reported
            run.client_errors.append(f"{action}: {error!r}")


def shuffle_loop(run: Run, manager: Client, stop) -> None:
    """The manager presses "Shuffle open tasks" every `run.shuffle_every` seconds. The press
    only queues the shuffle (the job worker runs it) and redirects to the shuffle's page,
    which the manager opens, as the browser does; the next press is on the timer (a press
    while a shuffle waits joins it, one while a shuffle runs queues the next)."""
    if not run.shuffle_every:
        return
    next_at = time.monotonic() + run.shuffle_every / 2
    while not stop.wait(max(next_at - time.monotonic(), 0)):
        next_at = max(next_at + run.shuffle_every, time.monotonic())
        form = {"csrf_token": manager.csrf, "form_token": secrets.token_urlsafe(18)}
        status, _ = manager.request("shuffle", "POST", "/tasks/shuffle", form)
        location = urlsplit(manager.location)
        run.events.append(f"shuffle at {time.monotonic() - run.started:.0f} s: {status}")
        if status in (302, 303) and location.path:  # the browser follows the redirect
            page = location.path + (f"?{location.query}" if location.query else "")
            manager.request(None, "GET", page)
        else:
            manager.request(None, "GET", "/")  # a fresh page


def close_day_once(run: Run, accountant: Client, stop) -> None:
    """An accountant closes the day half-way through, from the confirmation page."""
    if stop.wait(run.duration / 2):
        return
    status, text = accountant.request("close day page", "GET", "/accounting/close-day")
    day = DAY_RE.search(text)
    form = {"csrf_token": accountant.csrf, "day": day.group(1) if day else ""}
    status, _ = accountant.request("close day", "POST", "/accounting/close-day", form)
    run.events.append(f"close the day at {time.monotonic() - run.started:.0f} s: {status}")


def solo(run: Run, worker: Client, accountant: Client) -> None:
    """Median of SOLO_ROUNDS sequential requests per page, with nothing else running: the
    time one request costs the server, which bounds throughput (workers / service time)."""
    for label, path, who in SOLO:
        client = accountant if who == "accountant" else worker
        times = []
        for _ in range(SOLO_ROUNDS):
            started = time.perf_counter()
            client.request(None, "GET", path)
            times.append((time.perf_counter() - started) * 1000)
        run.solo[label] = quantile(times, 0.5)


class Renicer:
    """With --priority: keep the PostgreSQL backends of the load database at the load's
    niceness (gunicorn's workers inherit it from this process), checked twice a second."""

    def __init__(self, url: str, name: str, niceness: int):
        self.niceness = niceness if is_postgres_url(url) else 0
        self.stop = threading.Event()
        self.engine = None
        if is_postgres_url(url):
            self.engine = create_engine(make_url(url).set(database="postgres"))
        self.name = name
        self.thread = threading.Thread(target=self._run, daemon=True)
        if niceness:
            self.thread.start()

    def backends(self) -> set[int]:
        """The pids of the load database's backends now (none on SQLite)."""
        if self.engine is None:
            return set()
        with self.engine.connect() as conn:
            return set(
                conn.exec_driver_sql(
                    "SELECT pid FROM pg_stat_activity WHERE datname = %(name)s",
                    {"name": self.name},
                ).scalars()
            )

    def _run(self) -> None:
        done: set[int] = set()
        while not self.stop.wait(0.5):
            for pid in self.backends() - done:
                try:
                    os.setpriority(os.PRIO_PROCESS, pid, self.niceness)
                    done.add(pid)
                except OSError:
                    pass

    def close(self) -> None:
        self.stop.set()
        if self.thread.is_alive():
            self.thread.join(timeout=10)
        if self.engine is not None:
            self.engine.dispose()


def drive(
    run: Run,
    clients: int,
    workers: list[Client],
    accountants: list[Client],
    manager,
    closer,
    meter: CpuMeter,
):
    stop = threading.Event()
    meter.start()
    run.started = time.monotonic()
    threads = [
        threading.Thread(target=client_loop, args=(run, workers, accountants, n, stop), daemon=True)
        for n in range(clients)
    ]
    threads.append(threading.Thread(target=shuffle_loop, args=(run, manager, stop), daemon=True))
    if closer is not None:
        threads.append(
            threading.Thread(target=close_day_once, args=(run, closer, stop), daemon=True)
        )
    for thread in threads:
        thread.start()
    stop.wait(run.duration)
    stop.set()
    for thread in threads:
        thread.join(timeout=180)
    run.elapsed = time.monotonic() - run.started
    run.cpu = meter.stop()


# --- where the CPU went -----------------------------------------------------------------


def _cpu_seconds(pids) -> dict[int, float]:
    """{pid: CPU seconds so far} of those processes that still exist."""
    seconds = {}
    for pid in pids:
        try:
            seconds[pid] = process_cpu_seconds(pid)
        except OSError:
            pass
    return seconds


def _machine_seconds() -> tuple[float, float]:
    """(idle, total) CPU seconds of all cores so far, from /proc/stat."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    tick = os.sysconf("SC_CLK_TCK")
    return (values[3] + values[4]) / tick, sum(values[:8]) / tick  # idle + iowait; no guests


def children_of(parent: int) -> set[int]:
    """The pids whose parent is `parent` (gunicorn's workers)."""
    children = set()
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and _parent_of(entry) == parent:
                children.add(int(entry.name))
        except OSError:  # ended meanwhile
            pass
    return children


def _parent_of(proc: Path) -> int:
    return int((proc / "stat").read_text().rsplit(")", 1)[1].split()[1])


class CpuMeter:
    """The CPU time of groups of processes over a run, as shares of the whole machine (all
    cores), plus the share left idle. Each group is a function that lists its pids; it is
    called when the run starts and when it ends, and a process that appears in between
    counts from zero (a new database connection), one that vanishes is lost (none do)."""

    def __init__(self, groups: dict):
        self.groups = groups

    def start(self) -> None:
        self.before = {name: _cpu_seconds(pids()) for name, pids in self.groups.items()}
        self.machine_before = _machine_seconds()

    def stop(self) -> dict[str, float]:
        idle, total = (b - a for a, b in zip(self.machine_before, _machine_seconds(), strict=True))
        shares = {}
        for name, pids in self.groups.items():
            before = self.before[name]
            now = _cpu_seconds(pids())
            used = sum(seconds - before.get(pid, 0) for pid, seconds in now.items())
            shares[name] = used / total if total else 0.0
        shares["idle"] = idle / total if total else 0.0
        return shares


def cpu_table(runs: list[Run]) -> str:
    """Markdown: each group's share of the machine and CPU milliseconds per request."""
    groups = list(runs[0].cpu)
    rows = []
    for run in runs:
        rps = len(run.samples) / run.elapsed if run.elapsed else 0.0
        cores = os.cpu_count() or 1
        cells = []
        for group in groups:
            share = run.cpu.get(group, 0.0)
            per_request = share * cores * 1000 / rps if rps and group != "idle" else None
            cells.append(
                f"{share:.0%}" + (f" ({per_request:.1f} ms)" if per_request is not None else "")
            )
        rows.append([run.name, *cells, f"{rps:.1f}"])
    return markdown_table(["run", *groups, "requests/s"], rows)


# --- servers ---------------------------------------------------------------------------


def production_env(url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MAIL_", "TEST_DATABASE"))}
    env.update(
        ATES_ENV="production",
        DATABASE_URL=url,
        SECRET_KEY=secrets.token_hex(32),
        RATELIMIT_STORAGE_URI=os.environ.get("LOAD_REDIS_URL", "redis://127.0.0.1:6379"),
        ARGON2_TIME_COST="1",
        ARGON2_MEMORY_COST="8",
        ARGON2_PARALLELISM="1",
    )
    return env


def flask(env: dict, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(VENV_BIN / "flask"), "--app", "wsgi", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


class _Logged:
    """A process of the deployment writing to a temporary log; stopped with SIGTERM, then
    waited for (STOP_SECONDS, then killed); its log stays readable as `final_log`."""

    STOP_SECONDS = 60
    log: tempfile._TemporaryFileWrapper
    proc: subprocess.Popen

    def output(self) -> str:
        return Path(self.log.name).read_text(errors="replace")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=self.STOP_SECONDS)
            except subprocess.TimeoutExpired:
                self.proc.kill()  # a running shuffle rolls back
                self.proc.wait()
        self.final_log = self.output()
        self.log.close()


class Gunicorn(_Logged):
    """`gunicorn --workers 4 --bind 127.0.0.1:<port> <app>`, stopped with SIGTERM."""

    def __init__(self, app: str, env: dict, cwd: Path, threads: int = 0):
        self.port = free_port()
        extra = ["--threads", str(threads)] if threads else []
        self.log = tempfile.NamedTemporaryFile(prefix="ates-load-gunicorn-", suffix=".log")
        self.proc = subprocess.Popen(
            [
                str(VENV_BIN / "gunicorn"),
                "--workers",
                str(WORKERS),
                "--bind",
                f"{HOST}:{self.port}",
                *extra,
                app,
            ],
            cwd=cwd,
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"gunicorn exited:\n{self.output()[-5000:]}")
            try:
                with socket.create_connection((HOST, self.port), timeout=1):
                    return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError(f"gunicorn did not start:\n{self.output()[-5000:]}")


class JobWorker(_Logged):
    """`flask --app wsgi jobs work` (the Procfile's worker) beside gunicorn, in the same
    environment and directory; stopped with SIGTERM, which lets a running shuffle end."""

    READY = "job worker running"  # logged once it holds the runner lock
    STOP_SECONDS = 300  # a running shuffle ends first; shuffles still queued stay queued

    def __init__(self, env: dict, cwd: Path):
        self.log = tempfile.NamedTemporaryFile(prefix="ates-load-jobs-", suffix=".log")
        self.proc = subprocess.Popen(
            [str(VENV_BIN / "flask"), "--app", "wsgi", "jobs", "work"],
            cwd=cwd,
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the job worker exited:\n{self.output()[-5000:]}")
            if self.READY in self.output():
                return
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"the job worker did not start:\n{self.final_log[-5000:]}")


BARE_APP = '''
from flask import Flask, render_template_string

app = Flask(__name__)
PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Bare</title></head>
<body><main><h1>Tasks</h1>
<form method="post" action="/tasks"><input type="hidden" name="csrf_token" value="bare"></form>
<table class="table"><thead><tr><th>Jira ID</th><th>Title</th><th>Assignee</th><th>Status</th>
<th class="num">Fee</th><th class="num">Reward</th><th>Action</th></tr></thead>
<tbody>
{% for task in rows %}<tr id="task-{{ task.id }}">
<td>{{ task.jira_id or "—" }}</td><td>{{ task.title }}</td><td>{{ task.assignee }}</td>
<td><span class="badge">{{ task.status }}</span></td>
<td class="num">${{ "%.2f"|format(task.fee / 100) }}</td>
<td class="num">${{ "%.2f"|format(task.reward / 100) }}</td>
<td><form method="post" action="/tasks/{{ task.id }}/done"><button>Mark done</button></form>
</td></tr>
{% endfor %}</tbody></table></main></body></html>"""
ROWS = [
    {"id": f"task-{n}", "jira_id": f"UBERPOP-{n}" if n % 3 == 0 else None,
     "title": f"Seeded task {n}", "assignee": f"popug-{n % 997}", "status": "open",
     "fee": 1000 + n % 11 * 100, "reward": 2000 + n % 21 * 100}
    for n in range(50)
]


@app.route("/", defaults={"path": ""}, methods=["GET", "POST"])
@app.route("/<path:path>", methods=["GET", "POST"])
def page(path):
    return render_template_string(PAGE, rows=ROWS)
'''


# --- checks ----------------------------------------------------------------------------


def money_checks(url: str) -> dict:
    engine = create_engine(make_url(url))
    if engine.dialect.name == "postgresql":
        waited = "round(extract(epoch FROM started_at - requested_at) * 1000)"
    else:
        waited = "round((julianday(started_at) - julianday(requested_at)) * 86400000)"
    try:
        with engine.connect() as conn:
            one = conn.exec_driver_sql
            result = {
                "balances": int(one("SELECT coalesce(sum(balance), 0) FROM accounts").scalar()),
                "entries": int(one("SELECT coalesce(sum(amount), 0) FROM ledger_entries").scalar()),
                "rewards": int(
                    one(
                        "SELECT coalesce(sum(amount), 0) FROM ledger_entries WHERE kind = 'reward'"
                    ).scalar()
                ),
                "fees": -int(
                    one(
                        "SELECT coalesce(sum(amount), 0) FROM ledger_entries "
                        "WHERE kind = 'assign_fee'"
                    ).scalar()
                ),
                "payouts": int(one("SELECT coalesce(sum(amount), 0) FROM payouts").scalar()),
                "payout_entries": -int(
                    one(
                        "SELECT coalesce(sum(amount), 0) FROM ledger_entries WHERE kind = 'payout'"
                    ).scalar()
                ),
                "mismatched_accounts": int(
                    one(
                        "SELECT count(*) FROM accounts a LEFT JOIN (SELECT account_id, "
                        "sum(amount) AS total FROM ledger_entries GROUP BY account_id) s "
                        "ON s.account_id = a.id WHERE a.balance <> coalesce(s.total, 0)"
                    ).scalar()
                ),
                "tasks": int(one("SELECT count(*) FROM tasks").scalar()),
                "shuffles": int(one("SELECT count(*) FROM shuffles").scalar()),
                "shuffle_states": dict(
                    one("SELECT status, count(*) FROM shuffles GROUP BY status ORDER BY status")
                    .tuples()
                    .all()
                ),
                "shuffle_errors": list(
                    one("SELECT error FROM shuffles WHERE status = 'failed' ORDER BY id").scalars()
                ),
                "closed_days": int(one("SELECT count(*) FROM billing_days").scalar()),
                # Done shuffles: (ms waited in the queue, ms run by the worker, tasks moved).
                "shuffle_ms": [
                    (int(waited), int(ms), int(n))
                    for waited, ms, n in one(
                        f"SELECT {waited}, "
                        "duration_ms, tasks_count FROM shuffles WHERE status = 'done' "
                        "ORDER BY id"
                    ).all()
                ],
            }
    finally:
        engine.dispose()
    result["identity_holds"] = (
        result["balances"] + result["payouts"] == result["rewards"] - result["fees"]
        and result["balances"] == result["entries"]
        and result["payouts"] == result["payout_entries"]
        and result["mismatched_accounts"] == 0
    )
    return result


# --- report ----------------------------------------------------------------------------


def summarise(run: Run) -> tuple[list[list], dict]:
    by_label: dict[str, list[Sample]] = defaultdict(list)
    for sample in run.samples:
        by_label[sample.label].append(sample)
    rows = []
    for label in [name for name, _ in MIX] + ["shuffle", "close day page", "close day"]:
        samples = by_label.get(label)
        if not samples:
            continue
        times = [s.seconds * 1000 for s in samples]
        rows.append(
            [
                label,
                len(samples),
                f"{len(samples) / run.elapsed:.1f}",
                f"{quantile(times, 0.5):.0f}",
                f"{quantile(times, 0.95):.0f}",
                f"{quantile(times, 0.99):.0f}",
                f"{run.solo[label]:.0f}" if label in run.solo else "",
                sum(1 for s in samples if 400 <= s.status < 500),
                sum(1 for s in samples if s.status >= 500 or s.status == 0),
            ]
        )
    times = [s.seconds * 1000 for s in run.samples]
    total = {
        "requests": len(run.samples),
        "rps": len(run.samples) / run.elapsed if run.elapsed else 0.0,
        "median": quantile(times, 0.5) if times else 0.0,
        "p95": quantile(times, 0.95) if times else 0.0,
        "p99": quantile(times, 0.99) if times else 0.0,
        "4xx": sum(1 for s in run.samples if 400 <= s.status < 500),
        "errors": sum(1 for s in run.samples if s.status >= 500 or s.status == 0),
        "statuses": dict(sorted(_count(s.status for s in run.samples).items())),
    }
    rows.append(
        [
            "**all**",
            total["requests"],
            f"**{total['rps']:.1f}**",
            f"{total['median']:.0f}",
            f"{total['p95']:.0f}",
            f"{total['p99']:.0f}",
            "",
            total["4xx"],
            total["errors"],
        ]
    )
    return rows, total


def _count(values) -> dict:
    counts: dict = defaultdict(int)
    for value in values:
        counts[value] += 1
    return counts


HEADER = [
    "endpoint",
    "requests",
    "req/s",
    "median ms",
    "p95 ms",
    "p99 ms",
    "alone ms",
    "4xx",
    "5xx/failed",
]


def command_flags() -> str:
    """The flags this run was started with, for the report (without --out)."""
    flags, skip = [], False
    for arg in sys.argv[1:]:
        if skip or arg.startswith("--out"):
            skip = arg == "--out"
            continue
        flags.append(arg)
    return "".join(" " + arg for arg in flags)


def write_results(section: str, out: str) -> None:
    """The report's Markdown section into `out` ("-": only the standard output, where it is
    printed anyway). bench/README.md keeps the current figures, pasted by hand."""
    if out == "-":
        return
    path = Path(out)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(section.rstrip("\n") + "\n")
    print(f"\n(written to {path})")


# --- main ------------------------------------------------------------------------------


def sign_in_clients(port: int, run: Run, population: Population, count: int):
    """`count` workers/accountants, two accountants for the overview and the closer, and
    a manager, signed in through the form."""
    p = population
    active = [
        i
        for i in range(p.first_assignable, p.popugs + 1)
        if not (i > p.last_accountant and i % 97 == 0)
    ]
    rng = random.Random(8)
    chosen = rng.sample(active, min(count, len(active)))
    accountant_ids = list(range(p.last_manager + 1, p.last_manager + 3))

    def make(i: int) -> Client:
        client = Client(port, run.samples, run.lock)
        if not client.sign_in(f"popug-{i}"):
            raise RuntimeError(f"popug-{i} could not sign in")
        return client

    workers = [make(i) for i in chosen]
    accountants = [make(i) for i in accountant_ids]
    manager = make(2)
    return workers, accountants, manager


def bare_clients(port: int, run: Run, count: int):
    def make() -> Client:
        client = Client(port, run.samples, run.lock)
        client.request(None, "GET", "/")
        return client

    return [make() for _ in range(count)], [make(), make()], make()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--database-url",
        help="a PostgreSQL server URL; a fresh database is created on it for the run "
        "(default: a SQLite file in a temporary directory)",
    )
    parser.add_argument("--duration", type=float, default=60.0, help="seconds per run")
    parser.add_argument("--clients", type=int, default=8, help="load threads")
    parser.add_argument("--signed-in", type=int, default=50, help="popugs signed in")
    parser.add_argument("--quick", action="store_true", help="small data, 8 s runs (a smoke run)")
    parser.add_argument(
        "--shuffle-every", type=float, default=SHUFFLE_EVERY_S, help="seconds; 0: no shuffles"
    )
    parser.add_argument(
        "--priority",
        type=int,
        default=0,
        help="niceness for this script, gunicorn and the load database's PostgreSQL backends "
        "(negative needs root; the machine is shared, so -10 measures less of the run queue)",
    )
    parser.add_argument(
        "--gunicorn-threads",
        type=int,
        default=0,
        help="run gunicorn's gthread workers with this many threads each (default: the "
        "deployment's sync workers)",
    )
    parser.add_argument(
        "--out",
        default=str(RESULTS),
        help=f"file for the report's Markdown (default {RESULTS.relative_to(ROOT)}; -: none)",
    )
    parser.add_argument(
        "--allow-stale-migrations",
        action="store_true",
        help="when `flask db check` finds the migrations behind the models, build the schema "
        "with db.create_all() instead of stopping (the report says so)",
    )
    args = parser.parse_args()
    population = QUICK if args.quick else FULL
    duration = 8.0 if args.quick else args.duration
    name = f"ates_load_{secrets.token_hex(4)}"
    target = None
    if args.database_url:
        if not is_postgres_url(args.database_url):
            parser.error("--database-url: a PostgreSQL server URL (default: SQLite)")
        target = with_database_name(args.database_url, name)
    if args.priority:
        os.setpriority(os.PRIO_PROCESS, 0, args.priority)  # inherited by gunicorn
    load_before = os.getloadavg()
    started_at = datetime.now(UTC)

    with fresh_database(target, name) as url:
        env = production_env(url)
        upgraded = flask(env, "db", "upgrade")
        if upgraded.returncode:
            raise SystemExit(f"db upgrade failed:\n{upgraded.stdout}{upgraded.stderr}")
        drift = flask(env, "db", "check")
        schema = "`flask --app wsgi db upgrade`"
        if drift.returncode:
            if not args.allow_stale_migrations:
                raise SystemExit(
                    "the migrations do not match the models (`flask db check`); regenerate "
                    "them, or pass --allow-stale-migrations to build the schema from the "
                    f"models:\n{drift.stderr[-3000:]}"
                )
            # Empty again, then the schema straight from the models.
            create_database(url) if is_postgres_url(url) else drop_database(url)
            app = bench_app(url)
            with app.app_context():
                db.create_all()
                db.engine.dispose()
            schema = "**db.create_all()** (the migration was stale: `flask db check` failed)"
        engine = create_engine(url)
        database = describe_database(engine)
        seeded = seed(engine, population)
        engine.dispose()
        still_open = population.tasks - seeded["done_tasks"]
        print(
            f"seeded {seeded['rows']} in {seeded['seconds']:.1f} s; every tenth popug has "
            f"finished its tasks ({still_open:,} open)",
            flush=True,
        )

        server = Gunicorn("wsgi:app", env, ROOT, args.gunicorn_threads)
        try:
            jobs = JobWorker(env, ROOT)
        except BaseException:
            server.stop()
            raise
        renicer = Renicer(url, name, args.priority)
        try:
            too_big = Client(server.port, [], threading.Lock())
            status_413, _ = too_big.request(
                None, "POST", "/sign-in", {"username": "x" * (2 * 1024 * 1024)}
            )
            mixed = Run("aTES", server.port, duration, shuffle_every=args.shuffle_every)
            workers, accountants, manager = sign_in_clients(
                server.port, mixed, population, args.signed_in
            )
            print(f"signed in {len(workers) + len(accountants) + 1} popugs", flush=True)
            solo(mixed, workers[0], accountants[0])
            meter = CpuMeter(
                {
                    "gunicorn workers": lambda: children_of(server.proc.pid),
                    "job worker": lambda: {jobs.proc.pid},
                    "PostgreSQL": renicer.backends,
                    "this script": lambda: {os.getpid()},
                }
            )
            drive(mixed, args.clients, workers, accountants, manager, accountants[-1], meter)
        finally:
            server.stop()
            jobs.stop()
            renicer.close()
        server_log_errors = [
            line for line in server.final_log.splitlines() if "Traceback" in line or "ERROR" in line
        ]
        jobs_log_errors = [line for line in jobs.final_log.splitlines() if "Traceback" in line]
        verify = flask(env, "accounting", "verify")
        money = money_checks(url)

    with tempfile.TemporaryDirectory(prefix="ates-bare-") as tmp:
        Path(tmp, "bare.py").write_text(BARE_APP)
        bare_env = {k: v for k, v in os.environ.items() if not k.startswith("TEST_DATABASE")}
        server = Gunicorn("bare:app", bare_env, Path(tmp), args.gunicorn_threads)
        try:
            bare = Run("bare page", server.port, duration, shuffle_every=args.shuffle_every)
            workers, accountants, manager = bare_clients(server.port, bare, args.signed_in)
            solo(bare, workers[0], accountants[0])
            meter = CpuMeter(
                {
                    "gunicorn workers": lambda: children_of(server.proc.pid),
                    "job worker": set,
                    "PostgreSQL": set,
                    "this script": lambda: {os.getpid()},
                }
            )
            drive(bare, args.clients, workers, accountants, manager, None, meter)
        finally:
            server.stop()

    mixed_rows, mixed_total = summarise(mixed)
    bare_rows, bare_total = summarise(bare)
    ratio = mixed_total["rps"] / bare_total["rps"] if bare_total["rps"] else 0.0
    load_after = os.getloadavg()
    verify_text = (verify.stdout + verify.stderr).strip()
    verify_line = verify_text.splitlines()[0] if verify_text else "no output"
    goals = {
        "zero 5xx": mixed_total["errors"] == 0,
        "zero failed shuffles": not money["shuffle_states"].get("failed"),
        "accounting verify passes": verify.returncode == 0,
        "balances + payouts == rewards - fees": money["identity_holds"],
        "mixed >= 1/2 of bare": ratio >= 0.5,
        "oversized body refused with 413": status_413 == 413,
    }
    lines = [
        "## Load",
        "",
        f"`python bench/load.py{command_flags()}` on {started_at:%Y-%m-%d}: "
        f"{machine()}; {database}. gunicorn {WORKERS} "
        + (
            f"gthread workers × {args.gunicorn_threads} threads"
            if args.gunicorn_threads
            else "sync workers"
        )
        + " on 127.0.0.1, "
        "ATES_ENV=production, Redis rate-limit storage; "
        f"{population.popugs:,} popugs, {population.tasks:,} tasks "
        f"seeded by SQL ({still_open:,} open: every tenth popug has "
        "finished all its tasks, so that closing the day pays someone); schema by "
        f"{schema}. {args.clients} client threads for {duration:.0f} s "
        f"per run over {len(workers)} signed-in popugs, 2 accountants and a manager who "
        + (
            f"shuffles every {args.shuffle_every:.0f} s"
            if args.shuffle_every
            else "does not shuffle"
        )
        + "; an accountant closes the day half-way. "
        + (
            f"Script, gunicorn and the database's backends at niceness {args.priority}. "
            if args.priority
            else ""
        )
        + "Load average of the machine (shared with other work) "
        f"{load_before[0]:.1f} before, {load_after[0]:.1f} after.",
        "",
        f"### aTES, mixed ({mixed_total['rps']:.1f} requests/s)",
        "",
        markdown_table(HEADER, mixed_rows),
        "",
        '"alone ms": median of the page requested one at a time before the load (what a '
        'request costs the server). 4xx are expected refusals: "Mark done" on a task a '
        "shuffle has just given to someone else (403).",
        "",
        f"Statuses: {mixed_total['statuses']}. Events: {'; '.join(mixed.events) or 'none'}. "
        f"Load-generator errors: {len(mixed.client_errors) + len(bare.client_errors)}.",
        "",
        f"### Bare Flask + Jinja page, same load shape ({bare_total['rps']:.1f} requests/s)",
        "",
        markdown_table(HEADER, bare_rows[-1:]),
        "",
        f"The bare page alone: {bare.solo.get('board', 0):.0f} ms.",
        "",
        f"Mixed throughput is **{ratio:.2f}×** the bare page's (goal: at least 0.5×).",
        "",
        "### Where the CPU went",
        "",
        cpu_table([mixed, bare]),
        "",
        f"Shares of the machine's {os.cpu_count()} cores during each run (from /proc), and in "
        "brackets CPU milliseconds per request. PostgreSQL: the backends connected to the "
        "load database, shuffles included (not its background writers); job worker: the "
        "`flask jobs work` process (the shuffles' Python side); this script: the "
        "load generator.",
        "",
        "### Money and errors after the run",
        "",
        f"- `flask --app wsgi accounting verify`: exit {verify.returncode} ({verify_line}).",
        f"- sum(balances) {money['balances']:,} + payouts {money['payouts']:,} = "
        f"{money['balances'] + money['payouts']:,} cents; rewards {money['rewards']:,} − fees "
        f"{money['fees']:,} = {money['rewards'] - money['fees']:,} cents; "
        f"sum(balances) == sum(ledger) ({money['entries']:,}); accounts off their ledger: "
        f"{money['mismatched_accounts']}. After the run: {money['tasks']:,} tasks, "
        f"{money['shuffles']} shuffles ("
        + (", ".join(f"{n} {state}" for state, n in money["shuffle_states"].items()) or "none")
        + f"), {money['closed_days']} closed day(s).",
        "- Shuffles run by the job worker (ms waited in the queue / ms run / open tasks "
        "moved): "
        + (", ".join(f"{w:,} / {ms:,} / {n:,}" for w, ms, n in money["shuffle_ms"]) or "none")
        + "."
        + (f" Failed: {'; '.join(money['shuffle_errors'])}." if money["shuffle_errors"] else ""),
        f"- A 2 MB sign-in POST to gunicorn: {status_413}.",
        f"- Tracebacks or errors in the gunicorn log: {len(server_log_errors)}; "
        f"tracebacks in the job worker's log: {len(jobs_log_errors)}.",
        "",
        "Goals: "
        + ", ".join(f"{k}: {'met' if v else '**not met**'}" for k, v in goals.items())
        + ".",
        "",
    ]
    section = "\n".join(lines)
    print(section)
    if server_log_errors:
        print("\n".join(server_log_errors[:40]))
    if jobs_log_errors:
        print(jobs.final_log[-5000:])
    write_results(section, args.out)
    if args.quick:  # a smoke run: correctness only, the machine's speed is not its business
        goals.pop("mixed >= 1/2 of bare")
    return 0 if all(goals.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
