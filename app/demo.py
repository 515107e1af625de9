"""`flask --app wsgi demo seed`: the demo organisation, loaded only into an empty database."""

import click
from flask import current_app
from flask.cli import AppGroup
from sqlalchemy import func, select

from app.blueprints.auth import service as auth
from app.blueprints.auth.models import Popug
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


def seed_demo() -> bool:
    """Create the demo popugs if there are no popugs yet. Returns whether it seeded."""
    if db.session.scalar(select(func.count(Popug.id))):
        return False
    for username, role, beak in DEMO_POPUGS:
        auth.create_popug(
            username=username,
            email=f"{username}@uberpopug.inc",
            role=role,
            beak_shape=beak,
            actor=None,
        )
    return True


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
