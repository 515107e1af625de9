"""Rate-limit counters kept in the app's own database (`RATELIMIT_STORAGE_URI=database://`,
the default): shared by every web worker and host, kept across restarts, and nothing to run
beside the database. A `limits` storage, so Flask-Limiter takes it like its own (and
`redis://…` still works in its place).

Each counter is one row; a hit is one upsert that adds to the count, or starts the window
again when it has expired, and returns the new count: concurrent hits on one key queue on
its row (PostgreSQL) or on the write lock (SQLite), so N hits count N. It runs on its own
connection and commits at once, whatever the request's transaction does afterwards.
"""

import time

from limits.storage import Storage
from sqlalchemy import Column, Float, Index, Integer, String, case, delete, select
from sqlalchemy.dialects.postgresql import insert as postgres_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import SQLAlchemyError

from app.extensions import db

RATE_LIMITS = db.Table(
    "rate_limits",
    Column("key", String(255), primary_key=True),
    Column("hits", Integer, nullable=False),
    Column("expires_at", Float, nullable=False),  # epoch seconds
    Index("ix_rate_limits_expires_at", "expires_at"),
)


def _stored(key: str) -> str:
    """A key as the table holds it: PostgreSQL text cannot hold NUL (a username typed with
    one still counts, next to the same name without it)."""
    return key.replace("\x00", "")[:255]


class DatabaseStorage(Storage):
    """Fixed-window counters in the `rate_limits` table (Flask-Limiter's default strategy)."""

    STORAGE_SCHEME = ["database"]

    @property
    def base_exceptions(self):
        return SQLAlchemyError

    def incr(self, key: str, expiry: int, amount: int = 1) -> int:
        key, now = _stored(key), time.time()
        engine = db.engine
        insert = postgres_insert if engine.dialect.name == "postgresql" else sqlite_insert
        expired = RATE_LIMITS.c.expires_at <= now
        upsert = (
            insert(RATE_LIMITS)
            .values(key=key, hits=max(amount, 0), expires_at=now + expiry)
            .on_conflict_do_update(
                index_elements=[RATE_LIMITS.c.key],
                set_={
                    "hits": case(
                        (expired, max(amount, 0)),
                        (RATE_LIMITS.c.hits + amount < 0, 0),  # a refund leaves no credit
                        else_=RATE_LIMITS.c.hits + amount,
                    ),
                    "expires_at": case((expired, now + expiry), else_=RATE_LIMITS.c.expires_at),
                },
            )
            .returning(RATE_LIMITS.c.hits)
        )
        # Expired counters go as new ones come: a few at a time, none that another hit is
        # deleting (PostgreSQL: SKIP LOCKED, so two workers never wait on each other here).
        stale = (
            select(RATE_LIMITS.c.key)
            .where(RATE_LIMITS.c.expires_at <= now)
            .limit(20)
            .with_for_update(skip_locked=True)
        )
        with engine.begin() as connection:
            connection.execute(delete(RATE_LIMITS).where(RATE_LIMITS.c.key.in_(stale)))
            return connection.execute(upsert).scalar_one()

    def get(self, key: str) -> int:
        with db.engine.connect() as connection:
            hits = connection.execute(
                select(RATE_LIMITS.c.hits).where(
                    RATE_LIMITS.c.key == _stored(key), RATE_LIMITS.c.expires_at > time.time()
                )
            ).scalar()
        return hits or 0

    def get_expiry(self, key: str) -> float:
        with db.engine.connect() as connection:
            expires_at = connection.execute(
                select(RATE_LIMITS.c.expires_at).where(RATE_LIMITS.c.key == _stored(key))
            ).scalar()
        return expires_at if expires_at and expires_at > time.time() else time.time()

    def check(self) -> bool:
        try:
            with db.engine.connect() as connection:
                connection.execute(select(1))
        except SQLAlchemyError:
            return False
        return True

    def reset(self) -> int | None:
        with db.engine.begin() as connection:
            return connection.execute(delete(RATE_LIMITS)).rowcount

    def clear(self, key: str) -> None:
        with db.engine.begin() as connection:
            connection.execute(delete(RATE_LIMITS).where(RATE_LIMITS.c.key == _stored(key)))
