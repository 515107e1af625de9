"""Helpers every test package shares: counting rows and SQL statements, a signed-in client,
callables run in threads, the app's URL rules and their URLs filled in. (Fixtures live in
conftest.py; makers of popugs and tasks in factories.py; what one package alone needs stays
in its own helpers.)"""

import threading
import time
import uuid
from contextlib import contextmanager

from flask import url_for
from sqlalchemy import event, func, select
from werkzeug.routing import IntegerConverter

from app.blueprints.auth import sessions
from app.extensions import db

_TRANSACTION_CONTROL = ("BEGIN", "COMMIT", "ROLLBACK")
# The header of an htmx request (one that wants a fragment).
HTMX = {"HX-Request": "true"}


def url_rules(app, method: str | None = None) -> list:
    """Every URL rule of `app` but its static files (those that answer `method`), sorted by
    endpoint and path."""
    return sorted(
        (
            rule
            for rule in app.url_map.iter_rules()
            if rule.endpoint != "static" and (method is None or method in rule.methods)
        ),
        key=lambda rule: (rule.endpoint, rule.rule),
    )


def fill_url(app, rule, value: str | None = None) -> str:
    """The rule's URL with every parameter filled: an integer one with 1, the others with
    `value` (default a fresh UUID, which names nothing)."""
    values = {
        name: 1 if isinstance(rule._converters[name], IntegerConverter) else value
        for name in rule.arguments
    }
    with app.test_request_context():
        return url_for(
            rule.endpoint, **{k: str(uuid.uuid4()) if v is None else v for k, v in values.items()}
        )


def count(model, *where) -> int:
    """Rows of `model` (a model or table) matching `where`."""
    return db.session.scalar(select(func.count()).select_from(model).where(*where))


@contextmanager
def statements():
    """The SQL statements run inside the block, transaction control left out:
    `with statements() as run: …; len(run)`."""
    run: list[str] = []

    def record(conn, cursor, statement, parameters, context, executemany):
        if statement.split()[0].upper() not in _TRANSACTION_CONTROL:
            run.append(" ".join(statement.split()))

    event.listen(db.engine, "before_cursor_execute", record)
    try:
        yield run
    finally:
        event.remove(db.engine, "before_cursor_execute", record)


def empty_database() -> None:
    """Delete every row, children first (far cheaper than TRUNCATE on PostgreSQL for tiny
    tables), with a fresh session: before each test, and each example of a property."""
    db.session.remove()
    with db.engine.begin() as conn:
        for table in reversed(db.metadata.sorted_tables):
            conn.execute(table.delete())


def signed_in_client(app, popug):
    """A test client whose session is `popug`'s, begun now."""
    client = app.test_client()
    with client.session_transaction() as session:
        session["_user_id"] = popug.get_id()
        session["_fresh"] = True
        sessions.begin(session)
    return client


def run_in_threads(app, targets, *, timeout: float = 60.0) -> list[BaseException]:
    """Run each callable in its own thread with its own app context (and so its own
    session); return the unexpected exceptions. Fails if a thread outlives the deadline."""
    errors: list[BaseException] = []
    lock = threading.Lock()

    def wrap(target):
        def run():
            try:
                with app.app_context():
                    target()
            except BaseException as error:  # noqa: BLE001 - reported to the test
                with lock:
                    errors.append(error)

        return run

    threads = [threading.Thread(target=wrap(t), daemon=True) for t in targets]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + timeout
    for thread in threads:
        thread.join(max(deadline - time.monotonic(), 0))
    alive = [t.name for t in threads if t.is_alive()]
    assert not alive, f"threads still running after {timeout}s: {alive}"
    return errors


def bearer(secret: str) -> dict:
    """The headers of an API request made with this token."""
    return {"Authorization": f"Bearer {secret}"}
