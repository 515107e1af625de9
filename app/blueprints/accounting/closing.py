"""Closing a business day: pay out every positive balance as it stood at the day's end,
record the day with its totals, and queue one payout e-mail per payout (sent after commit,
see mail.py). Nothing here commits.
"""

from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import case, func, insert, literal, select, update

from app import audit, clock, signals
from app.db import advisory_lock
from app.errors import ServiceError
from app.extensions import db
from app.i18n import N_
from app.money import format_cents

from . import mail
from .models import (
    ASSIGN_FEE,
    MAIL_PENDING,
    PAYOUT,
    REWARD,
    Account,
    BillingDay,
    LedgerEntry,
    OutboxMessage,
    Payout,
)
from .posting import LEDGER_LOCK, last_closed_day
from .queries import sum_cents


def _closing_balances(day: date):
    """SELECT account_id, username, email, closing: each account's balance at the end of
    `day`, i.e. its balance now minus the entries of later business days (made after
    midnight, before a late close)."""
    later = (
        select(LedgerEntry.account_id, sum_cents(LedgerEntry.amount).label("later"))
        .where(LedgerEntry.business_day > day)
        .group_by(LedgerEntry.account_id)
        .subquery("later")
    )
    return (
        select(
            Account.id.label("account_id"),
            Account.username,
            Account.email,
            (Account.balance - func.coalesce(later.c.later, 0)).label("closing"),
        )
        .select_from(Account)
        .outerjoin(later, later.c.account_id == Account.id)
        .subquery("closing")
    )


@dataclass(frozen=True)
class ClosePreview:
    day: date
    popugs_to_pay: int
    total_to_pay: int
    popugs_in_red: int


@dataclass(frozen=True)
class CloseResult:
    day: date
    closed_now: bool  # False: the day was already closed and nothing changed
    popugs_paid: int
    total_paid: int
    popugs_in_red: int
    messages: int

    def summary(self) -> str:
        """Like "paid $3.00 to 1 popug, 2 left in the red" (flashes, CLI, audit trail)."""
        popugs = "popug" if self.popugs_paid == 1 else "popugs"
        return (
            f"paid {format_cents(self.total_paid)} to {self.popugs_paid} {popugs}, "
            f"{self.popugs_in_red} left in the red"
        )


def check_closable(day: date) -> None:
    """Refuse days that have not begun and days already settled by a later close."""
    today = clock.business_day()
    if day > today:
        raise ServiceError(
            N_("%(day)s has not begun yet: only today or earlier days can be closed."),
            field="day",
            day=day,
        )
    closed = last_closed_day()
    if closed is not None and day < closed and db.session.get(BillingDay, day) is None:
        raise ServiceError(
            N_(
                "%(day)s cannot be closed any more: %(closed)s is closed, "
                "and its close paid out every balance up to then."
            ),
            field="day",
            day=day,
            closed=closed,
        )


def preview_close(day: date) -> ClosePreview:
    """What closing `day` would do now: who would be paid how much, who stays in the red."""
    closing = _closing_balances(day)
    paid, total, in_red = db.session.execute(
        select(
            sum_cents(case((closing.c.closing > 0, 1), else_=0)),
            sum_cents(case((closing.c.closing > 0, closing.c.closing), else_=0)),
            sum_cents(case((closing.c.closing < 0, 1), else_=0)),
        )
    ).one()
    return ClosePreview(day, int(paid), int(total), int(in_red))


def day_to_close() -> date | None:
    """The cron default: the last business day that has ended and is not closed yet."""
    yesterday = clock.business_day() - timedelta(days=1)
    closed = last_closed_day()
    return yesterday if closed is None or yesterday > closed else None


