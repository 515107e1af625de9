"""Posting to the books: money accounts, the append-only ledger and its business days, and
every charge and credit — an assign fee, a reward, the hand-over fees of a popug's tasks, the
bulk charge of a shuffle (one summed entry per popug, a line per task).

Other blueprints call these (through accounting.service) inside their own transaction;
nothing here commits.
"""

from datetime import date, timedelta

from sqlalchemy import (
    Column,
    Integer,
    MetaData,
    Table,
    bindparam,
    func,
    insert,
    literal,
    select,
    text,
    update,
)

from app import clock
from app.db import advisory_lock, is_postgres
from app.errors import NotFound, ServiceError, found
from app.extensions import db
from app.i18n import N_

from .models import (
    ASSIGN_FEE,
    REWARD,
    Account,
    BillingDay,
    LedgerEntry,
    LedgerLine,
    ShuffleLine,
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


def charge_assign_fees_in_bulk(assignments, *, shuffle_id: int) -> dict:
    """Charge the assign fee of every row of `assignments`, set-based: one entry per popug
    for the sum of their fees, with one ledger line per task naming it and its fee (and the
    same line in `shuffle_lines`, keyed by shuffle and task), and each balance moved by its
    entry.

    `assignments` is a statement whose rows are (task_id, popug_id, fee). On PostgreSQL it
    may be an UPDATE … RETURNING (the shuffle's move of the tasks): then the move, the
    entries, the lines and the balances are ONE statement with one snapshot, so exactly the
    rows it changed are charged, whatever other transactions commit meanwhile. On SQLite,
    whose single writer keeps the rows stable, statements read the rows one after the
    other, each in the order of the key it writes (see _charge_in_steps). No row passes
    through Python either way.
    Returns {"assignments": rows of `assignments`, "entries": lines written (one per
    task), "by_task": rows written to `shuffle_lines`, "accounts": balances moved}.
    """
    advisory_lock(LEDGER_LOCK, shared=True)
    if is_postgres():
        return _charge_in_one_statement(assignments.cte("assignments"), shuffle_id)
    return _charge_in_steps(assignments.subquery("assignments"), shuffle_id)


def _fee_entries(sums, shuffle_id: int, order_by):
    """INSERT … SELECT of one assign-fee entry per row of `sums` (account_id, total), in
    the order of `order_by` (a column of `sums`)."""
    return insert(LedgerEntry.__table__).from_select(
        ["account_id", "kind", "amount", "task_id", "shuffle_id", "business_day", "created_at"],
        select(
            sums.c.account_id,
            literal(ASSIGN_FEE),
            -sums.c.total,
            literal(None, Integer),
            literal(shuffle_id),
            literal(open_business_day(), LedgerEntry.business_day.type),
            literal(clock.now(), LedgerEntry.created_at.type),
        ).order_by(order_by),
    )


def _insert_lines(select_lines):
    return insert(LedgerLine.__table__).from_select(["entry_id", "task_id", "amount"], select_lines)


def _insert_shuffle_lines(select_lines):
    return insert(ShuffleLine.__table__).from_select(
        ["shuffle_id", "task_id", "entry_id"], select_lines
    )


# SQLite: this shuffle's entries keyed by their popug, looked up by each charged task.
_ENTRIES = Table(
    "shuffle_entries",
    MetaData(),
    Column("popug_id", Integer, primary_key=True, autoincrement=False),
    Column("entry_id", Integer, nullable=False),
    prefixes=["TEMPORARY"],
)


def _charge_in_steps(rows, shuffle_id: int) -> dict:
    """SQLite: the entries (fees summed per popug, in popug order, then their accounts), a
    temporary map of the popugs to their entries, the lines (in popug order, so that the
    entries' lines come one entry after the other) and `shuffle_lines` (in task order) from
    it, the balances from the entries. When `rows` can be read in either order without a
    sort (the shuffle's open tasks: by an index in popug order, by the table in task
    order), nothing is sorted."""
    ledger = LedgerEntry.__table__
    first_id = db.session.scalar(select(func.coalesce(func.max(ledger.c.id), 0))) + 1
    per_popug = (
        select(rows.c.popug_id, func.sum(rows.c.fee).label("total"))
        .group_by(rows.c.popug_id)
        .subquery("per_popug")
    )
    sums = (
        select(Account.id.label("account_id"), per_popug.c.popug_id, per_popug.c.total)
        .join(per_popug, Account.popug_id == per_popug.c.popug_id)
        .subquery("sums")
    )
    counted = {"preserve_rowcount": True}  # INSERT rowcount is not kept otherwise
    accounts = db.session.execute(
        _fee_entries(sums, shuffle_id, sums.c.popug_id), execution_options=counted
    )
    new = select(ledger).where(ledger.c.id >= first_id).subquery("new_entries")
    connection = db.session.connection()
    _ENTRIES.create(connection)
    db.session.execute(
        insert(_ENTRIES).from_select(
            ["popug_id", "entry_id"],
            select(Account.popug_id, new.c.id).join(Account, Account.id == new.c.account_id),
        )
    )
    lines = db.session.execute(
        _insert_lines(
            select(_ENTRIES.c.entry_id, rows.c.task_id, -rows.c.fee)
            .join(_ENTRIES, _ENTRIES.c.popug_id == rows.c.popug_id)
            .order_by(rows.c.popug_id)
        ),
        execution_options=counted,
    ).rowcount
    by_task_lines = db.session.execute(
        _insert_shuffle_lines(
            select(literal(shuffle_id), rows.c.task_id, _ENTRIES.c.entry_id)
            .join(_ENTRIES, _ENTRIES.c.popug_id == rows.c.popug_id)
            .order_by(rows.c.task_id)
        ),
        execution_options=counted,
    ).rowcount
    _ENTRIES.drop(connection)  # SQLite keeps temporary tables for the connection's lifetime
    db.session.execute(
        update(Account)
        .where(Account.id == new.c.account_id)
        .values(balance=Account.balance + new.c.amount)
        .execution_options(synchronize_session=False)
    )
    assigned = db.session.scalar(select(func.count()).select_from(rows))
    return {
        "assignments": assigned,
        "entries": lines,
        "by_task": by_task_lines,
        "accounts": accounts.rowcount,
    }


def _charge_in_one_statement(rows, shuffle_id: int) -> dict:
    """PostgreSQL: WITH assignments AS (…), charged AS (… their accounts), sums, entries AS
    (INSERT … RETURNING), lines AS (INSERT …), by_task AS (INSERT …), balances AS
    (UPDATE …) SELECT the counts."""
    # The lines are sorted by (entry, task) and `shuffle_lines` by task, so that each
    # primary key grows at its right edge; a million of them sort in memory with this, not
    # in temporary files. No JIT: at a million rows the planner's estimate would compile
    # the statement, time spent on writes, which JIT does not speed up (docs/performance.md,
    # "Figures behind rules").
    db.session.execute(text("SET LOCAL work_mem = '256MB'"))
    db.session.execute(text("SET LOCAL jit = off"))
    ledger, accounts = LedgerEntry.__table__, Account.__table__
    charged = (
        select(accounts.c.id.label("account_id"), rows.c.task_id, rows.c.fee)
        .join(rows, accounts.c.popug_id == rows.c.popug_id)
        .cte("charged")
    )
    sums = (
        select(charged.c.account_id, func.sum(charged.c.fee).label("total"))
        .group_by(charged.c.account_id)
        .cte("sums")
    )
    entries = (
        _fee_entries(sums, shuffle_id, sums.c.account_id)
        .returning(ledger.c.id, ledger.c.account_id, ledger.c.amount)
        .cte("entries")
    )
    charged_entries = (
        select(entries.c.id, charged.c.task_id, charged.c.fee)
        .join(entries, entries.c.account_id == charged.c.account_id)
        .cte("charged_entries")
    )
    lines = (
        _insert_lines(
            select(charged_entries.c.id, charged_entries.c.task_id, -charged_entries.c.fee)
            .order_by(charged_entries.c.id, charged_entries.c.task_id)
        )
        .returning(LedgerLine.__table__.c.task_id)
        .cte("lines")
    )
    by_task = (
        _insert_shuffle_lines(
            select(literal(shuffle_id), charged_entries.c.task_id, charged_entries.c.id)
            .order_by(charged_entries.c.task_id)
        )
        .returning(ShuffleLine.__table__.c.task_id)
        .cte("by_task")
    )
    balances = (
        update(accounts)
        .where(accounts.c.id == entries.c.account_id)
        .values(balance=accounts.c.balance + entries.c.amount)
        .returning(accounts.c.id)
        .cte("balances")
    )
    counts = {
        "assignments": rows,
        "entries": lines,
        "by_task": by_task,
        "accounts": balances,
    }
    row = db.session.execute(
        select(
            *(
                select(func.count()).select_from(cte).scalar_subquery().label(name)
                for name, cte in counts.items()
            )
        )
    ).one()
    return row._asdict()
