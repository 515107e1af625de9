"""`billing close-day`, `billing send-mail` and `accounting verify` from the command line."""

from datetime import date

import pytest
from sqlalchemy import text

from app.audit import AuditEvent
from app.blueprints.accounting import mail
from app.blueprints.accounting.models import BillingDay
from app.extensions import db
from tests.accounting.helpers import (
    balance,
    billing_day,
    complete,
    free_port,
    freeze,
    make_task_for,
    outbox,
    payouts,
)
from tests.factories import make_popug
from tests.helpers import count


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


@pytest.fixture
def kesha(app):
    kesha = make_popug("worker", username="kesha")
    freeze("2026-03-02 09:00")
    complete(make_task_for(kesha, fee=1200, reward=3000), kesha)  # +$18.00 on the 2nd
    return kesha


def invoke(runner, *args):
    db.session.commit()  # the command opens its own write transaction
    result = runner.invoke(args=list(args))
    db.session.expire_all()
    return result


def closes():
    return db.session.query(AuditEvent).filter_by(action="billing.close_day").all()


def test_close_day_defaults_to_yesterday_and_sends_mail(runner, kesha):
    freeze("2026-03-03 00:05")
    result = invoke(runner, "billing", "close-day")
    assert result.exit_code == 0, result.output
    assert "Closed 2026-03-02: paid $18.00 to 1 popug, 0 left in the red; 1 e-mail queued." in (
        result.output
    )
    assert "E-mail: Sent 0, logged 1, failed 0; 0 still pending." in result.output
    assert payouts() == {("kesha", "2026-03-02"): 1800}
    assert [m.status for m in outbox()] == ["logged"]
    [event] = closes()
    assert (event.action, event.actor_username, event.address) == (
        "billing.close_day",
        "system",
        "cli",
    )

    again = invoke(runner, "billing", "close-day")
    assert again.exit_code == 0
    assert "Nothing to close: the last day that has ended (2026-03-02) is already closed." in (
        again.output
    )
    explicit = invoke(runner, "billing", "close-day", "--date", "2026-03-02")
    assert "2026-03-02 was already closed (paid $18.00 to 1 popug" in explicit.output
    assert len(closes()) == 1 and len(outbox()) == 1


def test_close_day_refuses_bad_dates(runner, kesha):
    freeze("2026-03-02 12:00")
    future = invoke(runner, "billing", "close-day", "--date", "2026-03-05")
    assert future.exit_code == 1
    assert "2026-03-05 has not begun yet" in future.output
    malformed = invoke(runner, "billing", "close-day", "--date", "02.03.2026")
    assert malformed.exit_code == 2
    assert count(BillingDay) == 0


def test_crash_between_payout_and_mail_then_rerun(runner, kesha, monkeypatch):
    """The close commits, the process dies while sending; the rerun pays nobody again and
    delivers the waiting e-mail once."""
    freeze("2026-03-03 00:05")

    def dies(*args, **kwargs):
        raise RuntimeError("killed while sending")

    monkeypatch.setattr(mail, "_log", dies)
    crashed = invoke(runner, "billing", "close-day")
    assert crashed.exit_code == 0
    assert "Could not send the payout e-mails (killed while sending)" in crashed.output
    assert payouts() == {("kesha", "2026-03-02"): 1800}
    assert balance(kesha) == 0
    [message] = outbox()
    assert (message.status, message.attempts) == ("pending", 1)
    monkeypatch.undo()

    freeze("2026-03-03 00:25")  # past the crashed sender's lease
    rerun = invoke(runner, "billing", "close-day")
    assert rerun.exit_code == 0
    assert "E-mail: Sent 0, logged 1, failed 0; 0 still pending." in rerun.output
    assert payouts() == {("kesha", "2026-03-02"): 1800}
    assert [(m.status, m.attempts) for m in outbox()] == [("logged", 2)]


def test_send_mail_command(runner, kesha, monkeypatch, app):
    freeze("2026-03-02 20:00")
    monkeypatch.setitem(app.config, "MAIL_SERVER", "127.0.0.1")
    monkeypatch.setitem(app.config, "MAIL_PORT", free_port())  # nothing listens there
    closed = invoke(runner, "billing", "close-day", "--date", "2026-03-02")
    assert closed.exit_code == 0
    assert "E-mail: Sent 0, logged 0, failed 1; 1 still pending." in closed.output
    monkeypatch.setitem(app.config, "MAIL_SERVER", "")
    freeze("2026-03-02 20:01")
    result = invoke(runner, "billing", "send-mail")
    assert result.exit_code == 0
    assert result.output.strip() == "E-mail: Sent 0, logged 1, failed 0; 0 still pending."
    assert invoke(runner, "billing", "send-mail").output.strip() == (
        "E-mail: Sent 0, logged 0, failed 0; 0 still pending."
    )


def test_send_mail_reports_failures_with_exit_1(runner, kesha, monkeypatch, app):
    freeze("2026-03-02 20:00")
    monkeypatch.setitem(app.config, "MAIL_SERVER", "127.0.0.1")
    monkeypatch.setitem(app.config, "MAIL_PORT", free_port())  # nothing listens there
    invoke(runner, "billing", "close-day", "--date", "2026-03-02")
    freeze("2026-03-02 20:05")
    result = invoke(runner, "billing", "send-mail", "--retry-now")
    assert result.exit_code == 1
    assert "failed 1; 1 still pending." in result.output
    assert [m.attempts for m in outbox()] == [2]


def test_verify_command(runner, kesha):
    freeze("2026-03-02 20:00")
    invoke(runner, "billing", "close-day", "--date", "2026-03-02")
    ok = invoke(runner, "accounting", "verify")
    assert ok.exit_code == 0, ok.output
    assert "The books balance" in ok.output

    db.session.execute(text("UPDATE accounts SET balance = 777"))
    broken = invoke(runner, "accounting", "verify")
    assert broken.exit_code == 1
    assert "The books do not balance (1 problem):" in broken.output
    assert "Account kesha: balance $7.77 but its ledger entries sum to $0.00." in broken.output


def test_close_day_pays_each_popug_once_over_many_days(runner, app):
    popugs = [make_popug("worker", username=f"popug{n}") for n in range(3)]
    for day in (2, 3, 4):
        freeze(f"2026-03-0{day} 10:00")
        for n, popug in enumerate(popugs):
            complete(make_task_for(popug, fee=1000, reward=1000 + 500 * n), popug)
        freeze(f"2026-03-0{day + 1} 00:01")
        assert invoke(runner, "billing", "close-day").exit_code == 0
    assert payouts() == {
        (f"popug{n}", f"2026-03-0{day}"): 500 * n for n in (1, 2) for day in (2, 3, 4)
    }
    assert billing_day("2026-03-04").popugs_paid == 2
    assert date(2026, 3, 4) == billing_day("2026-03-04").day
