"""Notification e-mails: right away (queued with the notification, one per popug for a
shuffle), the daily digest (one per popug and day, never twice, none when there was
nothing), never, and the security changes that are e-mailed whatever the popug chose. Each
in the recipient's language, through the outbox."""

import threading
from datetime import date, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from app import signals
from app.blueprints.accounting import mail as outbox_mail
from app.blueprints.accounting.models import MAIL_LOGGED, MAIL_PENDING, OutboxMessage
from app.blueprints.auth import service as auth
from app.blueprints.notifications import mail, service
from app.blueprints.notifications.models import (
    BEAK_CHANGED,
    DAILY,
    EMAIL_CHANGED,
    NEVER,
    RIGHT_AWAY,
    Digest,
    Notification,
)
from app.blueprints.tasks import service as tasks
from app.errors import ServiceError
from app.extensions import db
from app.worker import Chores
from tests.accounting.helpers import freeze
from tests.factories import make_popug, make_task, shuffle_now
from tests.helpers import run_in_threads, statements

D1 = date(2026, 3, 2)


def queued(topic: str | None = None) -> list[OutboxMessage]:
    db.session.expire_all()
    query = select(OutboxMessage).order_by(OutboxMessage.id)
    if topic is not None:
        query = query.where(OutboxMessage.topic == topic)
    return list(db.session.scalars(query))


def choose(popug, choice: str) -> None:
    service.set_email_choice(choice, actor=popug)
    db.session.commit()


def send() -> list[OutboxMessage]:
    """Send the outbox as the job worker does (no MAIL_SERVER: logged); the messages."""
    outbox_mail.send_pending()
    return queued()


# --- the choice ---------------------------------------------------------------------------


def test_the_choice_is_once_a_day_until_a_popug_makes_one(db, worker):
    assert service.email_choice(worker.id) == DAILY
    choose(worker, RIGHT_AWAY)
    assert service.email_choice(worker.id) == RIGHT_AWAY
    choose(worker, NEVER)
    assert service.email_choice(worker.id) == NEVER


def test_a_choice_that_is_none_of_the_three_is_refused(db, worker):
    for bad in ("", "weekly", None, "DAILY"):
        with pytest.raises(ServiceError) as refused:
            service.set_email_choice(bad, actor=worker)
        assert refused.value.field == "choice"
    assert service.email_choice(worker.id) == DAILY


# --- right away ---------------------------------------------------------------------------


def test_right_away_queues_one_email_with_the_notification(db, worker, manager):
    choose(worker, RIGHT_AWAY)
    make_task(manager, title="Feed the parrot", prices=(1500, 3000))
    (message,) = queued()
    (told,) = db.session.scalars(select(Notification))
    assert (message.recipient, message.topic, message.ref) == (
        worker.email,
        "notification",
        told.id,
    )
    assert message.body is None and message.status == MAIL_PENDING  # written when sent
    (sent,) = send()
    assert sent.status == MAIL_LOGGED and sent.subject == "aTES: a task was assigned to you"
    assert f"Hello {worker.username}," in sent.body
    assert "created “Feed the parrot” and it was assigned to you" in sent.body
    assert "$15.00" in sent.body


def test_once_a_day_and_never_queue_nothing_right_away(db, worker, manager):
    accountant = make_popug(role="accountant")
    choose(accountant, NEVER)
    make_task(manager, assignee=worker)
    make_task(manager, assignee=accountant)
    assert db.session.query(Notification).count() == 2
    assert queued() == []


def test_an_event_rolled_back_queues_no_email(db, worker, manager):
    choose(worker, RIGHT_AWAY)
    tasks.create_task(title="Never was", jira_id=None, description="", actor=manager)
    db.session.flush()
    assert len(queued()) == 1
    db.session.rollback()
    assert queued() == []


def test_right_away_is_written_in_the_recipients_language(db, worker, manager):
    choose(worker, RIGHT_AWAY)
    worker.locale = "ru"
    db.session.commit()
    make_task(manager, title="Покормить попугая", prices=(1500, 3000))
    (sent,) = send()
    assert sent.subject == "aTES: вам назначена задача"
    assert sent.body.startswith(f"Здравствуйте, {worker.username}!")
    assert "Покормить попугая" in sent.body


