"""Reads of notifications: the top bar's unread count and its version, a popug's page of
them, and what a page needs to put them into words. A fixed number of queries each, all by
the (popug, id) indexes."""

from dataclasses import dataclass

from sqlalchemy import func, select

from app.blueprints.auth import service as auth
from app.blueprints.tasks import queries as tasks_queries
from app.extensions import db
from app.paging import Page

from .models import Notification

# The top bar counts unread notifications up to this many and then says "99+": the count
# reads at most this many index entries, however many are unread.
UNREAD_SHOWN = 99


def unread_count_of(popug_id):
    """How many of a popug's notifications are unread, at most UNREAD_SHOWN + 1, as a scalar
    subquery: `popug_id` may be a value or a column (auth loads it with the signed-in popug,
    in one statement)."""
    capped = (
        select(Notification.id)
        .where(Notification.popug_id == popug_id, Notification.read_at.is_(None))
        .limit(UNREAD_SHOWN + 1)
        .correlate_except(Notification)  # a column `popug_id` is the enclosing query's
        .subquery("unread")
    )
    return select(func.count()).select_from(capped).scalar_subquery()


def unread_count(popug_id: int) -> int:
    """How many of the popug's notifications are unread, at most UNREAD_SHOWN + 1."""
    return db.session.scalar(select(unread_count_of(popug_id)))


@dataclass(frozen=True)
class CountState:
    """The top bar's count and what it is a version of: the popug's newest notification
    (a new one changes it) and the count (reading changes it)."""

    latest_id: int
    unread: int

    @property
    def version(self) -> str:
        return f"{self.latest_id}.{self.unread}"


def latest_id_of(popug_id):
    """The id of a popug's newest notification (0 without one), as a scalar subquery; like
    unread_count_of, `popug_id` may be a column."""
    return (
        select(func.coalesce(func.max(Notification.id), 0))
        .where(Notification.popug_id == popug_id)
        .scalar_subquery()
    )


def count_state(popug_id: int) -> CountState:
    """One statement, two index seeks."""
    latest_id, unread = db.session.execute(
        select(latest_id_of(popug_id), unread_count_of(popug_id))
    ).one()
    return CountState(int(latest_id), int(unread))


def page_of(popug_id: int, page: int, per_page: int) -> Page:
    """A page of the popug's notifications, newest first; one query, no count."""
    rows = db.session.scalars(
        select(Notification)
        .where(Notification.popug_id == popug_id)
        .order_by(Notification.id.desc())
        .limit(per_page + 1)
        .offset((page - 1) * per_page)
    ).all()
    return Page(rows, page, per_page)


def one_of(popug_id: int, notification_id: int) -> Notification | None:
    return db.session.scalar(
        select(Notification).where(
            Notification.id == notification_id, Notification.popug_id == popug_id
        )
    )


def words_for(notifications) -> dict:
    """What the page needs to put `notifications` into words and links: the tasks' labels
    {id: (Jira ID, title, public id)}, popugs' names and shuffles' public ids; one query
    each."""
    notifications = list(notifications)
    task_ids = {n.task_id for n in notifications if n.task_id is not None}
    return {
        "tasks": tasks_queries.labels(task_ids) if task_ids else {},
        "names": auth.usernames(n.actor_id for n in notifications if n.actor_id is not None),
        "shuffles": tasks_queries.shuffle_public_ids(
            n.shuffle_id for n in notifications if n.shuffle_id is not None
        ),
    }
