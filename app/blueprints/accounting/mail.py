"""Payout e-mails: what they say, and the outbox sender that delivers them exactly once.

Closing a day writes one outbox row per payout in the same transaction as the payout
(see closing.close_day). `send_pending` delivers due rows afterwards, in its own short
transactions, so it must run after the caller's business transaction has committed:

1. claim a batch of due rows with one conditional UPDATE (attempt counted, `next_attempt_at`
   moved a lease into the future), commit: a second sender skips them;
2. send each over one SMTP connection and mark it sent with its own commit, so a crash
   later never sends it again;
3. a failure records the error and retries after an exponential backoff; rows whose
   connection broke are not lost, only delayed.

Without MAIL_SERVER (development) a message is written to the log and marked "logged"; it
stays viewable in the accounting overview.
"""

import smtplib
import ssl
from dataclasses import dataclass
from datetime import date, timedelta
from email.message import EmailMessage
from email.utils import format_datetime

from flask import current_app
from flask_babel import force_locale, gettext
from sqlalchemy import select, update

from app import clock, signals
from app.extensions import db
from app.i18n import DEFAULT_LOCALE, format_day, format_number
from app.money import format_money
from app.signals import ask

from .models import MAIL_LOGGED, MAIL_PENDING, MAIL_SENT, OutboxMessage
from .queries import pending_mail

BATCH = 50  # claimed at once; a batch must finish well inside the lease
LEASE = timedelta(minutes=15)
BACKOFF_FIRST = timedelta(minutes=1)
BACKOFF_MAX = timedelta(hours=1)
ERROR_MAX = 500

# Refusals of one message: record them and go on with the next on the same connection.
MESSAGE_ERRORS = (
    smtplib.SMTPRecipientsRefused,
    smtplib.SMTPSenderRefused,
    smtplib.SMTPDataError,
    smtplib.SMTPNotSupportedError,
)


def recipient_locales(popug_ids) -> dict[int, str | None]:
    """{popug id: the language they read, or None} (accounting imports no blueprint: it
    asks; auth answers)."""
    found: dict[int, str | None] = {}
    for answer in ask(signals.recipient_locales_wanted, popug_ids=popug_ids):
        found.update(answer)
    return found


@dataclass(frozen=True)
class PayoutMail:
    """The e-mail a popug gets when a day's close pays them, in their language (`locale`,
    English when they chose none)."""

    username: str
    day: date
    first_day: date  # first business day this close settled (== day unless days were skipped)
    amount: int
    tasks_done: int
    rewards: int
    fees: int
    locale: str | None = None

    def subject(self) -> str:
        with force_locale(self.locale or DEFAULT_LOCALE):
            return gettext(
                "aTES payout for %(day)s: %(amount)s",
                day=format_day(self.day),
                amount=format_money(self.amount),
            )

    def body(self) -> str:
        with force_locale(self.locale or DEFAULT_LOCALE):
            return self._body()

    def _body(self) -> str:
        day, first = format_day(self.day), format_day(self.first_day)
        if self.first_day >= self.day:
            summary = gettext("Your summary for %(day)s:", day=day)
        else:
            summary = gettext("Your summary for %(first)s to %(day)s:", first=first, day=day)
        # The labels of the summary are padded to one column in every language.
        rows = [
            (gettext("Tasks done:"), format_number(self.tasks_done)),
            (gettext("Rewards:"), format_money(self.rewards)),
            (gettext("Fees:"), format_money(-self.fees)),
            (gettext("Earnings:"), format_money(self.rewards - self.fees, signed=True)),
        ]
        width = max(len(name) for name, _ in rows) + 1
        return "\n".join(
            [
                gettext("Hello %(username)s,", username=self.username),
                "",
                gettext(
                    "The business day %(day)s is closed and your balance was paid out.", day=day
                ),
                "",
                gettext("Paid out: %(amount)s", amount=format_money(self.amount)),
                "",
                summary,
                *(f"  {name:<{width}}{value}" for name, value in rows),
                "",
                gettext(
                    "After the payout your balance at the day's close is %(zero)s.",
                    zero=format_money(0),
                ),
                "",
                gettext("aTES, UberPopug Inc."),
                "",
            ]
        )


@dataclass
class SendReport:
    sent: int = 0
    logged: int = 0
    failed: int = 0
    pending: int = 0  # still waiting after this run (failed ones and ones not yet due)

    def summary(self) -> str:
        return (
            f"Sent {self.sent}, logged {self.logged}, failed {self.failed}; "
            f"{self.pending} still pending."
        )


def backoff(attempts: int) -> timedelta:
    """Wait before retry number `attempts` + 1: 1, 2, 4, … minutes, at most an hour."""
    return min(BACKOFF_FIRST * 2 ** max(attempts - 1, 0), BACKOFF_MAX)


