"""Read-only reports over accounting's tables, for analytics: a constant number of queries.

Management earnings of a business day = fees charged − rewards paid, over the ledger entries
that count for that day (their business_day); payouts do not count.
"""

from datetime import date, timedelta

from sqlalchemy import BigInteger, cast, func, select

from app.extensions import db

from .models import ASSIGN_FEE, REWARD, Account, BillingDay, LedgerEntry

# Core tables: these reads need no ORM entities, and skipping the ORM layer is cheaper.
billing_days = BillingDay.__table__
ledger = LedgerEntry.__table__
accounts = Account.__table__


def _total(expression):
    """SUM as BIGINT on every backend (PostgreSQL's SUM(bigint) is NUMERIC), 0 when empty."""
    return cast(func.coalesce(func.sum(expression), 0), BigInteger)


def management_earnings_by_day(first: date, last: date) -> dict[date, int]:
    """{business day: management earnings in cents} for every day from `first` to `last`;
    a day without entries earns 0.

    A closed day takes the totals its close recorded (billing_days: written together with
    the payouts under the exclusive ledger lock, after which no entry can count for that
    day any more, and checked against the ledger by `accounting verify`). Only days not
    closed yet are summed from the ledger, through the (business_day, kind) index. Two
    queries; the ledger work grows with the open days (normally just today), not with the
    range or the size of the ledger.
    """
    if first > last:
        return {}
    days = [first + timedelta(days=n) for n in range((last - first).days + 1)]
    earnings = dict.fromkeys(days, 0)
    closed = db.session.execute(
        select(billing_days.c.day, billing_days.c.fees, billing_days.c.rewards).where(
            billing_days.c.day.between(first, last)
        )
    ).all()
    for day, fees, rewards in closed:
        earnings[day] = int(fees) - int(rewards)
    closed_days = {day for day, _, _ in closed}
    open_days = [day for day in days if day not in closed_days]
    if open_days:
        # A contiguous run (the usual case: everything after the last close) is one range
        # seek; scattered open days are one seek each.
        contiguous = (open_days[-1] - open_days[0]).days + 1 == len(open_days)
        in_open_days = (
            ledger.c.business_day.between(open_days[0], open_days[-1])
            if contiguous
            else ledger.c.business_day.in_(open_days)
        )
        rows = db.session.execute(
            select(ledger.c.business_day, _total(ledger.c.amount))
            .where(in_open_days, ledger.c.kind.in_((ASSIGN_FEE, REWARD)))
            .group_by(ledger.c.business_day)
        )
        # Fees are stored negative and rewards positive, so the company's side of both
        # is the negated sum: -(fees) - (rewards).
        for day, signed_sum in rows:
            earnings[day] = -int(signed_sum)
    return earnings


def management_earnings_on(day: date) -> int:
    """Management earnings of one business day, in cents."""
    return management_earnings_by_day(day, day)[day]


def popugs_in_red() -> int:
    """How many money accounts have a negative balance right now (index on balance)."""
    return db.session.scalar(select(func.count()).where(accounts.c.balance < 0)) or 0
