"""notifications.service: each event tells who it moved work or money for, exactly once, in
the event's transaction; nobody is told of their own action unless it cost them money."""

from collections import Counter

import pytest
from sqlalchemy import func, select

from app import clock
from app.blueprints.accounting import closing, posting
from app.blueprints.auth import service as auth
from app.blueprints.notifications import service
from app.blueprints.notifications.models import (
    HANDED_OVER,
    PAID_OUT,
    ROLE_CHANGED,
    SHUFFLED,
    TASK_ASSIGNED,
    Notification,
)
from app.blueprints.tasks import service as tasks
from app.blueprints.tasks.models import OPEN, TASKS
from app.errors import NotFound
from app.extensions import db
from tests.factories import make_popug, make_task, shuffle_now
from tests.helpers import statements


def notifications(kind: str | None = None) -> list[Notification]:
    query = select(Notification).order_by(Notification.id)
    if kind is not None:
        query = query.where(Notification.kind == kind)
    db.session.expire_all()
    return list(db.session.scalars(query))


# --- a task assigned at creation ----------------------------------------------------------


def test_the_assignee_of_a_new_task_is_told_once_with_creator_and_fee(db, worker, manager):
    task = make_task(manager, title="Feed the parrot", prices=(1500, 3000))
    (told,) = notifications()
    assert (told.popug_id, told.kind, told.task_id) == (worker.id, TASK_ASSIGNED, task.id)
    assert (told.actor_id, told.amount, told.read_at) == (manager.id, -1500, None)
    assert told.day == posting.open_business_day()


def test_a_task_created_onto_oneself_is_told_money_moved(db, worker):
    task = make_task(worker, prices=(1000, 2000))
    (told,) = notifications()
    assert (told.popug_id, told.actor_id, told.task_id) == (worker.id, worker.id, task.id)


def test_a_creation_rolled_back_tells_nobody(db, worker, manager):
    tasks.create_task(title="Never was", jira_id=None, description="", actor=manager)
    db.session.flush()
    assert len(notifications()) == 1  # written with the task, in its transaction
    db.session.rollback()
    assert notifications() == []


# --- a shuffle ----------------------------------------------------------------------------


def test_a_shuffle_tells_each_popug_once_what_it_gave_them(db, manager):
    popugs = [make_popug(role=role) for role in ("worker", "worker", "accountant")]
    for n in range(12):
        make_task(manager, title=f"Task {n}")
    shuffle = shuffle_now(actor=manager)
    db.session.commit()

    told = notifications(SHUFFLED)
    given = Counter(db.session.scalars(select(TASKS.c.assignee_id).where(TASKS.c.status == OPEN)))
    fees: Counter = Counter()
    for popug_id, fee in db.session.execute(
        select(TASKS.c.assignee_id, TASKS.c.fee).where(TASKS.c.status == OPEN)
    ):
        fees[popug_id] += fee
    assert sorted(n.popug_id for n in told) == sorted(given)  # one each, only those given tasks
    assert {n.popug_id: n.count for n in told} == dict(given)
    assert {n.popug_id: -n.amount for n in told} == dict(fees)
    assert {n.shuffle_id for n in told} == {shuffle.id}
    assert {n.day for n in told} == {posting.open_business_day()}
    assert manager.id not in {n.popug_id for n in told}
    assert set(given) <= {p.id for p in popugs}


def test_a_shuffle_of_many_tasks_among_few_popugs_writes_one_row_per_popug(db, manager):
    make_popug(role="worker")
    make_popug(role="worker")
    for n in range(60):
        make_task(manager, title=f"Task {n}")
    shuffle_now(actor=manager)
    db.session.commit()
    told = notifications(SHUFFLED)
    assert len(told) == len({n.popug_id for n in told}) <= 2
    assert sum(n.count for n in told) == 60


def test_a_shuffle_rolled_back_tells_nobody(db, worker, manager):
    make_task(manager)
    shuffle_now(actor=manager)
    db.session.flush()
    assert len(notifications(SHUFFLED)) == 1
    db.session.rollback()
    assert notifications(SHUFFLED) == []


def test_the_shuffle_notification_is_one_statement_and_its_emails_one_more(db, worker, manager):
    make_task(manager)
    make_task(manager)
    shuffle = shuffle_now(actor=manager)
    db.session.execute(Notification.__table__.delete())
    with statements() as run:
        service.on_shuffle_done(None, shuffle_id=shuffle.id)
    # the newest id before (where the new rows start), the notifications, their e-mails
    assert len(run) == 3 and run[0].startswith("SELECT")
    assert run[1].startswith("INSERT INTO notifications")
    assert run[2].startswith("INSERT INTO mail_outbox")
    assert len(notifications(SHUFFLED)) == 1


# --- tasks handed over --------------------------------------------------------------------


def test_tasks_handed_over_tell_each_receiver_once(db, admin, manager):
    leaving = make_popug(role="worker", username="leaving")
    for n in range(5):
        make_task(manager, title=f"Task {n}", assignee=leaving, prices=(1000, 2000))
    stays = make_popug(role="worker", username="stays")
    auth.set_active(leaving.public_id, False, actor=admin)
    db.session.commit()
    (told,) = notifications(HANDED_OVER)
    assert (told.popug_id, told.actor_id, told.count, told.amount) == (
        stays.id,
        leaving.id,
        5,
        -5000,
    )


