"""Two app hosts behind a real load balancer, one PostgreSQL, and faults under load.

The test builds two app hosts on this machine as network namespaces (tests/reliability/
hosts.py), each running the Procfile's web and worker processes, behind HAProxy with
docs/haproxy.cfg, and one PostgreSQL server of its own that the hosts reach over the
namespaces' bridge. Through the balancer, signed in with the sign-in form, demo popugs
create tasks, complete theirs and search the board while a manager presses three shuffles,
for TWO_HOSTS_SECONDS (60 by default). Meanwhile it SIGKILLs the host whose worker holds the
runner lock (its whole process group), presses a shuffle for the other host's standby
worker, brings the killed host back, and restarts PostgreSQL.

Afterwards: every task creation answered with a redirect is in the database exactly once (a
creation that got an error is resubmitted with the same form, as a popug would), every
completion answered "Done!" is a done task with one reward, each pressed shuffle is done
once with its ledger lines, the standby ran the shuffle pressed while the other host was
down, every process is still running (a worker survives its database), and `flask accounting
verify` is clean. The report (requests sent, errors during each fault and for how long,
nothing lost) is printed and written to bench/results/two_hosts.md.

Runs in the PostgreSQL pass (TEST_DATABASE_URL) as root; without HAProxy, iproute2 or root it
is skipped, except under CI=true, where that is a failure.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import threading
import time
from collections import Counter
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import DBAPIError

from app.config import database_url
from app.db import lock_key
from app.demo import DEMO_POPUGS
from app.worker import RUNNER_LOCK
from tests.reliability import hosts
from tests.reliability.browsers import Browser, Record, popug_load
from tests.reliability.helpers import ROOT, flask_cli, poll, private_postgres
from tests.support.report import machine, markdown_table

pytestmark = pytest.mark.postgres

DURATION = float(os.environ.get("TWO_HOSTS_SECONDS", 60))
RESULTS = ROOT / "bench" / "results" / "two_hosts.md"  # git-ignored, as is:
LOGS = ROOT / "bench" / "results" / "two_hosts_logs"  # the last run's logs, kept
WORKERS = [username for username, role, _ in DEMO_POPUGS if role == "worker"]
MANAGER = next(username for username, role, _ in DEMO_POPUGS if role == "manager")
STATE_RE = re.compile(r'class="badge[^"]*">(Queued|Running|Done|Failed)<')
SHUFFLE_LOG_RE = re.compile(r"shuffle (\d+) (done|failed)")
# What each kind of request may answer besides an error (5xx, or no answer at all).
EXPECTED = {
    "sign in": {200, 302},
    "board": {200},
    "create": {303},
    "my tasks": {200},
    "complete": {200, 403},  # 403: a shuffle gave the task to someone else meanwhile
    "search": {200},
    "shuffle press": {303},
    "shuffle page": {200},
}


# --- the machine ------------------------------------------------------------------------


def _require_machine() -> None:
    reason = hosts.missing()
    if reason:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"{reason} (the two-hosts test must run in CI)", pytrace=False)
        pytest.skip(reason)


@dataclass
class Deployment:
    network: hosts.Network
    server: object  # helpers.PrivateServer
    hosts: list[hosts.Host]
    balancer: hosts.Balancer
    engine: object  # SQLAlchemy engine on the private server, for the checks
    logs: Path


@pytest.fixture
def deployment(tmp_path):
    """Network, PostgreSQL (migrated, demo popugs), two hosts and HAProxy; all of it taken
    down afterwards, whatever happened (each step's undo registered as it is made)."""
    _require_machine()
    logs = tmp_path / "logs"
    logs.mkdir()
    with ExitStack() as undo:
        network = hosts.Network(2)
        undo.callback(network.close)
        server = undo.enter_context(
            private_postgres(listen=(network.gateway,), trusted=(str(network.subnet),))
        )
        undo.callback(keep_logs, lambda: [tmp_path / "haproxy.log", server.log, *logs.iterdir()])
        for args, env in ((("db", "upgrade"), {}), (("demo", "seed"), {"ATES_ENV": "development"})):
            done = flask_cli(server.url, *args, **env)
            assert done.returncode == 0, f"flask {' '.join(args)}: {done.stdout}{done.stderr}"
        env = hosts.host_env(server.url_at(network.gateway), secrets.token_hex(32))
        app_hosts = []
        for n, (namespace, address) in enumerate(
            zip(network.namespaces, network.addresses, strict=True), start=1
        ):
            host = hosts.Host(f"host{n}", namespace, address, env, logs)
            undo.callback(host.stop)
            host.start()
            app_hosts.append(host)
        balancer = hosts.Balancer([f"{h.address}:{hosts.WEB_PORT}" for h in app_hosts], tmp_path)
        undo.callback(balancer.stop)
        engine = create_engine(database_url(server.url, server.url), pool_pre_ping=True)
        undo.callback(engine.dispose)
        for host in app_hosts:
            up = poll(lambda h=host: balancer.status(h.name) == "UP", timeout=90, interval=0.1)
            assert up, f"{host.name} never came up:\n{host.output('web')[-3000:]}"
        yield Deployment(network, server, app_hosts, balancer, engine, logs)


def keep_logs(paths) -> None:
    """Copy the run's logs (HAProxy, PostgreSQL, each host's processes) to LOGS, replacing
    the last run's; `paths` is called for the list once the processes have stopped."""
    shutil.rmtree(LOGS, ignore_errors=True)
    LOGS.mkdir(parents=True)
    for path in paths():
        if path.exists():
            shutil.copy(path, LOGS / path.name)


# --- the manager's shuffles and the faults ------------------------------------------------


@dataclass
class Timeline:
    events: list[tuple[float, str]] = field(default_factory=list)
    shuffles: list[dict] = field(default_factory=list)  # public_id, pressed, done, state
    victim: str = ""
    survivor: str = ""
    kill_at: float = 0.0
    down_seen_at: float = 0.0
    back_up_at: float = 0.0
    pg_at: float = 0.0
    pg_back_at: float = 0.0

    def note(self, record: Record, what: str) -> float:
        at = record.now()
        self.events.append((at, what))
        return at


def press_shuffle(manager: Browser, timeline: Timeline, stop_by: float) -> dict:
    """Press "Shuffle open tasks" (the same form again after an error or a refusal, until
    it is queued) and follow the shuffle's page until it is done or failed."""
    record = manager.record
    token = secrets.token_urlsafe(24)
    shuffle = {"pressed": record.now()}
    while "public_id" not in shuffle:
        form = {"csrf_token": manager.csrf, "form_token": token}
        response = manager.send("shuffle press", "POST", "/tasks/shuffle", data=form)
        location = urlsplit(response.headers.get("Location", "")).path if response else ""
        if location.startswith("/shuffles/"):
            shuffle["public_id"] = location.rsplit("/", 1)[1]
            break
        if record.now() > stop_by:
            raise AssertionError(f"the shuffle press was never queued (last: {location!r})")
        manager.send("board", "GET", "/")  # nothing to shuffle yet, or an error: look again
        time.sleep(0.2)
    timeline.note(record, f"shuffle {len(timeline.shuffles) + 1} pressed")
    while True:
        path = f"/shuffles/{shuffle['public_id']}"
        page = manager.send("shuffle page", "GET", path, headers={"HX-Request": "true"})
        state = STATE_RE.search(page.text) if page is not None and page.ok else None
        if state and state.group(1) in ("Done", "Failed"):
            shuffle.update(state=state.group(1), done=record.now())
            timeline.note(record, f"shuffle {len(timeline.shuffles) + 1} {state.group(1).lower()}")
            timeline.shuffles.append(shuffle)
            return shuffle
        if record.now() > stop_by:
            shuffle.update(state=state.group(1) if state else "no answer", done=None)
            timeline.shuffles.append(shuffle)
            return shuffle
        time.sleep(0.2)


def runner_lock_holder(deployment: Deployment) -> str | None:
    """The name of the host whose job worker holds the runner lock (by the address its
    database connection comes from), or None."""
    key = lock_key(RUNNER_LOCK)
    try:
        with deployment.engine.connect() as conn:
            address = conn.execute(
                text(
                    "SELECT host(a.client_addr) FROM pg_locks l JOIN pg_stat_activity a "
                    "ON a.pid = l.pid WHERE l.locktype = 'advisory' AND l.granted "
                    "AND l.classid::bigint = :high AND l.objid::bigint = :low"
                ),
                {"high": (key >> 32) & 0xFFFFFFFF, "low": key & 0xFFFFFFFF},
            ).scalar()
    except DBAPIError:
        return None
    return next((h.name for h in deployment.hosts if h.address == address), None)


def conduct(deployment: Deployment, manager: Browser, timeline: Timeline, duration: float):
    """The faults and the three shuffles, each at a share of the run or, if later, once the
    step before it has settled (a host booting on a busy machine takes its time)."""
    record = manager.record
    by_name = {host.name: host for host in deployment.hosts}
    balancer = deployment.balancer

    def at(share: float, settled: float = 0.0) -> None:
        wait = max(share * duration, settled) - record.now()
        if wait > 0:
            time.sleep(wait)  # the run's schedule, not a wait for something to happen

    stop_by = duration + 60  # no step may stretch the run by more than this
    at(0.08)
    press_shuffle(manager, timeline, stop_by)

    at(0.2)
    holder = poll(lambda: runner_lock_holder(deployment), timeout=30, interval=0.1)
    assert holder, "no job worker holds the runner lock"
    timeline.victim = holder
    timeline.survivor = next(name for name in by_name if name != holder)
    timeline.kill_at = timeline.note(record, f"SIGKILL {holder} (web and worker)")
    by_name[holder].kill()
    assert poll(lambda: balancer.status(holder).startswith("DOWN"), timeout=30, interval=0.05)
    timeline.down_seen_at = timeline.note(record, f"HAProxy: {holder} DOWN")
    press_shuffle(manager, timeline, stop_by)  # for the standby on the other host

    at(0.3)
    timeline.note(record, f"restart {holder}")
    by_name[holder].start()
    assert poll(lambda: balancer.status(holder) == "UP", timeout=90, interval=0.05), (
        f"{holder} never came back:\n{by_name[holder].output('web')[-3000:]}"
    )
    timeline.back_up_at = timeline.note(record, f"HAProxy: {holder} UP")

    at(0.55, settled=timeline.back_up_at + 0.05 * duration)
    timeline.pg_at = timeline.note(record, "restart PostgreSQL (fast shutdown)")
    deployment.server.restart()
    timeline.pg_back_at = timeline.note(record, "PostgreSQL accepts connections")

    at(0.7, settled=timeline.pg_back_at + 0.05 * duration)
    press_shuffle(manager, timeline, stop_by)


# --- the checks ---------------------------------------------------------------------------


def shuffles_run_by(deployment: Deployment) -> dict[int, list[tuple[str, str]]]:
    """{shuffle id: [(host, "done" or "failed"), …]} from the workers' logs."""
    runs: dict[int, list[tuple[str, str]]] = {}
    for host in deployment.hosts:
        for number, outcome in SHUFFLE_LOG_RE.findall(host.output("worker")):
            runs.setdefault(int(number), []).append((host.name, outcome))
    return runs


def database_problems(conn, record: Record, tag: str, pressed: list[dict]) -> list[str]:
    problems = []
    stored = dict(
        conn.execute(
            text("SELECT title, count(*) FROM task_texts WHERE title LIKE :tag GROUP BY title"),
            {"tag": f"{tag} %"},
        ).all()
    )
    lost = sorted(record.titles_created - set(stored))
    twice = sorted(title for title, copies in stored.items() if copies > 1)
    unknown = sorted(set(stored) - record.titles_sent)
    for what, titles in (("lost", lost), ("stored twice", twice), ("never sent", unknown)):
        if titles:
            problems.append(f"tasks {what}: {titles[:10]} ({len(titles)})")

    done = dict(
        conn.execute(
            text(
                "SELECT x.public_id, t.status FROM task_texts x JOIN tasks t ON t.id = x.task_id "
                "WHERE x.public_id = ANY(:ids)"
            ),
            {"ids": sorted(record.completed)},
        ).all()
    )
    not_done = sorted(p for p in record.completed if done.get(p) != "done")
    if not_done:
        problems.append(f"completions answered 'Done!' but not done: {not_done[:10]}")
    rewards = conn.execute(
        text(
            "SELECT count(*) FROM tasks t WHERE (t.status = 'done') <> ((SELECT count(*) FROM "
            "ledger_entries e WHERE e.kind = 'reward' AND e.task_id = t.id) = 1)"
        )
    ).scalar()
    if rewards:
        problems.append(f"{rewards} tasks whose rewards do not match their state (done: one)")

    rows = conn.execute(  # pressed through the page (the demo seed's own has no form token)
        text(
            "SELECT id, public_id, status, tasks_count FROM shuffles "
            "WHERE form_token IS NOT NULL ORDER BY id"
        )
    ).all()
    by_public = {row.public_id: row for row in rows}
    wanted = [shuffle.get("public_id") for shuffle in pressed]
    if sorted(by_public) != sorted(filter(None, wanted)) or len(wanted) != 3:
        problems.append(f"shuffles in the database {sorted(by_public)}, pressed {wanted}")
    for row in rows:
        if row.status != "done":
            problems.append(f"shuffle {row.id} is {row.status}")
            continue
        lines, line_sum, entries_sum = conn.execute(
            text(
                "SELECT (SELECT count(*) FROM shuffle_lines WHERE shuffle_id = :id), "
                "(SELECT coalesce(sum(l.amount), 0) FROM ledger_lines l JOIN ledger_entries e "
                " ON e.id = l.entry_id WHERE e.shuffle_id = :id), "
                "(SELECT coalesce(sum(amount), 0) FROM ledger_entries WHERE shuffle_id = :id)"
            ),
            {"id": row.id},
        ).one()
        if not lines == row.tasks_count or line_sum != entries_sum:
            problems.append(
                f"shuffle {row.id} moved {row.tasks_count} tasks but has {lines} lines "
                f"summing to {line_sum} for entries of {entries_sum}"
            )
    return problems


def process_problems(deployment: Deployment, timeline: Timeline) -> list[str]:
    problems = []
    for host in deployment.hosts:
        for process, alive in host.running().items():
            if not alive:
                problems.append(
                    f"{host.name}'s {process} exited (code {host.processes[process].poll()}):\n"
                    + host.output(process)[-2500:]
                )
    with deployment.engine.connect() as conn:
        ids = dict(conn.execute(text("SELECT public_id, id FROM shuffles")).all())
    runs = shuffles_run_by(deployment)
    for number, shuffle in enumerate(timeline.shuffles, start=1):
        shuffle_id = ids.get(shuffle.get("public_id"))
        ran = runs.get(shuffle_id, [])
        shuffle["run_by"] = ", ".join(f"{h} ({outcome})" for h, outcome in ran) or "nobody"
        if [outcome for _, outcome in ran] != ["done"]:
            problems.append(f"shuffle {number} (id {shuffle_id}) ran: {ran or 'never'}")
        if number == 2 and ran and ran[0][0] != timeline.survivor:
            problems.append(f"shuffle 2 ran on {ran[0][0]}, not the standby on the other host")
    return problems


# --- the report ---------------------------------------------------------------------------


def fault_rows(record: Record, timeline: Timeline, end: float) -> list[list]:
    phases = [
        ("sign-ins, then before the faults", record.sent[0].started, timeline.kill_at),
        (f"{timeline.victim} killed until back up", timeline.kill_at, timeline.back_up_at),
        ("both hosts up again", timeline.back_up_at, timeline.pg_at),
        ("PostgreSQL restarted, to the end", timeline.pg_at, end),
    ]
    rows = []
    for name, start, stop in phases:
        inside = [s for s in record.sent if start <= s.ended < stop]
        errors = [s for s in inside if s.error]
        span = f"{errors[0].started:.1f}–{errors[-1].ended:.1f} s" if errors else "–"
        kinds = Counter(f"{s.status or 'no answer'}" for s in errors)
        rows.append(
            [
                name,
                f"{start:.1f}–{stop:.1f} s",
                len(inside),
                len(errors),
                ", ".join(f"{k}: {v}" for k, v in sorted(kinds.items())) or "–",
                span,
                f"{errors[-1].ended - errors[0].started:.2f} s" if errors else "0 s",
            ]
        )
    return rows


def report(deployment, record, timeline, end, problems, verify_output) -> str:
    kinds = Counter(s.kind for s in record.sent)
    statuses: dict[str, Counter] = {}
    for s in record.sent:
        statuses.setdefault(s.kind, Counter())[str(s.status or "no answer")] += 1
    sent_rows = [
        [kind, kinds[kind], ", ".join(f"{k}: {v}" for k, v in sorted(statuses[kind].items()))]
        for kind in EXPECTED
        if kind in kinds
    ]
    shuffle_rows = [
        [n, f"{s['pressed']:.1f} s", f"{s['done']:.1f} s" if s.get("done") else "–",
         s.get("state", "?"), s.get("run_by", "?")]
        for n, s in enumerate(timeline.shuffles, start=1)
    ]  # fmt: skip
    downtime = timeline.back_up_at - timeline.kill_at
    no_answer = Counter(s.failure for s in record.sent if not s.status)
    lines = [
        f"# Two hosts behind HAProxy: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
        "",
        f"{machine()}; {len(WORKERS)} popugs and a manager for {end:.0f} s through HAProxy "
        f"(docs/haproxy.cfg, TLS) to two hosts (network namespaces, the Procfile's "
        f"`gunicorn --workers 4` and job worker each), one PostgreSQL.",
        "",
        f"Requests sent: {len(record.sent)} ({len(record.sent) / end:.1f}/s).",
        "",
        markdown_table(["request", "sent", "answers"], sent_rows),
        "",
        "Faults: SIGKILL of the host whose worker held the runner lock "
        f"({timeline.victim}) at {timeline.kill_at:.1f} s; HAProxy saw it down after "
        f"{timeline.down_seen_at - timeline.kill_at:.2f} s; back up at {timeline.back_up_at:.1f}"
        f" s ({downtime:.1f} s without it). PostgreSQL restarted (fast shutdown) at "
        f"{timeline.pg_at:.1f} s, accepting connections again after "
        f"{timeline.pg_back_at - timeline.pg_at:.2f} s.",
        "",
        markdown_table(
            ["phase", "when", "answered", "errors", "statuses", "errors from–to", "for"],
            fault_rows(record, timeline, end),
        ),
        "",
        markdown_table(["shuffle", "pressed", "finished", "state", "run by"], shuffle_rows),
        "",
        "Requests that got no answer: "
        + (
            "; ".join(f"{n} × {why[:160]}" for why, n in no_answer.most_common(5))
            if no_answer
            else "none"
        )
        + ".",
        "",
        f"Tasks: {len(record.titles_sent)} sent, {len(record.titles_created)} answered with a "
        f"redirect; completions answered 'Done!': {len(record.completed)}.",
        f"`flask accounting verify`: {verify_output}",
        "",
        "Nothing lost: every creation answered is stored once, every completion answered is "
        "done with one reward, each shuffle done once with its ledger lines."
        if not problems
        else "Problems:\n\n" + "\n".join(f"- {p}" for p in problems),
        "",
        "Timeline:",
        "",
        *(f"- {at:6.2f} s {what}" for at, what in timeline.events),
    ]
    return "\n".join(lines) + "\n"


# --- the test -----------------------------------------------------------------------------


def test_two_hosts_behind_a_load_balancer_lose_nothing(deployment):
    record = Record()
    tag = f"th{secrets.token_hex(3)}"
    base, cert = deployment.balancer.url, str(deployment.balancer.cert)
    manager = Browser(base, cert, record, MANAGER)
    browsers = [Browser(base, cert, record, username) for username in WORKERS]
    for browser in [manager, *browsers]:
        browser.sign_in()
    load_starts = time.monotonic()  # the run's clock starts with the load: sign-ins before 0
    for sent in record.sent:
        sent.started -= load_starts - record.started
        sent.ended -= load_starts - record.started
    record.started = load_starts
    stop = threading.Event()
    threads = [
        threading.Thread(target=popug_load, args=(b, tag, n, stop), daemon=True)
        for n, b in enumerate(browsers)
    ]
    for thread in threads:
        thread.start()
    timeline = Timeline()
    problems = []
    try:
        conduct(deployment, manager, timeline, DURATION)
        wait = DURATION - record.now()
        if wait > 0:
            time.sleep(wait)  # the rest of the run's load
    except AssertionError as error:
        problems.append(f"the run stopped: {error}")
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=120)
    end = record.now()

    problems += record.crashes
    for s in record.sent:
        if not s.error and s.status not in EXPECTED[s.kind]:
            problems.append(f"{s.kind} answered {s.status} at {s.started:.1f} s")
    if timeline.kill_at and any(s.error for s in record.sent if s.ended < timeline.kill_at):
        problems.append("errors before any fault")
    if any(s.status == 500 for s in record.sent):
        problems.append("500 answers (the app failed, not a fault)")
    problems += process_problems(deployment, timeline)
    with deployment.engine.connect() as conn:
        problems += database_problems(conn, record, tag, timeline.shuffles)
    verify = flask_cli(deployment.server.url, "accounting", "verify")
    verify_output = f"exit {verify.returncode}: {(verify.stdout + verify.stderr).strip()[-500:]}"
    if verify.returncode != 0:
        problems.append(f"accounting verify: {verify_output}")

    text_ = report(deployment, record, timeline, end, problems, verify_output)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(text_)
    print(text_)
    assert not problems, "\n".join(problems)
