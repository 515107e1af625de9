"""Shared checks for the tasks tests: ledger and balance invariants, row counts, threads."""

from collections import Counter

from sqlalchemy import func, select

from app.blueprints.accounting.models import ASSIGN_FEE, REWARD, Account, LedgerEntry, LedgerLine
from app.blueprints.tasks.models import OPEN, Shuffle, Task
from app.extensions import db

FEES = set(range(1000, 2001, 100))
REWARDS = set(range(2000, 4001, 100))


def balances() -> dict[int, int]:
    """{popug id: balance}."""
    return dict(db.session.execute(select(Account.popug_id, Account.balance)).all())


def account_ids() -> dict[int, int]:
    """{popug id: account id}."""
    return dict(db.session.execute(select(Account.popug_id, Account.id)).all())


def ledger_entries(*where) -> list[LedgerEntry]:
    return list(db.session.scalars(select(LedgerEntry).where(*where).order_by(LedgerEntry.id)))


def fee_charges(*, shuffle_id: int | None = None, task_id: int | None = None) -> list:
    """Every assign fee charged per task, oldest first, as rows with the entry's `id`,
    `account_id`, `shuffle_id`, `business_day` and the task's `task_id` and `amount`: an
    entry that names its task, or a line of a shuffle's entry (one per popug, summed)."""
    line_rows = (
        select(
            LedgerEntry.id,
            LedgerEntry.account_id,
            LedgerEntry.shuffle_id,
            LedgerEntry.business_day,
            LedgerLine.task_id,
            LedgerLine.amount,
        )
        .join(LedgerLine, LedgerLine.entry_id == LedgerEntry.id)
        .where(LedgerEntry.kind == ASSIGN_FEE)
    )
    entry_rows = select(
        LedgerEntry.id,
        LedgerEntry.account_id,
        LedgerEntry.shuffle_id,
        LedgerEntry.business_day,
        LedgerEntry.task_id,
        LedgerEntry.amount,
    ).where(LedgerEntry.kind == ASSIGN_FEE, LedgerEntry.task_id.is_not(None))
    rows = []
    for query in (line_rows, entry_rows):
        if shuffle_id is not None:
            query = query.where(LedgerEntry.shuffle_id == shuffle_id)
        rows += db.session.execute(query).all()
    if task_id is not None:
        rows = [row for row in rows if row.task_id == task_id]
    return sorted(rows, key=lambda row: (row.id, row.task_id))


def assert_books_balance() -> None:
    """Every account's balance equals the sum of its ledger entries (0 without entries)."""
    sums = dict(
        db.session.execute(
            select(LedgerEntry.account_id, func.sum(LedgerEntry.amount)).group_by(
                LedgerEntry.account_id
            )
        ).all()
    )
    rows = db.session.execute(select(Account.id, Account.balance)).all()
    assert rows, "no accounts at all"
    mismatches = {
        account_id: (balance, int(sums.get(account_id, 0)))
        for account_id, balance in rows
        if balance != int(sums.get(account_id, 0))
    }
    assert not mismatches, f"balance != ledger sum for accounts {mismatches}"


def assignees() -> dict[int, int]:
    """{task id: assignee id}."""
    return dict(db.session.execute(select(Task.id, Task.assignee_id)).all())


def open_task_ids() -> set[int]:
    return set(db.session.scalars(select(Task.id).where(Task.status == OPEN)))


def assert_fee_trail_consistent() -> None:
    """Money invariants that must hold after any mix of creates, shuffles and completions:

    - every task's first fee is its creation's (shuffle_id NULL); later ones without a
      shuffle are hand-overs from a popug who stopped taking tasks;
    - at most one fee per (task, shuffle), and a shuffle's entry count is its tasks_count;
    - every task's latest fee was charged to its current assignee;
    - a task has a reward iff it is done, exactly one, paid to its assignee, of its amount;
    - every balance equals the sum of its ledger.
    """
    db.session.expire_all()
    accounts = account_ids()
    tasks = {task.id: task for task in db.session.scalars(select(Task))}
    fees = fee_charges()
    first = {}
    for entry in fees:  # ordered by id
        first.setdefault(entry.task_id, entry)
    assert set(first) == set(tasks), "each task needs a creation fee entry"
    assert all(e.shuffle_id is None for e in first.values()), "a task's first fee is its own"
    per_pair = Counter((e.task_id, e.shuffle_id) for e in fees if e.shuffle_id is not None)
    assert not [pair for pair, n in per_pair.items() if n > 1], "a fee was charged twice"
    per_shuffle = Counter(e.shuffle_id for e in fees if e.shuffle_id is not None)
    for shuffle in db.session.scalars(select(Shuffle)):
        assert per_shuffle.get(shuffle.id, 0) == shuffle.tasks_count, shuffle.id
    latest = {}
    for entry in fees:  # ordered by id
        assert entry.amount == -tasks[entry.task_id].fee
        latest[entry.task_id] = entry
    for task_id, entry in latest.items():
        assert entry.account_id == accounts[tasks[task_id].assignee_id], task_id
    rewards = ledger_entries(LedgerEntry.kind == REWARD)
    paid = Counter(e.task_id for e in rewards)
    assert not [t for t, n in paid.items() if n > 1], "a task was paid twice"
    for entry in rewards:
        task = tasks[entry.task_id]
        assert task.status == "done"
        assert entry.amount == task.reward
        assert entry.account_id == accounts[task.assignee_id]
    assert set(paid) == {t.id for t in tasks.values() if t.status == "done"}
    assert_books_balance()
