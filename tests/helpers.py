"""Helpers every test package shares: counting rows and SQL statements, a signed-in client,
callables run in threads. (Fixtures live in conftest.py; makers of popugs and tasks in
factories.py; what one package alone needs stays in its own helpers.)"""

import threading
import time
from contextlib import contextmanager

from sqlalchemy import event, func, select

from app.blueprints.auth import sessions
from app.extensions import db

_TRANSACTION_CONTROL = ("BEGIN", "COMMIT", "ROLLBACK")


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
