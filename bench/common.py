"""Shared helpers for the benchmark scripts in bench/.

- `bench_app(url)`: the real aTES app on a given database, with cheap password hashing
  (it lives in tests/support/apps.py, imported here).
- `fresh_database(url, name)`: a new SQLite file in a temporary directory, or a new
  PostgreSQL database (created, then dropped afterwards); `copy_database` clones one.
- `seed(engine, population)`: the one bulk seeder of the benchmarks and the tests, which
  lives in tests/support/seeding.py (imported here). `named_database` names the databases
  of a script with several.
- `StatementLog`: per-statement timings from SQLAlchemy's cursor events.
- `check_ledger`: the money invariants a benchmark re-checks after writing (seeding.py).
- `quantile`, `peak_rss_mb`, `markdown_table`, `machine`: figures for the report
  (`markdown_table` and `machine` live in tests/support/report.py).

A script imports this as `bench.common` after putting the repository root on sys.path.
"""

from __future__ import annotations

import math
import re
import resource
import shutil
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import create_engine, event, make_url
from sqlalchemy.engine import Engine

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from app.config import database_url  # noqa: E402
from tests.support.apps import bench_app, bench_config  # noqa: E402, F401
from tests.support.report import machine, markdown_table  # noqa: E402, F401
from tests.support.seeding import (  # noqa: E402, F401 - the benchmarks' names for them
    BENCH_BEAK,
    ELIGIBLE_ROLES,
    SEED_END,
    SEEDED_TABLES,
    TASK_SPACING_S,
    Population,
    _Sql,
    assert_ledger_consistent,
    check_ledger,
    popug_session_id,
    seed,
    settle,
)

# --- the app ---------------------------------------------------------------------------


def search_paths(tasks: int) -> dict[str, str]:
    """The board searches the benchmarks time, for data seeded by `seed` with `tasks` tasks
    (every title "Seeded task <i>", every third task the Jira ID UBERPOP-<i>): {label: path}."""
    return {
        "Search a word of every title (?q=task)": "/?q=task",
        "Search ?q=task&filter=done": "/?q=task&filter=done",
        "Search ?q=seeded+task&filter=mine": "/?q=seeded+task&filter=mine",
        "Search a rare word (?q=<last id>)": f"/?q={tasks}",
        "Search a prefix (?q=<4 digits>)": f"/?q={str(tasks)[:4]}",
        "Search a Jira ID (?q=uberpop-<id>)": f"/?q=uberpop-{tasks // 3 * 3}",
    }


# --- databases -------------------------------------------------------------------------

_DB_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


def is_postgres_url(url: str | None) -> bool:
    return bool(url) and url.startswith(("postgres://", "postgresql"))


def _pg_admin(url: str) -> Engine:
    """An AUTOCOMMIT engine on the server's `postgres` database, for CREATE/DROP DATABASE."""
    return create_engine(
        make_url(database_url(url, url)).set(database="postgres"), isolation_level="AUTOCOMMIT"
    )


def _pg_name(url: str) -> str:
    name = make_url(database_url(url, url)).database or ""
    if not _DB_NAME.match(name):
        raise ValueError(f"refusing database name {name!r}: use lower-case letters, digits, _")
    return name


def with_database_name(url: str, name: str) -> str:
    """The same server URL, naming another database (PostgreSQL) or file (SQLite)."""
    parsed = make_url(database_url(url, url))
    if parsed.get_backend_name() == "sqlite":
        path = Path(parsed.database or "")
        return f"sqlite:///{path.with_name(name + '.sqlite3')}"
    renamed = parsed.set(database=name).render_as_string(hide_password=False)
    _pg_name(renamed)
    return renamed


def named_database(prefix_url: str | None, suffix: str) -> str | None:
    """A database for one part of a run: on `prefix_url`'s PostgreSQL server the database
    NAME_suffix (NAME from the URL), or None for SQLite (fresh_database then makes a file)."""
    if not prefix_url:
        return None
    url = database_url(prefix_url, prefix_url)
    if is_postgres_url(url):
        return with_database_name(url, f"{make_url(url).database}_{suffix}")
    return with_database_name(url, suffix)


def create_database(url: str, *, template: str | None = None) -> None:
    """(Re)create the PostgreSQL database named in `url`, empty or as a copy of `template`."""
    name = _pg_name(url)
    admin = _pg_admin(url)
    try:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            if template is None:
                conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
            else:
                source = _pg_name(template)
                # FILE_COPY: checkpoint + copy the files; much faster than WAL_LOG for a
                # database of a few GB, and it leaves no copy in shared buffers to favour a run.
                conn.exec_driver_sql(
                    f'CREATE DATABASE "{name}" TEMPLATE "{source}" STRATEGY FILE_COPY'
                )
    finally:
        admin.dispose()


def drop_database(url: str) -> None:
    if is_postgres_url(url):
        name = _pg_name(url)
        admin = _pg_admin(url)
        try:
            with admin.connect() as conn:
                conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            admin.dispose()
    else:
        path = Path(make_url(url).database or "")
        for suffix in ("", "-wal", "-shm", "-journal"):
            Path(str(path) + suffix).unlink(missing_ok=True)


