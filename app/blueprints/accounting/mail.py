"""Payout e-mails: what they say, and the outbox sender that delivers them exactly once.

Closing a day writes one outbox row per payout in the same transaction as the payout
(see closing.close_day). `send_pending` delivers due rows afterwards, in its own short
transactions, so it must run after the caller's business transaction has committed:

1. claim a batch of due rows with one conditional UPDATE (attempt counted, `next_attempt_at`
   moved a lease into the future, a fresh random claim token written), commit: a second
   sender skips them until the lease runs out;
2. before each message, extend the lease of the rest of the batch where the token is still
   ours, and send only if this message is among them: a sender whose claim was taken over
   (its lease ran out, another sender claimed the row) neither sends nor reschedules it;
3. while a message is in the SMTP server's hands a thread renews the lease the same way, so
   a slow server never lets a message in flight fall due for another sender;
4. mark each delivered message sent with its own commit, so a crash later never sends it
   again; a failure records the error and retries after an exponential backoff (only while
   the claim is ours); rows whose connection broke are not lost, only delayed.

A sender that stalls for longer than a lease (a paused process, a lost database) can still
overlap with the sender that took over; the Message-ID is stable per row, so a receiving
system can tell the two copies apart.

Other blueprints queue e-mails with `queue_mail_from` (an INSERT … SELECT of recipient,
topic and ref, in their event's transaction) and write their words when asked
(signals.mail_texts_wanted): before each claim the sender has due unwritten messages
written and stored, and claims only written ones. Writing twice (two senders) stores the
first words only; a message nobody can write (what it was about is gone) is logged, not
sent.

Without MAIL_SERVER (development) a message is written to the log and marked "logged"; it
stays viewable in the accounting overview.
"""

import logging
import secrets
import smtplib
import ssl
import threading
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, timedelta
from email.message import EmailMessage
from email.utils import format_datetime

from flask import current_app
from flask_babel import force_locale, gettext
from sqlalchemy import bindparam, insert, literal, select, update
from sqlalchemy.exc import SQLAlchemyError

from app import clock, signals
from app.db import write_intent
from app.extensions import db
from app.i18n import DEFAULT_LOCALE, format_day, format_number
from app.money import format_money
from app.signals import ask

from .models import MAIL_LOGGED, MAIL_PENDING, MAIL_SENT, OutboxMessage, Payout
from .queries import pending_mail

log = logging.getLogger(__name__)
BATCH = 50  # claimed at once
LEASE = timedelta(minutes=15)  # renewed before each message, and every third of it during one
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


