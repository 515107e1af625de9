"""Shared pieces of the reliability tests: throw-away databases, separate app instances bound
to those databases, a PostgreSQL server of the test's own, subprocesses and the money checks.
Bulk seeding is tests.support.seeding.seed, which the benchmarks use too.

The suite's own `app` fixture is bound to TEST_DATABASE_URL (or SQLite in memory); the fault
tests need a database that a second process can open too, so each gets its own: a SQLite
file under tmp_path, or a fresh PostgreSQL database on the TEST_DATABASE_URL server that is
dropped afterwards.
"""

from __future__ import annotations

import os
import pwd
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import create_engine, func, make_url, select, text
from sqlalchemy.engine import Engine

from app import create_app
from app.config import TestConfig, database_url
from app.extensions import db

ROOT = Path(__file__).absolute().parents[2]  # not resolved: a symlinked copy runs its own app
PYTHON = sys.executable
TEST_DATABASE_URL = os.environ.get("TEST_DATABASE_URL", "")
ON_POSTGRES = TestConfig.SQLALCHEMY_DATABASE_URI.startswith("postgresql")
BACKENDS = ["sqlite", "postgresql"]
SECRET_KEY = "reliability-secret-key-0123456789abcdef"


# --- databases -------------------------------------------------------------------------


def _pg_admin(url: str) -> Engine:
    """AUTOCOMMIT engine on the server's maintenance database, for CREATE/DROP DATABASE."""
    return create_engine(make_url(url).set(database="postgres"), isolation_level="AUTOCOMMIT")


_drops: list[threading.Thread] = []


def _drop(admin: Engine, name: str) -> None:
    try:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        admin.dispose()


def wait_for_drops() -> None:
    """Join the background drops of scratch databases (the session's teardown calls it)."""
    while _drops:
        _drops.pop().join(timeout=120)


@contextmanager
def scratch_database(backend: str, tmp_path: Path) -> Iterator[str]:
    """A new empty database URL for one test: a SQLite file in tmp_path, or a PostgreSQL
    database created on the TEST_DATABASE_URL server and dropped (forcefully) afterwards.

    DROP DATABASE waits for a checkpoint, seconds on a busy shared server, so the drop runs
    in a background thread and the session's end waits for all of them."""
    if backend == "sqlite":
        yield f"sqlite:///{tmp_path / 'ates.sqlite3'}"
        return
    base = database_url(TEST_DATABASE_URL, TEST_DATABASE_URL)
    name = f"ates_rel_{secrets.token_hex(5)}"
    url = make_url(base).set(database=name).render_as_string(hide_password=False)
    admin = _pg_admin(base)
    try:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
        yield url
    finally:
        drop = threading.Thread(target=_drop, args=(admin, name), daemon=True)
        drop.start()
        _drops.append(drop)


def config_for(url: str, **overrides) -> type[TestConfig]:
    """TestConfig bound to `url`; `overrides` become class attributes (e.g. MAIL_SERVER)."""
    attrs = {"SQLALCHEMY_DATABASE_URI": database_url(url, url), **overrides}
    return type("ReliabilityConfig", (TestConfig,), attrs)


@contextmanager
def app_on(url: str, **overrides):
    """A second aTES app bound to `url`, with its app context pushed (its own db.session)."""
    app = create_app(config_for(url, **overrides))
    with app.app_context():
        try:
            yield app
        finally:
            db.session.remove()
            db.engine.dispose()


def create_schema(url: str) -> None:
    with app_on(url):
        db.create_all()


