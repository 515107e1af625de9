"""Accounting's shared fixtures: a real SMTP server on loopback, and a closed day."""

from datetime import date
from email import message_from_bytes
from email.policy import default as default_policy

import pytest
from aiosmtpd.controller import Controller

from app.blueprints.accounting import closing
from app.extensions import db
from tests.accounting.helpers import complete, free_port, freeze, make_task_for
from tests.factories import make_popug

D1 = date(2026, 3, 2)


class Inbox:
    """An aiosmtpd handler that keeps what it receives and refuses `refused-*` recipients."""

    def __init__(self):
        self.received = []

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.startswith("refused-"):
            return "550 No such mailbox"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        parsed = message_from_bytes(envelope.content, policy=default_policy)
        self.received.append((tuple(envelope.rcpt_tos), parsed))
        return "250 Message accepted for delivery"

    def recipients(self) -> list[str]:
        return sorted(rcpt for rcpts, _ in self.received for rcpt in rcpts)


@pytest.fixture
def smtp(app, monkeypatch):
    """SMTP settings pointing at a free loopback port; `start()` brings a real server up."""
    port = free_port()
    monkeypatch.setitem(app.config, "MAIL_SERVER", "127.0.0.1")
    monkeypatch.setitem(app.config, "MAIL_PORT", port)
    monkeypatch.setitem(app.config, "MAIL_TIMEOUT", 5)

    class Server:
        inbox = Inbox()
        controller = None

        def start(self):
            self.controller = Controller(self.inbox, hostname="127.0.0.1", port=port)
            self.controller.start()

    server = Server()
    yield server
    if server.controller is not None:
        server.controller.stop()


@pytest.fixture
def paid_day(app):
    """2026-03-02 closed with two payouts: kesha $15.00, gosha $5.00."""
    kesha = make_popug("worker", username="kesha")
    gosha = make_popug("worker", username="gosha")
    freeze("2026-03-02 09:00")
    complete(make_task_for(kesha, fee=1500, reward=3000), kesha)
    complete(make_task_for(gosha, fee=1500, reward=2000), gosha)
    freeze("2026-03-02 23:00")
    closing.close_day(D1)
    db.session.commit()
    return kesha, gosha
