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
from app.blueprints.tasks.service import SHUFFLE_QUEUE_LOCK
from app.db import lock_key
from app.extensions import db
from tests import factories
from tests.helpers import signed_in_client
from tests.reliability.helpers import (
    ON_POSTGRES,
    assert_books,
    config_for,
    poll,
    waiting_on_advisory_lock,
)
from tests.reliability.private_pg import private_postgres

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