def server_env(url: str, **extra: str) -> dict[str, str]:
    """Environment of a separate aTES process (CLI, gunicorn) on the database `url`."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("MAIL_")}
    env.update(
        ATES_ENV="production",
        DATABASE_URL=url,
        SECRET_KEY=SECRET_KEY,
        ATES_TIMEZONE="UTC",
        RATELIMIT_STORAGE_URI="database://",  # production refuses memory://
        PYTHONUNBUFFERED="1",
    )
    env.update(extra)  # may replace any of the above (ATES_ENV=development for `demo seed`)
    return env


# --- a PostgreSQL server of the test's own ----------------------------------------------


def pg_bin_dir() -> Path:
    """The directory of initdb/pg_ctl: pg_config's BINDIR, or Debian's versioned path."""
    found = shutil.which("pg_config")
    if found:
        out = subprocess.run([found, "--bindir"], capture_output=True, text=True, check=False)
        if out.returncode == 0 and (Path(out.stdout.strip()) / "initdb").exists():
            return Path(out.stdout.strip())
    versions = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
    if not versions:
        pytest.fail("PostgreSQL server binaries (initdb, pg_ctl) are not installed")
    return versions[-1].parent


def free_port(address: str = "127.0.0.1") -> int:
    with socket.socket() as probe:
        probe.bind((address, 0))
        return probe.getsockname()[1]


class PrivateServer:
    """A throwaway PostgreSQL cluster, so that a test can really restart a server without
    disturbing the shared one the rest of the suite uses. It listens on the loopback and
    on `listen` (further addresses of this machine), and trusts connections from the
    `trusted` networks too (CIDR). PostgreSQL refuses to run as root, so under root (CI)
    the cluster belongs to the `postgres` system user."""

    def __init__(self, root: Path, *, listen: tuple[str, ...] = (), trusted: tuple[str, ...] = ()):
        self.bin = pg_bin_dir()
        self.data = root / "data"
        self.log = root / "server.log"
        self.port = free_port()
        self.user = "postgres" if os.geteuid() == 0 else None
        if self.user:
            owner = pwd.getpwnam(self.user)
            os.chown(root, owner.pw_uid, owner.pw_gid)
        self._run("initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres", "-E", "UTF8")
        with (self.data / "pg_hba.conf").open("a") as hba:
            for network in trusted:
                hba.write(f"host all all {network} trust\n")
        addresses = ",".join(("127.0.0.1", *listen))
        self.options = (
            f"-p {self.port} -c listen_addresses={addresses} -c unix_socket_directories={root}"
        )
        self._run(
            "pg_ctl", "-D", str(self.data), "-l", str(self.log), "-o", self.options, "-w", "start"
        )
        self.url = self.url_at("127.0.0.1")

    def url_at(self, address: str, database: str = "postgres") -> str:
        """The URL of `database` on this server, reached at `address`."""
        return f"postgresql://postgres@{address}:{self.port}/{database}"

    def _run(self, program: str, *args: str) -> None:
        command = [str(self.bin / program), *args]
        if self.user:
            command = ["runuser", "-u", self.user, "--", *command]
        done = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
        assert done.returncode == 0, f"{program} failed: {done.stdout}{done.stderr}"

    def restart(self) -> None:
        """Fast shutdown (every session is terminated, open transactions roll back), then
        start again with the same options."""
        self._run(
            "pg_ctl", "-D", str(self.data), "-l", str(self.log), "-m", "fast", "-w", "restart"
        )

    def stop(self) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")


@contextmanager
def private_postgres(**where) -> Iterator[PrivateServer]:
    """A PrivateServer in a temporary directory (PrivateServer's `listen` and `trusted`),
    stopped and removed afterwards however the test ends."""
    root = Path(tempfile.mkdtemp(prefix="ates-pg-"))
    server = None
    try:
        server = PrivateServer(root, **where)
        yield server
    finally:
        if server is not None:
            server.stop()
        shutil.rmtree(root, ignore_errors=True)


# --- money checks ----------------------------------------------------------------------


def balance_mismatches() -> list[tuple[int, int, int]]:
    """[(account id, balance, ledger sum)] of accounts whose balance is not their ledger sum;
    in the current app context, independent of accounting's own verify()."""
    from app.blueprints.accounting.models import Account, LedgerEntry

    sums = (
        select(LedgerEntry.account_id, func.sum(LedgerEntry.amount).label("total"))
        .group_by(LedgerEntry.account_id)
        .subquery()
    )
    rows = db.session.execute(
        select(Account.id, Account.balance, func.coalesce(sums.c.total, 0)).outerjoin(
            sums, sums.c.account_id == Account.id
        )
    ).all()
    return [(a, int(b), int(s)) for a, b, s in rows if int(b) != int(s)]


def verify_problems() -> list[str]:
    """accounting.verify.verify() (the `accounting verify` command's check)."""
    from app.blueprints.accounting.verify import verify

    return verify()


def assert_books(context: str = "") -> None:
    assert balance_mismatches() == [], f"balance != ledger sum {context}"
    problems = verify_problems()
    assert problems == [], f"accounting verify {context}: {problems}"


# --- processes -------------------------------------------------------------------------


class Child:
    """A subprocess whose stdout lines are collected by a thread, so the test can wait for a
    line with a deadline and kill the process at a chosen moment."""

    def __init__(self, args: list[str], env: dict[str, str] | None = None):
        self.proc = subprocess.Popen(
            args,
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            bufsize=1,
        )
        self.lines: list[str] = []
        self._seen = threading.Condition()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        for line in self.proc.stdout:
            with self._seen:
                self.lines.append(line.rstrip("\n"))
                self._seen.notify_all()
        with self._seen:
            self._seen.notify_all()

    def wait_for(self, marker: str, timeout: float = 60.0) -> str:
        """The first output line starting with `marker`; fails with the output so far."""
        deadline = time.monotonic() + timeout
        with self._seen:
            while True:
                for line in self.lines:
                    if line.startswith(marker):
                        return line
                left = deadline - time.monotonic()
                if left <= 0 or (self.proc.poll() is not None and not self._reader.is_alive()):
                    raise AssertionError(
                        f"no {marker!r} from the child (exit {self.proc.poll()}):\n"
                        + "\n".join(self.lines[-40:])
                    )
                self._seen.wait(min(left, 0.2))

    def kill(self) -> int:
        self.proc.send_signal(signal.SIGKILL)
        return self.proc.wait(timeout=30)

    def finish(self, timeout: float = 120.0) -> int:
        code = self.proc.wait(timeout=timeout)
        self._reader.join(timeout=10)
        return code

    @property
    def output(self) -> str:
        return "\n".join(self.lines)

    def close(self) -> None:
        if self.proc.poll() is None:
            self.kill()
        self._reader.join(timeout=10)
        self.proc.stdout.close()


def flask_cli(url: str, *args: str, timeout: float = 120.0, **env: str):
    """Run `flask --app wsgi …` as a separate process on database `url`."""
    return subprocess.run(
        [str(Path(PYTHON).parent / "flask"), "--app", "wsgi", *args],
        cwd=ROOT,
        env=server_env(url, **env),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def cli_has(*command: str) -> bool:
    """Whether `flask --app wsgi <command…>` exists in this app (checked without a process)."""
    from flask import current_app

    group = current_app.cli
    ctx = None
    for name in command:
        found = group.get_command(ctx, name) if hasattr(group, "get_command") else None
        if found is None:
            return False
        group = found
    return True


def poll(predicate: Callable[[], object], *, timeout: float, interval: float = 0.02):
    """Call `predicate` until it returns something truthy; returns it, or None at the
    deadline."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            return None
        time.sleep(interval)


def waiting_on_advisory_lock(admin: Engine, name: str) -> int | None:
    """The pid of a backend of database `name` waiting for an advisory lock, or None."""
    with admin.connect() as conn:
        return conn.execute(
            text(
                "SELECT pid FROM pg_stat_activity WHERE datname = :db AND wait_event_type = "
                "'Lock' AND wait_event = 'advisory' AND pid <> pg_backend_pid()"
            ),
            {"db": name},
        ).scalar()
