"""`accounting verify` against the tasks: each way a task and its ledger rows can disagree,
made with raw SQL on books that pass, is named, and the command exits 1."""

import pytest
from sqlalchemy import text

from app.blueprints.accounting import verify
from app.blueprints.auth import service as auth
from app.extensions import db
from tests.accounting.helpers import complete, freeze, make_task_for
from tests.factories import make_popug, shuffle_now

HAND_OVER_STUCK = "(`flask --app wsgi tasks hand-over-stuck` hands it over)"


@pytest.fixture
def books(app):
    """Every way a task is charged, on one day: `done` is kesha's, done and rewarded;
    `shuffled` and `moved` went to gosha in a shuffle (a line of its summed entry);
    `handed` was handed over to gosha when kesha was deactivated (an entry naming it);
    `plain` is gosha's with its creation's fee alone. Kesha is active again."""
    kesha = make_popug("worker", username="kesha")
    gosha = make_popug("worker", username="gosha")
    admin = make_popug("admin", username="root")
    freeze("2026-03-02 09:00")
    done = make_task_for(kesha, fee=1500, reward=3000)
    complete(done, kesha)
    shuffled = make_task_for(gosha, fee=1000, reward=2500)
    moved = make_task_for(kesha, fee=1200, reward=2000)
    kesha.active = False  # only gosha can take tasks: the shuffle gives both to gosha
    db.session.commit()
    shuffle_now(actor=admin)
    kesha.active = True
    db.session.commit()
    handed = make_task_for(kesha, fee=1100, reward=2200)
    auth.set_active(kesha.public_id, False, actor=admin)  # hands `handed` to gosha
    auth.set_active(kesha.public_id, True, actor=admin)
    db.session.commit()
    plain = make_task_for(gosha, fee=1300, reward=2600)
    return {
        "kesha": kesha,
        "gosha": gosha,
        "done": done.id,
        "shuffled": shuffled.id,
        "moved": moved.id,
        "handed": handed.id,
        "plain": plain.id,
    }


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


def corrupt(statement: str, **params) -> None:
    """Run one raw statement, then set every balance to its ledger's sum, so that only the
    tasks' side is wrong."""
    db.session.execute(text(statement), params)
    db.session.execute(
        text(
            "UPDATE accounts SET balance = (SELECT coalesce(sum(amount), 0) FROM "
            "ledger_entries WHERE account_id = accounts.id)"
        )
    )
    db.session.commit()


def verify_names(runner, problem: str) -> None:
    """verify finds exactly this one problem, and the command prints it and exits 1."""
    assert verify.verify() == [problem]
    db.session.rollback()
    result = runner.invoke(args=["accounting", "verify"])
    assert result.exit_code == 1, result.output
    assert "The books do not balance (1 problem):" in result.output
    assert f"  - {problem}" in result.output


def entry_of(task_id: int, kind: str) -> int:
    return db.session.scalar(
        text("SELECT max(id) FROM ledger_entries WHERE task_id = :t AND kind = :k"),
        {"t": task_id, "k": kind},
    )


def test_clean_books_pass(books, runner):
    assert verify.verify() == []
    db.session.rollback()
    result = runner.invoke(args=["accounting", "verify"])
    assert result.exit_code == 0, result.output
    assert "The books balance" in result.output


def test_a_task_whose_only_fee_was_deleted(books, runner):
    corrupt("DELETE FROM ledger_entries WHERE task_id = :t", t=books["plain"])
    verify_names(
        runner,
        f"Task #{books['plain']}: no assign fee from its creation (must be exactly 1, of $13.00).",
    )


def test_a_one_cent_fee_on_a_fifteen_dollar_task(books, runner):
    corrupt(
        "UPDATE ledger_entries SET amount = -1 WHERE task_id = :t AND kind = 'assign_fee'",
        t=books["done"],
    )
    verify_names(
        runner,
        f"Task #{books['done']}: its creation's assign fee is $0.01 but its fee is $15.00.",
    )


def test_a_second_creation_fee(books, runner):
    corrupt(
        "INSERT INTO ledger_entries (account_id, kind, amount, task_id, business_day, "
        "created_at) SELECT account_id, kind, amount, task_id, business_day, created_at "
        "FROM ledger_entries WHERE task_id = :t",
        t=books["plain"],
    )
    verify_names(runner, f"Task #{books['plain']}: 2 assign fees at creation (must be exactly 1).")


def test_a_done_task_without_its_reward(books, runner):
    corrupt("DELETE FROM ledger_entries WHERE task_id = :t AND kind = 'reward'", t=books["done"])
    verify_names(runner, f"Task #{books['done']}: done, but no reward of $30.00 was paid.")


