"""One transaction per request, committed in one place, and a time bound on every read.

A request that changes something (any method but GET, HEAD and OPTIONS) is one
transaction: what its view changed is committed when the view answers with success (a
2xx or 3xx status) and rolled back when it answers with an error, raises, or when a
service refused the action (a ServiceError was raised, even one the view caught to show
its message), so a refused action leaves nothing half-saved. Views never commit.

What a view renders after its action is read after that transaction has ended:
`app.htmx.render` calls `finish_writes()` first. So the page's reads never hold SQLite's
write lock (a slow read cannot stall every writer), and they run under the same bound as
a GET's.

Every read is bounded by READ_TIMEOUT_SECONDS: on PostgreSQL a REPEATABLE READ snapshot
(a page never shows half of a shuffle) with a `statement_timeout`; on SQLite a deadline
that interrupts the statement. A read that runs out answers 503 (app/errors.py).
"""

from contextlib import contextmanager

from flask import Flask, current_app, g, has_request_context, request
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from app.db import SAFE_METHODS, arm_read_deadline, write_intent
from app.extensions import db


class App(Flask):
    """Flask, committing or rolling back a changing request when its view has answered
    (here, not in an after-request hook, so a failing commit reaches the error pages)."""

    def dispatch_request(self):
        response = self.make_response(super().dispatch_request())
        finish_writes(succeeded=response.status_code < 400)
        return response


def refuse() -> None:
    """A service refused the request's action: its changes are rolled back."""
    if has_request_context():
        g.action_refused = True


def finish_writes(succeeded: bool = True) -> None:
    """End a changing request's transaction (commit, unless it failed or was refused) and
    read from here on as a GET does. Nothing for a GET, or when already done."""
    if request.method in SAFE_METHODS or g.get("writes_finished"):
        return
    g.writes_finished = True
    if succeeded and not g.get("action_refused"):
        db.session.commit()
    else:
        db.session.rollback()
    begin_reads()


@contextmanager
def own_transactions():
    """Work after the request's transaction that commits its own (sending the payout
    e-mails after a close): the request's changes are committed first, and the work
    writes as the command line does, without the read deadline."""
    finish_writes()
    arm_read_deadline(None)
    try:
        with write_intent():
            yield
    finally:
        arm_read_deadline(_read_timeout())


def begin_reads() -> None:
    """Arm the read deadline; on PostgreSQL begin the snapshot with its statement timeout.
    (Tests share their session with requests: a transaction already open is kept.)"""
    seconds = _read_timeout()
    arm_read_deadline(seconds)
    if db.engine.dialect.name == "postgresql" and not db.session().in_transaction():
        db.session.connection(execution_options={"isolation_level": "REPEATABLE READ"})
        if seconds:
            db.session.execute(
                text("SELECT set_config('statement_timeout', :ms, true)"),
                {"ms": str(max(1, round(seconds * 1000)))},
            )


def renew_read_deadline() -> None:
    """Give the next reads of a long response (a CSV streamed piece by piece, each piece
    its own statement) a fresh bound of their own."""
    arm_read_deadline(_read_timeout())


def _read_timeout() -> float | None:
    """READ_TIMEOUT_SECONDS, or None (unbounded) when it is 0 or less."""
    seconds = current_app.config["READ_TIMEOUT_SECONDS"]
    return seconds if seconds > 0 else None


def _begin_request() -> None:
    _forget()
    # A static file reads no database: a load balancer's health check of a web process (a
    # static file) says whether the process answers, not whether the database does.
    if request.method in SAFE_METHODS and request.endpoint != "static":
        begin_reads()


def _end_request(_error) -> None:
    _forget()
    arm_read_deadline(None)


def _forget() -> None:
    """A request starts afresh (`g` outlives it where an app context spans requests)."""
    g.writes_finished = g.action_refused = False


def end_transaction(_error=None) -> None:
    """Roll back what a request left open, before Flask-SQLAlchemy closes its session. When
    the server dropped the connection after the response was made (a restart, a failover),
    the rollback fails: the response stands, and the pool discards the connection."""
    try:
        db.session.rollback()
    except OperationalError:
        pass


def init_transactions(app: Flask) -> None:
    """Called after Flask-SQLAlchemy's init_app: its teardown then runs after ours (teardowns
    run in reverse)."""
    app.before_request(_begin_request)
    app.teardown_request(_end_request)
    app.teardown_appcontext(end_transaction)
