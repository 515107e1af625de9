"""Notifications' public face: the receivers that write a notification with each event, in
the event's own transaction (connected by create_app through RECEIVERS; no other blueprint
imports this one), and marking notifications read. Nothing here commits.

A popug is not told of their own action, except where it moved their money (a task they
created that landed on themselves). Bulk events are written set-based: one INSERT … SELECT
of at most one row per popug, from what the event already wrote.
"""

from datetime import date, timedelta

from sqlalchemy import Integer, delete, func, insert, literal, select, update

from app import clock
from app.blueprints.accounting import posting
from app.blueprints.accounting import queries as accounting_queries
from app.errors import NotFound
from app.extensions import db
from app.i18n import N_

from .models import HANDED_OVER, PAID_OUT, ROLE_CHANGED, SHUFFLED, TASK_ASSIGNED, Notification

NOTIFICATIONS = Notification.__table__
NO_NOTIFICATION = N_("No such notification.")


def _write(**values) -> None:
    db.session.execute(insert(NOTIFICATIONS).values(created_at=clock.now(), **values))


def _write_from(select_rows, columns: list[str]) -> None:
    """INSERT … SELECT: the rows of `select_rows`, whose columns are `columns` in order."""
    db.session.execute(insert(NOTIFICATIONS).from_select(columns, select_rows))


def on_task_created(_sender, *, task_id: int, creator_id: int, assignee_id: int, fee: int):
    """The assignee of a new task is told, even when they created it: it cost them its fee."""
    _write(
        popug_id=assignee_id,
        kind=TASK_ASSIGNED,
        task_id=task_id,
        actor_id=creator_id,
        amount=-fee,
        day=posting.open_business_day(),  # the day of its fee entry, in My account
    )


def on_shuffle_done(_sender, *, shuffle_id: int):
    """One notification per popug the shuffle gave tasks to, however many tasks: how many,
    and the fee entry that charged them all (one statement)."""
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
        db.session.execute(insert(NOTIFICATIONS), rows)


def on_day_closed(_sender, *, day: date):
    """Each popug paid out by the close of `day` is told the amount (one statement)."""
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
    _write(popug_id=popug_id, kind=ROLE_CHANGED, actor_id=actor_id, role=after)


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
    bounded); how many went. The job worker calls it."""
    cutoff = clock.now() - timedelta(days=days)
    return db.session.execute(
        delete(NOTIFICATIONS).where(NOTIFICATIONS.c.created_at < cutoff)
    ).rowcount
