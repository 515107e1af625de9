"""Closing a business day: payouts to the cent, exactly once, across midnight and timezones."""

from datetime import date

import pytest

from app import clock
from app.blueprints.accounting import closing, queries, verify
from app.blueprints.accounting.models import PAYOUT, BillingDay, LedgerEntry, Payout
from app.errors import ServiceError
from app.extensions import db
from tests.accounting.helpers import (
    balance,
    billing_day,
    complete,
    entries_of,
    freeze,
    make_task_for,
    outbox,
    payouts,
)
from tests.factories import make_popug, shuffle_now
from tests.helpers import count

D1, D2 = date(2026, 3, 2), date(2026, 3, 3)


@pytest.fixture
def kesha(app):
    return make_popug("worker", username="kesha")


@pytest.fixture
def gosha(app):
    return make_popug("worker", username="gosha")


def hand_built_day(kesha, gosha):
    """2026-03-02 (UTC): kesha gets A ($15 fee, $30 reward) and B ($12, $25) and finishes A;
    gosha gets C ($20, $40). Balances: kesha +$3.00, gosha −$20.00."""
    freeze("2026-03-02 09:00")
    a = make_task_for(kesha, fee=1500, reward=3000, title="Feed the parrot", jira_id="UBERPOP-1")
    freeze("2026-03-02 10:00")
    b = make_task_for(kesha, fee=1200, reward=2500, title="Polish the beak")
    freeze("2026-03-02 11:00")
    c = make_task_for(gosha, fee=2000, reward=4000, title="Count the seeds")
    freeze("2026-03-02 12:00")
    complete(a, kesha)
    return a, b, c


def test_day_figures_to_the_cent(kesha, gosha):
    hand_built_day(kesha, gosha)
    assert (balance(kesha), balance(gosha)) == (300, -2000)
    totals = queries.day_totals(D1)
    assert (totals.fees, totals.rewards, totals.payouts) == (4700, 3000, 0)
    assert totals.management_earnings == 1700
    assert queries.management_earnings(D1) == 1700
    assert queries.account_summary(kesha.id, D1, D1).earnings_today == 300
    assert queries.account_summary(gosha.id, D1, D1).earnings_today == -2000
    assert closing.preview_close(D1) == closing.ClosePreview(D1, 1, 300, 1)


def test_close_pays_positive_balances_and_carries_negative_ones(kesha, gosha):
    hand_built_day(kesha, gosha)
    freeze("2026-03-02 18:00")

    result = closing.close_day(D1)
    db.session.commit()

    assert result == closing.CloseResult(D1, True, 1, 300, 1, 1)
    assert (balance(kesha), balance(gosha)) == (0, -2000)
    assert payouts() == {("kesha", "2026-03-02"): 300}
    payout_entry = entries_of(kesha)[-1]
    assert (payout_entry.kind, payout_entry.amount, payout_entry.business_day) == (
        PAYOUT,
        -300,
        D1,
    )
    assert payout_entry.task_id is None
    day = billing_day("2026-03-02")
    assert (day.fees, day.rewards, day.payouts, day.popugs_paid, day.popugs_in_red) == (
        4700,
        3000,
        300,
        1,
        1,
    )
    assert day.closed_at == clock.now()
    [message] = outbox()
    assert (message.recipient, message.status, message.attempts) == (
        "kesha@uberpopug.inc",
        "pending",
        0,
    )
    assert message.subject == "aTES payout for 2026-03-02: $3.00"
    assert "Paid out: $3.00" in message.body
    assert "Tasks done: 1" in message.body
    assert "Rewards:    $30.00" in message.body
    assert "Fees:       \u2212$27.00" in message.body
    assert "Earnings:   +$3.00" in message.body
    assert verify.verify() == []


