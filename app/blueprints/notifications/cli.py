"""`flask --app wsgi notifications digest`: the daily digest the job worker queues by
itself, for operators (another day, or at once)."""

import click
from flask.cli import AppGroup
from sqlalchemy.exc import IntegrityError

from app.db import write_intent
from app.extensions import db

from . import service

notifications_cli = AppGroup("notifications", help="Notification e-mails.")


@notifications_cli.command("digest")
@click.option(
    "--day",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    default=None,
    help="Calendar day (YYYY-MM-DD, in ATES_TIMEZONE) to digest. Default: yesterday.",
)
def digest(day) -> None:
    """Queue the daily digest of a day's notifications for each popug who chose once a day;
    the outbox sends them. Safe to run again: a popug's digest of a day is queued once."""
    target = day.date() if day else service.digest_day_due()
    try:
        with write_intent():
            queued = service.queue_digests(target)
            db.session.commit()
    except IntegrityError:
        db.session.rollback()
        raise click.ClickException(
            f"Another run is queuing the digests of {target.isoformat()}; nothing queued here."
        ) from None
    click.echo(f"Queued {queued} digest e-mail(s) of {target.isoformat()}.")
