"""Notifications' public face: the receivers that write a notification with each event, in
the event's own transaction (connected by create_app through RECEIVERS; no other blueprint
imports this one), and marking notifications read. Nothing here commits.

A popug is not told of their own action, except where it moved their money (a task they
created that landed on themselves). Bulk events are written set-based: one INSERT … SELECT
of at most one row per popug, from what the event already wrote.
"""

from datetime import date, timedelta

from sqlalchemy import Integer, delete, func, insert, literal, or_, select, update

from app import clock
from app.blueprints.accounting import mail, posting
from app.blueprints.accounting import queries as accounting_queries
from app.blueprints.auth import service as auth
from app.errors import NotFound, ServiceError
from app.extensions import db
from app.i18n import N_

from .mail import TOPIC_DIGEST, TOPIC_NOTIFICATION
from .models import (
    BEAK_CHANGED,
    DAILY,
    EMAIL_CHANGED,
    EMAIL_CHOICES,
    HANDED_OVER,
    PAID_OUT,
    RIGHT_AWAY,
    ROLE_CHANGED,
    SHUFFLED,
    TASK_ASSIGNED,
    Digest,
    EmailPreference,
    Notification,
)

NOTIFICATIONS = Notification.__table__
CHOICES = EmailPreference.__table__
DIGESTS = Digest.__table__
NO_NOTIFICATION = N_("No such notification.")
# The digest's e-mails are queued this many ids at a time (bound parameters per statement).
DIGEST_CHUNK = 500


def _write(**values) -> int:
    """Write one notification; its id."""
    return db.session.execute(
        insert(NOTIFICATIONS).values(created_at=clock.now(), **values).returning(NOTIFICATIONS.c.id)
    ).scalar_one()


def _newest_id() -> int:
    """The id of the newest notification (0 without one): those written next are above it."""
    return db.session.scalar(select(func.coalesce(func.max(NOTIFICATIONS.c.id), 0)))


def _mail_right_away(above: int, *conditions) -> None:
    """Queue an e-mail of each notification above id `above` that meets `conditions`, for
    the popugs who chose to be e-mailed right away: one INSERT … SELECT from the rows just
    written (an index range of them), whatever their number."""
    n = NOTIFICATIONS
    mail.queue_mail_from(
        select(auth.email_of(n.c.popug_id), literal(TOPIC_NOTIFICATION), n.c.id)
        .select_from(n.join(CHOICES, CHOICES.c.popug_id == n.c.popug_id))
        .where(CHOICES.c.choice == RIGHT_AWAY, n.c.id > above, *conditions)
    )


def _write_from(select_rows, columns: list[str]) -> None:
    """INSERT … SELECT: the rows of `select_rows`, whose columns are `columns` in order."""
    db.session.execute(insert(NOTIFICATIONS).from_select(columns, select_rows))


def on_task_created(_sender, *, task_id: int, creator_id: int, assignee_id: int, fee: int):
    """The assignee of a new task is told, even when they created it: it cost them its fee."""
    written = _write(
        popug_id=assignee_id,
        kind=TASK_ASSIGNED,
        task_id=task_id,
        actor_id=creator_id,
        amount=-fee,
        day=posting.open_business_day(),  # the day of its fee entry, in My account
    )
    _mail_right_away(written - 1, NOTIFICATIONS.c.id == written)


def on_shuffle_done(_sender, *, shuffle_id: int):
    """One notification per popug the shuffle gave tasks to, however many tasks: how many,
    and the fee entry that charged them all (one statement); e-mailed right away to those
    who chose it, one e-mail each (one more)."""
    above = _newest_id()
    charges = accounting_queries.shuffle_charges(shuffle_id).subquery("charges")
    _write_from(
        _select(
            charges.c.popug_id,
            literal(SHUFFLED),
            literal(shuffle_id, Integer),
            charges.c.tasks,
            charges.c.amount,
            charges.c.business_day,
        ).order_by(charges.c.popug_id),
        ["popug_id", "kind", "shuffle_id", "count", "amount", "day", "created_at"],
    )
    _mail_right_away(
        above, NOTIFICATIONS.c.kind == SHUFFLED, NOTIFICATIONS.c.shuffle_id == shuffle_id
    )


