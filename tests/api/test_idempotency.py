"""An Idempotency-Key (the API's one-time form token) holds for 24 hours: repeated within
them it returns the first result with no second fee; after them it is free again, and the
job worker's chores forget it, so the kept keys stay a day's worth."""

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from app import clock
from app.blueprints.accounting.models import LedgerEntry
from app.blueprints.tasks import service as tasks
from app.blueprints.tasks import shuffles
from app.blueprints.tasks.models import FORM_TOKEN_HOLDS, TASK_TEXTS, Shuffle, Task
from app.extensions import db
from app.worker import Chores
from tests.factories import make_task, make_token, run_queued_shuffles
from tests.helpers import bearer, count

START = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
BODY = {"title": "Build 1234 is red"}


@pytest.fixture
def headers(app, worker):
    clock.freeze(START)
    return {**bearer(make_token(worker)), "Idempotency-Key": "build-1234"}


def _fees() -> int:
    return db.session.scalar(
        select(func.count()).select_from(LedgerEntry).where(LedgerEntry.kind == "assign_fee")
    )


def _post(client, headers, body=BODY):
    response = client.post("/api/v1/tasks", json=body, headers=headers)
    assert response.status_code == 201, response.get_data(as_text=True)
    return response.get_json()["public_id"]


def test_within_24_hours_the_key_returns_the_first_task_without_a_second_fee(client, headers):
    first = _post(client, headers)
    clock.freeze(START + FORM_TOKEN_HOLDS - timedelta(seconds=1))
    assert _post(client, headers) == first
    assert count(Task) == 1 and _fees() == 1


def test_after_24_hours_the_same_key_creates_a_new_task(client, headers):
    first = _post(client, headers)
    clock.freeze(START + FORM_TOKEN_HOLDS + timedelta(seconds=1))
    second = _post(client, headers, {"title": "Build 1234 is red again"})
    assert second != first
    assert count(Task) == 2 and _fees() == 2
    # the key now belongs to the new task: repeated, it returns that one, charging nothing
    assert _post(client, headers, {"title": "Build 1234 is red again"}) == second
    assert count(Task) == 2 and _fees() == 2


def test_after_24_hours_a_shuffle_key_presses_again(client, manager, worker):
    make_task(worker)
    clock.freeze(START)
    press = {**bearer(make_token(manager)), "Idempotency-Key": "nightly"}
    first = client.post("/api/v1/shuffles", headers=press).get_json()["public_id"]
    run_queued_shuffles()
    clock.freeze(START + timedelta(hours=23))
    assert client.post("/api/v1/shuffles", headers=press).get_json()["public_id"] == first
    clock.freeze(START + timedelta(hours=25))
    again = client.post("/api/v1/shuffles", headers=press)
    assert again.status_code == 202 and again.get_json()["public_id"] != first
    assert count(Shuffle) == 2


def _kept_tokens() -> int:
    tasks_kept = db.session.scalar(
        select(func.count()).select_from(TASK_TEXTS).where(TASK_TEXTS.c.form_token.is_not(None))
    )
    return tasks_kept + count(Shuffle, Shuffle.form_token.is_not(None))


def test_the_chores_forget_expired_keys_and_only_those(app, client, headers, manager, worker):
    _post(client, headers)
    clock.freeze(START + timedelta(hours=2))
    shuffles.request_shuffle(actor=manager, form_token="press-old")
    db.session.commit()
    clock.freeze(START + timedelta(hours=20))
    _post(client, {**headers, "Idempotency-Key": "fresh"}, {"title": "Fresh"})
    db.session.commit()
    assert _kept_tokens() == 3
    clock.freeze(START + timedelta(hours=26, minutes=1))
    Chores(every=30).run_when_due()
    assert _kept_tokens() == 1  # the key of 20:00 holds until tomorrow 20:00
    assert tasks.forget_form_tokens() == 0
    assert _post(client, {**headers, "Idempotency-Key": "fresh"}, {"title": "Fresh"})
    assert count(Task) == 2


def test_forgetting_works_in_batches(app, worker, monkeypatch):
    monkeypatch.setattr(tasks, "FORGET_BATCH", 2)
    clock.freeze(START)
    for n in range(3):
        tasks.create_task(
            title=f"T{n}", jira_id=None, description=None, actor=worker, form_token=f"k{n}"
        )
    db.session.commit()
    clock.freeze(START + timedelta(days=2))
    assert tasks.forget_form_tokens() == 2
    assert tasks.forget_form_tokens() == 1
    assert tasks.forget_form_tokens() == 0
