"""tasks.shuffles (a press, the job's run): distribution, money, atomicity, empty cases, the
one-time form token and who may shuffle."""

from collections import Counter
from datetime import UTC, datetime
from types import SimpleNamespace

import pytest
from sqlalchemy import event, select, update

from app import clock
from app.blueprints.accounting import bulk_fees
from app.blueprints.accounting.models import ASSIGN_FEE, LedgerEntry
from app.blueprints.auth.models import Popug
from app.blueprints.tasks import service, shuffles
from app.blueprints.tasks.models import DONE, Shuffle, Task
from app.errors import NotAllowed, ServiceError
from app.extensions import db
from tests.factories import make_popug, make_task, shuffle_now
from tests.helpers import count
from tests.tasks.helpers import (
    account_ids,
    assert_books_balance,
    assert_fee_trail_consistent,
    assignees,
    balances,
    fee_charges,
    ledger_entries,
    open_task_ids,
)

T0 = datetime(2024, 3, 3, 12, 0, tzinfo=UTC)
# accounting as tasks.shuffle_move sees it: the failure is injected where the shuffle calls it.
BULK_CHARGE = "app.blueprints.tasks.shuffle_move.bulk_fees.charge_assign_fees_in_bulk"


@pytest.fixture
def staff(admin, manager):
    """An admin and a manager (who shuffle), an inactive worker and accountant (who never
    get tasks), and three eligible popugs."""
    make_popug(role="worker", active=False)
    make_popug(role="accountant", active=False)
    make_popug(role="manager")
    eligible = [
        make_popug(role="worker"),
        make_popug(role="worker"),
        make_popug(role="accountant"),
    ]
    return {"admin": admin, "manager": manager, "eligible": eligible}


def seed_tasks(actor, open_count: int, done_count: int = 0) -> list[Task]:
    """`open_count + done_count` tasks; the first `done_count` are completed by their assignee."""
    tasks = [make_task(actor, title=f"Task {n:03d}") for n in range(open_count + done_count)]
    for task in tasks[:done_count]:
        service.complete_task(task.public_id, actor=db.session.get(Popug, task.assignee_id))
    db.session.commit()
    return tasks


def shuffle(actor, form_token=None):
    result = shuffle_now(actor=actor, form_token=form_token)
    db.session.commit()
    return result


def test_every_open_task_moves_to_an_eligible_popug_and_done_tasks_stay(db, staff, monkeypatch):
    seed_tasks(staff["manager"], open_count=30, done_count=6)
    eligible = {p.id for p in staff["eligible"]}
    done_before = {
        t.id: (t.assignee_id, t.completed_at)
        for t in db.session.scalars(select(Task).where(Task.status == DONE))
    }
    assert len(done_before) == 6
    entries_before = count(LedgerEntry)
    clock.freeze(T0)
    # The shuffle's own time, as its page shows it: from its start to its end.
    ticks = iter([100.0, 100.25])
    monkeypatch.setattr(shuffles, "time", SimpleNamespace(perf_counter=lambda: next(ticks)))

    result = shuffle(staff["manager"])
    monkeypatch.undo()

    assert result.tasks_count == 30
    assert result.popugs_count == 3
    assert result.actor_id == staff["manager"].id
    assert result.started_at == T0
    assert result.duration_ms == 250
    db.session.expire_all()
    after = assignees()
    assert set(after.values()) <= eligible
    for task_id, (assignee_id, completed_at) in done_before.items():
        task = db.session.get(Task, task_id)
        assert (task.status, task.assignee_id, task.completed_at) == (
            DONE,
            assignee_id,
            completed_at,
        )
    new = fee_charges(shuffle_id=result.id)
    assert len(new) == 30
    # one entry per popug who got tasks (their fees summed), a line per task
    assert count(LedgerEntry) - entries_before == len({e.account_id for e in new}) <= 3
    assert {e.task_id for e in new} == open_task_ids()
    assert not {e.task_id for e in new} & set(done_before)
    assert_fee_trail_consistent()


def test_over_many_shuffles_every_eligible_popug_gets_tasks(db, staff):
    seed_tasks(staff["admin"], open_count=12)
    eligible = {p.id for p in staff["eligible"]}
    got = Counter()
    for n in range(30):
        result = shuffle(staff["admin"] if n % 2 else staff["manager"])
        assert (result.tasks_count, result.popugs_count) == (12, 3)
        db.session.expire_all()
        now = assignees()
        assert set(now.values()) <= eligible
        got.update(set(now.values()))
    assert set(got) == eligible
    assert count(Shuffle) == 30
    assert_fee_trail_consistent()


