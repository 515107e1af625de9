"""accounting: money accounts, the ledger (audit log), billing days, payouts, payout e-mails."""

from flask import Blueprint

bp = Blueprint("accounting", __name__)

from . import routes  # noqa: E402,F401
from .cli import accounting_cli, billing_cli  # noqa: E402

CLI_GROUPS = (billing_cli, accounting_cli)
