"""Database plumbing shared by every blueprint: column types, connection set-up, locks.

SQLite (the embedded default) runs in WAL mode so readers see the last committed state
while a writer works; every state-changing request opens its transaction with
BEGIN IMMEDIATE, so writers queue on SQLite's single write lock instead of failing
half-way. PostgreSQL readers get REPEATABLE READ snapshots (set per request in
`app/web.py`); writers serialise through row locks and advisory locks.
"""

import contextvars
import sqlite3
import time
import zlib
from contextlib import contextmanager
from datetime import UTC, datetime

from flask import g, has_request_context, request
from sqlalchemy import BigInteger, DateTime, Integer, event, text
from sqlalchemy.engine import Engine
from sqlalchemy.types import TypeDecorator

from app.extensions import db

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

# BIGINT keys on PostgreSQL; SQLite needs INTEGER for its rowid alias.
BigId = BigInteger().with_variant(Integer, "sqlite")
# The largest id either database holds (BIGINT; SQLite's INTEGER): a URL's id above it is
# no row, refused by the route's converter before it reaches a query that cannot bind it.
MAX_ID = 2**63 - 1


def partial_index_where(condition: str) -> dict:
    """The keyword arguments of an `Index` over only the rows that meet `condition` (SQL),
    on both dialects: `Index(name, *columns, **partial_index_where("read_at IS NULL"))`."""
    return {dialect + "_where": text(condition) for dialect in ("postgresql", "sqlite")}


class UTCDateTime(TypeDecorator):
    """A timezone-aware UTC datetime on every backend (SQLite stores it naive, in UTC)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are not stored; use app.clock.now()")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


_write_intent: contextvars.ContextVar[bool] = contextvars.ContextVar("write_intent", default=False)


@contextmanager
def write_intent():
    """Mark work outside a request (CLI, scripts) as writing, for SQLite's BEGIN IMMEDIATE."""
    token = _write_intent.set(True)
    try:
        yield
    finally:
        _write_intent.reset(token)


def _wants_write() -> bool:
    if _write_intent.get():
        return True
    return (
        has_request_context()
        and request.method not in SAFE_METHODS
        and not g.get("writes_finished", False)
    )


# Reads are bounded in time (app/transaction.py arms the deadline for a request's reads):
# SQLite interrupts a statement running past it, PostgreSQL has its statement_timeout.
_read_deadline: contextvars.ContextVar[float | None] = contextvars.ContextVar(
    "read_deadline", default=None
)
SQLITE_PROGRESS_STEPS = 10_000  # virtual-machine steps between two looks at the deadline


def arm_read_deadline(seconds: float | None) -> None:
    """Interrupt this context's SQLite statements once `seconds` have passed (None: never)."""
    _read_deadline.set(None if seconds is None else time.monotonic() + seconds)


def _past_read_deadline() -> bool:
    deadline = _read_deadline.get()
    return deadline is not None and time.monotonic() > deadline


def is_read_timeout(error: Exception) -> bool:
    """Whether a database error is a read that ran out of its time (not an outage)."""
    orig = getattr(error, "orig", error)
    if isinstance(orig, sqlite3.OperationalError):
        return str(orig) == "interrupted"
    return getattr(orig, "sqlstate", None) == "57014"  # PostgreSQL: query_canceled


SQLITE_MMAP_BYTES = 1 << 30


@event.listens_for(Engine, "connect")
def _configure_sqlite(dbapi_connection, connection_record) -> None:
    if not isinstance(dbapi_connection, sqlite3.Connection):
        return
    # Let SQLAlchemy's "begin" event below issue BEGIN, so we can choose IMMEDIATE.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA synchronous=NORMAL")
    # Reads through the OS's page cache, shared by every connection, instead of copying
    # pages into each connection's own small cache; temporary tables in memory.
    cursor.execute(f"PRAGMA mmap_size={SQLITE_MMAP_BYTES}")
    cursor.execute("PRAGMA temp_store=MEMORY")
    cursor.close()
    dbapi_connection.set_progress_handler(_past_read_deadline, SQLITE_PROGRESS_STEPS)


@event.listens_for(Engine, "begin")
def _begin_sqlite(conn) -> None:
    if conn.dialect.name == "sqlite":
        conn.exec_driver_sql("BEGIN IMMEDIATE" if _wants_write() else "BEGIN")


def is_postgres() -> bool:
    return db.session.get_bind().dialect.name == "postgresql"


def lock_key(name: str) -> int:
    """A stable 32-bit advisory-lock key for a named critical section."""
    return zlib.crc32(name.encode())


def advisory_lock(name: str, *, shared: bool = False) -> None:
    """Hold a transaction-scoped lock named `name` until commit or rollback.

    On PostgreSQL an advisory transaction lock; on SQLite the transaction already holds
    the database's single write lock (BEGIN IMMEDIATE), which serialises all writers.
    """
    if is_postgres():
        fn = "pg_advisory_xact_lock_shared" if shared else "pg_advisory_xact_lock"
        db.session.execute(text(f"SELECT {fn}(:key)"), {"key": lock_key(name)})


def try_advisory_lock(name: str, *, shared: bool = False) -> bool:
    """Like advisory_lock, but without waiting: False when another transaction holds the
    lock in a conflicting mode (PostgreSQL). Always True on SQLite (see advisory_lock)."""
    if not is_postgres():
        return True
    fn = "pg_try_advisory_xact_lock_shared" if shared else "pg_try_advisory_xact_lock"
    return bool(db.session.scalar(text(f"SELECT {fn}(:key)"), {"key": lock_key(name)}))


# Tables no model describes: SQLite's FTS5 table of task titles and its shadow tables,
# made by DDL events and migrations (app/blueprints/tasks/models.py); and the index of the
# titles' words on PostgreSQL, an expression Alembic cannot compare.
UNMODELLED_TABLES = ("task_title_words",)
UNCOMPARED_INDEXES = ("ix_task_texts_title_words",)


def built_on(index, dialect: str) -> bool:
    """Whether the models build `index` on `dialect` (some exist on one database only)."""
    only = getattr(index, "_ddl_if", None)
    return only is None or only.dialect in (None, dialect)


def include_in_migrations(obj, name, type_, reflected, compare_to) -> bool:
    """Alembic autogenerate: leave the unmodelled tables and uncompared indexes alone, and
    the models' indexes of the other database."""
    if type_ == "index" and name in UNCOMPARED_INDEXES:
        return False
    if type_ == "index" and not reflected and not built_on(obj, db.engine.dialect.name):
        return False
    return not (type_ == "table" and reflected and (name or "").startswith(UNMODELLED_TABLES))


def render_migration_item(type_, obj, autogen_context):
    """Alembic autogenerate: write our column types as plain SQLAlchemy types."""
    if type_ == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    return False
