from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from app import clock
from app.db import BigId, UTCDateTime, partial_index_where
from app.extensions import db


class NotificationKind(StrEnum):
    """What happened, stored as a code with its parameters and put into words when shown,
    in the reader's language (kinds.py)."""

    TASK_ASSIGNED = "task_assigned"  # task_id, actor_id (creator), amount (the fee, negative)
    SHUFFLED = "shuffled"  # shuffle_id, count (tasks), amount (their fees, negative), day
    HANDED_OVER = "handed_over"  # actor_id (whose tasks), count, amount (negative)
    PAID_OUT = "paid_out"  # amount (positive), day
    ROLE_CHANGED = "role_changed"  # actor_id (the admin), role (the new one)
    # Security-relevant: e-mailed whatever the popug chose (service.on_credentials_changed).
    EMAIL_CHANGED = "email_changed"  # actor_id (the admin)
    BEAK_CHANGED = "beak_changed"  # actor_id (the admin)


TASK_ASSIGNED, SHUFFLED, HANDED_OVER, PAID_OUT, ROLE_CHANGED, EMAIL_CHANGED, BEAK_CHANGED = (
    NotificationKind
)
KINDS = tuple(NotificationKind)


class EmailChoice(StrEnum):
    """Whether a popug is also e-mailed their notifications (labelled in app.i18n.LABELS)."""

    RIGHT_AWAY = "right_away"  # one e-mail per notification, queued with it
    DAILY = "daily"  # one digest of the day's, the day after (the default)
    NEVER = "never"


RIGHT_AWAY, DAILY, NEVER = EmailChoice
EMAIL_CHOICES = tuple(EmailChoice)


class Notification(db.Model):
    """Something aTES did to a popug's work or money, for that popug to read. Written by
    the receivers in receivers.py, in the transaction of the event."""

    __tablename__ = "notifications"
    __table_args__ = (
        CheckConstraint(f"kind IN ({', '.join(repr(kind.value) for kind in KINDS)})", name="kind"),
        # A popug's notifications, newest first (the page, its latest id for the ETag).
        Index("ix_notifications_popug_id", "popug_id", "id"),
        # Their unread ones only (the top bar's count, "Mark all as read"): it stays as
        # small as what is unread, however long the history.
        Index(
            "ix_notifications_unread", "popug_id", "id", **partial_index_where("read_at IS NULL")
        ),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    popug_id: Mapped[int] = mapped_column(ForeignKey("popugs.id"))
    kind: Mapped[str] = mapped_column(String(16))
    # The parameters; which ones a kind uses is listed with the kinds above. Ids of other
    # blueprints' rows are kept without foreign keys (tasks, shuffles: never deleted).
    task_id: Mapped[int | None] = mapped_column(Integer)
    shuffle_id: Mapped[int | None] = mapped_column(Integer)
    actor_id: Mapped[int | None] = mapped_column(Integer)
    amount: Mapped[int | None] = mapped_column(BigInteger)
    count: Mapped[int | None] = mapped_column(Integer)
    day: Mapped[date | None] = mapped_column(Date)
    role: Mapped[str | None] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now)
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class EmailPreference(db.Model):
    """A popug's choice of e-mails; a popug without a row gets the default, DAILY."""

    __tablename__ = "notification_email_choices"
    __table_args__ = (
        CheckConstraint(
            f"choice IN ({', '.join(repr(c.value) for c in EMAIL_CHOICES)})", name="choice"
        ),
    )

    popug_id: Mapped[int] = mapped_column(ForeignKey("popugs.id"), primary_key=True)
    choice: Mapped[str] = mapped_column(String(16))


class Digest(db.Model):
    """The daily digest of one popug's notifications of one day, queued once: the unique
    (popug, day) is what makes a second run (a restarted worker, two workers, the command
    line) queue nothing again."""

    __tablename__ = "notification_digests"
    __table_args__ = (
        UniqueConstraint("popug_id", "day", name="uq_notification_digests_popug_day"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    popug_id: Mapped[int] = mapped_column(ForeignKey("popugs.id"))
    day: Mapped[date] = mapped_column(Date)  # a calendar day in ATES_TIMEZONE
    count: Mapped[int] = mapped_column(Integer)  # how many notifications it lists
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now)