def test_negative_balance_carries_over_and_is_paid_off_the_next_day(kesha, gosha):
    _, b, c = hand_built_day(kesha, gosha)
    freeze("2026-03-02 23:00")
    closing.close_day(D1)
    db.session.commit()

    freeze("2026-03-03 09:00")
    complete(c, gosha)  # gosha: −$20 + $40
    complete(b, kesha)  # kesha: $0 + $25
    assert (balance(kesha), balance(gosha)) == (2500, 2000)
    freeze("2026-03-03 20:00")
    result = closing.close_day(D2)
    db.session.commit()

    assert (result.popugs_paid, result.total_paid, result.popugs_in_red) == (2, 4500, 0)
    assert (balance(kesha), balance(gosha)) == (0, 0)
    assert payouts() == {
        ("kesha", "2026-03-02"): 300,
        ("kesha", "2026-03-03"): 2500,
        ("gosha", "2026-03-03"): 2000,
    }
    day2 = billing_day("2026-03-03")
    assert (day2.fees, day2.rewards, day2.payouts, day2.popugs_in_red) == (0, 6500, 4500, 0)
    gosha_mail = [m for m in outbox() if m.recipient == "gosha@uberpopug.inc"]
    assert len(gosha_mail) == 1
    assert "Paid out: $20.00" in gosha_mail[0].body
    assert "Rewards:    $40.00" in gosha_mail[0].body
    assert "Fees:       $0.00" in gosha_mail[0].body
    assert verify.verify() == []


def test_closing_twice_changes_nothing(kesha, gosha):
    hand_built_day(kesha, gosha)
    freeze("2026-03-02 18:00")
    first = closing.close_day(D1)
    db.session.commit()
    freeze("2026-03-02 18:05")

    again = closing.close_day(D1)
    db.session.commit()

    assert first.closed_now and not again.closed_now
    assert (again.popugs_paid, again.total_paid, again.popugs_in_red, again.messages) == (
        1,
        300,
        1,
        0,
    )
    assert count(Payout) == 1
    assert count(LedgerEntry, LedgerEntry.kind == PAYOUT) == 1
    assert len(outbox()) == 1
    assert balance(kesha) == 0
    assert billing_day("2026-03-02").closed_at == freeze("2026-03-02 18:00")


def test_entries_after_the_close_belong_to_the_next_day(kesha, gosha):
    hand_built_day(kesha, gosha)
    freeze("2026-03-02 18:00")
    closing.close_day(D1)
    db.session.commit()

    freeze("2026-03-02 19:00")  # still the 2nd on the clock, but the 2nd is closed
    late = make_task_for(kesha, fee=1100, reward=2100)
    complete(late, kesha)

    late_entries = entries_of(kesha)[-2:]
    assert [(e.kind, e.business_day) for e in late_entries] == [
        ("assign_fee", D2),
        ("reward", D2),
    ]
    assert queries.day_totals(D1).fees == 4700  # the closed day did not change
    assert queries.day_totals(D2).management_earnings == 1100 - 2100
    assert balance(kesha) == 1000
    assert verify.verify() == []


def test_crash_inside_the_close_rolls_back_and_a_rerun_pays_once(kesha, gosha, monkeypatch):
    """A crash after the payouts were written but before the e-mails were queued leaves no
    trace; the rerun pays each account once and queues each e-mail once."""
    hand_built_day(kesha, gosha)
    freeze("2026-03-02 18:00")

    def crash(*args, **kwargs):
        raise RuntimeError("power cut")

    with monkeypatch.context() as patch:
        patch.setattr(closing, "_queue_payout_mail", crash)  # where close_day calls it
        with pytest.raises(RuntimeError):
            closing.close_day(D1)
        db.session.rollback()

    assert count(Payout) == 0 and count(BillingDay) == 0 and outbox() == []
    assert balance(kesha) == 300
    closing.close_day(D1)
    db.session.commit()
    assert payouts() == {("kesha", "2026-03-02"): 300}
    assert len(outbox()) == 1
    assert verify.verify() == []


def test_payout_key_is_unique_per_account_and_day(kesha, gosha):
    """The database itself refuses a second payout of one account for one day."""
    from sqlalchemy.exc import IntegrityError

    hand_built_day(kesha, gosha)
    freeze("2026-03-02 18:00")
    closing.close_day(D1)
    db.session.commit()
    account_id = queries.account_of(kesha.id).id
    db.session.add(Payout(account_id=account_id, day=D1, amount=1, created_at=clock.now()))
    with pytest.raises(IntegrityError):
        db.session.flush()
    db.session.rollback()


def test_late_close_after_midnight_pays_the_balance_at_the_end_of_the_day(kesha, gosha):
    """Cron closes yesterday after midnight; today's first entries stay out of the payout."""
    hand_built_day(kesha, gosha)
    freeze("2026-03-03 00:01")
    early = make_task_for(kesha, fee=1000, reward=2000)  # kesha now −$7.00 overall
    complete(early, kesha)  # +$13.00 overall, but $3.00 at the end of the 2nd
    freeze("2026-03-03 00:05")

    assert closing.day_to_close() == D1
    result = closing.close_day(D1)
    db.session.commit()

    assert payouts() == {("kesha", "2026-03-02"): 300}
    assert balance(kesha) == 1000  # today's +$10.00 stays
    assert result.popugs_in_red == 1
    assert queries.day_totals(D2).management_earnings == 1000 - 2000
    assert closing.day_to_close() is None
    assert verify.verify() == []