def test_assignment_is_roughly_uniform(db, staff):
    """1,200 draws over 3 popugs: each gets 400 +- 80 (about 5 standard deviations)."""
    seed_tasks(staff["manager"], open_count=40)
    got = Counter()
    for _ in range(30):
        shuffle(staff["manager"])
        db.session.expire_all()
        got.update(assignees().values())
    assert sum(got.values()) == 1200
    assert all(320 <= n <= 480 for n in got.values()), got


def test_each_shuffle_charges_exactly_the_open_tasks_fees(db, staff):
    tasks = seed_tasks(staff["manager"], open_count=25, done_count=5)
    accounts = account_ids()
    for _ in range(3):
        db.session.expire_all()
        open_ids = open_task_ids()
        open_fees = {t.id: t.fee for t in tasks if t.id in open_ids}
        before = balances()
        result = shuffle(staff["manager"])
        db.session.expire_all()
        entries = fee_charges(shuffle_id=result.id)
        assert len(entries) == 25
        summed = ledger_entries(LedgerEntry.shuffle_id == result.id)
        assert {e.kind for e in summed} == {ASSIGN_FEE} and len(summed) <= 3
        for entry in summed:  # an entry is the sum of its lines
            assert entry.amount == sum(e.amount for e in entries if e.id == entry.id)
        assert Counter(e.task_id for e in entries) == Counter(open_ids)
        assert sum(e.amount for e in entries) == -sum(open_fees.values())
        now_assignee = assignees()
        owner = {account_id: popug_id for popug_id, account_id in accounts.items()}
        for entry in entries:
            assert entry.amount == -open_fees[entry.task_id]
            assert owner[entry.account_id] == now_assignee[entry.task_id]
        # Balance deltas are the summed fees of the tasks each popug received.
        expected = Counter()
        for task_id in open_ids:
            expected[now_assignee[task_id]] -= open_fees[task_id]
        after = balances()
        assert {p: after[p] - before[p] for p in after if after[p] != before[p]} == {
            p: v for p, v in expected.items() if v
        }
        assert_books_balance()
    assert_fee_trail_consistent()


@pytest.mark.parametrize("after_real_charge", [False, True])
def test_failure_part_way_moves_no_task_and_no_money(db, monkeypatch, staff, after_real_charge):
    seed_tasks(staff["manager"], open_count=20, done_count=3)
    before_assignees = assignees()
    before_balances = balances()
    before_entries = count(LedgerEntry)
    real = bulk_fees.charge_assign_fees_in_bulk
    calls = []

    def broken(assignments, *, shuffle_id, **options):
        calls.append(shuffle_id)
        if after_real_charge:
            assert real(assignments, shuffle_id=shuffle_id, **options)["entries"] == 20
        raise RuntimeError("ledger is down")

    monkeypatch.setattr(BULK_CHARGE, broken)
    with pytest.raises(RuntimeError, match="ledger is down"):
        shuffle_now(actor=staff["manager"], form_token="tok-doomed")
    assert calls, "the failure was not injected"
    db.session.rollback()
    db.session.expire_all()
    assert assignees() == before_assignees
    assert balances() == before_balances
    assert count(LedgerEntry) == before_entries
    assert count(Shuffle) == 0
    assert_fee_trail_consistent()
    # Nothing was burnt: the same form shuffles once the ledger is back.
    monkeypatch.undo()
    assert shuffle(staff["manager"], form_token="tok-doomed").tasks_count == 20


def test_tasks_really_moved_before_the_injected_failure(db, monkeypatch, staff):
    """Guards the atomicity test: once the real charge has run (on PostgreSQL it moves the
    tasks too; on SQLite they moved before it), the tasks have moved inside the transaction,
    so the rollback is what undoes it."""
    seed_tasks(staff["manager"], open_count=40)
    before = assignees()
    seen = {}
    real = bulk_fees.charge_assign_fees_in_bulk

    def spy(assignments, *, shuffle_id, **options):
        assert real(assignments, shuffle_id=shuffle_id, **options)["entries"] == 40
        seen.update(dict(db.session.execute(select(Task.id, Task.assignee_id)).all()))
        raise RuntimeError("stop")

    monkeypatch.setattr(BULK_CHARGE, spy)
    with pytest.raises(RuntimeError):
        shuffle_now(actor=staff["manager"])
    assert seen and seen != before  # 40 tasks over 3 popugs: never all unchanged
    db.session.rollback()
    assert assignees() == before