def copy_database(source: str, target: str) -> None:
    """Make `target` an exact copy of `source` (no connection may be open on either)."""
    if is_postgres_url(source):
        create_database(target, template=source)
        return
    drop_database(target)
    src = Path(make_url(source).database or "")
    if Path(str(src) + "-wal").exists() and Path(str(src) + "-wal").stat().st_size:
        raise RuntimeError(f"{src} has an un-checkpointed WAL; checkpoint before copying")
    shutil.copyfile(src, make_url(target).database or "")


@contextmanager
def fresh_database(url: str | None, name: str) -> Iterator[str]:
    """A new empty database for one benchmark run, removed afterwards.

    `url` None: a SQLite file `<name>.sqlite3` in a new temporary directory.
    `url` a PostgreSQL URL: that database is dropped if it exists, created, and dropped
    at the end (the URL's user must be allowed to CREATE DATABASE).
    """
    if not url:
        with tempfile.TemporaryDirectory(prefix="ates-bench-") as tmp:
            yield f"sqlite:///{Path(tmp) / (name + '.sqlite3')}"
        return
    url = database_url(url, url)
    create_database(url)
    try:
        yield url
    finally:
        drop_database(url)


def describe_database(engine: Engine) -> str:
    with engine.connect() as conn:
        if engine.dialect.name == "postgresql":
            version = conn.exec_driver_sql("SHOW server_version").scalar()
            buffers = conn.exec_driver_sql("SHOW shared_buffers").scalar()
            return f"PostgreSQL {version} (shared_buffers {buffers}), psycopg 3"
        version = conn.exec_driver_sql("SELECT sqlite_version()").scalar()
        return f"SQLite {version} (WAL, synchronous=NORMAL, file in a temp dir)"


def checkpoint(engine: Engine) -> None:
    """Start a timed run from a clean state: PostgreSQL CHECKPOINT, SQLite WAL checkpoint."""
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        if engine.dialect.name == "postgresql":
            conn.exec_driver_sql("CHECKPOINT")
        else:
            conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")


# --- timing ----------------------------------------------------------------------------


class StatementLog:
    """Wall time of every SQL statement an engine runs, from its cursor events."""

    def __init__(self, engine: Engine):
        self.engine = engine
        self.entries: list[tuple[str, float]] = []
        event.listen(engine, "before_cursor_execute", self._before)
        event.listen(engine, "after_cursor_execute", self._after)

    def close(self) -> None:
        event.remove(self.engine, "before_cursor_execute", self._before)
        event.remove(self.engine, "after_cursor_execute", self._after)

    def _before(self, conn, cursor, statement, parameters, context, executemany):
        conn.info.setdefault("bench_started", []).append(time.perf_counter())

    def _after(self, conn, cursor, statement, parameters, context, executemany):
        started = conn.info["bench_started"].pop()
        self.entries.append((statement, time.perf_counter() - started))

    def reset(self) -> None:
        self.entries.clear()

    @property
    def count(self) -> int:
        return len(self.entries)

    @property
    def seconds(self) -> float:
        return sum(seconds for _, seconds in self.entries)

    def by_statement(self, width: int = 90) -> list[tuple[str, int, float]]:
        """[(statement, times run, total seconds)], the slowest first; whitespace squeezed."""
        totals: dict[str, list] = defaultdict(lambda: [0, 0.0])
        for statement, seconds in self.entries:
            key = " ".join(statement.split())
            key = key if len(key) <= width else key[: width - 1] + "…"
            totals[key][0] += 1
            totals[key][1] += seconds
        return sorted(
            ((key, count, seconds) for key, (count, seconds) in totals.items()),
            key=lambda row: -row[2],
        )


def quantile(values, q: float) -> float:
    """Nearest-rank quantile (q in 0..1) of a non-empty sequence."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


def peak_rss_mb() -> float:
    """This process's peak resident set size so far (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def process_cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process on this machine (a PostgreSQL backend, say)."""
    import os

    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def vm_hwm_mb() -> float:
    """Peak resident set size of this process image (VmHWM: unlike ru_maxrss, not inherited
    from the parent at fork/exec time)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def current_rss_mb() -> float:
    try:
        fields = Path("/proc/self/statm").read_text().split()
        return int(fields[1]) * resource.getpagesize() / 1024 / 1024
    except OSError:
        return float("nan")


def raise_priority(engine: Engine | None, niceness: int) -> None:
    """Run this process (and the PostgreSQL backends serving `engine`'s connections) at
    `niceness` (negative: ahead of other work; needs root). The machine is shared with other
    sessions' test suites; a benchmark that waits for CPU measures the queue, not the code.
    0 leaves everything as it is."""
    import os

    if not niceness:
        return
    os.setpriority(os.PRIO_PROCESS, 0, niceness)
    if engine is not None and engine.dialect.name == "postgresql":

        @event.listens_for(engine, "connect")
        def _renice_backend(dbapi_connection, connection_record):
            cursor = dbapi_connection.cursor()
            cursor.execute("SELECT pg_backend_pid()")
            os.setpriority(os.PRIO_PROCESS, cursor.fetchone()[0], niceness)
            cursor.close()
            dbapi_connection.rollback()  # leave no transaction open behind the pool's back


def load() -> str:
    """The 1/5/15-minute load averages: the machine is shared, so runs say how busy it was."""
    import os

    return " ".join(f"{value:.2f}" for value in os.getloadavg())
