"""The payout e-mail outbox: logged in development, delivered over real SMTP exactly once,
kept and retried with backoff while the server is down."""

import logging
from datetime import timedelta

import pytest

from app import clock
from app.blueprints.accounting import closing, mail
from app.extensions import db
from tests.accounting.conftest import D1
from tests.accounting.helpers import complete, freeze, make_task_for, outbox
from tests.factories import make_popug


def test_without_mail_server_messages_are_logged_and_kept(paid_day, caplog):
    caplog.set_level(logging.INFO)
    report = mail.send_pending()
    assert (report.sent, report.logged, report.failed, report.pending) == (0, 2, 0, 0)
    messages = outbox()
    assert [(m.status, m.attempts, m.sent_at) for m in messages] == [
        ("logged", 1, clock.now()),
        ("logged", 1, clock.now()),
    ]
    assert "aTES payout for 2026-03-02: $15.00" in caplog.text
    assert "kesha@uberpopug.inc" in caplog.text
    again = mail.send_pending()
    assert (again.logged, again.pending) == (0, 0)
    assert caplog.text.count("aTES payout for 2026-03-02: $15.00") == 1


def test_smtp_down_keeps_messages_then_delivers_each_once(paid_day, smtp):
    report = mail.send_pending()
    assert (report.sent, report.failed, report.pending) == (0, 2, 2)
    messages = outbox()
    assert [(m.status, m.attempts) for m in messages] == [("pending", 1), ("pending", 1)]
    assert all("ConnectionRefusedError" in m.last_error for m in messages)
    assert all(m.next_attempt_at == clock.now() + timedelta(minutes=1) for m in messages)

    assert mail.send_pending().failed == 0  # not due yet: the backoff holds
    assert [m.attempts for m in outbox()] == [1, 1]

    smtp.start()
    freeze("2026-03-02 23:02")
    report = mail.send_pending()
    assert (report.sent, report.failed, report.pending) == (2, 0, 0)
    assert [(m.status, m.attempts, m.last_error) for m in outbox()] == [
        ("sent", 2, None),
        ("sent", 2, None),
    ]
    assert smtp.inbox.recipients() == ["gosha@uberpopug.inc", "kesha@uberpopug.inc"]
    by_recipient = {rcpts[0]: message for rcpts, message in smtp.inbox.received}
    kesha_mail = by_recipient["kesha@uberpopug.inc"]
    assert kesha_mail["Subject"] == "aTES payout for 2026-03-02: $15.00"
    assert kesha_mail["From"] == "ates@uberpopug.inc"
    assert "Paid out: $15.00" in kesha_mail.get_content()
    assert kesha_mail["Message-ID"].startswith("<ates-outbox-")

    freeze("2026-03-03 09:00")
    assert mail.send_pending().sent == 0
    assert len(smtp.inbox.received) == 2


def test_backoff_grows_and_is_capped():
    assert [mail.backoff(n).total_seconds() / 60 for n in (1, 2, 3, 4, 7, 8, 20)] == [
        1,
        2,
        4,
        8,
        60,
        60,
        60,
    ]


def test_retry_now_makes_failed_messages_due(paid_day, smtp):
    mail.send_pending()
    smtp.start()
    assert mail.send_pending().sent == 0  # still backing off
    assert mail.retry_now() == 2
    assert mail.send_pending().sent == 2
    assert len(smtp.inbox.received) == 2


def test_a_refused_recipient_does_not_hold_back_the_others(app, smtp):
    kesha = make_popug("worker", username="kesha")
    refused = make_popug("worker", username="refused-one")
    freeze("2026-03-02 09:00")
    complete(make_task_for(kesha, fee=1000, reward=2000), kesha)
    complete(make_task_for(refused, fee=1000, reward=2000), refused)
    closing.close_day(D1)
    db.session.commit()
    smtp.start()

    report = mail.send_pending()

    assert (report.sent, report.failed, report.pending) == (1, 1, 1)
    assert smtp.inbox.recipients() == ["kesha@uberpopug.inc"]
    failed = [m for m in outbox() if m.status == "pending"]
    assert failed[0].recipient == "refused-one@uberpopug.inc"
    assert "SMTPRecipientsRefused" in failed[0].last_error