def on_tasks_handed_over(_sender, *, from_popug_id: int, received):
    """Each popug who received some of another's open tasks is told once: how many, whose,
    and what their fees cost."""
    now, day = clock.now(), posting.open_business_day()
    rows = [
        {
            "popug_id": popug_id,
            "kind": HANDED_OVER,
            "actor_id": from_popug_id,
            "count": count,
            "amount": -fees,
            "day": day,
            "created_at": now,
        }
        for popug_id, count, fees in received
    ]
    if rows:
        above = _newest_id()
        db.session.execute(insert(NOTIFICATIONS), rows)
        _mail_right_away(
            above, NOTIFICATIONS.c.kind == HANDED_OVER, NOTIFICATIONS.c.actor_id == from_popug_id
        )


def on_day_closed(_sender, *, day: date):
    """Each popug paid out by the close of `day` is told the amount (one statement). Not
    e-mailed right away: the close e-mails every payout already."""
    payouts = accounting_queries.payouts_by_popug(day).subquery("payouts")
    _write_from(
        _select(payouts.c.popug_id, literal(PAID_OUT), payouts.c.amount, payouts.c.day).order_by(
            payouts.c.popug_id
        ),
        ["popug_id", "kind", "amount", "day", "created_at"],
    )


def on_role_changed(_sender, *, popug_id: int, actor_id: int | None, before: str, after: str):
    """A popug whose role someone else changed is told the new one."""
    if actor_id == popug_id or before == after:
        return
    written = _write(popug_id=popug_id, kind=ROLE_CHANGED, actor_id=actor_id, role=after)
    _mail_right_away(written - 1, NOTIFICATIONS.c.id == written)


def on_credentials_changed(
    _sender,
    *,
    popug_id: int,
    actor_id: int,
    fields: tuple[str, ...],
    previous_email: str | None = None,
):
    """An admin changed a popug's e-mail or reset their beak shape: a notification for each,
    e-mailed at once whatever the popug chose (it is how they sign in) to their address, and
    a change of address to the previous one too, so a takeover cannot go unnoticed. Told
    even of one's own change, for the same reason."""
    kinds = {"email": EMAIL_CHANGED, "beak_shape": BEAK_CHANGED}
    for field in fields:
        if field not in kinds:
            continue  # not a credential (the signal names only these two)
        written = _write(popug_id=popug_id, kind=kinds[field], actor_id=actor_id)
        to = [auth.email_of(literal(popug_id))]
        if field == "email" and previous_email:
            to.append(literal(previous_email))
        for address in to:
            mail.queue_mail_from(select(address, literal(TOPIC_NOTIFICATION), literal(written)))


def _select(*columns):
    """SELECT `columns` and the time of the event (the created_at of every row written)."""
    return select(*columns, literal(clock.now(), NOTIFICATIONS.c.created_at.type))


def mark_read(notification_id: int, *, actor) -> None:
    """Mark one of the actor's own notifications read (again: nothing changes). Another
    popug's, or none: NotFound, so ids reveal nothing."""
    owned = (NOTIFICATIONS.c.id == notification_id) & (NOTIFICATIONS.c.popug_id == actor.id)
    found = db.session.execute(
        update(NOTIFICATIONS)
        .where(owned)
        .values(read_at=func.coalesce(NOTIFICATIONS.c.read_at, clock.now()))
        .returning(NOTIFICATIONS.c.id)
    ).first()
    if found is None:
        raise NotFound(NO_NOTIFICATION)


def mark_all_read(*, actor, up_to: int | None = None) -> int:
    """Mark the actor's unread notifications read, those up to id `up_to` when given (the
    newest the page showed: one that arrived since stays unread). Returns how many."""
    unread = (NOTIFICATIONS.c.popug_id == actor.id) & NOTIFICATIONS.c.read_at.is_(None)
    if up_to is not None:
        unread &= NOTIFICATIONS.c.id <= up_to
    return db.session.execute(
        update(NOTIFICATIONS).where(unread).values(read_at=clock.now()),
        execution_options={"preserve_rowcount": True},
    ).rowcount