def test_a_shuffle_emails_each_popug_who_chose_right_away_once(db, manager):
    eager = [make_popug(role="worker") for _ in range(3)]
    calm = make_popug(role="worker")
    for popug in eager:
        choose(popug, RIGHT_AWAY)
    for n in range(24):
        make_task(manager, title=f"Task {n}")
    db.session.execute(OutboxMessage.__table__.delete())  # the creations' e-mails
    shuffle = shuffle_now(actor=manager)
    db.session.commit()

    given = {
        n.popug_id: n
        for n in db.session.scalars(
            select(Notification).where(Notification.shuffle_id == shuffle.id)
        )
    }
    mailed = queued()
    # one e-mail per popug the shuffle gave tasks to and who chose right away, never per task
    assert sorted(m.recipient for m in mailed) == sorted(p.email for p in eager if p.id in given)
    assert calm.email not in {m.recipient for m in mailed}
    for message in send():
        popug = next(p for p in eager if p.email == message.recipient)
        count = given[popug.id].count
        assert message.subject == "aTES: a shuffle gave you tasks"
        assert f"A shuffle gave you {count} task" in message.body


def test_a_shuffles_emails_are_one_statement_whatever_their_number(db, manager):
    for _ in range(3):
        choose(make_popug(role="worker"), RIGHT_AWAY)
    for n in range(9):
        make_task(manager, title=f"Task {n}")
    shuffle = shuffle_now(actor=manager)
    db.session.execute(Notification.__table__.delete())
    db.session.execute(OutboxMessage.__table__.delete())
    with statements() as run:
        service.on_shuffle_done(None, shuffle_id=shuffle.id)
    assert [sql.split()[0:3] for sql in run if sql.startswith("INSERT")] == [
        ["INSERT", "INTO", "notifications"],
        ["INSERT", "INTO", "mail_outbox"],
    ]
    assert 1 <= len(queued()) <= 3


def test_a_payout_is_not_emailed_twice(db, worker, manager):
    """The close of a day e-mails every payout already; right away adds none."""
    choose(worker, RIGHT_AWAY)
    service.on_day_closed(None, day=D1)
    assert queued("notification") == []


def test_a_role_change_by_an_admin_is_emailed_right_away(db, admin, worker):
    choose(worker, RIGHT_AWAY)
    auth.change_role(worker.public_id, "accountant", actor=admin)
    db.session.commit()
    (sent,) = send()
    assert sent.subject == "aTES: your role was changed"
    assert f"{admin.username} changed your role to accountant." in sent.body


# --- always e-mailed: an admin's change of e-mail or beak shape -------------------------


@pytest.mark.parametrize("choice", [NEVER, DAILY, RIGHT_AWAY])
def test_credentials_changes_are_always_emailed_also_to_the_old_address(db, admin, worker, choice):
    choose(worker, choice)
    signals.tell(
        signals.credentials_changed,
        popug_id=worker.id,
        actor_id=admin.id,
        fields=("email", "beak_shape"),
        previous_email="old-address@uberpopug.inc",
    )
    db.session.commit()
    kinds = [n.kind for n in db.session.scalars(select(Notification).order_by(Notification.id))]
    assert kinds == [EMAIL_CHANGED, BEAK_CHANGED]
    sent = send()
    assert sorted((m.recipient, m.subject) for m in sent) == sorted(
        [
            (worker.email, "aTES: your e-mail address was changed"),
            ("old-address@uberpopug.inc", "aTES: your e-mail address was changed"),
            (worker.email, "aTES: your beak shape was reset"),
        ]
    )
    for message in sent:
        assert "If you did not expect this one, tell an admin at once." in message.body
        assert f"{admin.username} " in message.body


def test_a_beak_reset_is_emailed_once_to_the_current_address_in_their_language(db, admin, worker):
    worker.browser_locale = "ru"
    db.session.commit()
    signals.tell(
        signals.credentials_changed,
        popug_id=worker.id,
        actor_id=admin.id,
        fields=("beak_shape",),
        previous_email=None,
    )
    db.session.commit()
    (sent,) = send()
    assert sent.recipient == worker.email
    assert sent.subject == "aTES: форма вашего клюва сброшена"
    assert f"{admin.username} сбросил форму вашего клюва." in sent.body