def test_a_crash_mid_batch_never_sends_a_delivered_message_again(paid_day, smtp, monkeypatch):
    """The sender dies after delivering the first message: the first is marked sent, the
    second waits out its lease and goes later; nobody gets two e-mails."""
    smtp.start()
    real_email = mail._email
    calls = []

    def dies_on_second(message):
        calls.append(message.id)
        if len(calls) == 2:
            raise KeyboardInterrupt("killed")
        return real_email(message)

    monkeypatch.setattr(mail, "_email", dies_on_second)
    with pytest.raises(KeyboardInterrupt):
        mail.send_pending()
    monkeypatch.setattr(mail, "_email", real_email)
    db.session.rollback()

    first, second = outbox()
    assert (first.status, second.status) == ("sent", "pending")
    assert mail.send_pending().sent == 0  # the second is still leased to the dead sender
    freeze("2026-03-02 23:16")
    assert mail.send_pending().sent == 1
    assert sorted(smtp.inbox.recipients()) == ["gosha@uberpopug.inc", "kesha@uberpopug.inc"]
    assert [m.status for m in outbox()] == ["sent", "sent"]


def test_a_claimed_message_is_not_claimed_twice(paid_day):
    first = mail._claim(10)
    second = mail._claim(10)
    assert len(first.messages) == 2 and second.messages == []
    assert [m.attempts for m in outbox()] == [1, 1]


def test_limit_bounds_one_run(paid_day):
    report = mail.send_pending(limit=1)
    assert (report.logged, report.pending) == (1, 1)
    assert mail.send_pending().logged == 1


def test_a_sender_whose_claim_was_taken_over_neither_sends_nor_marks(paid_day, smtp):
    """Sender A's lease runs out and B claims the rows: A's claim token no longer holds, so
    A sends nothing and records nothing; B delivers each message once."""
    smtp.start()
    late = mail._claim(10)
    freeze("2026-03-02 23:16")  # past A's lease
    taker = mail._claim(10)
    assert [m.id for m in taker.messages] == [m.id for m in late.messages]
    assert late.token != taker.token

    report = mail.SendReport()
    assert mail._deliver(late, report)
    assert (report.sent, report.failed, smtp.inbox.received) == (0, 0, [])
    mail._mark_failed(late, late.messages, OSError("A's stale verdict"))
    assert {(m.status, m.claim_token, m.last_error) for m in outbox()} == {
        ("pending", taker.token, None)
    }

    report = mail.SendReport()
    assert mail._deliver(taker, report)
    assert report.sent == 2
    assert sorted(smtp.inbox.recipients()) == ["gosha@uberpopug.inc", "kesha@uberpopug.inc"]
    assert {(m.status, m.claim_token) for m in outbox()} == {("sent", None)}


def test_the_lease_is_renewed_before_each_message(paid_day, smtp, monkeypatch):
    """A batch that takes longer than one lease: before each message the rest of the batch
    gets a fresh lease, so a second sender finds nothing due while the first still sends."""
    smtp.start()
    real_email = mail._email
    competing = []

    def slow(message):
        # each message takes ten minutes; the second starts after the first lease ended
        clock.freeze(clock.now() + timedelta(minutes=10))
        competing.append(len(mail._claim(10).messages))
        return real_email(message)

    monkeypatch.setattr(mail, "_email", slow)
    assert mail.send_pending().sent == 2
    assert competing == [0, 0]
    assert len(smtp.inbox.received) == 2


def test_a_failure_leaves_the_message_for_a_later_claim(paid_day, smtp):
    """A failed attempt gives up its claim: the token is cleared with the error recorded."""
    report = mail.send_pending()  # no server listening
    assert report.failed == 2
    assert {(m.claim_token is None, m.last_error is not None) for m in outbox()} == {(True, True)}


def test_a_delivery_recorded_after_a_takeover_stops_the_new_holder_sending_it(paid_day, smtp):
    """A's server accepted a message, but A's lease ran out (and B claimed the rows) before
    A recorded it: A still records the delivery, and B's re-check then skips that message."""
    smtp.start()
    late = mail._claim(10)
    freeze("2026-03-02 23:16")
    taker = mail._claim(10)
    delivered, other = late.messages
    mail._mark_delivered(delivered.id, "sent")  # A's DATA had been accepted

    report = mail.SendReport()
    assert mail._deliver(taker, report)
    assert report.sent == 1
    assert [message["Message-ID"] for _, message in smtp.inbox.received] == [
        f"<ates-outbox-{other.id}@uberpopug.inc>"
    ]
    assert [m.status for m in outbox()] == ["sent", "sent"]
