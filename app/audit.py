"""The admin audit trail: who did what, when, from where. Append-only; read on one page.

A shared kernel like clock and money: any blueprint's routes and commands record into it in
the same transaction as the action they describe, so an action and its record commit together.
"""

from datetime import datetime

from flask import has_request_context, request
from sqlalchemy import Index, Integer, String, select
from sqlalchemy.orm import Mapped, mapped_column

from app import clock
from app.db import UTCDateTime
from app.extensions import db
from app.i18n import N_
from app.paging import counted_page

# What each action is called (translated where shown); the details stay as recorded, in English.
ACTIONS = {
    "popug.create": N_("Created popug"),
    "popug.role": N_("Changed role"),
    "popug.deactivate": N_("Deactivated popug"),
    "popug.activate": N_("Reactivated popug"),
    "popug.email": N_("Changed e-mail"),
    "popug.beak_shape": N_("Set a new beak shape"),
    "tasks.shuffle": N_("Shuffled open tasks"),
    "press.joined": N_("Joined a queued shuffle"),
    "tasks.hand_over_stuck": N_("Handed over stuck tasks"),
    "billing.close_day": N_("Closed the day"),
    "token.create": N_("Created API token"),
    "token.revoke": N_("Revoked API token"),
}


class AuditEvent(db.Model):
    __tablename__ = "audit_events"
    __table_args__ = (
        Index("ix_audit_events_at", "at"),
        # A popug's page lists the events about them, newest first.
        Index("ix_audit_events_subject_id", "subject_id", "id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now)
    actor_username: Mapped[str] = mapped_column(String(32))
    action: Mapped[str] = mapped_column(String(32))
    details: Mapped[str] = mapped_column(String(500))
    address: Mapped[str] = mapped_column(String(64))
    # The popug the event is about (created, re-roled, deactivated), if any: a plain id.
    subject_id: Mapped[int | None] = mapped_column(Integer)

    @property
    def label(self) -> str:
        return ACTIONS.get(self.action, self.action)


def record(
    actor, action: str, details: str, *, address: str | None = None, subject=None
) -> None:
    """Add an audit event for `actor` (None: the command line) to the current transaction;
    `address` defaults to the request's client, else "command line"; `subject` is the popug
    the event is about, if any."""
    if action not in ACTIONS:
        raise ValueError(f"unknown audit action {action!r}")
    if address is None:
        address = (request.remote_addr or "?") if has_request_context() else "command line"
    db.session.add(
        AuditEvent(
            at=clock.now(),
            actor_username=actor.username if actor is not None else "system",
            action=action,
            details=details[:500],
            address=address[:64],
            subject_id=subject.id if subject is not None else None,
        )
    )


def page_of_events(page: int, per_page: int = 50, *, about: int | None = None):
    """A page of events, newest first; `about`: only those about this popug id."""
    query = select(AuditEvent).order_by(AuditEvent.id.desc())
    if about is not None:
        query = query.where(AuditEvent.subject_id == about)
    return counted_page(db.session, query, page, per_page, entities=True)