def forget_older_than(days: int) -> int:
    """Remove the notifications older than `days` days, read or not (the table stays
    bounded), and the records of the digests of days as old; how many notifications went.
    The job worker calls it."""
    cutoff = clock.now() - timedelta(days=days)
    db.session.execute(delete(DIGESTS).where(DIGESTS.c.day < clock.business_day(cutoff)))
    return db.session.execute(
        delete(NOTIFICATIONS).where(NOTIFICATIONS.c.created_at < cutoff)
    ).rowcount


# --- e-mail: each popug's choice, and the daily digest --------------------------------------

BAD_CHOICE = N_("Choose right away, once a day or never.")


def email_choice(popug_id: int) -> str:
    """How the popug is e-mailed their notifications (DAILY unless they chose otherwise)."""
    return (
        db.session.scalar(select(CHOICES.c.choice).where(CHOICES.c.popug_id == popug_id)) or DAILY
    )


def set_email_choice(choice: str, *, actor) -> str:
    """The actor's own choice of notification e-mails: one of EMAIL_CHOICES, anything else
    refused. E-mails already queued stay queued."""
    if choice not in EMAIL_CHOICES:
        raise ServiceError(BAD_CHOICE, field="choice")
    updated = db.session.execute(
        update(CHOICES).where(CHOICES.c.popug_id == actor.id).values(choice=choice),
        execution_options={"preserve_rowcount": True},
    ).rowcount
    if not updated:
        db.session.execute(insert(CHOICES).values(popug_id=actor.id, choice=choice))
    return choice


# The digest of a day waits this long after midnight (a transaction begun before has
# committed its notifications).
DIGEST_GRACE = timedelta(minutes=5)


def digest_day_due() -> date:
    """The day the daily digest covers now: the calendar day in ATES_TIMEZONE before today,
    once today is DIGEST_GRACE old."""
    return clock.business_day(clock.now() - DIGEST_GRACE) - timedelta(days=1)


def queue_digests(day: date) -> int:
    """Queue the digest of `day` (a calendar day in ATES_TIMEZONE, by the notifications'
    times) for each popug who chose once a day (or chose nothing) and was notified that day:
    one e-mail each, none for a popug with nothing that day, and never twice: the digest is
    recorded, unique per popug and day, so a second run queues none (a concurrent one fails
    on that constraint and its transaction rolls back). Set-based; returns how many."""
    start, end = clock.day_bounds(day)
    n = NOTIFICATIONS
    now = clock.now()
    done = select(DIGESTS.c.id).where(DIGESTS.c.popug_id == n.c.popug_id, DIGESTS.c.day == day)
    per_popug = (
        select(n.c.popug_id, func.count().label("count"))
        .select_from(n.outerjoin(CHOICES, CHOICES.c.popug_id == n.c.popug_id))
        .where(
            n.c.created_at >= start,
            n.c.created_at < end,
            or_(CHOICES.c.choice.is_(None), CHOICES.c.choice == DAILY),
            ~done.exists(),
        )
        .group_by(n.c.popug_id)
        .subquery("per_popug")
    )
    written = (
        db.session.execute(
            insert(DIGESTS)
            .from_select(
                ["popug_id", "count", "day", "created_at"],
                select(
                    per_popug.c.popug_id,
                    per_popug.c.count,
                    literal(day, DIGESTS.c.day.type),
                    literal(now, DIGESTS.c.created_at.type),
                ).order_by(per_popug.c.popug_id),
            )
            .returning(DIGESTS.c.id)
        )
        .scalars()
        .all()
    )
    for start_at in range(0, len(written), DIGEST_CHUNK):
        chunk = written[start_at : start_at + DIGEST_CHUNK]
        mail.queue_mail_from(
            select(auth.email_of(DIGESTS.c.popug_id), literal(TOPIC_DIGEST), DIGESTS.c.id).where(
                DIGESTS.c.id.in_(chunk)
            )
        )
    return len(written)
