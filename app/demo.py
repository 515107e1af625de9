"""`flask --app wsgi demo seed`: the demo organisation, loaded only into an empty database."""

from datetime import timedelta

import click
from flask import current_app
from flask.cli import AppGroup
from sqlalchemy import func, select

from app import clock
from app.blueprints.accounting import closing
from app.blueprints.auth import service as auth
from app.blueprints.auth.models import Popug
from app.blueprints.tasks import service as tasks_service
from app.blueprints.tasks import shuffles
from app.db import write_intent
from app.extensions import db

demo_cli = AppGroup("demo", help="Demo data.")

# Known, public demo credentials: (username, role, beak shape).
DEMO_POPUGS = [
    ("admin", "admin", "hooked and golden"),
    ("manager", "manager", "short and stubby"),
    ("accountant", "accountant", "thin and precise"),
    ("kesha", "worker", "curved like a banana"),
    ("gosha", "worker", "sharp as a pencil"),
    ("rio", "worker", "wide and cheerful"),
    ("kiwi", "worker", "small and green"),
    ("koko", "worker", "strong nut cracker"),
]


# A small history, so the first pages are not empty: (title, Jira ID, creator) created
# yesterday (the done ones completed), and today's.
YESTERDAYS_TASKS = [
    ("Refill the seed dispensers", "UBERPOP-201", "manager", True),
    ("Fix the perch in cage 3", "UBERPOP-202", "kesha", True),
    ("Sort the morning mail", None, "gosha", True),
    ("Polish the mirror", "UBERPOP-204", "rio", False),
    ("Count the millet sacks", None, "manager", True),
]
TODAYS_TASKS = [
    ("Teach the new popugs to whistle", "UBERPOP-210", "manager", False),
    ("Untangle the swing ropes", None, "kiwi", True),
    ("Write the feeding schedule", "UBERPOP-212", "accountant", False),
    ("Test the new bell", None, "koko", False),
    ("Replace the water bowls", "UBERPOP-214", "manager", False),
]


def seed_demo() -> bool:
    """Create the demo popugs, and a short history (tasks, some done, yesterday closed,
    a shuffle today), if there are no popugs yet. Returns whether it seeded."""
    if db.session.scalar(select(func.count(Popug.id))):
        return False
    popugs = {
        username: auth.create_popug(
            username=username,
            email=f"{username}@uberpopug.inc",
            role=role,
            beak_shape=beak,
            actor=None,
        )
        for username, role, beak in DEMO_POPUGS
    }
    now = clock.now()
    yesterday = now - timedelta(days=1)
    try:
        clock.freeze(yesterday.replace(hour=10, minute=0))
        _tasks(popugs, YESTERDAYS_TASKS)
        clock.freeze(yesterday.replace(hour=18, minute=0))
        closing.close_day(clock.business_day(), actor=popugs["accountant"])
    finally:
        clock.freeze(None)
    _tasks(popugs, TODAYS_TASKS)
    shuffle = shuffles.request_shuffle(actor=popugs["manager"]).shuffle
    shuffles.claim_next_shuffle()
    shuffles.run_shuffle(shuffle.id)
    return True


def _tasks(popugs: dict, tasks) -> None:
    for title, jira_id, creator, done in tasks:
        task = tasks_service.create_task(
            title=title, jira_id=jira_id, description="", actor=popugs[creator]
        )
        if done:
            assignee = db.session.get(Popug, task.assignee_id)
            tasks_service.complete_task(task.public_id, actor=assignee)


@demo_cli.command("seed")
def seed() -> None:
    """Load the demo organisation into an empty database (safe to run twice)."""
    if current_app.config["ATES_ENV"] not in ("development", "testing"):
        raise click.ClickException(
            "demo seed creates popugs whose beak shapes are published (admin among them): "
            "it runs only with ATES_ENV=development or testing. Create the first admin with "
            "`flask --app wsgi popugs create --role admin …`."
        )
    with write_intent():
        seeded = seed_demo()
        db.session.commit()
    if seeded:
        click.echo("Loaded the demo organisation. Sign in at http://127.0.0.1:5000 with:")
        for username, role, beak in DEMO_POPUGS:
            click.echo(f"  {role:<10}  Username: {username:<10}  Beak shape: {beak}")
    else:
        click.echo("The database already has popugs; demo data not loaded.")
        click.echo("Demo sign-in (if the demo was loaded before): admin / hooked and golden")
