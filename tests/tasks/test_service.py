"""tasks.service: create_task (prices, eligibility, validation, atomicity, form token) and
complete_task (reward once, only the assignee, only while open)."""

import random
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest

from app import clock
from app.blueprints.accounting import posting
from app.blueprints.accounting.models import ASSIGN_FEE, REWARD, LedgerEntry
from app.blueprints.tasks import service, shuffles
from app.blueprints.tasks.models import DONE, OPEN, Task
from app.errors import NotAllowed, NotFound, ServiceError
from tests.factories import make_popug, make_task
from tests.helpers import count
from tests.tasks.helpers import (
    FEES,
    REWARDS,
    account_ids,
    assert_books_balance,
    balances,
    ledger_entries,
)

T0 = datetime(2024, 3, 3, 9, 30, tzinfo=UTC)


def create(actor, title="Feed the parrot", jira_id=None, description="", form_token=None):
    return service.create_task(
        title=title, jira_id=jira_id, description=description, actor=actor, form_token=form_token
    )


# --- prices -------------------------------------------------------------------------------


def test_draw_prices_cover_exactly_the_whole_dollar_ranges():
    rng = random.Random(20240303)
    draws = [service.draw_prices(rng) for _ in range(5000)]
    assert {fee for fee, _ in draws} == FEES
    assert {reward for _, reward in draws} == REWARDS
    assert all(isinstance(fee, int) and isinstance(reward, int) for fee, reward in draws)


def test_created_tasks_have_whole_dollar_prices_within_bounds(db, worker, manager):
    make_popug(role="accountant")
    tasks = [create(manager, title=f"Task {n}") for n in range(200)]
    db.session.commit()
    fees = Counter(task.fee for task in tasks)
    rewards = Counter(task.reward for task in tasks)
    assert set(fees) <= FEES and set(rewards) <= REWARDS
    # Random, not constant: 200 draws over 11 and 21 values.
    assert len(fees) >= 5 and len(rewards) >= 8
    stored = {t.id: (t.fee, t.reward) for t in db.session.scalars(db.select(Task))}
    assert len(stored) == 200
    assert all(fee in FEES and reward in REWARDS for fee, reward in stored.values())
    # Each creation charged exactly its fee to its assignee.
    accounts = account_ids()
    entries = ledger_entries(LedgerEntry.kind == ASSIGN_FEE)
    assert len(entries) == 200
    for entry in entries:
        task = db.session.get(Task, entry.task_id)
        assert entry.amount == -task.fee
        assert entry.shuffle_id is None
        assert entry.account_id == accounts[task.assignee_id]
    assert_books_balance()


# --- eligibility ----------------------------------------------------------------------------


def test_assignees_are_only_active_workers_and_accountants(db, admin, manager):
    eligible = {
        make_popug(role="worker").id,
        make_popug(role="worker").id,
        make_popug(role="accountant").id,
    }
    ineligible = {
        admin.id,
        manager.id,
        make_popug(role="manager").id,
        make_popug(role="worker", active=False).id,
        make_popug(role="accountant", active=False).id,
    }
    for n in range(90):
        create(admin if n % 2 else manager, title=f"Task {n}")
    db.session.commit()
    chosen = Counter(db.session.scalars(db.select(Task.assignee_id)))
    assert set(chosen) == eligible  # nobody ineligible, and every eligible popug drawn
    assert not set(chosen) & ineligible
    before = balances()
    assert all(before[popug_id] == 0 for popug_id in ineligible)
    assert_books_balance()


def test_nobody_eligible_is_a_clear_error_and_saves_nothing(db, admin, manager):
    make_popug(role="worker", active=False)
    make_popug(role="accountant", active=False)
    with pytest.raises(ServiceError) as raised:
        create(manager, form_token="tok-nobody")
    assert raised.value.message == shuffles.NOBODY_ELIGIBLE
    db.session.rollback()
    assert count(Task) == 0
    assert count(LedgerEntry) == 0
    assert set(balances().values()) == {0}


