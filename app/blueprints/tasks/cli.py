"""`flask --app wsgi tasks …`: the same services as the task pages, for operators."""

import click
from flask.cli import AppGroup

from app.db import write_intent
from app.errors import ServiceError
from app.extensions import db

from . import service

tasks_cli = AppGroup("tasks", help="Repair tasks.")


@tasks_cli.command("hand-over-stuck")
def hand_over_stuck() -> None:
    """Hand every open task that sits on a popug who cannot take tasks (deactivated, or a
    manager or admin) to a random active worker or accountant, charging each the task's
    fee, in one transaction: what deactivating or re-roling that popug does now."""
    with write_intent():
        try:
            result = service.hand_over_stuck_tasks(actor=None)
        except ServiceError as error:
            db.session.rollback()
            raise click.ClickException(error.message) from None
        db.session.commit()
    if not result.tasks:
        click.echo("No open task sits on a popug who cannot take tasks; nothing moved.")
        return
    tasks = "task" if result.tasks == 1 else "tasks"
    popugs = "popug" if result.popugs == 1 else "popugs"
    click.echo(
        f"Handed over {result.tasks:,} open {tasks} from {result.popugs:,} {popugs} who cannot "
        "take tasks, each charged its fee to its new assignee."
    )
