"""E-mail exactly once: two senders against a slow SMTP server, with a lease shorter than
one message takes to send.

A real SMTP server (aiosmtpd) answers each DATA only after DATA_SECONDS, longer than the
lease; two senders (threads, each with its own session, as two `accounting send-mail` runs
would be) deliver the outbox at the same time, again and again until nothing is pending.
Every outbox row must reach the server exactly once, counted by the Message-ID that names
the row. On the suite's database: a SQLite file, or a fresh PostgreSQL database.
"""

from __future__ import annotations

import asyncio
import re
import socket
import threading
import time
from collections import Counter
from datetime import timedelta
from email import message_from_bytes

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import select

from app import clock, create_app
from app.blueprints.accounting import mail
from app.blueprints.accounting.models import MAIL_SENT, OutboxMessage
from app.blueprints.accounting.queries import pending_mail
from app.extensions import db
from tests.reliability.helpers import (
    ON_POSTGRES,
    app_on,
    config_for,
    create_schema,
    scratch_database,
)

MESSAGES = 10
DATA_SECONDS = 1.0
LEASE = timedelta(seconds=0.5)  # shorter than one DATA: only renewal keeps a claim
BATCH = 3  # the senders' batches interleave
DEADLINE = 120.0
SENDER_POLL = 0.05  # a sender that found nothing to claim looks again after this
MESSAGE_ID = re.compile(r"<ates-outbox-(\d+)@")


class SlowInbox:
    """An aiosmtpd handler that answers each DATA after DATA_SECONDS and keeps the outbox
    row id of every message it accepted."""

    def __init__(self):
        self.received: list[int] = []
        self._lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's name
        await asyncio.sleep(DATA_SECONDS)
        message_id = message_from_bytes(envelope.content)["Message-ID"]
        with self._lock:
            self.received.append(int(MESSAGE_ID.match(message_id).group(1)))
        return "250 Message accepted"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def database(tmp_path):
    with scratch_database("postgresql" if ON_POSTGRES else "sqlite", tmp_path) as url:
        create_schema(url)
        yield url


def queue_messages(url: str) -> list[int]:
    with app_on(url):
        due = clock.now() - timedelta(seconds=1)
        rows = [
            OutboxMessage(
                recipient=f"popug-{n}@uberpopug.inc",
                subject=f"Payout {n}",
                body=f"Paid out: ${n}.00",
                next_attempt_at=due,
            )
            for n in range(MESSAGES)
        ]
        db.session.add_all(rows)
        db.session.commit()
        return [row.id for row in rows]


def test_two_senders_and_a_slow_server_deliver_every_message_once(database, monkeypatch):
    ids = queue_messages(database)
    monkeypatch.setattr(mail, "LEASE", LEASE)
    monkeypatch.setattr(mail, "BATCH", BATCH)
    inbox = SlowInbox()
    port = free_port()
    server = Controller(inbox, hostname="127.0.0.1", port=port)
    server.start()
    app = create_app(
        config_for(
            database, MAIL_SERVER="127.0.0.1", MAIL_PORT=port, MAIL_TIMEOUT=DATA_SECONDS * 30
        )
    )
    reports: dict[str, list[mail.SendReport]] = {"a": [], "b": []}
    errors: list[BaseException] = []
    start = threading.Barrier(2)

    def sender(name: str) -> None:
        try:
            with app.app_context():
                start.wait(timeout=30)
                deadline = time.monotonic() + DEADLINE
                while time.monotonic() < deadline:
                    reports[name].append(mail.send_pending())
                    if pending_mail() == 0:
                        return
                    threading.Event().wait(SENDER_POLL)
                raise AssertionError(f"sender {name}: messages still pending at the deadline")
        except BaseException as error:  # reported by the test below
            errors.append(error)
        finally:
            with app.app_context():
                db.session.remove()

    threads = [threading.Thread(target=sender, args=(name,)) for name in reports]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=DEADLINE + 30)
            assert not thread.is_alive(), "a sender never finished"
    finally:
        server.stop()
        with app.app_context():
            db.engine.dispose()
    assert errors == []

    deliveries = Counter(inbox.received)
    assert deliveries == Counter(ids), f"deliveries per outbox row: {dict(deliveries)}"
    sent = {name: sum(r.sent for r in runs) for name, runs in reports.items()}
    assert sum(sent.values()) == MESSAGES, sent
    assert all(sent.values()), f"one sender did all the work, nothing was contended: {sent}"
    with app_on(database):
        rows = db.session.execute(select(OutboxMessage.status, OutboxMessage.claim_token)).all()
        assert set(rows) == {(MAIL_SENT, None)}