def test_a_reward_on_an_open_task(books, runner):
    corrupt(
        "INSERT INTO ledger_entries (account_id, kind, amount, task_id, business_day, "
        "created_at) SELECT account_id, 'reward', 99999, task_id, business_day, created_at "
        "FROM ledger_entries WHERE task_id = :t",
        t=books["plain"],
    )
    verify_names(runner, f"Task #{books['plain']}: open, but 1 reward(s) of $999.99 name it.")


def test_a_reward_of_another_amount(books, runner):
    corrupt("UPDATE ledger_entries SET amount = 2999 WHERE kind = 'reward'")
    verify_names(
        runner, f"Task #{books['done']}: a reward of $29.99 was paid, but its reward is $30.00."
    )


def test_a_reward_paid_to_someone_else(books, runner):
    gosha = books["gosha"]
    corrupt(
        "UPDATE ledger_entries SET account_id = (SELECT id FROM accounts WHERE popug_id = :g) "
        "WHERE kind = 'reward'",
        g=gosha.id,
    )
    entry, kesha = entry_of(books["done"], "reward"), books["kesha"]
    verify_names(
        runner,
        f"Task #{books['done']}: its reward (ledger entry #{entry}) was paid to gosha "
        f"(#{gosha.id}), not its assignee kesha (#{kesha.id}).",
    )


@pytest.mark.parametrize("task", ["plain", "handed", "shuffled"])
def test_a_reassignment_without_a_fee(books, runner, task):
    """The task's latest charge is its creation's fee, a hand-over's entry or a line of a
    shuffle's entry: whichever it is, it is not on the popug the task was moved to."""
    kesha, gosha, task_id = books["kesha"], books["gosha"], books[task]
    corrupt("UPDATE tasks SET assignee_id = :k WHERE id = :t", k=kesha.id, t=task_id)
    latest = entry_of(task_id, "assign_fee")
    if task == "shuffled":
        latest = db.session.scalar(
            text("SELECT entry_id FROM ledger_lines WHERE task_id = :t"), {"t": task_id}
        )
    verify_names(
        runner,
        f"Task #{task_id}: its latest assign fee (ledger entry #{latest}) charged gosha "
        f"(#{gosha.id}), not its assignee kesha (#{kesha.id}).",
    )


def test_a_hand_over_fee_of_another_amount(books, runner):
    corrupt(
        "UPDATE ledger_entries SET amount = -1000 WHERE task_id = :t "
        "AND handed_over_from IS NOT NULL",
        t=books["handed"],
    )
    verify_names(
        runner,
        f"Task #{books['handed']}: an assign fee of $10.00 from a hand-over or shuffle, but "
        "its fee is $11.00.",
    )


def test_open_tasks_on_a_popug_who_cannot_take_them(books, runner):
    """A database from before deactivating handed tasks over: the deactivation alone."""
    gosha = books["gosha"]
    corrupt("UPDATE popugs SET active = false WHERE id = :g", g=gosha.id)
    problems = verify.verify()
    stuck = sorted(books[name] for name in ("shuffled", "moved", "handed", "plain"))
    assert problems == [
        f"Task #{task}: open on gosha (#{gosha.id}), who cannot take tasks {HAND_OVER_STUCK}."
        for task in stuck
    ]
    db.session.rollback()
    result = runner.invoke(args=["accounting", "verify"])
    assert result.exit_code == 1
    assert "The books do not balance (4 problems):" in result.output


def test_a_manager_holding_open_tasks_is_found_too(books, runner):
    kesha = books["kesha"]
    corrupt("UPDATE tasks SET assignee_id = :k WHERE id = :t", k=kesha.id, t=books["plain"])
    corrupt(
        "INSERT INTO ledger_entries (account_id, kind, amount, task_id, handed_over_from, "
        "business_day, created_at) SELECT (SELECT id FROM accounts WHERE popug_id = :k), "
        "kind, amount, task_id, 1, business_day, created_at FROM ledger_entries "
        "WHERE task_id = :t",
        k=kesha.id,
        t=books["plain"],
    )
    assert verify.verify() == []  # a hand-over to kesha, charged: all is well
    corrupt("UPDATE popugs SET role = 'manager' WHERE id = :k", k=kesha.id)
    verify_names(
        runner,
        f"Task #{books['plain']}: open on kesha (#{kesha.id}), who cannot take tasks "
        f"{HAND_OVER_STUCK}.",
    )


def test_a_tasks_copied_price_that_differs(books, runner):
    assert verify.verify() == []
    corrupt("UPDATE task_texts SET fee = 999 WHERE task_id = :id", id=books["plain"])
    verify_names(
        runner,
        f"Task #{books['plain']}: its texts copy the prices $9.99 and $26.00, "
        "its prices are $13.00 and $26.00.",
    )
