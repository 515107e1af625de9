"""The checks of `flask accounting verify`: the books agree with themselves (balances,
ledger entries and their lines, payouts, closed days, tasks' fees and rewards), and so do
the records other blueprints register checks for. Read-only.
"""

from sqlalchemy import and_, case, func, or_, select, text, union_all

from app import signals
from app.extensions import db
from app.money import format_cents
from app.signals import ask

from .models import (
    ASSIGN_FEE,
    PAYOUT,
    REWARD,
    Account,
    BillingDay,
    LedgerEntry,
    LedgerLine,
    Payout,
    ShuffleLine,
)
from .queries import sum_cents

PROBLEMS_PER_CHECK = 50


def _sample(statement) -> list:
    """The first rows of a check's query: one more than are shown, so that verify can say
    there are more."""
    return db.session.execute(statement.limit(PROBLEMS_PER_CHECK + 1)).all()


def checks() -> list:
    """Every check verify runs, in order: the books' own, then those other blueprints keep
    of their own records (app.signals.book_checks_wanted)."""
    return [
        _check_balances,
        _check_entries,
        _check_payouts,
        _check_closing_balances,
        _check_day_totals,
        _check_shuffle_fees,
        *(check for answer in ask(signals.book_checks_wanted) for check in answer),
    ]


def verify() -> list[str]:
    """Check the books; returns what is wrong (an empty list when all is well).

    - every balance equals the sum of its account's ledger entries;
    - every payout has its payout ledger entry of the same amount and vice versa, and
      every closed day left no positive balance and no overpaid one behind: a paid
      account stood at exactly 0 at the close, an unpaid one at 0 or below;
    - each closed day's recorded totals equal its ledger entries;
    - per task: at most one assign fee per shuffle (an entry naming it, or a line of a
      shuffle's entry); fees and rewards name their task or, for a shuffle's summed entry,
      have lines that do and sum to it; payouts name none; every entry is on an existing
      account;
    - and what other blueprints check of their own records (app.signals.book_checks_wanted):
      tasks checks each task's fees, latest charge, reward and assignee against its record.
    Set-based queries, a bounded number per check, whatever the size of the ledger.
    """
    if db.session.get_bind().dialect.name == "postgresql":
        # Every check reads whole tables: hash and merge joins, whatever the statistics say
        # (right after a bulk write, a shuffle, they are stale, and a nested loop over the
        # shuffle's lines ran for minutes at 60,000 tasks). For this transaction only.
        db.session.execute(text("SET LOCAL enable_nestloop = off"))
    problems: list[str] = []
    for check in checks():
        found = check()
        problems.extend(found[:PROBLEMS_PER_CHECK])
        if len(found) > PROBLEMS_PER_CHECK:
            problems.append(f"… and more like these (only the first {PROBLEMS_PER_CHECK} shown).")
    return problems


def _check_balances() -> list[str]:
    sums = (
        select(LedgerEntry.account_id, sum_cents(LedgerEntry.amount).label("total"))
        .group_by(LedgerEntry.account_id)
        .subquery("sums")
    )
    total = func.coalesce(sums.c.total, 0)
    rows = _sample(
        select(Account.username, Account.balance, total)
        .outerjoin(sums, sums.c.account_id == Account.id)
        .where(Account.balance != total)
        .order_by(Account.username)
    )
    return [
        f"Account {username}: balance {format_cents(int(balance))} but its ledger entries "
        f"sum to {format_cents(int(ledger))}."
        for username, balance, ledger in rows
    ]


def _check_entries() -> list[str]:
    """Payouts name no task; rewards name theirs; an assign fee names its task, or is a
    shuffle's entry for a popug whose lines name the tasks and sum to its amount; every
    entry is on an existing account."""
    summed = and_(
        LedgerEntry.kind == ASSIGN_FEE,
        LedgerEntry.task_id.is_(None),
        LedgerEntry.shuffle_id.is_not(None),
    )
    rows = _sample(
        select(LedgerEntry.id, LedgerEntry.kind)
        .where(
            or_(
                and_(LedgerEntry.kind == PAYOUT, LedgerEntry.task_id.is_not(None)),
                and_(LedgerEntry.kind != PAYOUT, LedgerEntry.task_id.is_(None), ~summed),
            )
        )
        .order_by(LedgerEntry.id)
    )
    problems = [
        f"Ledger entry #{entry_id}: a {kind.replace('_', ' ')} "
        + ("must not name a task." if kind == PAYOUT else "must name its task.")
        for entry_id, kind in rows
    ]
    lines = (
        select(LedgerLine.entry_id, sum_cents(LedgerLine.amount).label("total"))
        .group_by(LedgerLine.entry_id)
        .subquery("lines")
    )
    unexplained = _sample(
        select(LedgerEntry.id, LedgerEntry.amount, func.coalesce(lines.c.total, 0))
        .outerjoin(lines, lines.c.entry_id == LedgerEntry.id)
        .where(summed, LedgerEntry.amount != func.coalesce(lines.c.total, 0))
        .order_by(LedgerEntry.id)
    )
    problems += [
        f"Ledger entry #{entry_id}: a shuffle's fees of {format_cents(int(amount))} but its "
        f"lines sum to {format_cents(int(total))}."
        for entry_id, amount, total in unexplained
    ]
    stray = _sample(
        select(LedgerLine.entry_id, LedgerLine.task_id)
        .outerjoin(LedgerEntry, and_(LedgerEntry.id == LedgerLine.entry_id, summed))
        .where(LedgerEntry.id.is_(None))
        .order_by(LedgerLine.entry_id, LedgerLine.task_id)
    )
    problems += [
        f"Ledger line of task #{task_id}: entry #{entry_id} is not a shuffle's fees."
        for entry_id, task_id in stray
    ]
    problems += _check_shuffle_lines()
    orphans = _sample(
        select(LedgerEntry.id, LedgerEntry.account_id)
        .outerjoin(Account, Account.id == LedgerEntry.account_id)
        .where(Account.id.is_(None))
        .order_by(LedgerEntry.id)
    )
    problems += [
        f"Ledger entry #{entry_id}: account #{account_id} does not exist."
        for entry_id, account_id in orphans
    ]
    return problems