def close_day(day: date, *, actor=None) -> CloseResult:
    """Close business day `day`: pay out every positive balance as it stood at the end of
    the day, record the day with its totals, and queue one e-mail per payout.

    Set-based: an INSERT … SELECT each for payouts and payout entries, one UPDATE of
    balances, one SELECT and one multi-row INSERT for the e-mails. Exactly once: the
    ledger lock is held exclusively, so no money moves while the day closes, and a day
    that is already closed is left as it is (the primary key of billing_days and the
    unique account+day key of payouts enforce it in the database too). Zero and negative
    balances carry over. Entries made after this commits belong to the next day (see
    open_business_day). Flushes, never commits.
    """
    advisory_lock(LEDGER_LOCK)  # exclusive: waits for money writes in flight, holds back new
    existing = db.session.get(BillingDay, day)
    if existing is not None:
        return CloseResult(
            day, False, existing.popugs_paid, existing.payouts, existing.popugs_in_red, 0
        )
    check_closable(day)
    previous = last_closed_day()
    now = clock.now()
    closing = _closing_balances(day)
    in_red = db.session.scalar(select(func.count()).where(closing.c.closing < 0))

    db.session.execute(
        insert(Payout.__table__).from_select(
            ["account_id", "day", "amount", "created_at"],
            select(
                closing.c.account_id,
                literal(day, Payout.day.type),
                closing.c.closing,
                literal(now, Payout.created_at.type),
            ).where(closing.c.closing > 0),
        )
    )
    db.session.execute(
        insert(LedgerEntry.__table__).from_select(
            ["account_id", "kind", "amount", "business_day", "created_at"],
            select(
                Payout.account_id,
                literal(PAYOUT),
                -Payout.amount,
                Payout.day,
                literal(now, LedgerEntry.created_at.type),
            ).where(Payout.day == day),
        )
    )
    db.session.execute(
        update(Account)
        .where(Account.id == Payout.account_id, Payout.day == day)
        .values(balance=Account.balance - Payout.amount)
        .execution_options(synchronize_session=False)
    )
    messages = _queue_payout_mail(day, previous, now)
    signals.tell(signals.day_closed, day=day)

    totals = dict(
        db.session.execute(
            select(LedgerEntry.kind, sum_cents(LedgerEntry.amount))
            .where(LedgerEntry.business_day == day)
            .group_by(LedgerEntry.kind)
        ).all()
    )
    paid_count, paid_total = db.session.execute(
        select(func.count(Payout.id), sum_cents(Payout.amount)).where(Payout.day == day)
    ).one()
    db.session.add(
        BillingDay(
            day=day,
            closed_at=now,
            fees=-int(totals.get(ASSIGN_FEE, 0)),
            rewards=int(totals.get(REWARD, 0)),
            payouts=int(paid_total),
            popugs_paid=int(paid_count),
            popugs_in_red=int(in_red),
        )
    )
    result = CloseResult(day, True, int(paid_count), int(paid_total), int(in_red), messages)
    # `actor`: the accountant or admin who pressed it, None for the command line.
    audit.record(
        actor,
        "billing.close_day",
        {
            "day": day.isoformat(),
            "paid": result.total_paid,
            "num": result.popugs_paid,
            "in_red": result.popugs_in_red,
        },
    )
    db.session.flush()
    return result


def _queue_payout_mail(day: date, previous: date | None, now) -> int:
    """One outbox message per payout of `day`, with the popug's summary of the days this
    close settles (fees, rewards, tasks done). One SELECT, one multi-row INSERT."""
    if previous is not None:
        first_day = previous + timedelta(days=1)
    else:  # the first close ever settles everything before it
        first_day = db.session.scalar(
            select(func.min(LedgerEntry.business_day)).where(LedgerEntry.business_day <= day)
        )
    first_day = min(first_day or day, day)
    period = LedgerEntry.business_day.between(first_day, day)
    summary = (
        select(
            LedgerEntry.account_id,
            sum_cents(case((LedgerEntry.kind == REWARD, 1), else_=0)).label("tasks_done"),
            sum_cents(case((LedgerEntry.kind == REWARD, LedgerEntry.amount), else_=0)).label(
                "rewards"
            ),
            sum_cents(case((LedgerEntry.kind == ASSIGN_FEE, -LedgerEntry.amount), else_=0)).label(
                "fees"
            ),
        )
        .where(period, LedgerEntry.kind.in_((REWARD, ASSIGN_FEE)))
        .group_by(LedgerEntry.account_id)
        .subquery("summary")
    )
    rows = db.session.execute(
        select(
            Payout.id,
            Payout.amount,
            Account.username,
            Account.email,
            func.coalesce(summary.c.tasks_done, 0),
            func.coalesce(summary.c.rewards, 0),
            func.coalesce(summary.c.fees, 0),
            Account.popug_id,
        )
        .join(Account, Account.id == Payout.account_id)
        .outerjoin(summary, summary.c.account_id == Payout.account_id)
        .where(Payout.day == day)
        .order_by(Payout.id)
    ).all()
    values = []
    locales = mail.recipient_locales([row.popug_id for row in rows])
    for payout_id, amount, username, email, tasks_done, rewards, fees, popug_id in rows:
        message = mail.PayoutMail(
            username=username,
            day=day,
            first_day=first_day,
            amount=int(amount),
            tasks_done=int(tasks_done),
            rewards=int(rewards),
            fees=int(fees),
            locale=locales.get(popug_id),
        )
        values.append(
            {
                "payout_id": payout_id,
                "recipient": email,
                "subject": message.subject(),
                "body": message.body(),
                "status": MAIL_PENDING,
                "attempts": 0,
                "next_attempt_at": now,
                "created_at": now,
            }
        )
    if values:
        db.session.execute(insert(OutboxMessage.__table__), values)
    return len(values)
