"""api: the JSON API under /api/v1/ for scripts and other tools, authenticated by personal
tokens; a thin face over the other blueprints' services (docs/api.md)."""

from flask import Blueprint

bp = Blueprint("api", __name__, url_prefix="/api/v1")

from . import accounts, admin, core, notifications, openapi, routes  # noqa: E402,F401
