"""PostgreSQL restarted while the app serves requests.

The test starts a PostgreSQL server of its own (private_pg), so that it can really restart
one without disturbing the shared server the rest of the suite uses. A request waiting
inside a transaction when the server goes down gets the 503 page; the requests after the
restart succeed on the same app object (the pool's pre-ping replaces the dead connections),
and no money moved.

Runs in the PostgreSQL pass (TEST_DATABASE_URL), where the server binaries are known to be
installed; there it must run, not skip.
"""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import create_engine, text

from app import create_app
from app.blueprints.tasks.models import Shuffle
from app.blueprints.tasks.shuffles import SHUFFLE_QUEUE_LOCK
from app.db import lock_key
from app.extensions import db
from tests import factories
from tests.helpers import signed_in_client
from tests.reliability.helpers import (
    ON_POSTGRES,
    assert_books,
    config_for,
    poll,
    private_postgres,
    waiting_on_advisory_lock,
)

pytestmark = pytest.mark.skipif(not ON_POSTGRES, reason="the PostgreSQL pass runs it")


def test_postgresql_restart_while_serving():
    with private_postgres() as server:
        app = create_app(config_for(server.url, TESTING=False))
        with app.app_context():
            db.create_all()
            manager = factories.make_popug(role="manager", username="boss")
            factories.make_popug(role="worker", username="worker-one")
            title = factories.make_task(manager, title="Survives a restart").title
            client = signed_in_client(app, manager)
            db.session.remove()
        admin = create_engine(config_for(server.url).SQLALCHEMY_DATABASE_URI)
        try:
            # Between requests: the pool's idle connection died with the server; pre-ping
            # notices and reconnects, so the first request after the restart succeeds.
            assert client.get("/").status_code == 200
            server.restart()
            page = client.get("/")
            assert page.status_code == 200, page.get_data(as_text=True)[:500]

            # In flight: a shuffle press waits for the lock of the shuffle queue that
            # another session holds when the server goes down.
            holder = admin.connect()
            holder.execute(text("SELECT pg_advisory_lock(:k)"), {"k": lock_key(SHUFFLE_QUEUE_LOCK)})
            results = {}
            thread = threading.Thread(
                target=lambda: results.update(
                    response=client.post("/tasks/shuffle", data={"form_token": "t"})
                ),
                daemon=True,
            )
            thread.start()
            assert poll(lambda: waiting_on_advisory_lock(admin, "postgres"), timeout=30), (
                "the shuffle press never waited for the lock"
            )
            holder.invalidate()  # its server process is about to go away
            admin.dispose()
            server.restart()
            thread.join(timeout=60)
            assert not thread.is_alive(), "the request in flight never finished"
            response = results["response"]
            assert response.status_code == 503, response.get_data(as_text=True)[:500]
            assert "Temporarily unavailable" in response.get_data(as_text=True)

            # After that restart too, the same app serves again: pages and a real change.
            page = client.get("/")
            assert page.status_code == 200, page.get_data(as_text=True)[:500]
            assert title in page.get_data(as_text=True)
            created = client.post("/tasks", data={"title": "After the restart"})
            assert created.status_code == 303, created.get_data(as_text=True)[:500]
            with app.app_context():
                assert db.session.query(Shuffle).count() == 0
                assert_books("after the restart")
                db.session.remove()
        finally:
            admin.dispose()
            with app.app_context():
                db.engine.dispose()


def test_a_connection_dropped_after_the_page_is_made_is_no_500():
    """The server ends a request's connection between the response and the end of the
    request (a restart does, to every connection): the page is still served, not a 500
    from the rollback that closes the request. An app of its own, so that each request
    pushes and tears down its own app context, as in production."""
    with private_postgres() as server:
        app = create_app(config_for(server.url, TESTING=False))
        with app.app_context():
            db.create_all()
        admin = create_engine(config_for(server.url).SQLALCHEMY_DATABASE_URI)
        ended = []

        @app.after_request
        def end_my_connection(response):
            pid = db.session.execute(text("SELECT pg_backend_pid()")).scalar()
            with admin.connect() as conn:
                ended.append(conn.execute(text("SELECT pg_terminate_backend(:p)"), {"p": pid}))
            return response

        try:
            response = app.test_client().get("/sign-in")
            assert ended, "the request's connection was not ended"
            assert response.status_code == 200, response.get_data(as_text=True)[:500]
            assert app.test_client().get("/sign-in").status_code == 200  # a fresh connection
        finally:
            admin.dispose()
            with app.app_context():
                db.engine.dispose()