def test_a_hand_over_rolled_back_tells_nobody(db, admin, manager):
    leaving = make_popug(role="worker", username="leaving")
    make_task(manager, assignee=leaving)
    make_popug(role="worker", username="stays")
    auth.change_role(leaving.public_id, "manager", actor=admin)
    db.session.flush()
    assert len(notifications(HANDED_OVER)) == 1
    db.session.rollback()
    assert notifications(HANDED_OVER) == notifications(ROLE_CHANGED) == []


# --- a day closed -------------------------------------------------------------------------


def test_a_closed_day_tells_each_paid_popug_the_amount(db, worker, manager):
    make_popug(role="accountant", username="in-red")
    task = make_task(manager, assignee=worker, prices=(1000, 3000))
    tasks.complete_task(task.public_id, actor=worker)
    db.session.commit()
    day = clock.business_day()
    result = closing.close_day(day)
    db.session.commit()
    (told,) = notifications(PAID_OUT)
    assert (told.popug_id, told.amount, told.day) == (worker.id, 2000, day)
    assert result.popugs_paid == 1


def test_a_close_rolled_back_tells_nobody(db, worker, manager):
    task = make_task(manager, assignee=worker, prices=(1000, 3000))
    tasks.complete_task(task.public_id, actor=worker)
    db.session.commit()
    closing.close_day(clock.business_day())
    db.session.flush()
    assert len(notifications(PAID_OUT)) == 1
    db.session.rollback()
    assert notifications(PAID_OUT) == []


def test_closing_a_closed_day_again_tells_nobody_again(db, worker, manager):
    task = make_task(manager, assignee=worker, prices=(1000, 3000))
    tasks.complete_task(task.public_id, actor=worker)
    closing.close_day(clock.business_day())
    closing.close_day(clock.business_day())
    db.session.commit()
    assert len(notifications(PAID_OUT)) == 1


# --- a role changed -----------------------------------------------------------------------


def test_a_role_changed_by_an_admin_is_told(db, admin, worker):
    auth.change_role(worker.public_id, "accountant", actor=admin)
    db.session.commit()
    (told,) = notifications(ROLE_CHANGED)
    assert (told.popug_id, told.actor_id, told.role) == (worker.id, admin.id, "accountant")


def test_an_admin_changing_their_own_role_is_not_told(db, admin):
    make_popug(role="admin", username="second-admin")
    auth.change_role(admin.public_id, "manager", actor=admin)
    db.session.commit()
    assert notifications(ROLE_CHANGED) == []


def test_the_same_role_again_tells_nobody(db, admin, worker):
    auth.change_role(worker.public_id, "worker", actor=admin)
    db.session.commit()
    assert notifications() == []


# --- reading ------------------------------------------------------------------------------


def test_mark_read_only_marks_ones_own(db, worker, manager):
    make_task(manager)
    (told,) = notifications()
    with pytest.raises(NotFound):
        service.mark_read(told.id, actor=manager)
    assert notifications()[0].read_at is None
    service.mark_read(told.id, actor=worker)
    first_read = notifications()[0].read_at
    assert first_read is not None
    service.mark_read(told.id, actor=worker)  # again: the first reading stays
    assert notifications()[0].read_at == first_read


def test_mark_all_read_stops_at_the_newest_seen(db, worker, manager):
    for _ in range(3):
        make_task(manager)
    first, second, third = notifications()
    other = make_popug(role="accountant")
    assert service.mark_all_read(actor=other) == 0
    assert service.mark_all_read(actor=worker, up_to=second.id) == 2
    assert [n.read_at is None for n in notifications()] == [False, False, True]
    assert service.mark_all_read(actor=worker) == 1
    assert (
        db.session.scalar(
            select(func.count()).select_from(Notification).where(Notification.read_at.is_(None))
        )
        == 0
    )


def test_the_worker_sends_the_outbox_and_forgets_old_notifications(app, manager, worker):
    """Between shuffles the job worker sends the payout e-mails (no cron needed) and removes
    notifications older than NOTIFICATIONS_KEEP_DAYS."""
    import threading
    from datetime import timedelta

    from app.blueprints.accounting.models import OutboxMessage
    from app.worker import work

    clock.freeze(clock.now() - timedelta(days=91))
    make_task(manager, title="Long ago", assignee=worker, prices=(1000, 2000))  # 91 days old
    clock.freeze(None)
    task = make_task(manager, title="Today", assignee=worker, prices=(1000, 4000))
    tasks.complete_task(task.public_id, actor=db.session.get(type(worker), task.assignee_id))
    closing.close_day(clock.business_day())
    db.session.commit()
    assert db.session.scalars(select(OutboxMessage.status)).all() == ["pending"]
    today = task.id

    work(threading.Event(), poll=0.01, once=True)
    db.session.expire_all()
    assert db.session.scalars(select(OutboxMessage.status)).all() == ["logged"]
    assert [n.task_id for n in notifications(TASK_ASSIGNED)] == [today]  # the old one went
