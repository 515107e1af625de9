"""Builders and probes for the accounting tests: tasks with chosen prices and assignees,
the clock placed at local times, and SQL statement counting."""

import re
import socket
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select

from app import clock
from app.blueprints.accounting.models import Account, BillingDay, LedgerEntry, OutboxMessage, Payout
from app.blueprints.tasks import service as tasks
from app.extensions import db
from tests.factories import make_task


def free_port() -> int:
    """A loopback port nothing listens on (the OS just handed it out and it was closed)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def at(text: str, tz: str = "UTC") -> datetime:
    """An aware datetime from "YYYY-MM-DD HH:MM" wall-clock time in `tz`."""
    return datetime.fromisoformat(text).replace(tzinfo=ZoneInfo(tz))


def freeze(text: str, tz: str = "UTC") -> datetime:
    moment = at(text, tz)
    clock.freeze(moment)
    return moment


def make_task_for(assignee, *, fee: int, reward: int, creator=None, title=None, jira_id=None):
    """A real task with fixed prices, landing on `assignee`."""
    return make_task(
        creator or assignee,
        title or f"Task for {assignee.username}",
        jira_id,
        prices=(fee, reward),
        assignee=assignee,
    )


def complete(task, popug):
    done = tasks.complete_task(task.public_id, actor=popug)
    db.session.commit()
    return done


def balance(popug) -> int:
    return db.session.scalar(select(Account.balance).where(Account.popug_id == popug.id))


def payouts() -> dict[tuple[str, str], int]:
    """{(username, day): amount} of every payout."""
    rows = db.session.execute(
        select(Account.username, Payout.day, Payout.amount).join(
            Account, Account.id == Payout.account_id
        )
    ).all()
    return {(username, day.isoformat()): amount for username, day, amount in rows}


def outbox() -> list[OutboxMessage]:
    db.session.expire_all()
    return list(db.session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))


def billing_day(day: str) -> BillingDay | None:
    db.session.expire_all()
    return db.session.get(BillingDay, datetime.fromisoformat(day).date())


def entries_of(popug) -> list[LedgerEntry]:
    return list(
        db.session.scalars(
            select(LedgerEntry)
            .join(Account, Account.id == LedgerEntry.account_id)
            .where(Account.popug_id == popug.id)
            .order_by(LedgerEntry.id)
        )
    )


def text_of(html: bytes | str) -> str:
    """Page text with tags removed and whitespace squeezed, for exact figure checks."""
    html = html.decode() if isinstance(html, bytes) else html
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


def row_with(html: bytes | str, marker: str) -> str:
    """The text of the first table row whose HTML contains `marker`."""
    html = html.decode() if isinstance(html, bytes) else html
    for row in re.findall(r"<tr\b.*?</tr>", html, flags=re.S):
        if marker in row:
            return text_of(row)
    raise AssertionError(f"no row containing {marker!r}")


def text_by_id(html: bytes | str, element_id: str) -> str:
    """The text inside the element with this id (its own closing tag ends it)."""
    html = html.decode() if isinstance(html, bytes) else html
    match = re.search(rf'<(\w+)[^>]*\bid="{re.escape(element_id)}"[^>]*>(.*?)</\1>', html, re.S)
    if match is None:
        raise AssertionError(f"no element with id {element_id!r}")
    return text_of(match.group(2))
