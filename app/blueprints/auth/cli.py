"""`flask --app wsgi popugs …`: the same services as the Popugs page, without HTML."""

import click
from flask.cli import AppGroup

from app.access import ROLES
from app.db import write_intent
from app.errors import ServiceError
from app.extensions import db

from . import service

popugs_cli = AppGroup("popugs", help="Manage popugs (accounts).")


@popugs_cli.command("create")
@click.option("--username", required=True)
@click.option("--email", required=True)
@click.option("--role", required=True, type=click.Choice(ROLES))
@click.option(
    "--beak-shape",
    prompt=True,
    hide_input=True,
    confirmation_prompt=True,
    help="Asked for without echo when left out.",
)
def create(username: str, email: str, role: str, beak_shape: str) -> None:
    """Create a popug and open its money account."""
    with write_intent():
        try:
            popug = service.create_popug(
                username=username, email=email, role=role, beak_shape=beak_shape, actor=None
            )
        except ServiceError as error:
            db.session.rollback()
            raise click.ClickException(error.message) from None
        db.session.commit()
    click.echo(f"Created {popug.role} {popug.username} ({popug.public_id}).")
