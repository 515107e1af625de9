"""The real aTES app as the benchmarks and the tests that run it at scale make it: on a
given database, with cheap password hashing and no CSRF (bench/common.py imports it from
here)."""

from __future__ import annotations

from app import create_app
from app.config import Config, database_url


def bench_config(url: str) -> type[Config]:
    """A Config subclass for benchmarks: the given database, cheap argon2, no CSRF."""

    class BenchConfig(Config):
        SQLALCHEMY_DATABASE_URI = database_url(url, url)
        TESTING = True
        SECRET_KEY = "bench-secret-key-not-for-production"
        WTF_CSRF_ENABLED = False
        ARGON2_TIME_COST = 1
        ARGON2_MEMORY_COST = 8
        ARGON2_PARALLELISM = 1
        MAIL_SERVER = ""
        # In-process work (seeding, timing services) signs nobody in; and Flask-Limiter
        # keeps one storage per process, so this app must not swap the tests' one.
        RATELIMIT_STORAGE_URI = "memory://"

    return BenchConfig


def bench_app(url: str):
    return create_app(bench_config(url))
