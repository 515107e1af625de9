"""A live aTES for the API's end-to-end tests: the Procfile's processes (gunicorn and the
job worker, started as bench/deploy_shuffle.py and tests/test_procfile.py start them, on a
free port) on a database of the test's own: a SQLite file, or a fresh PostgreSQL database
on the TEST_DATABASE_URL server (so CI's PostgreSQL pass runs these tests there)."""

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from app.extensions import db
from tests.reliability.helpers import (
    ON_POSTGRES,
    app_on,
    flask_cli,
    scratch_database,
    wait_for_drops,
)
from tests.support.deployment import start_deployment, stop


@dataclass
class Live:
    url: str  # the database's
    base: str  # http://127.0.0.1:<port>
    seeded: Any  # what the seed function returned
    logs: Path

    def verify(self) -> str:
        """`flask accounting verify` on the live database; its output, failing on exit 1."""
        done = flask_cli(self.url, "accounting", "verify")
        assert done.returncode == 0, done.stdout + done.stderr
        return done.stdout

    def server_errors(self) -> str:
        """Tracebacks the web processes logged (none expected)."""
        log = (self.logs / "web.log").read_text()
        return log if "Traceback" in log else ""


@contextmanager
def live_app(logs: Path, seed: Callable[[], Any], **settings: str) -> Iterator[Live]:
    """The Procfile deployment on a new database, whose tables are created and then filled
    by `seed` (called in an app context on that database; what it returns is `seeded`).
    `settings` are further environment variables of the processes."""
    backend = "postgresql" if ON_POSTGRES else "sqlite"
    try:
        with scratch_database(backend, logs) as url:
            with app_on(url):
                db.create_all()
                seeded = seed()
            processes, port = start_deployment(url, logs, **settings)
            try:
                yield Live(url, f"http://127.0.0.1:{port}", seeded, logs)
            finally:
                stop(processes)
    finally:
        wait_for_drops()
