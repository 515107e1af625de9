"""auth: popugs (accounts), roles, beak-shape sign-in, sessions."""

from flask import Blueprint

bp = Blueprint("auth", __name__)

from app import signals  # noqa: E402

from . import routes, service  # noqa: E402,F401

RECEIVERS = [
    (signals.recipient_locales_wanted, lambda _sender, popug_ids: service.locales_of(popug_ids)),
]
from .cli import popugs_cli  # noqa: E402

CLI_GROUPS = (popugs_cli,)
