"""`accounting verify`: clean books pass; each kind of corruption is named."""

from datetime import date

import pytest
from sqlalchemy import text

from app.blueprints.accounting import closing, verify
from app.extensions import db
from tests.accounting.helpers import complete, freeze, make_task_for
from tests.factories import make_popug, shuffle_now

D1 = date(2026, 3, 2)


@pytest.fixture
def books(app):
    """Two days of real activity: tasks, a completion, a shuffle, two closes."""
    kesha = make_popug("worker", username="kesha")
    gosha = make_popug("worker", username="gosha")
    manager = make_popug("manager", username="boss")
    freeze("2026-03-02 09:00")
    first = make_task_for(kesha, fee=1500, reward=3000)
    second = make_task_for(gosha, fee=1000, reward=2500)
    complete(first, kesha)
    freeze("2026-03-02 10:00")
    kesha.active = False  # the shuffle moves the open task to gosha, charging $10.00 again
    db.session.commit()
    shuffle_now(actor=manager)
    kesha.active = True
    db.session.commit()
    freeze("2026-03-02 22:00")
    closing.close_day(D1)
    db.session.commit()
    freeze("2026-03-03 09:00")
    complete(second, gosha)
    freeze("2026-03-03 22:00")
    closing.close_day(date(2026, 3, 3))
    db.session.commit()
    return {"kesha": kesha, "gosha": gosha, "first": first, "second": second}


def sql(statement: str, **params) -> None:
    db.session.execute(text(statement), params)
    db.session.commit()


def account_id(popug) -> int:
    return db.session.scalar(text("SELECT id FROM accounts WHERE popug_id = :id"), {"id": popug.id})


def test_clean_books_pass(books):
    assert verify.verify() == []


def test_a_corrupted_balance_is_found(books):
    sql("UPDATE accounts SET balance = balance + 1 WHERE popug_id = :id", id=books["kesha"].id)
    problems = verify.verify()
    assert problems[0] == "Account kesha: balance $0.01 but its ledger entries sum to $0.00."
    assert len(problems) == 1


def test_a_payout_without_its_ledger_entry_is_found(books):
    sql(
        "DELETE FROM ledger_entries "
        "WHERE kind = 'payout' AND account_id = :a AND business_day = :d",
        a=account_id(books["kesha"]),
        d=D1,
    )
    sql(
        "UPDATE accounts SET balance = (SELECT coalesce(sum(amount), 0) FROM ledger_entries "
        "WHERE account_id = accounts.id)"
    )
    problems = verify.verify()
    assert "Payout to kesha on 2026-03-02 of $15.00: no payout ledger entry." in problems
    assert any(p.startswith("Closed day 2026-03-02: kesha was left at $15.00") for p in problems)
    assert any("Closed day 2026-03-02: payouts recorded as 1500" in p for p in problems)


def test_a_payout_that_does_not_clear_the_balance_is_found(books):
    account = account_id(books["kesha"])
    sql(
        "UPDATE payouts SET amount = amount - 100 WHERE account_id = :a AND day = :d",
        a=account,
        d=D1,
    )
    sql(
        "UPDATE ledger_entries SET amount = amount + 100 "
        "WHERE kind = 'payout' AND account_id = :a AND business_day = :d",
        a=account,
        d=D1,
    )
    sql("UPDATE accounts SET balance = balance + 100 WHERE id = :a", a=account)
    problems = verify.verify()
    assert any(
        p.startswith("Closed day 2026-03-02: kesha was left at $1.00 after a payout of $14.00")
        for p in problems
    ), problems


def test_a_payout_entry_without_a_payout_record_is_found(books):
    sql("DELETE FROM mail_outbox")
    sql("DELETE FROM payouts WHERE day = :d", d=D1)
    problems = verify.verify()
    assert (
        "Payout ledger entry of \u2212$15.00 for kesha on 2026-03-02 has no payout record."
        in problems
    )


def test_a_second_reward_for_a_task_is_found(books):
    first = books["first"]
    sql(
        "INSERT INTO ledger_entries (account_id, kind, amount, task_id, business_day, created_at) "
        "SELECT account_id, kind, amount, task_id, '2026-03-03', created_at FROM ledger_entries "
        "WHERE kind = 'reward' AND task_id = :t",
        t=first.id,
    )
    sql(
        "UPDATE accounts SET balance = (SELECT coalesce(sum(amount), 0) FROM ledger_entries "
        "WHERE account_id = accounts.id)"
    )
    problems = verify.verify()
    assert f"Task #{first.id}: done with 2 rewards (must be exactly 1)." in problems