def _check_shuffle_lines() -> list[str]:
    """Every line of a shuffle's entry is in `shuffle_lines` under that shuffle, and every
    row there is such a line: the two orders of the same lines agree."""
    by_task = and_(
        ShuffleLine.shuffle_id == LedgerEntry.shuffle_id,
        ShuffleLine.task_id == LedgerLine.task_id,
        ShuffleLine.entry_id == LedgerLine.entry_id,
    )
    unlisted = _sample(
        select(LedgerLine.entry_id, LedgerLine.task_id)
        .join(LedgerEntry, LedgerEntry.id == LedgerLine.entry_id)
        .outerjoin(ShuffleLine, by_task)
        .where(ShuffleLine.task_id.is_(None))
        .order_by(LedgerLine.entry_id, LedgerLine.task_id)
    )
    problems = [
        f"Ledger line of task #{task_id} in entry #{entry_id} is missing from its shuffle's "
        "lines by task."
        for entry_id, task_id in unlisted
    ]
    line = and_(
        LedgerLine.entry_id == ShuffleLine.entry_id, LedgerLine.task_id == ShuffleLine.task_id
    )
    entry = and_(
        LedgerEntry.id == LedgerLine.entry_id, LedgerEntry.shuffle_id == ShuffleLine.shuffle_id
    )
    strays = _sample(
        select(ShuffleLine.shuffle_id, ShuffleLine.task_id)
        .outerjoin(LedgerLine, line)
        .outerjoin(LedgerEntry, entry)
        .where(LedgerEntry.id.is_(None))
        .order_by(ShuffleLine.shuffle_id, ShuffleLine.task_id)
    )
    problems += [
        f"Shuffle #{shuffle_id}'s line of task #{task_id} is not a line of its entry."
        for shuffle_id, task_id in strays
    ]
    return problems


def _check_payouts() -> list[str]:
    entry = (
        select(
            LedgerEntry.account_id,
            LedgerEntry.business_day,
            func.count().label("entries"),
            sum_cents(LedgerEntry.amount).label("total"),
        )
        .where(LedgerEntry.kind == PAYOUT)
        .group_by(LedgerEntry.account_id, LedgerEntry.business_day)
        .subquery("payout_entries")
    )
    unmatched = _sample(
        select(Account.username, Payout.day, Payout.amount, entry.c.entries, entry.c.total)
        .join(Account, Account.id == Payout.account_id)
        .outerjoin(
            entry,
            and_(entry.c.account_id == Payout.account_id, entry.c.business_day == Payout.day),
        )
        .where(
            or_(
                entry.c.entries.is_(None),
                entry.c.entries != 1,
                entry.c.total != -Payout.amount,
                Payout.amount <= 0,
            )
        )
        .order_by(Payout.day, Account.username)
    )
    problems = [
        f"Payout to {username} on {day.isoformat()} of {format_cents(int(amount))}: "
        + (
            "no payout ledger entry."
            if entries is None
            else f"{entries} payout ledger entries summing to {format_cents(int(total))}."
        )
        for username, day, amount, entries, total in unmatched
    ]
    orphans = _sample(
        select(Account.username, entry.c.business_day, entry.c.total)
        .join(Account, Account.id == entry.c.account_id)
        .outerjoin(
            Payout,
            and_(Payout.account_id == entry.c.account_id, Payout.day == entry.c.business_day),
        )
        .where(Payout.id.is_(None))
        .order_by(entry.c.business_day, Account.username)
    )
    problems += [
        f"Payout ledger entry of {format_cents(int(total))} for {username} on "
        f"{day.isoformat()} has no payout record."
        for username, day, total in orphans
    ]
    return problems