def queue_mail_from(rows) -> None:
    """Queue one e-mail for each row of the SELECT `rows` (recipient, topic, ref): due now,
    its words written when it is sent. One INSERT … SELECT, in the caller's transaction."""
    now, when = clock.now(), OutboxMessage.created_at.type
    queued = rows.subquery("queued")
    recipient = list(queued.c)[0]
    db.session.execute(
        insert(OutboxMessage.__table__).from_select(
            ["recipient", "topic", "ref", "status", "attempts", "next_attempt_at", "created_at"],
            select(
                *queued.c, literal(MAIL_PENDING), literal(0), literal(now, when), literal(now, when)
            ).where(recipient.is_not(None)),
        )
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


def send_again(message_id: int) -> bool:
    """Make one failed e-mail due now ("Send again"), through the outbox like every retry:
    only a pending message whose last attempt failed and that no sender holds (a claim
    clears the error and writes a token), so it is queued once, and the claim then decides
    who sends it, once. In the caller's transaction; False when it was not failed (sent,
    logged, waiting or being sent meanwhile)."""
    return bool(
        db.session.execute(
            update(OutboxMessage)
            .where(
                OutboxMessage.id == message_id,
                OutboxMessage.status == MAIL_PENDING,
                OutboxMessage.last_error.is_not(None),
                OutboxMessage.claim_token.is_(None),
            )
            .values(next_attempt_at=clock.now())
            .execution_options(synchronize_session=False)
        ).rowcount
    )


def payout_day_of(message_id: int) -> date | None:
    """The day whose payout an outbox message is about (None: no such payout e-mail)."""
    return db.session.scalar(
        select(Payout.day)
        .join(OutboxMessage, OutboxMessage.payout_id == Payout.id)
        .where(OutboxMessage.id == message_id)
    )


def send_pending(limit: int | None = None) -> SendReport:
    """Deliver due outbox messages (at most `limit`), committing as it goes; see the module
    docstring. Call it with no business transaction open."""
    db.session.commit()
    report = SendReport()
    logging_only = not current_app.config.get("MAIL_SERVER")
    done = 0
    while limit is None or done < limit:
        size = BATCH if limit is None else min(BATCH, limit - done)
        _write_texts(size)
        claim = _claim(size)
        if not claim.messages:
            break
        done += len(claim.messages)
        if logging_only:
            ours = _renew(claim, [message.id for message in claim.messages])
            for message in claim.messages:
                if message.id in ours:
                    _log(message)
                    _mark_delivered(message.id, MAIL_LOGGED)
                    report.logged += 1
            continue
        if not _deliver(claim, report):
            break  # the server is unreachable: the rest waits for the next run
    report.pending = pending_mail()
    db.session.commit()
    return report


def _write_texts(size: int) -> int:
    """Have up to `size` due unwritten messages written by the blueprints that queued them
    and store the words (committed); one nobody writes is logged with the reason. How many
    were handled."""
    now = clock.now()
    due = db.session.execute(
        select(OutboxMessage.id, OutboxMessage.topic, OutboxMessage.ref)
        .where(
            OutboxMessage.status == MAIL_PENDING,
            OutboxMessage.next_attempt_at <= now,
            OutboxMessage.body.is_(None),
        )
        .order_by(OutboxMessage.next_attempt_at, OutboxMessage.id)
        .limit(size)
    ).all()
    if not due:
        db.session.commit()  # the claim's UPDATE begins a transaction of its own (SQLite)
        return 0
    texts: dict[int, tuple[str, str]] = {}
    for answer in ask(signals.mail_texts_wanted, messages=[tuple(row) for row in due]):
        texts.update(answer)
    unwritten = OutboxMessage.__table__
    written = [
        {"message_id": id_, "new_subject": subject[:200], "new_body": body}
        for id_, (subject, body) in texts.items()
    ]
    if written:
        db.session.execute(
            update(unwritten)
            .where(unwritten.c.id == bindparam("message_id"), unwritten.c.body.is_(None))
            .values(subject=bindparam("new_subject"), body=bindparam("new_body")),
            written,
        )
    lost = [row.id for row in due if row.id not in texts]
    if lost:
        log.warning("outbox: nothing to write for messages %s; logged, not sent", lost)
        db.session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id.in_(lost), OutboxMessage.body.is_(None))
            .values(
                status=MAIL_LOGGED,
                subject="",
                body="",
                sent_at=now,
                last_error="Nothing to write: what it was about is gone.",
            )
            .execution_options(synchronize_session=False)
        )
    db.session.commit()
    return len(due)


@dataclass(frozen=True)
class Claim:
    """Outbox rows one sender holds under `token` (in id order), until its lease runs out
    and another sender claims them with a token of its own."""

    token: str
    messages: list


