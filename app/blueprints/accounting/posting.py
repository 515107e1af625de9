"""Posting to the books: money accounts, the append-only ledger and its business days, and
every charge and credit — an assign fee, a reward, the hand-over fees of a popug's tasks (a
shuffle's bulk charge is in bulk_fees.py).

Other blueprints call these (through accounting.service) inside their own transaction;
nothing here commits.
"""

from datetime import date, timedelta

from sqlalchemy import (
    bindparam,
    func,
    insert,
    select,
    update,
)

from app import clock
from app.db import advisory_lock
from app.errors import NotFound, ServiceError, found
from app.extensions import db
from app.i18n import N_

from .models import (
    ASSIGN_FEE,
    REWARD,
    Account,
    BillingDay,
    LedgerEntry,
)

# Every money write holds this lock shared; closing a day holds it exclusively, so no
# entry can slip into a day while it is being closed (PostgreSQL; SQLite serialises writers).
LEDGER_LOCK = "ledger"
NO_ACCOUNT = N_("This popug has no money account.")


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


def change_account_email(popug_id: int, email: str) -> None:
    """Keep accounting's copy of the owner's e-mail in step (payout e-mails go to it)."""
    db.session.execute(update(Account).where(Account.popug_id == popug_id).values(email=email))


def balance_of(popug_id: int) -> int:
    balance = db.session.scalar(select(Account.balance).where(Account.popug_id == popug_id))
    return found(balance, NO_ACCOUNT)


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
        raise NotFound(NO_ACCOUNT)
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
        raise ServiceError(N_("An assign fee must be positive."))
    return _post(popug_id, ASSIGN_FEE, -fee, task_id=task_id)


def charge_handed_over_fees(charges, *, handed_over_from: int) -> int:
    """Charge each (task_id, popug_id, fee) of `charges` — tasks handed over from the popug
    `handed_over_from` — to its new assignee: an entry per task naming it, and each balance
    moved by its popug's sum. Two statements whatever the number of tasks (an executemany
    INSERT and an UPDATE per account), where one `charge_assign_fee` per task would run four
    each. Returns the entries written."""
    charges = list(charges)
    if not charges or any(fee <= 0 for _, _, fee in charges):
        raise ValueError("hand-over charges are positive fees, at least one")
    advisory_lock(LEDGER_LOCK, shared=True)
    popugs = {popug_id for _, popug_id, _ in charges}
    accounts = dict(
        db.session.execute(
            select(Account.popug_id, Account.id).where(Account.popug_id.in_(popugs))
        ).all()
    )
    if len(accounts) != len(popugs):
        raise NotFound(NO_ACCOUNT)
    day, now = open_business_day(), clock.now()
    db.session.execute(
        insert(LedgerEntry.__table__),
        [
            {
                "account_id": accounts[popug_id],
                "kind": ASSIGN_FEE,
                "amount": -fee,
                "task_id": task_id,
                "shuffle_id": None,
                "handed_over_from": handed_over_from,
                "business_day": day,
                "created_at": now,
            }
            for task_id, popug_id, fee in charges
        ],
    )
    totals: dict[int, int] = {}
    for _, popug_id, fee in charges:
        totals[accounts[popug_id]] = totals.get(accounts[popug_id], 0) + fee
    accounts_table = Account.__table__
    db.session.execute(
        update(accounts_table)
        .where(accounts_table.c.id == bindparam("account"))
        .values(balance=accounts_table.c.balance - bindparam("total")),
        [{"account": account, "total": total} for account, total in totals.items()],
    )
    return len(charges)


def pay_reward(popug_id: int, reward: int, *, task_id: int) -> LedgerEntry:
    """Credit a completed task's reward to its assignee."""
    if reward <= 0:
        raise ServiceError(N_("A reward must be positive."))
    return _post(popug_id, REWARD, reward, task_id=task_id)
