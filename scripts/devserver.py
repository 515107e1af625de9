"""Run aTES in a real server process on a fresh SQLite database, for browser tests and screenshots.

    with devserver.running(tmp_dir) as server:
        server.url             # http://127.0.0.1:<port>
        server.demo_logins     # {username: beak shape}, parsed from what `demo seed` printed

The database is migrated with `flask --app wsgi db upgrade` and seeded with
`flask --app wsgi demo seed`, exactly as `make run` does, then gunicorn serves `wsgi:app`
on a port the operating system picks (read back from gunicorn's log, so there is no race
for a "free" port), and the job worker (`flask --app wsgi jobs work`) runs the shuffles.
"""

import os
import re
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LISTENING = re.compile(r"Listening at: (http://127\.0\.0\.1:\d+)")
# What `demo seed` prints per popug: "  admin       Username: admin       Beak shape: hooked…"
DEMO_LINE = re.compile(r"^\s*(\w+)\s+Username:\s*(\S+)\s+Beak shape:\s*(.+?)\s*$")


def server_env(database: Path, **extra: str) -> dict[str, str]:
    """The environment of every process that works on the server's database."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("FLASK_", "ATES_", "ARGON2_", "SIGN_IN_", "RATELIMIT_"))
        and key not in {"DATABASE_URL", "SECRET_KEY", "TEST_DATABASE_URL"}
    }
    env.update(
        ATES_ENV="development",
        DATABASE_URL=f"sqlite:///{database}",
        SECRET_KEY="devserver-secret-key-only-for-local-test-runs",
        # Cheap beak-shape hashes: browser journeys sign in dozens of times.
        ARGON2_TIME_COST="1",
        ARGON2_MEMORY_COST="8",
        ARGON2_PARALLELISM="1",
        # Every sign-in comes from 127.0.0.1; the limits are tested by the route tests.
        SIGN_IN_LIMIT_PER_USERNAME="1000 per minute",
        SIGN_IN_LIMIT_PER_ADDRESS="1000 per minute",
        SIGN_IN_LIMIT_PER_USERNAME_TOTAL="1000 per minute",
        PYTHONUNBUFFERED="1",
    )
    env.update(extra)
    return env


@dataclass
class DevServer:
    url: str
    database: Path
    env: dict[str, str]
    process: subprocess.Popen
    log_path: Path
    worker: subprocess.Popen | None = None
    demo_logins: dict[str, str] = field(default_factory=dict)  # username -> beak shape
    demo_roles: dict[str, str] = field(default_factory=dict)  # username -> role

    def flask(self, *args: str) -> str:
        """Run `flask --app wsgi <args>` against the server's database; returns its output."""
        return flask_cli(self.env, *args)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self) -> None:
        for process in (self.process, self.worker):
            if process is not None and process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in (self.process, self.worker):
            if process is None:
                continue
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)


def flask_cli(env: dict[str, str], *args: str) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "flask", "--app", "wsgi", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    if result.returncode != 0:
        command = " ".join(args)
        raise RuntimeError(
            f"flask {command} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}"
        )
    return result.stdout


def parse_demo_logins(output: str) -> tuple[dict[str, str], dict[str, str]]:
    logins, roles = {}, {}
    for line in output.splitlines():
        match = DEMO_LINE.match(line)
        if match:
            role, username, beak = match.groups()
            logins[username] = beak
            roles[username] = role
    return logins, roles


def _wait_until_listening(process: subprocess.Popen, log_path: Path, deadline: float) -> str:
    while time.monotonic() < deadline:
        match = LISTENING.search(log_path.read_text(errors="replace"))
        if match:
            return match.group(1)
        if process.poll() is not None:
            break
        time.sleep(0.05)
    raise RuntimeError(f"aTES did not start listening:\n{log_path.read_text(errors='replace')}")


def _wait_until_ready(url: str, process: subprocess.Popen, deadline: float) -> None:
    last_error: Exception | None = None
    while time.monotonic() < deadline and process.poll() is None:
        try:
            with urllib.request.urlopen(url + "/sign-in", timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, OSError) as error:
            last_error = error
        time.sleep(0.05)
    raise RuntimeError(f"aTES at {url} did not answer /sign-in in time: {last_error!r}")


def start(workdir: Path, *, timeout: float = 30.0) -> DevServer:
    """Migrate and seed a fresh database under `workdir`, then serve it; returns when ready."""
    workdir.mkdir(parents=True, exist_ok=True)
    database = workdir / "ates.sqlite3"
    if database.exists():
        raise RuntimeError(f"{database} exists; the dev server wants a fresh database")
    env = server_env(database)
    flask_cli(env, "db", "upgrade")
    logins, roles = parse_demo_logins(flask_cli(env, "demo", "seed"))
    if not logins:
        raise RuntimeError("`flask demo seed` printed no sign-in details")

    log_path = workdir / "server.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gunicorn",
                "--bind",
                "127.0.0.1:0",
                "--workers",
                "1",
                "--threads",
                "8",
                "--graceful-timeout",
                "3",
                "--no-control-socket",
                "--access-logfile",
                "-",
                "wsgi:app",
            ],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    with (workdir / "worker.log").open("wb") as log:
        worker = subprocess.Popen(
            [sys.executable, "-m", "flask", "--app", "wsgi", "jobs", "work"],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    server = DevServer(
        url="",
        database=database,
        env=env,
        process=process,
        log_path=log_path,
        worker=worker,
        demo_logins=logins,
        demo_roles=roles,
    )
    try:
        deadline = time.monotonic() + timeout
        server.url = _wait_until_listening(process, log_path, deadline)
        _wait_until_ready(server.url, process, deadline)
    except BaseException:
        server.stop()
        raise
    return server


@contextmanager
def running(workdir: Path, *, timeout: float = 30.0) -> Iterator[DevServer]:
    server = start(workdir, timeout=timeout)
    try:
        yield server
    finally:
        server.stop()


# Debian's Chromium, driven by the Python playwright package (never `playwright install`).
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


def chromium_path() -> str | None:
    return shutil.which("chromium")


def launch_chromium(playwright):
    """A headless Debian Chromium (`playwright` is a started sync_playwright())."""
    return playwright.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