def _claim(size: int) -> Claim:
    now = clock.now()
    token = secrets.token_hex(16)
    due = (
        select(OutboxMessage.id)
        .where(
            OutboxMessage.status == MAIL_PENDING,
            OutboxMessage.next_attempt_at <= now,
            OutboxMessage.body.is_not(None),  # written (_write_texts)
        )
        .order_by(OutboxMessage.next_attempt_at, OutboxMessage.id)
        .limit(size)
    )
    rows = db.session.execute(
        update(OutboxMessage)
        .where(
            OutboxMessage.id.in_(due.scalar_subquery()),
            # re-checked on each row: a concurrent sender's claim or renewal makes it fail here
            OutboxMessage.status == MAIL_PENDING,
            OutboxMessage.next_attempt_at <= now,
        )
        .values(
            attempts=OutboxMessage.attempts + 1,
            next_attempt_at=now + LEASE,
            last_error=None,
            claim_token=token,
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
    return Claim(token, sorted(rows, key=lambda row: row.id))


def _renewal(token: str, ids):
    """The UPDATE that extends the lease of `ids` by LEASE from now where the claim `token`
    still holds, returning the ids it still holds."""
    return (
        update(OutboxMessage)
        .where(
            OutboxMessage.id.in_(ids),
            OutboxMessage.claim_token == token,
            OutboxMessage.status == MAIL_PENDING,
        )
        .values(next_attempt_at=clock.now() + LEASE)
        .returning(OutboxMessage.id)
        .execution_options(synchronize_session=False)
    )


def _renew(claim: Claim, ids) -> set[int]:
    """Extend the lease of `ids` where the claim still holds (committed); the ids it holds.
    Only these may be sent: the token is the one truth about who may."""
    if not ids:
        return set()
    held = set(db.session.execute(_renewal(claim.token, ids)).scalars())
    db.session.commit()
    return held


@contextmanager
def _lease_kept(claim: Claim, ids):
    """While the body runs (one message in the SMTP server's hands, no database work of
    the caller's), renew the lease of `ids` every third of LEASE, in a thread of its own."""
    engine = db.engine
    stop = threading.Event()

    def renew() -> None:
        while not stop.wait(LEASE.total_seconds() / 3):
            try:
                with write_intent(), engine.begin() as conn:
                    held = conn.execute(_renewal(claim.token, ids)).scalars().all()
            except SQLAlchemyError:
                log.warning("outbox: could not renew the lease of %s", ids, exc_info=True)
                continue
            if not held:
                log.warning("outbox: the claim of %s was taken over during a send", ids)
                return

    keeper = threading.Thread(target=renew, name="outbox-lease", daemon=True)
    keeper.start()
    try:
        yield
    finally:
        stop.set()
        keeper.join()


def _mark_delivered(message_id: int, status: str) -> None:
    """Record a delivery. Not fenced by the claim token: that the message went out is a fact
    whoever holds the claim now, and recording it stops a sender that took the claim over
    from sending it again (its re-check finds the message no longer pending)."""
    db.session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id == message_id, OutboxMessage.status == MAIL_PENDING)
        .values(status=status, sent_at=clock.now(), last_error=None, claim_token=None)
        .execution_options(synchronize_session=False)
    )
    db.session.commit()


def _mark_failed(claim: Claim, messages, error: Exception) -> None:
    """Record a failure and schedule the retry, only where the claim is still ours (the
    sender that took it over decides its message's fate)."""
    now = clock.now()
    text = f"{type(error).__name__}: {error}"[:ERROR_MAX]
    for message in messages:
        db.session.execute(
            update(OutboxMessage)
            .where(
                OutboxMessage.id == message.id,
                OutboxMessage.claim_token == claim.token,
                OutboxMessage.status == MAIL_PENDING,
            )
            .values(
                last_error=text, next_attempt_at=now + backoff(message.attempts), claim_token=None
            )
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


def _deliver(claim: Claim, report: SendReport) -> bool:
    """Send a claimed batch over one connection, each message only while the claim on it
    holds; False when the server could not be used."""
    try:
        smtp = _connect()
    except (OSError, smtplib.SMTPException) as error:
        _mark_failed(claim, claim.messages, error)
        report.failed += len(claim.messages)
        return False
    ours = {message.id for message in claim.messages}
    try:
        for index, message in enumerate(claim.messages):
            rest = claim.messages[index:]
            ours = _renew(claim, [m.id for m in rest if m.id in ours])
            if message.id not in ours:
                continue  # taken over by another sender: it is that sender's to send
            try:
                with _lease_kept(claim, sorted(ours)):
                    smtp.send_message(_email(message))
            except MESSAGE_ERRORS as error:
                _mark_failed(claim, [message], error)
                report.failed += 1
                continue
            except (OSError, smtplib.SMTPException) as error:
                unsent = [m for m in rest if m.id in ours]
                _mark_failed(claim, unsent, error)
                report.failed += len(unsent)
                return False
            _mark_delivered(message.id, MAIL_SENT)
            report.sent += 1
    finally:
        try:
            smtp.quit()
        except (OSError, smtplib.SMTPException):
            smtp.close()
    return True