def test_an_admins_change_of_email_and_beak_reaches_the_popug(db, admin, worker):
    """Through auth's own services, not a hand-told signal: both changes notify the popug
    and e-mail them, the e-mail change at the old address too."""
    old = worker.email
    choose(worker, NEVER)
    auth.change_email(worker.public_id, "new-address@uberpopug.inc", actor=admin)
    auth.set_beak_shape(worker.public_id, "a brand-new hooked beak", actor=admin)
    db.session.commit()
    kinds = [n.kind for n in db.session.scalars(select(Notification).order_by(Notification.id))]
    assert kinds == [EMAIL_CHANGED, BEAK_CHANGED]
    assert sorted((m.recipient, m.subject) for m in send()) == sorted(
        [
            ("new-address@uberpopug.inc", "aTES: your e-mail address was changed"),
            (old, "aTES: your e-mail address was changed"),
            ("new-address@uberpopug.inc", "aTES: your beak shape was reset"),
        ]
    )


def test_a_credentials_change_rolled_back_emails_nobody(db, admin, worker):
    signals.tell(
        signals.credentials_changed,
        popug_id=worker.id,
        actor_id=admin.id,
        fields=("email",),
        previous_email="old@uberpopug.inc",
    )
    db.session.flush()
    assert len(queued()) == 2
    db.session.rollback()
    assert queued() == [] and db.session.query(Notification).count() == 0


# --- the daily digest ---------------------------------------------------------------------


def notified_on(day: date, manager, *assignees, title="Task") -> None:
    """A task created onto each of `assignees` at 10:00 on `day`."""
    freeze(f"{day.isoformat()} 10:00")
    for n, assignee in enumerate(assignees):
        make_task(manager, title=f"{title} {n}", assignee=assignee, prices=(1000, 2000))


def test_the_digest_lists_the_days_notifications_once_per_popug(db, manager):
    daily, other = make_popug(role="worker"), make_popug(role="worker")
    notified_on(D1, manager, daily, daily, other, title="Sweep")
    notified_on(D1 + timedelta(days=1), manager, daily, title="Tomorrow")
    freeze(f"{(D1 + timedelta(days=2)).isoformat()} 08:00")
    assert service.queue_digests(D1) == 2
    db.session.commit()
    by_recipient = {m.recipient: m for m in send()}
    assert set(by_recipient) == {daily.email, other.email}
    mine = by_recipient[daily.email]
    assert mine.subject == "aTES: 2 notifications on 2026-03-02"
    assert "What aTES did to your work and money on 2026-03-02:" in mine.body
    assert "“Sweep 0”" in mine.body and "“Sweep 1”" in mine.body
    assert "Tomorrow" not in mine.body
    assert by_recipient[other.email].subject == "aTES: 1 notification on 2026-03-02"


def test_the_digest_is_queued_once_however_often_it_runs(db, manager, worker):
    notified_on(D1, manager, worker)
    assert service.queue_digests(D1) == 1
    db.session.commit()
    assert service.queue_digests(D1) == 0
    db.session.commit()
    assert len(queued("digest")) == 1
    assert db.session.query(Digest).count() == 1


def test_a_second_digest_of_a_popugs_day_is_refused_by_the_database(db, worker):
    db.session.add(Digest(popug_id=worker.id, day=D1, count=1))
    db.session.commit()
    db.session.add(Digest(popug_id=worker.id, day=D1, count=1))
    with pytest.raises(IntegrityError):
        db.session.commit()
    db.session.rollback()


def test_no_digest_for_a_day_without_notifications(db, manager, worker):
    notified_on(D1, manager, worker)
    assert service.queue_digests(D1 + timedelta(days=1)) == 0
    assert service.queue_digests(D1 - timedelta(days=1)) == 0
    assert queued() == []


def test_only_popugs_who_chose_once_a_day_get_a_digest(db, manager):
    daily, never, eager = (make_popug(role="worker") for _ in range(3))
    choose(never, NEVER)
    choose(eager, RIGHT_AWAY)
    choose(daily, DAILY)
    notified_on(D1, manager, daily, never, eager)
    db.session.execute(OutboxMessage.__table__.delete())  # eager's right-away e-mail
    assert service.queue_digests(D1) == 1
    assert [m.recipient for m in queued()] == [daily.email]


