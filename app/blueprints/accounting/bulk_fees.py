"""A shuffle's charge: the assign fee of every task it moved, set-based, with each
database's statements side by side behind one function, `charge_assign_fees_in_bulk` —
PostgreSQL in one statement (`_charge_in_one_statement`), SQLite in a few that each read the
moved tasks in the order of the key they write (`_charge_in_steps`). Both write the same
rows: one summed entry per popug, a ledger line and a `shuffle_lines` row per task, and
each balance moved by its entry. Nothing here commits.
"""

from sqlalchemy import (
    Column,
    Integer,
    MetaData,
    Table,
    func,
    insert,
    literal,
    select,
    text,
    update,
)

from app import clock
from app.db import advisory_lock, is_postgres
from app.extensions import db

from .models import ASSIGN_FEE, Account, LedgerEntry, LedgerLine, ShuffleLine
from .posting import LEDGER_LOCK, open_business_day


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


# --- PostgreSQL -------------------------------------------------------------------------


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
            select(
                charged_entries.c.id, charged_entries.c.task_id, -charged_entries.c.fee
            ).order_by(charged_entries.c.id, charged_entries.c.task_id)
        )
        .returning(LedgerLine.__table__.c.task_id)
        .cte("lines")
    )
    by_task = (
        _insert_shuffle_lines(
            select(literal(shuffle_id), charged_entries.c.task_id, charged_entries.c.id).order_by(
                charged_entries.c.task_id
            )
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


# --- SQLite -----------------------------------------------------------------------------

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