def test_no_open_tasks_is_a_clear_message_and_changes_nothing(db, staff):
    seed_tasks(staff["manager"], open_count=0, done_count=4)
    before = (assignees(), balances(), count(LedgerEntry))
    with pytest.raises(ServiceError) as raised:
        shuffle_now(actor=staff["manager"], form_token="tok-empty")
    assert "no open tasks" in raised.value.message
    db.session.rollback()
    assert (assignees(), balances(), count(LedgerEntry)) == before
    assert count(Shuffle) == 0


def test_nobody_eligible_is_a_clear_message_and_changes_nothing(db, staff):
    """Open tasks with nobody to take them: the admin pages refuse to get there (the last
    eligible popug's tasks have nobody to go to), but data from before that rule can."""
    seed_tasks(staff["manager"], open_count=5)
    db.session.execute(
        update(Popug).where(Popug.id.in_([p.id for p in staff["eligible"]])).values(active=False)
    )
    db.session.commit()
    before = (assignees(), balances(), count(LedgerEntry))
    with pytest.raises(ServiceError) as raised:
        shuffle_now(actor=staff["admin"])
    assert raised.value.message == shuffles.NOBODY_ELIGIBLE
    db.session.rollback()
    assert (assignees(), balances(), count(LedgerEntry)) == before
    assert count(Shuffle) == 0


def test_same_form_token_shuffles_once(db, staff):
    seed_tasks(staff["manager"], open_count=10)
    first = shuffle(staff["manager"], form_token="tok-shuffle")
    first_id, first_public = first.id, first.public_id
    after_first = (assignees(), balances(), count(LedgerEntry))
    with pytest.raises(shuffles.AlreadyShuffled) as raised:
        shuffle_now(actor=staff["admin"], form_token="tok-shuffle")
    assert raised.value.shuffle.id == first_id
    assert raised.value.shuffle.public_id == first_public
    assert raised.value.shuffle.tasks_count == 10
    db.session.rollback()
    assert (assignees(), balances(), count(LedgerEntry)) == after_first
    assert count(Shuffle) == 1
    assert shuffle(staff["manager"], form_token="tok-other").id != first_id
    assert count(Shuffle) == 2


@pytest.mark.parametrize("role", ["worker", "accountant"])
def test_only_managers_and_admins_shuffle(db, staff, role):
    seed_tasks(staff["manager"], open_count=5)
    actor = make_popug(role=role)
    before = (assignees(), balances(), count(LedgerEntry))
    with pytest.raises(NotAllowed):
        shuffle_now(actor=actor)
    db.session.rollback()
    assert (assignees(), balances(), count(LedgerEntry)) == before
    assert count(Shuffle) == 0


def test_a_popug_may_keep_its_task_and_is_charged_again(db, manager, worker):
    """One eligible popug: every task lands on it again and it pays every fee again."""
    tasks = seed_tasks(manager, open_count=4)
    result = shuffle(manager)
    assert (result.tasks_count, result.popugs_count) == (4, 1)
    assert set(assignees().values()) == {worker.id}
    assert balances()[worker.id] == -2 * sum(t.fee for t in tasks)
    assert_fee_trail_consistent()


def test_the_shuffle_is_set_based(db, staff, app):
    """The number of SQL statements of a shuffle does not grow with the number of tasks."""

    def statements(open_count):
        seed_tasks(staff["manager"], open_count=open_count)
        seen = []

        def count_it(conn, cursor, statement, parameters, context, executemany):
            seen.append(statement)

        event.listen(db.engine, "before_cursor_execute", count_it)
        try:
            shuffle(staff["manager"])
        finally:
            event.remove(db.engine, "before_cursor_execute", count_it)
        return len(seen)

    small = statements(3)
    large = statements(60)  # 63 open tasks now
    assert small == large
    assert count(Shuffle) == 2
    assert len(open_task_ids()) == 63
