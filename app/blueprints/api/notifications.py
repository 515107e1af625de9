"""The API's notifications: what aTES did to the token owner's work and money, and marking
them read (the same reads and service as the Notifications page)."""

from app.access import ACCESS
from app.blueprints.notifications import queries as notification_queries
from app.blueprints.notifications import service as notifications

from . import schemas as s
from .core import decode_cursor, iso_day, listing, money, operation, timestamp

PER_PAGE = 30


def _notification(n, words: dict) -> dict:
    label = words["tasks"].get(n.task_id)
    return {
        "id": n.id,
        "kind": n.kind,
        "created_at": timestamp(n.created_at),
        "read": n.read_at is not None,
        "task": {"public_id": label[2], "jira_id": label[0], "title": label[1]} if label else None,
        "shuffle_public_id": words["shuffles"].get(n.shuffle_id),
        "by": words["names"].get(n.actor_id),
        "count": n.count,
        "amount": money(n.amount) if n.amount is not None else None,
        "day": iso_day(n.day),
        "role": n.role,
    }


@operation(
    "GET",
    "/notifications",
    summary="Your notifications, newest first",
    tag="notifications",
    roles=ACCESS["notifications"],
    query={"cursor": s.CURSOR},
    responses={200: s.NotificationPage},
)
def list_notifications(actor, query):
    """Each with its kind and parameters (the page words them); reading them marks nothing."""
    page = decode_cursor(query.get("cursor"))
    rows = notification_queries.page_of(actor.id, page, PER_PAGE)
    words = notification_queries.words_for(rows.items)
    return listing([_notification(n, words) for n in rows.items], rows.has_next, page, query)


@operation(
    "POST",
    "/notifications/read",
    summary="Mark your notifications read",
    tag="notifications",
    roles=ACCESS["notifications"],
    body=s.MarkRead,
    responses={200: s.MarkedRead},
)
def mark_notifications_read(actor, body):
    """Every unread one, or only those up to `up_to` (an id from the list: one arriving
    meanwhile stays unread)."""
    return {"marked": notifications.mark_all_read(actor=actor, up_to=body.get("up_to"))}
