"""auth: popugs (accounts), roles, beak-shape sign-in, sessions."""

from flask import Blueprint

bp = Blueprint("auth", __name__)

from app.blueprints.accounting import mail as _mail  # noqa: E402

from . import routes, service  # noqa: E402,F401

_mail.register_recipient_locales(service.locales_of)
from .cli import popugs_cli  # noqa: E402

CLI_GROUPS = (popugs_cli,)
