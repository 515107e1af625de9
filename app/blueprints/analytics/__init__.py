"""analytics: the admin dashboard (management earnings, popugs in the red, most expensive tasks)."""

from flask import Blueprint

bp = Blueprint("analytics", __name__)

from . import routes  # noqa: E402,F401