def retry_now() -> int:
    """Make every failed pending message due now (not ones a sender is busy with)."""
    count = db.session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.status == MAIL_PENDING, OutboxMessage.last_error.is_not(None))
        .values(next_attempt_at=clock.now())
        .execution_options(synchronize_session=False)
    ).rowcount
    db.session.commit()
    return count


def send_pending(limit: int | None = None) -> SendReport:
    """Deliver due outbox messages (at most `limit`), committing as it goes; see the module
    docstring. Call it with no business transaction open."""
    db.session.commit()
    report = SendReport()
    logging_only = not current_app.config.get("MAIL_SERVER")
    done = 0
    while limit is None or done < limit:
        claimed = _claim(BATCH if limit is None else min(BATCH, limit - done))
        if not claimed:
            break
        done += len(claimed)
        if logging_only:
            for message in claimed:
                _log(message)
                _mark_delivered(message.id, MAIL_LOGGED)
                report.logged += 1
            continue
        if not _deliver(claimed, report):
            break  # the server is unreachable: the rest waits for the next run
    report.pending = pending_mail()
    db.session.commit()
    return report


def _claim(size: int):
    now = clock.now()
    due = (
        select(OutboxMessage.id)
        .where(OutboxMessage.status == MAIL_PENDING, OutboxMessage.next_attempt_at <= now)
        .order_by(OutboxMessage.next_attempt_at, OutboxMessage.id)
        .limit(size)
    )
    rows = db.session.execute(
        update(OutboxMessage)
        .where(
            OutboxMessage.id.in_(due.scalar_subquery()),
            # re-checked on each row: a concurrent sender's claim makes it fail here
            OutboxMessage.status == MAIL_PENDING,
            OutboxMessage.next_attempt_at <= now,
        )
        .values(
            attempts=OutboxMessage.attempts + 1,
            next_attempt_at=now + LEASE,
            last_error=None,
        )
        .returning(
            OutboxMessage.id,
            OutboxMessage.recipient,
            OutboxMessage.subject,
            OutboxMessage.body,
            OutboxMessage.attempts,
        )
        .execution_options(synchronize_session=False)
    ).all()
    db.session.commit()
    return sorted(rows, key=lambda row: row.id)


def _mark_delivered(message_id: int, status: str) -> None:
    db.session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id == message_id)
        .values(status=status, sent_at=clock.now(), last_error=None)
        .execution_options(synchronize_session=False)
    )
    db.session.commit()


def _mark_failed(messages, error: Exception) -> None:
    now = clock.now()
    text = f"{type(error).__name__}: {error}"[:ERROR_MAX]
    for message in messages:
        db.session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id == message.id, OutboxMessage.status == MAIL_PENDING)
            .values(last_error=text, next_attempt_at=now + backoff(message.attempts))
            .execution_options(synchronize_session=False)
        )
    db.session.commit()


def _log(message) -> None:
    current_app.logger.info(
        "E-mail (no MAIL_SERVER set, not sent) to %s\nSubject: %s\n\n%s",
        message.recipient,
        message.subject,
        message.body,
    )


def _email(message) -> EmailMessage:
    sender = current_app.config["MAIL_DEFAULT_SENDER"]
    email = EmailMessage()
    email["From"] = sender
    email["To"] = message.recipient
    email["Subject"] = message.subject
    email["Date"] = format_datetime(clock.now())
    # Stable per outbox row, so a receiving system can tell a retry from a new message.
    domain = sender.rpartition("@")[2] or "ates.local"
    email["Message-ID"] = f"<ates-outbox-{message.id}@{domain}>"
    email.set_content(message.body)
    return email


def _connect() -> smtplib.SMTP:
    config = current_app.config
    timeout = config.get("MAIL_TIMEOUT", 10)
    smtp = smtplib.SMTP(config["MAIL_SERVER"], config["MAIL_PORT"], timeout=timeout)
    try:
        if config.get("MAIL_USE_TLS"):
            smtp.starttls(context=ssl.create_default_context())
        if config.get("MAIL_USERNAME"):
            smtp.login(config["MAIL_USERNAME"], config.get("MAIL_PASSWORD", ""))
    except BaseException:
        smtp.close()
        raise
    return smtp


def _deliver(claimed, report: SendReport) -> bool:
    """Send a claimed batch over one connection; False when the server could not be used."""
    try:
        smtp = _connect()
    except (OSError, smtplib.SMTPException) as error:
        _mark_failed(claimed, error)
        report.failed += len(claimed)
        return False
    try:
        for index, message in enumerate(claimed):
            try:
                smtp.send_message(_email(message))
            except MESSAGE_ERRORS as error:
                _mark_failed([message], error)
                report.failed += 1
                continue
            except (OSError, smtplib.SMTPException) as error:
                rest = claimed[index:]
                _mark_failed(rest, error)
                report.failed += len(rest)
                return False
            _mark_delivered(message.id, MAIL_SENT)
            report.sent += 1
    finally:
        try:
            smtp.quit()
        except (OSError, smtplib.SMTPException):
            smtp.close()
    return True