# --- validation -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "field", "needle"),
    [
        ({"title": ""}, "title", "title"),
        ({"title": "   \t  "}, "title", "title"),
        ({"title": None}, "title", "title"),
        ({"title": "x" * 201}, "title", "200"),
        ({"title": "[UBERPOP-1] Feed"}, "title", "Jira ID"),
        ({"title": "Feed ] the parrot"}, "title", "Jira ID"),
        ({"jira_id": "UBERPOP42"}, "jira_id", "UBERPOP-42"),
        ({"jira_id": "UBER POP-4"}, "jira_id", "UBERPOP-42"),
        ({"jira_id": "-42"}, "jira_id", "UBERPOP-42"),
        ({"jira_id": "UBERPOP-"}, "jira_id", "UBERPOP-42"),
        ({"jira_id": "UBERPOP-4a"}, "jira_id", "UBERPOP-42"),
        ({"jira_id": "A" * 30 + "-12"}, "jira_id", "UBERPOP-42"),  # 33 characters
        ({"description": "d" * 5001}, "description", "5000"),
    ],
)
def test_invalid_input_names_the_field_and_saves_nothing(db, worker, fields, field, needle):
    data = {"title": "Feed the parrot", "jira_id": None, "description": ""} | fields
    with pytest.raises(ServiceError) as raised:
        create(worker, **data)
    assert raised.value.field == field
    assert needle in raised.value.message
    db.session.rollback()
    assert count(Task) == 0
    assert count(LedgerEntry) == 0


def test_valid_input_is_trimmed_and_normalised(db, worker):
    task = create(
        worker,
        title="  Feed the parrot \n",
        jira_id="  uberpop-42 ",
        description="  seeds, not crackers  ",
    )
    db.session.commit()
    assert (task.title, task.jira_id, task.description) == (
        "Feed the parrot",
        "UBERPOP-42",
        "seeds, not crackers",
    )
    assert task.status == OPEN and task.completed_at is None


def test_limits_are_inclusive(db, worker):
    title = "t" * 200
    jira = "A" * 29 + "-12"  # 32 characters
    task = create(worker, title=f"  {title}  ", jira_id=jira.lower(), description="d" * 5000)
    db.session.commit()
    db.session.expire_all()
    stored = db.session.get(Task, task.id)
    assert stored.title == title and stored.jira_id == jira
    assert len(stored.description) == 5000


def test_blank_jira_id_is_stored_as_none(db, worker):
    assert create(worker, jira_id="   ").jira_id is None


# --- atomicity and the form token -----------------------------------------------------------


@pytest.mark.parametrize("after_real_charge", [False, True])
def test_failing_ledger_step_leaves_nothing_of_the_task(
    db, monkeypatch, worker, manager, after_real_charge
):
    make_task(manager, title="Existing")
    before_balances = balances()
    before_entries = count(LedgerEntry)
    real = posting.charge_assign_fee

    def broken(popug_id, fee, *, task_id):
        if after_real_charge:
            real(popug_id, fee, task_id=task_id)
        raise RuntimeError("ledger is down")

    monkeypatch.setattr("app.blueprints.tasks.service.posting.charge_assign_fee", broken)
    with pytest.raises(RuntimeError, match="ledger is down"):
        create(manager, title="Doomed task", form_token="tok-doomed")
    db.session.rollback()
    db.session.expire_all()
    assert count(Task) == 1
    assert count(Task, Task.title == "Doomed task") == 0
    assert count(LedgerEntry) == before_entries == 1
    assert balances() == before_balances
    assert_books_balance()
    # The token was not burnt: the same form works once the ledger is back.
    monkeypatch.undo()
    assert create(manager, title="Doomed task", form_token="tok-doomed").id
    db.session.commit()
    assert count(Task) == 2


def test_same_form_token_creates_one_task(db, worker, manager):
    first = create(manager, title="Once", form_token="tok-1")
    db.session.commit()
    first_id = first.id
    with pytest.raises(service.AlreadySubmitted) as raised:
        create(manager, title="Once", form_token="tok-1")
    assert raised.value.task_id == first_id
    db.session.rollback()
    assert count(Task) == 1
    assert count(LedgerEntry) == 1
    # A different token is a different form.
    create(manager, title="Once", form_token="tok-2")
    db.session.commit()
    assert count(Task) == 2


def test_same_form_token_within_one_transaction(db, worker, manager):
    first = create(manager, title="Once", form_token="tok-1")
    with pytest.raises(service.AlreadySubmitted) as raised:
        create(manager, title="Once", form_token="tok-1")
    assert raised.value.task_id == first.id