def test_the_digest_is_in_the_recipients_language(db, manager, worker):
    worker.locale = "ru"
    db.session.commit()
    notified_on(D1, manager, worker, worker, worker, worker, worker)
    service.queue_digests(D1)
    db.session.commit()
    (sent,) = send()
    assert sent.subject == "aTES: 5 уведомлений за 02.03.2026"
    assert "Что aTES сделал с вашей работой и деньгами 02.03.2026:" in sent.body


def test_a_long_day_is_listed_up_to_a_limit(db, manager, worker, monkeypatch):
    monkeypatch.setattr(mail, "DIGEST_LISTED", 2)
    notified_on(D1, manager, worker, worker, worker)
    service.queue_digests(D1)
    db.session.commit()
    (sent,) = send()
    assert sent.body.count("it was assigned to you") == 2
    assert "and 1 more: see the Notifications page of aTES." in sent.body


def test_the_worker_queues_yesterdays_digest_once_a_day(app, db, manager, worker):
    notified_on(D1, manager, worker)
    freeze(f"{D1.isoformat()} 23:59")
    chores = Chores(every=3600)
    chores._digest_when_due()
    assert queued("digest") == []  # the day is not over
    freeze(f"{(D1 + timedelta(days=1)).isoformat()} 00:10")
    chores._digest_when_due()
    chores._digest_when_due()
    Chores(every=3600)._digest_when_due()  # a restarted (or second) worker
    assert [m.recipient for m in queued("digest")] == [worker.email]


def test_the_command_line_queues_a_days_digest(app, db, manager, worker):
    notified_on(D1, manager, worker)
    runner = app.test_cli_runner()
    result = runner.invoke(args=["notifications", "digest", "--day", D1.isoformat()])
    assert result.exit_code == 0, result.output
    assert "Queued 1 digest e-mail(s) of 2026-03-02." in result.output
    again = runner.invoke(args=["notifications", "digest", "--day", D1.isoformat()])
    assert "Queued 0 digest e-mail(s)" in again.output
    assert len(queued("digest")) == 1


def test_a_message_whose_notification_is_gone_is_logged_not_sent(db, manager, worker):
    choose(worker, RIGHT_AWAY)
    make_task(manager)
    db.session.execute(Notification.__table__.delete())
    db.session.commit()
    (message,) = send()
    assert message.status == MAIL_LOGGED and message.last_error


@pytest.mark.postgres
def test_workers_digesting_at_once_queue_each_digest_once(app, db, manager):
    """Real threads on PostgreSQL, each a worker's chores at the same moment: the unique
    record lets one queue the day's digests; the others queue none and carry on."""
    popugs = [make_popug(role="worker") for _ in range(4)]
    notified_on(D1, manager, *popugs, *popugs)
    freeze(f"{(D1 + timedelta(days=1)).isoformat()} 00:10")
    barrier = threading.Barrier(4, timeout=30)

    def worker_chores():
        chores = Chores(every=3600)
        barrier.wait()
        chores._digest_when_due()
        assert chores.digested == D1

    assert run_in_threads(app, [worker_chores] * 4) == []
    mailed = queued("digest")
    assert sorted(m.recipient for m in mailed) == sorted(p.email for p in popugs)
    assert db.session.query(Digest).count() == 4


def test_old_digests_are_forgotten_with_old_notifications(db, manager, worker):
    notified_on(D1, manager, worker)
    service.queue_digests(D1)
    db.session.commit()
    freeze(f"{(D1 + timedelta(days=10)).isoformat()} 12:00")
    service.forget_older_than(30)
    assert db.session.query(Digest).count() == 1
    service.forget_older_than(5)
    assert db.session.query(Digest).count() == 0
    assert db.session.query(Notification).count() == 0


def test_the_outbox_page_shows_a_message_not_yet_written(app, db, accountant, manager, worker):
    from tests.helpers import signed_in_client

    choose(worker, RIGHT_AWAY)
    make_task(manager, assignee=worker)
    html = signed_in_client(app, accountant).get("/accounting/outbox").get_data(as_text=True)
    assert worker.email in html and "Written when it is sent" in html
    send()
    html = signed_in_client(app, accountant).get("/accounting/outbox").get_data(as_text=True)
    assert "aTES: a task was assigned to you" in html