def _closing_balances_of_closed_days():
    """(day, account_id, closing balance) for every closed day and every account that had
    ledger entries by then: running sums per account, taken at each closed day."""
    daily = (
        select(
            LedgerEntry.account_id,
            LedgerEntry.business_day,
            sum_cents(LedgerEntry.amount).label("total"),
        )
        .group_by(LedgerEntry.account_id, LedgerEntry.business_day)
        .subquery("daily")
    )
    window = {"partition_by": daily.c.account_id, "order_by": daily.c.business_day}
    running = select(
        daily.c.account_id,
        daily.c.business_day,
        func.sum(daily.c.total).over(**window).label("balance"),
        func.lead(daily.c.business_day).over(**window).label("next_day"),
    ).subquery("running")
    return (
        select(
            BillingDay.day.label("day"),
            running.c.account_id.label("account_id"),
            running.c.balance.label("balance"),
        )
        .join(
            running,
            and_(
                running.c.business_day <= BillingDay.day,
                or_(running.c.next_day.is_(None), running.c.next_day > BillingDay.day),
            ),
        )
        .subquery("at_close")
    )


def _check_closing_balances() -> list[str]:
    at_close = _closing_balances_of_closed_days()
    rows = _sample(
        select(at_close.c.day, Account.username, at_close.c.balance, Payout.amount)
        .join(Account, Account.id == at_close.c.account_id)
        .outerjoin(
            Payout, and_(Payout.account_id == at_close.c.account_id, Payout.day == at_close.c.day)
        )
        .where(
            or_(
                at_close.c.balance > 0,
                and_(Payout.id.is_not(None), at_close.c.balance != 0),
            )
        )
        .order_by(at_close.c.day, Account.username)
    )
    return [
        f"Closed day {day.isoformat()}: {username} was left at {format_cents(int(balance))} "
        + (
            "after a payout of " + format_cents(int(paid)) + " (a payout must clear the balance)."
            if paid is not None
            else "without a payout."
        )
        for day, username, balance, paid in rows
    ]


def _check_day_totals() -> list[str]:
    entries = (
        select(
            LedgerEntry.business_day.label("day"),
            sum_cents(case((LedgerEntry.kind == ASSIGN_FEE, -LedgerEntry.amount), else_=0)).label(
                "fees"
            ),
            sum_cents(case((LedgerEntry.kind == REWARD, LedgerEntry.amount), else_=0)).label(
                "rewards"
            ),
            sum_cents(case((LedgerEntry.kind == PAYOUT, -LedgerEntry.amount), else_=0)).label(
                "payouts"
            ),
            sum_cents(case((LedgerEntry.kind == PAYOUT, 1), else_=0)).label("paid"),
        )
        .where(LedgerEntry.business_day.in_(select(BillingDay.day)))
        .group_by(LedgerEntry.business_day)
        .subquery("entries")
    )
    at_close = _closing_balances_of_closed_days()
    in_red = (
        select(at_close.c.day, func.count().label("in_red"))
        .where(at_close.c.balance < 0)
        .group_by(at_close.c.day)
        .subquery("in_red")
    )
    rows = db.session.execute(
        select(
            BillingDay,
            func.coalesce(entries.c.fees, 0),
            func.coalesce(entries.c.rewards, 0),
            func.coalesce(entries.c.payouts, 0),
            func.coalesce(entries.c.paid, 0),
            func.coalesce(in_red.c.in_red, 0),
        )
        .outerjoin(entries, entries.c.day == BillingDay.day)
        .outerjoin(in_red, in_red.c.day == BillingDay.day)
        .order_by(BillingDay.day)
    ).all()
    problems = []
    for day, *actual in rows:
        recorded = (day.fees, day.rewards, day.payouts, day.popugs_paid, day.popugs_in_red)
        names = ("fees", "rewards", "payouts", "popugs paid", "popugs in the red")
        for name, want, got in zip(names, recorded, actual, strict=True):
            if int(want) != int(got):
                problems.append(
                    f"Closed day {day.day.isoformat()}: {name} recorded as {int(want)} "
                    f"but the ledger says {int(got)}."
                )
    return problems


def _check_shuffle_fees() -> list[str]:
    """At most one assign fee per task and shuffle: an entry naming the task, or a line of
    a shuffle's entry. (What each task's fees and rewards must be, tasks checks: it knows
    the tasks.)"""
    shuffle_fees = union_all(
        select(LedgerEntry.task_id, LedgerEntry.shuffle_id).where(
            LedgerEntry.kind == ASSIGN_FEE,
            LedgerEntry.shuffle_id.is_not(None),
            LedgerEntry.task_id.is_not(None),
        ),
        select(LedgerLine.task_id, LedgerEntry.shuffle_id).join(
            LedgerEntry, LedgerEntry.id == LedgerLine.entry_id
        ),
    ).subquery("shuffle_fees")
    per_shuffle = _sample(
        select(shuffle_fees.c.task_id, shuffle_fees.c.shuffle_id, func.count())
        .group_by(shuffle_fees.c.task_id, shuffle_fees.c.shuffle_id)
        .having(func.count() > 1)
        .order_by(shuffle_fees.c.task_id, shuffle_fees.c.shuffle_id)
    )
    return [
        f"Task #{task_id}: {count} assign fees in shuffle #{shuffle_id} (at most 1)."
        for task_id, shuffle_id, count in per_shuffle
    ]