# --- completion -----------------------------------------------------------------------------


def test_complete_pays_the_reward_once(db, worker, manager):
    clock.freeze(T0)
    task = make_task(manager, title="Feed", jira_id="UBERPOP-1")
    assert task.assignee_id == worker.id
    assert balances()[worker.id] == -task.fee
    assert_books_balance()

    clock.freeze(T0 + timedelta(hours=2))
    done = service.complete_task(task.public_id, actor=worker)
    db.session.commit()
    assert done.status == DONE
    assert done.completed_at == T0 + timedelta(hours=2)
    rewards = ledger_entries(LedgerEntry.kind == REWARD)
    assert [(e.task_id, e.amount, e.account_id) for e in rewards] == [
        (task.id, task.reward, account_ids()[worker.id])
    ]
    assert rewards[0].shuffle_id is None
    assert balances()[worker.id] == task.reward - task.fee
    assert_books_balance()

    with pytest.raises(ServiceError) as raised:
        service.complete_task(task.public_id, actor=worker)
    assert type(raised.value) is ServiceError
    assert "already done" in raised.value.message
    db.session.rollback()
    assert count(LedgerEntry, LedgerEntry.kind == REWARD) == 1
    assert balances()[worker.id] == task.reward - task.fee
    db.session.expire_all()
    assert db.session.get(Task, task.id).completed_at == T0 + timedelta(hours=2)
    assert_books_balance()


@pytest.mark.parametrize("role", ["worker", "accountant", "manager", "admin"])
def test_someone_elses_task_is_not_allowed(db, worker, manager, role):
    task = make_task(manager)
    assert task.assignee_id == worker.id
    other = make_popug(role=role)
    before = balances()
    with pytest.raises(NotAllowed):
        service.complete_task(task.public_id, actor=other)
    db.session.rollback()
    db.session.expire_all()
    assert db.session.get(Task, task.id).status == OPEN
    assert count(LedgerEntry, LedgerEntry.kind == REWARD) == 0
    assert balances() == before
    assert_books_balance()


def test_someone_elses_done_task_is_not_allowed(db, worker, manager):
    task = make_task(manager)
    service.complete_task(task.public_id, actor=worker)
    db.session.commit()
    with pytest.raises(NotAllowed):
        service.complete_task(task.public_id, actor=make_popug(role="worker"))
    db.session.rollback()
    assert count(LedgerEntry, LedgerEntry.kind == REWARD) == 1


def test_unknown_task_is_not_found(db, worker):
    with pytest.raises(NotFound):
        service.complete_task("no-such-task", actor=worker)


def test_books_balance_after_every_step(db, manager):
    workers = [make_popug(role="worker") for _ in range(3)] + [make_popug(role="accountant")]
    by_id = {w.id: w for w in workers}
    tasks = []
    for n in range(12):
        tasks.append(create(manager, title=f"Step {n}"))
        db.session.commit()
        assert_books_balance()
    for task in tasks[::2]:
        service.complete_task(task.public_id, actor=by_id[task.assignee_id])
        db.session.commit()
        assert_books_balance()
    expected = {w.id: 0 for w in workers}
    for task in tasks:
        expected[task.assignee_id] -= task.fee
    for task in tasks[::2]:
        expected[task.assignee_id] += task.reward
    now = balances()
    assert {popug_id: now[popug_id] for popug_id in expected} == expected
    assert now[manager.id] == 0


@pytest.mark.parametrize("field", ["title", "description"])
@pytest.mark.parametrize("char", ["\x00", "\x07", "\x1b"])
def test_control_characters_are_refused(db, worker, field, char):
    data = {"title": "Feed the parrot", "jira_id": None, "description": "seeds"}
    data[field] = f"seeds{char}nuts"
    with pytest.raises(ServiceError) as raised:
        create(worker, **data)
    assert raised.value.field == field
    db.session.rollback()
    assert count(Task) == 0


def test_line_breaks_and_tabs_in_a_description_are_fine(db, worker):
    task = create(worker, description="first line\r\n\tsecond line")
    db.session.commit()
    assert task.description == "first line\r\n\tsecond line"