def test_fee_trail_problems_are_found(books):
    first, second = books["first"], books["second"]
    sql(
        "UPDATE ledger_entries SET shuffle_id = (SELECT max(id) FROM shuffles) "
        "WHERE kind = 'assign_fee' AND shuffle_id IS NULL AND task_id = :t",
        t=first.id,
    )
    # the shuffle's fee for `second` (a line of its summed entry) charged again on its own
    sql(
        "INSERT INTO ledger_entries (account_id, kind, amount, task_id, shuffle_id, "
        "business_day, created_at) SELECT e.account_id, e.kind, l.amount, l.task_id, "
        "e.shuffle_id, e.business_day, e.created_at FROM ledger_lines l "
        "JOIN ledger_entries e ON e.id = l.entry_id WHERE l.task_id = :t",
        t=second.id,
    )
    problems = verify.verify()
    assert f"Task #{first.id}: no assign fee from its creation (must be exactly 1, of $15.00)." in (
        problems
    )
    assert any(p.startswith(f"Task #{second.id}: 2 assign fees in shuffle #") for p in problems), (
        problems
    )


def test_a_shuffles_lines_must_explain_its_entry(books):
    entry_id = db.session.scalar(text("SELECT entry_id FROM ledger_lines"))
    sql("UPDATE ledger_lines SET amount = amount - 100")
    problems = verify.verify()
    assert (
        f"Ledger entry #{entry_id}: a shuffle's fees of −$10.00 but its lines sum to −$11.00."
        in problems
    ), problems
    sql("UPDATE ledger_lines SET amount = amount + 100")
    sql("INSERT INTO ledger_lines (entry_id, task_id, amount) VALUES (:e, 99, -100)", e=10**6)
    assert "Ledger line of task #99: entry #1000000 is not a shuffle's fees." in verify.verify()


def test_a_shuffles_lines_by_task_must_be_its_lines(books):
    shuffle_id, task_id, entry_id = db.session.execute(
        text("SELECT shuffle_id, task_id, entry_id FROM shuffle_lines")
    ).one()
    sql("DELETE FROM shuffle_lines")
    problems = verify.verify()
    assert (
        f"Ledger line of task #{task_id} in entry #{entry_id} is missing from its shuffle's "
        "lines by task." in problems
    ), problems
    sql(
        "INSERT INTO shuffle_lines (shuffle_id, task_id, entry_id) VALUES (:s, :t, :e)",
        s=shuffle_id + 1,
        t=task_id,
        e=entry_id,
    )
    problems = verify.verify()
    assert f"Shuffle #{shuffle_id + 1}'s line of task #{task_id} is not a line of its entry." in (
        problems
    ), problems
    sql("UPDATE shuffle_lines SET shuffle_id = :s", s=shuffle_id)
    assert verify.verify() == []


def test_entries_must_be_on_existing_accounts(books):
    first = db.session.scalar(text("SELECT min(id) FROM ledger_entries"))
    sql("UPDATE ledger_entries SET account_id = 777 WHERE id = :id", id=first)
    assert any(p.endswith("account #777 does not exist.") for p in verify.verify())


def test_recorded_day_totals_must_match_the_ledger(books):
    sql("UPDATE billing_days SET fees = fees + 100, popugs_in_red = 7 WHERE day = :d", d=D1)
    problems = verify.verify()
    assert "Closed day 2026-03-02: fees recorded as 3600 but the ledger says 3500." in problems
    assert "Closed day 2026-03-02: popugs in the red recorded as 7 but the ledger says 1." in (
        problems
    )


def test_many_problems_are_capped(books):
    sql("DELETE FROM mail_outbox")
    sql("DELETE FROM payouts")
    for n in range(60):
        make_popug("worker", username=f"extra-{n:02d}")
    sql("UPDATE accounts SET balance = 5")
    problems = verify.verify()
    balance_problems = [p for p in problems if p.startswith("Account ")]
    assert len(balance_problems) == verify.PROBLEMS_PER_CHECK
    assert "… and more like these (only the first 50 shown)." in problems


def test_tasks_must_be_on_existing_popugs(books):
    sql("UPDATE tasks SET assignee_id = 888 WHERE id = :id", id=books["second"].id)
    assert f"Task #{books['second'].id}: its assignee #888 is not a popug." in verify.verify()
