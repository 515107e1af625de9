"""Accounting's public face: accounts, the append-only ledger, business days.

Other blueprints call these functions inside their own transaction; nothing here commits.
"""

from datetime import date, timedelta

from sqlalchemy import func, insert, literal, select, update

from app import clock
from app.db import advisory_lock
from app.errors import NotFound, ServiceError
from app.extensions import db

from .models import ASSIGN_FEE, PAYOUT, REWARD, Account, BillingDay, LedgerEntry

# Every money write holds this lock shared; closing a day holds it exclusively, so no
# entry can slip into a day while it is being closed (PostgreSQL; SQLite serialises writers).
LEDGER_LOCK = "ledger"


# Accounting imports no other blueprint; tasks registers how to label the task ids that
# ledger entries carry (Jira ID and title for the audit log and payout e-mails).
_task_labeler = None


def register_task_labeler(labeler) -> None:
    """`labeler(task_ids) -> {task_id: (jira_id or None, title)}`, in one query."""
    global _task_labeler
    _task_labeler = labeler


def task_labels(task_ids) -> dict[int, tuple[str | None, str]]:
    ids = {task_id for task_id in task_ids if task_id is not None}
    return _task_labeler(ids) if ids and _task_labeler else {}


def open_account(popug_id: int, owner_public_id: str, username: str, email: str) -> Account:
    """Open a popug's money account with balance 0 (the original design's CreateAccount)."""
    account = Account(
        popug_id=popug_id,
        owner_public_id=owner_public_id,
        username=username,
        email=email,
        balance=0,
    )
    db.session.add(account)
    db.session.flush()
    return account


def balance_of(popug_id: int) -> int:
    balance = db.session.scalar(select(Account.balance).where(Account.popug_id == popug_id))
    if balance is None:
        raise NotFound("This popug has no money account.")
    return balance


def last_closed_day() -> date | None:
    return db.session.scalar(select(func.max(BillingDay.day)))


def open_business_day() -> date:
    """The day new ledger entries belong to: today, unless today is already closed."""
    today = clock.business_day()
    closed = last_closed_day()
    return max(today, closed + timedelta(days=1)) if closed else today


def _post(popug_id: int, kind: str, amount: int, *, task_id=None, shuffle_id=None) -> LedgerEntry:
    """Append a ledger entry and move the balance by the same amount, in this transaction."""
    if not isinstance(amount, int) or amount == 0:
        raise ValueError("ledger amounts are non-zero integer cents")
    advisory_lock(LEDGER_LOCK, shared=True)
    account_id = db.session.execute(
        update(Account)
        .where(Account.popug_id == popug_id)
        .values(balance=Account.balance + amount)
        .returning(Account.id)
        .execution_options(synchronize_session=False)
    ).scalar_one_or_none()
    if account_id is None:
        raise NotFound("This popug has no money account.")
    entry = LedgerEntry(
        account_id=account_id,
        kind=kind,
        amount=amount,
        task_id=task_id,
        shuffle_id=shuffle_id,
        business_day=open_business_day(),
        created_at=clock.now(),
    )
    db.session.add(entry)
    db.session.flush()
    return entry


def charge_assign_fee(popug_id: int, fee: int, *, task_id: int) -> LedgerEntry:
    """Debit a task's assign fee from its new assignee."""
    if fee <= 0:
        raise ServiceError("An assign fee must be positive.")
    return _post(popug_id, ASSIGN_FEE, -fee, task_id=task_id)


def pay_reward(popug_id: int, reward: int, *, task_id: int) -> LedgerEntry:
    """Credit a completed task's reward to its assignee."""
    if reward <= 0:
        raise ServiceError("A reward must be positive.")
    return _post(popug_id, REWARD, reward, task_id=task_id)


def charge_assign_fees_in_bulk(assignments, *, shuffle_id: int) -> dict:
    """Charge one assign fee per row of `assignments`, set-based.

    `assignments` is a SELECT with columns task_id, popug_id and fee. One INSERT … SELECT
    appends the ledger entries and one UPDATE moves every touched balance by its summed
    fees; no row passes through Python. The caller must keep the rows of `assignments`
    stable for the duration (a shuffle holds the tasks lock).
    Returns {"entries": n, "accounts": m}.
    """
    advisory_lock(LEDGER_LOCK, shared=True)
    rows = assignments.subquery("assignments")
    entries = db.session.execute(
        insert(LedgerEntry.__table__).from_select(
            ["account_id", "kind", "amount", "task_id", "shuffle_id", "business_day", "created_at"],
            select(
                Account.id,
                literal(ASSIGN_FEE),
                -rows.c.fee,
                rows.c.task_id,
                literal(shuffle_id),
                literal(open_business_day(), LedgerEntry.business_day.type),
                literal(clock.now(), LedgerEntry.created_at.type),
            ).join(Account, Account.popug_id == rows.c.popug_id),
        ),
        execution_options={"preserve_rowcount": True},  # INSERT rowcount is not kept otherwise
    ).rowcount
    sums = (
        select(Account.id.label("account_id"), func.sum(rows.c.fee).label("total"))
        .join(rows, Account.popug_id == rows.c.popug_id)
        .group_by(Account.id)
        .subquery("sums")
    )
    accounts = db.session.execute(
        update(Account)
        .where(Account.id == sums.c.account_id)
        .values(balance=Account.balance - sums.c.total)
        .execution_options(synchronize_session=False)
    ).rowcount
    return {"entries": entries, "accounts": accounts}


__all__ = [
    "ASSIGN_FEE",
    "PAYOUT",
    "REWARD",
    "balance_of",
    "charge_assign_fee",
    "charge_assign_fees_in_bulk",
    "last_closed_day",
    "open_account",
    "open_business_day",
    "pay_reward",
    "register_task_labeler",
    "task_labels",
]
