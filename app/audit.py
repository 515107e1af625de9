"""The admin audit trail: who did what, when, from where. Append-only; read on one page.

A shared kernel like clock and money: any blueprint's routes and commands record into it in
the same transaction as the action they describe, so an action and its record commit together.

An event stores codes and parameters, never sentences: its action (`popug.role`), its
details as a small JSON object (`{"username": "kesha", "before": "worker", ...}`) and its
source (the client's address, or `cli` / `worker` for the command line and the job worker).
The sentences are written when shown, in the reader's language (`describe`, `source_label`).
Events recorded before codes were stored keep their English `details` text, shown as it is.
"""

from datetime import date, datetime

from flask import has_request_context, request
from sqlalchemy import JSON, Index, Integer, String, select
from sqlalchemy.orm import Mapped, mapped_column

from app import clock
from app.db import UTCDateTime
from app.extensions import db
from app.i18n import N_, Nn_
from app.paging import counted_page

# What each action is called (translated where shown).
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

# Where an event came from when not from a browser or API client (stored as the code).
CLI, WORKER = "cli", "worker"
SOURCES = {CLI: N_("command line"), WORKER: N_("job worker")}
# Who acted when nobody signed in did (the command line, the demo seed).
SYSTEM = "system"

# Each action's details as a sentence, from its parameters: a message, or its singular and
# plural chosen by the parameter `num`.
DETAILS = {
    "popug.create": N_("%(username)s as %(role)s"),
    "popug.role": N_("%(username)s: %(before)s → %(after)s"),
    "popug.deactivate": N_("%(username)s"),
    "popug.activate": N_("%(username)s"),
    "popug.email": N_("%(username)s: %(previous)s → %(email)s"),
    "popug.beak_shape": N_("%(username)s"),
    "tasks.shuffle": Nn_(
        "%(num)s open task among %(popugs)s", "%(num)s open tasks among %(popugs)s"
    ),
    "press.joined": N_("shuffle %(shuffle)s, queued by %(first)s"),
    "tasks.hand_over_stuck": Nn_(
        "%(num)s open task from %(popugs)s who cannot take tasks",
        "%(num)s open tasks from %(popugs)s who cannot take tasks",
    ),
    "billing.close_day": Nn_(
        "%(day)s: paid %(paid)s to %(num)s popug, %(in_red)s left in the red",
        "%(day)s: paid %(paid)s to %(num)s popugs, %(in_red)s left in the red",
    ),
    "token.create": Nn_(
        "%(name)s (%(prefix)s…), %(num)s day", "%(name)s (%(prefix)s…), %(num)s days"
    ),
    "token.revoke": N_("%(name)s (%(prefix)s…) of %(owner)s"),
}
HANDED_OVER = Nn_(
    "%(num)s open task handed over to others, each charged its fee",
    "%(num)s open tasks handed over to others, each charged its fee",
)
# Parameters that hold a stored code or a value formatted in the reader's language.
ROLE_PARAMS = ("role", "before", "after")
MONEY_PARAMS = ("paid",)
DAY_PARAMS = ("day",)
COUNT_PARAMS = ("in_red",)
# A count of popugs, only ever after "among" or "from" (Russian: genitive, "среди 1 попуга").
POPUGS = Nn_("%(num)s popug", "%(num)s popugs")


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
    # The English text of an event recorded before parameters were stored; "" since.
    details: Mapped[str] = mapped_column(String(500))
    # The details' parameters (see DETAILS), None for an event recorded before them.
    params: Mapped[dict | None] = mapped_column(JSON(none_as_null=True))
    # The client's address, or a code of SOURCES.
    address: Mapped[str] = mapped_column(String(64))
    # The popug the event is about (created, re-roled, deactivated), if any: a plain id.
    subject_id: Mapped[int | None] = mapped_column(Integer)

    @property
    def label(self) -> str:
        return ACTIONS.get(self.action, self.action)

    @property
    def description(self) -> str:
        return describe(self.action, self.params, self.details)

    @property
    def source(self) -> str:
        return source_label(self.address)

    @property
    def actor(self) -> str:
        if self.actor_username == SYSTEM and self.address in SOURCES:
            return _gettext()(N_("system"))
        return self.actor_username


def _gettext():
    if has_request_context():
        from flask_babel import gettext

        return gettext
    return lambda message, **params: message % params if params else message


def _ngettext():
    if has_request_context():
        from flask_babel import ngettext

        return ngettext
    return lambda singular, plural, num, **params: (
        (singular if num == 1 else plural)
        % {
            "num": num,
            **params,
        }
    )


def _shown(params: dict) -> dict:
    """The parameters as the reader reads them: roles translated, money and days and counts
    in the reader's formats."""
    from app.i18n import format_day, format_number, label
    from app.money import format_cents, format_money

    english = not has_request_context()
    shown = dict(params)
    for key in ROLE_PARAMS:
        if key in shown and not english:
            shown[key] = label(shown[key], "role")
    for key in MONEY_PARAMS:
        if key in shown:
            shown[key] = format_cents(shown[key]) if english else format_money(shown[key])
    for key in DAY_PARAMS:
        if key in shown:
            day = date.fromisoformat(shown[key])
            shown[key] = day.isoformat() if english else format_day(day)
    for key in COUNT_PARAMS:
        if key in shown and not english:
            shown[key] = format_number(shown[key])
    if "popugs" in shown:
        shown["popugs"] = _ngettext()(*POPUGS, shown["popugs"])
    return shown


def describe(action: str, params: dict | None, legacy: str = "") -> str:
    """An event's details in the reader's language (English outside a request)."""
    if params is None or action not in DETAILS:
        return legacy
    try:
        shown = _shown(params)
        message = DETAILS[action]
        if isinstance(message, tuple):
            text = _ngettext()(*message, shown.pop("num"), **shown)
        else:
            text = _gettext()(message, **shown)
    except (KeyError, TypeError, ValueError):  # parameters that do not fit: shown raw
        return ", ".join(f"{key}={value}" for key, value in sorted(params.items()))
    handed = params.get("handed_over")
    if handed:
        text = "; ".join([text, _ngettext()(*HANDED_OVER, handed)])
    return text


def source_label(address: str) -> str:
    """Where an event came from: the client's address, or the named source translated."""
    return _gettext()(SOURCES[address]) if address in SOURCES else address


def record(
    actor,
    action: str,
    params: dict,
    *,
    address: str | None = None,
    subject=None,
) -> None:
    """Add an audit event for `actor` (None: the command line) to the current transaction;
    `params` are the details' parameters (see DETAILS: JSON-able codes and numbers, money in
    cents, days as ISO text); `address` defaults to the request's client, else the command
    line's code; `subject` is the popug the event is about, if any."""
    if action not in ACTIONS:
        raise ValueError(f"unknown audit action {action!r}")
    if address is None:
        address = (request.remote_addr or "?") if has_request_context() else CLI
    db.session.add(
        AuditEvent(
            at=clock.now(),
            actor_username=actor.username if actor is not None else SYSTEM,
            action=action,
            details="",
            params=params,
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
