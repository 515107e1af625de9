"""`flask --app wsgi billing …` and `flask --app wsgi accounting verify`: the same services as
the accounting overview, for cron and operators."""

import click
from flask.cli import AppGroup

from app.db import is_postgres, write_intent
from app.errors import ServiceError
from app.extensions import db

from . import closing, mail, posting
from .verify import verify as check_books

billing_cli = AppGroup("billing", help="Close business days and send payout e-mails.")
accounting_cli = AppGroup("accounting", help="Check the books.")


@billing_cli.command("close-day")
@click.option(
    "--date",
    "day",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    default=None,
    help="Business day to close (YYYY-MM-DD). Default: the last day that has ended and "
    "is not closed yet.",
)
def close_day(day) -> None:
    """Pay out every positive balance as of the end of the day, record the day as closed,
    then send the payout e-mails. Safe to run again: a closed day is left as it is."""
    with write_intent():
        target = day.date() if day else closing.day_to_close()
        if target is None:
            last = posting.last_closed_day()
            click.echo(
                "Nothing to close: the last day that has ended"
                + (f" ({last.isoformat()}) is already closed." if last else " is already closed.")
            )
        else:
            try:
                result = closing.close_day(target)
            except ServiceError as error:
                db.session.rollback()
                raise click.ClickException(error.message) from None
            summary = result.summary()
            db.session.commit()
            if result.closed_now:
                mails = "e-mail" if result.messages == 1 else "e-mails"
                click.echo(
                    f"Closed {target.isoformat()}: {summary}; {result.messages} {mails} queued."
                )
            else:
                click.echo(f"{target.isoformat()} was already closed ({summary}); nothing changed.")
        _send()


def _send() -> None:
    try:
        report = mail.send_pending()
    except Exception as error:  # the close is committed; e-mails wait in the outbox
        db.session.rollback()
        click.echo(
            f"Could not send the payout e-mails ({error}); they wait in the outbox. "
            "Run `flask --app wsgi billing send-mail` later.",
            err=True,
        )
        return
    click.echo(f"E-mail: {report.summary()}")


@billing_cli.command("send-mail")
@click.option(
    "--retry-now",
    is_flag=True,
    help="Retry failed e-mails now instead of waiting for their backoff.",
)
def send_mail(retry_now: bool) -> None:
    """Deliver pending payout e-mails from the outbox (retries failures with backoff)."""
    with write_intent():
        if retry_now:
            mail.retry_now()
        report = mail.send_pending()
    click.echo(f"E-mail: {report.summary()}")
    if report.failed:
        raise SystemExit(1)


@accounting_cli.command("verify")
def verify() -> None:
    """Check that every balance equals its ledger, every payout cleared exactly the balance
    it paid, and every task has its creation's fee, its latest fee on its assignee, a
    reward exactly when it is done, and no open task sits on a popug who cannot take it."""
    if is_postgres():  # every check reads the same snapshot
        db.session.connection(execution_options={"isolation_level": "REPEATABLE READ"})
    problems = check_books()
    db.session.rollback()
    if problems:
        count = f"{len(problems)} problem" + ("" if len(problems) == 1 else "s")
        click.echo(f"The books do not balance ({count}):", err=True)
        for problem in problems:
            click.echo(f"  - {problem}", err=True)
        raise SystemExit(1)
    click.echo("The books balance: every account, payout, closed day and task checks out.")
