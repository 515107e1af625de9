"""The production deployment as tests and benchmarks start it: every process of the
repository's `Procfile` exactly as written (only gunicorn's bind, HOST_PORT, swapped for a
free port), with nothing but ATES_ENV=production, DATABASE_URL and SECRET_KEY in the
environment (`start_deployment`, `stop`); and a manager's shuffle pressed over HTTP and
followed as htmx polls it, while a worker reloads the board (`press_and_follow`).
tests/test_procfile.py and tests/reliability use it; bench/deploy_shuffle.py and the other
deployment benchmarks import it from here.
"""

from __future__ import annotations

import os
import re
import secrets
import shlex
import signal
import subprocess
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit

from tests.support.http import Client, free_port
from tests.support.seeding import Population

ROOT = Path(__file__).resolve().parents[2]
HOST_PORT = "127.0.0.1:8000"
MANAGER = "popug-2"  # Population: the managers follow the admin
FORM_TOKEN_RE = re.compile(r'name="form_token" type="hidden" value="([^"]+)"')
STATE_RE = re.compile(r'class="badge[^"]*">(Queued|Running|Done|Failed)<')
HTMX = {"HX-Request": "true"}  # the state fragment, as the page's polling asks for it
TOOK_RE = re.compile(r"<dt>Took</dt><dd>([\d,]+) ms</dd>")


def procfile() -> dict[str, list[str]]:
    lines = (ROOT / "Procfile").read_text().splitlines()
    return {
        name.strip(): shlex.split(command)
        for name, _, command in (line.partition(":") for line in lines if line.strip())
    }


def start_deployment(
    url: str, logs: Path, root: Path = ROOT, port: int | None = None, **settings: str
) -> tuple[dict[str, subprocess.Popen], int]:
    """The Procfile's processes on `url`, started in `root` (a checkout), with only
    ATES_ENV, DATABASE_URL and SECRET_KEY set (and any further `settings`); their output in
    `logs`/<name>.log. gunicorn binds `port` (default: a free one) instead of the Procfile's."""
    port = port or free_port()
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("ATES_", "MAIL_", "RATELIMIT_", "TEST_DATABASE", "FLASK_"))
        and key not in ("DATABASE_URL", "SECRET_KEY")
    }
    env.update(ATES_ENV="production", DATABASE_URL=url, SECRET_KEY=secrets.token_hex(32))
    env.update(settings)
    processes = {}
    for name, argv in procfile().items():
        argv = [arg.replace(HOST_PORT, f"127.0.0.1:{port}") for arg in argv]
        with (logs / f"{name}.log").open("wb") as log:  # the child keeps its own copy
            processes[name] = subprocess.Popen(
                argv, cwd=root, env=env, stdout=log, stderr=subprocess.STDOUT
            )
    deadline = time.monotonic() + 60
    probe = Client(port, [], threading.Lock())
    while probe.request(None, "GET", "/sign-in")[0] != 200:
        if time.monotonic() > deadline or processes["web"].poll() is not None:
            raise RuntimeError((logs / "web.log").read_text())
        time.sleep(0.2)
    return processes, port


def stop(processes: dict[str, subprocess.Popen]) -> None:
    for process in processes.values():
        process.send_signal(signal.SIGTERM)
    for process in processes.values():
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()


def reader(client: Client, stop_reading: threading.Event, seen: dict) -> None:
    """A worker reloading the board and My tasks once a second each, while it runs."""
    while not stop_reading.is_set():
        for path, label in (("/", "board"), ("/my-tasks", "my tasks")):
            started = time.perf_counter()
            status, page = client.request(None, "GET", path)
            seconds = time.perf_counter() - started
            seen.setdefault(label, []).append((status, seconds, 'id="shuffle-notice"' in page))
        stop_reading.wait(1)


def press_and_follow(port: int, population: Population) -> dict:
    manager = Client(port, [], threading.Lock())
    worker = Client(port, [], threading.Lock())
    # the last popug is a worker, active unless its id is a multiple of 97
    last = population.popugs - (population.popugs % 97 == 0)
    assert manager.sign_in(MANAGER) and worker.sign_in(f"popug-{last}"), "sign-in failed"
    status, confirm = manager.request(None, "GET", "/tasks/shuffle")
    token = FORM_TOKEN_RE.search(confirm)
    assert status == 200 and token, "no confirmation page"
    seen: dict = {}
    stop_reading = threading.Event()
    reading = threading.Thread(target=reader, args=(worker, stop_reading, seen))
    reading.start()
    pressed = time.perf_counter()
    status, _ = manager.request(
        None, "POST", "/tasks/shuffle", {"csrf_token": manager.csrf, "form_token": token.group(1)}
    )
    press_s = time.perf_counter() - pressed
    location = urlsplit(manager.location).path
    assert status == 303 and location, f"press answered {status}"
    states, polls = [], []
    try:
        while True:
            started = time.perf_counter()
            status, fragment = manager.request(None, "GET", location, headers=HTMX)
            polls.append(time.perf_counter() - started)
            state = STATE_RE.search(fragment)
            label = state.group(1) if state else f"HTTP {status}"
            running = re.search(r"Running for (\d+) s", fragment)
            states.append(f"{label} {running.group(1)} s" if running else label)
            if label in ("Done", "Failed") or time.perf_counter() - pressed > 3600:
                break
            time.sleep(1)
    finally:
        stop_reading.set()
        reading.join()
    result_s = time.perf_counter() - pressed
    _, page = manager.request(None, "GET", location)
    took = TOOK_RE.search(page)
    lead = re.search(r'class="lead">(.*?)</p>', page, re.S)
    return {
        "press_s": press_s,
        "result_s": result_s,
        "took_ms": int(took.group(1).replace(",", "")) if took else None,
        "result": re.sub(r"<[^>]+>", "", lead.group(1)).strip() if lead else "?",
        "states": states,
        "slowest_poll_s": max(polls),
        "reads": seen,
    }