@pytest.mark.parametrize(
    ("tz", "before", "after"),
    [
        ("Europe/Moscow", "2026-03-02 20:59", "2026-03-02 21:01"),  # 23:59 / 00:01 MSK
        ("America/New_York", "2026-03-03 04:59", "2026-03-03 05:01"),  # 23:59 / 00:01 EST
    ],
)
def test_entries_across_midnight_in_a_non_utc_timezone(app, monkeypatch, tz, before, after):
    monkeypatch.setitem(app.config, "ATES_TIMEZONE", tz)
    kesha = make_popug("worker", username="kesha")
    freeze(before)  # UTC wall time
    first = make_task_for(kesha, fee=1000, reward=3000)
    complete(first, kesha)  # +$20.00 on the 2nd (local)
    freeze(after)
    second = make_task_for(kesha, fee=1500, reward=2000)  # −$15.00 on the 3rd (local)

    days = [(e.kind, e.business_day) for e in entries_of(kesha)]
    assert days == [("assign_fee", D1), ("reward", D1), ("assign_fee", D2)]
    assert clock.local(entries_of(kesha)[-1].created_at).strftime("%H:%M") == "00:01"
    assert queries.day_totals(D1).management_earnings == 1000 - 3000
    assert queries.day_totals(D2).management_earnings == 1500

    assert closing.day_to_close() == D1
    result = closing.close_day(D1)
    db.session.commit()
    assert (result.popugs_paid, result.total_paid) == (1, 2000)
    assert balance(kesha) == -1500
    complete(second, kesha)
    assert queries.account_summary(kesha.id, D2, D2).earnings_today == 500
    assert verify.verify() == []


def test_days_that_cannot_be_closed(kesha, gosha):
    hand_built_day(kesha, gosha)
    freeze("2026-03-02 18:00")
    with pytest.raises(ServiceError, match="has not begun"):
        closing.close_day(D2)
    db.session.rollback()

    freeze("2026-03-05 09:00")
    closing.close_day(date(2026, 3, 4))  # folds the 2nd and 3rd in: nobody closed them
    db.session.commit()
    assert payouts() == {("kesha", "2026-03-04"): 300}
    with pytest.raises(ServiceError, match="cannot be closed any more"):
        closing.close_day(D1)
    db.session.rollback()
    [message] = outbox()
    assert "Your summary for 2026-03-02 to 2026-03-04:" in message.body
    assert verify.verify() == []


def test_day_to_close_is_yesterday_until_it_is_closed(kesha):
    freeze("2026-03-03 00:10")
    assert closing.day_to_close() == D1
    closing.close_day(D1)
    db.session.commit()
    assert closing.day_to_close() is None
    closing.close_day(D2)  # today, from the overview
    db.session.commit()
    freeze("2026-03-04 00:10")
    assert closing.day_to_close() is None  # the 3rd closed early


def test_close_with_nobody_paid(kesha, gosha):
    freeze("2026-03-02 09:00")
    make_task_for(kesha, fee=1000, reward=2000)
    result = closing.close_day(D1)
    db.session.commit()
    assert (result.popugs_paid, result.total_paid, result.popugs_in_red, result.messages) == (
        0,
        0,
        1,
        0,
    )
    assert outbox() == [] and count(Payout) == 0
    assert billing_day("2026-03-02").fees == 1000


def test_shuffle_fees_count_on_the_day_they_are_charged(kesha, gosha):
    manager = make_popug("manager", username="boss")
    freeze("2026-03-02 09:00")
    make_task_for(kesha, fee=1500, reward=3000)
    gosha.active = False  # the shuffle can only land on kesha
    db.session.commit()
    freeze("2026-03-02 10:00")
    shuffle_now(actor=manager)
    db.session.commit()
    assert balance(kesha) == -3000
    assert queries.day_totals(D1).fees == 3000
    freeze("2026-03-02 23:59")
    assert closing.close_day(D1).popugs_in_red == 1
    db.session.commit()
    assert verify.verify() == []
