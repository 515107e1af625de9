"""tasks: tasks, assignment, shuffle (reassign), completion."""

from flask import Blueprint

bp = Blueprint("tasks", __name__)

from app.blueprints.accounting import service as _accounting  # noqa: E402
from app.blueprints.auth import service as _auth  # noqa: E402

from . import checks, queries, routes, service  # noqa: E402,F401
from .cli import tasks_cli  # noqa: E402

CLI_GROUPS = (tasks_cli,)

_accounting.register_task_labeler(queries.labels)
for _check in checks.CHECKS:
    _accounting.register_check(_check)
_auth.register_task_handover(service.hand_over_open_tasks)
_auth.register_popug_facts(queries.task_counts_of)
