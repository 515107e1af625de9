"""tasks: tasks, assignment, shuffle (reassign), completion."""

from flask import Blueprint

from app import signals

bp = Blueprint("tasks", __name__)

from . import checks, queries, routes, service  # noqa: E402,F401
from .cli import tasks_cli  # noqa: E402

CLI_GROUPS = (tasks_cli,)

# What tasks answers and does when other blueprints ask or tell (connected by create_app).
RECEIVERS = [
    (signals.task_labels_wanted, lambda _sender, task_ids: queries.labels(task_ids)),
    (signals.book_checks_wanted, lambda _sender: checks.CHECKS),
    (
        signals.popug_stopped_taking_tasks,
        lambda _sender, popug_id: service.hand_over_open_tasks(popug_id),
    ),
    (signals.popug_facts_wanted, lambda _sender, popug_id: queries.task_counts_of(popug_id)),
    (signals.handover_wanted, lambda _sender, popug_id: queries.handover_of(popug_id)),
]
