"""auth: popugs (accounts), roles, beak-shape sign-in, sessions."""

from flask import Blueprint

bp = Blueprint("auth", __name__)

from app import signals  # noqa: E402

from . import routes, service, sessions  # noqa: E402,F401

# Background requests whose session did not change get no new cookie (sessions.py).
bp.record_once(lambda state: setattr(state.app, "session_interface", sessions.SessionInterface()))

RECEIVERS = [
    (signals.recipient_locales_wanted, lambda _sender, popug_ids: service.locales_of(popug_ids)),
]
from .cli import popugs_cli  # noqa: E402

CLI_GROUPS = (popugs_cli,)
