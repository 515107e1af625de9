"""accounting: money accounts, the ledger (audit log), billing days, payouts, payout e-mails."""

from flask import Blueprint

bp = Blueprint("accounting", __name__)

from . import routes  # noqa: E402,F401
