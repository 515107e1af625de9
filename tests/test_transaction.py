"""One transaction per request (app/transaction.py): a changing request commits when its
view succeeds and only then is its page read; a refused action commits nothing; every read
is bounded in time and answers 503 when it runs out."""

import pytest
from flask import g
from sqlalchemy import select, text

from app.blueprints.auth.models import Popug
from app.blueprints.tasks import queries, shuffles
from app.blueprints.tasks.models import Task
from app.db import _wants_write, is_postgres
from app.errors import ServiceError
from app.extensions import db
from tests.helpers import HTMX, count


@pytest.fixture
def seen_by_the_board(monkeypatch):
    """What the board saw when it was read: whether the request's action had committed,
    and whether its reads would still take SQLite's write lock."""
    seen = []
    board = queries.board

    def watching(*args, **kwargs):
        seen.append({"finished": g.get("writes_finished"), "writes": _wants_write()})
        return board(*args, **kwargs)

    monkeypatch.setattr(queries, "board", watching)
    return seen


def test_the_board_after_creating_a_task_is_read_after_the_commit(
    worker_client, worker, seen_by_the_board
):
    response = worker_client.post(
        "/tasks",
        data={"title": "Fix the perch"},
        headers=HTMX | {"HX-Current-URL": "http://localhost/?q=perch&filter=mine"},
    )
    assert response.status_code == 200
    assert seen_by_the_board == [{"finished": True, "writes": False}]
    assert "Fix the perch" in response.text
    db.session.rollback()
    assert count(Task) == 1  # committed


def test_a_refused_form_rolls_back_before_its_page_is_read(
    worker_client, worker, seen_by_the_board
):
    response = worker_client.post("/tasks?q=perch", data={"title": "[bad]"})
    assert response.status_code == 422
    assert seen_by_the_board == [{"finished": True, "writes": False}]
    assert count(Task) == 0


def test_a_refused_action_commits_nothing_even_when_its_view_answers_success(
    manager_client, manager, monkeypatch
):
    def flush_then_refuse(*, actor, form_token):
        actor.email = "half@saved.inc"
        db.session.flush()
        raise ServiceError("Refused after a change.")

    monkeypatch.setattr(shuffles, "request_shuffle", flush_then_refuse)
    response = manager_client.post("/tasks/shuffle", data={"form_token": "one-press"})
    assert response.status_code == 303  # the view shows the message on the board
    db.session.rollback()
    assert db.session.scalar(select(Popug.email).where(Popug.id == manager.id)) != (
        "half@saved.inc"
    )


def _slow_statement():
    if is_postgres():
        return text("SELECT pg_sleep(5)")
    return text(  # counts without end: only the deadline stops it
        "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) FROM c"
    )


def test_a_read_that_runs_out_of_time_answers_503(app, worker_client, monkeypatch):
    monkeypatch.setitem(app.config, "READ_TIMEOUT_SECONDS", 0.2)
    monkeypatch.setattr(
        queries, "board", lambda *args, **kwargs: db.session.execute(_slow_statement())
    )
    db.session.commit()  # the request begins its own bounded transaction
    response = worker_client.get("/?q=everything")
    assert response.status_code == 503
    assert "This page took too long to prepare." in response.text
    assert worker_client.get("/my-tasks").status_code == 200  # the next request is fine


def test_writes_are_not_bounded_by_the_read_deadline(app, worker_client, worker, monkeypatch):
    monkeypatch.setitem(app.config, "READ_TIMEOUT_SECONDS", 0.000001)
    db.session.commit()
    response = worker_client.post("/tasks", data={"title": "Still created"})
    assert response.status_code == 303
    db.session.rollback()
    assert count(Task) == 1
