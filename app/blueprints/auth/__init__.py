"""auth: popugs (accounts), roles, beak-shape sign-in, sessions."""

from flask import Blueprint

bp = Blueprint("auth", __name__)

from . import routes  # noqa: E402,F401
from .cli import popugs_cli  # noqa: E402

CLI_GROUPS = (popugs_cli,)
