"""Notification e-mails put into words: one notification (right away, and the security
changes always), or a popug's digest of a day. Their outbox messages name only what they
are about (a topic and the notification's or digest's id); accounting's sender asks for the
words just before sending (signals.mail_texts_wanted), in the recipient's language.
"""

from flask_babel import force_locale, gettext, ngettext
from sqlalchemy import select

from app import clock
from app.blueprints.auth import service as auth
from app.extensions import db
from app.i18n import DEFAULT_LOCALE, format_day, format_local_time, label
from app.money import format_money

from . import queries
from .models import (
    BEAK_CHANGED,
    EMAIL_CHANGED,
    HANDED_OVER,
    PAID_OUT,
    ROLE_CHANGED,
    SHUFFLED,
    TASK_ASSIGNED,
    Digest,
    Notification,
)

# The outbox topics of notifications' e-mails; `ref` is the notification's or digest's id.
TOPIC_NOTIFICATION = "notification"
TOPIC_DIGEST = "digest"
# Security-relevant kinds: e-mailed whatever the popug chose.
ALWAYS_EMAILED = (EMAIL_CHANGED, BEAK_CHANGED)
# A digest lists at most this many notifications, then says how many more there were.
DIGEST_LISTED = 100


def _title(n: Notification, tasks: dict) -> str:
    found = tasks.get(n.task_id)
    if found is None:
        return f"#{n.task_id}"
    jira_id, title, _public_id = found
    return f"[{jira_id}] {title}" if jira_id else title


def sentence(n: Notification, words: dict) -> str:
    """What happened, in plain text, in the current language (the page's wording)."""
    names = words["names"]
    if n.kind == TASK_ASSIGNED:
        title, fee = _title(n, words["tasks"]), format_money(-n.amount)
        if n.actor_id == n.popug_id:
            return gettext(
                "You created “%(title)s” and it was assigned to you: its fee of %(fee)s was "
                "charged to you.",
                title=title,
                fee=fee,
            )
        return gettext(
            "%(creator)s created “%(title)s” and it was assigned to you: its fee of %(fee)s "
            "was charged to you.",
            creator=names.get(n.actor_id, "?"),
            title=title,
            fee=fee,
        )
    if n.kind == SHUFFLED:
        return ngettext(
            "A shuffle gave you %(num)s task, %(amount)s.",
            "A shuffle gave you %(num)s tasks, %(amount)s.",
            n.count,
            amount=format_money(n.amount, signed=True),
        )
    if n.kind == HANDED_OVER:
        return ngettext(
            "%(num)s open task of %(popug)s was handed over to you, %(amount)s.",
            "%(num)s open tasks of %(popug)s were handed over to you, %(amount)s.",
            n.count,
            popug=names.get(n.actor_id, "?"),
            amount=format_money(n.amount, signed=True),
        )
    if n.kind == PAID_OUT:
        return gettext(
            "You were paid out %(amount)s when %(day)s was closed.",
            amount=format_money(n.amount),
            day=format_day(n.day),
        )
    if n.kind == ROLE_CHANGED:
        return gettext(
            "%(admin)s changed your role to %(role)s.",
            admin=names.get(n.actor_id, "?"),
            role=label(n.role, "role"),
        )
    if n.kind == EMAIL_CHANGED:
        return gettext("%(admin)s changed your e-mail address.", admin=names.get(n.actor_id, "?"))
    if n.kind == BEAK_CHANGED:
        return gettext("%(admin)s reset your beak shape.", admin=names.get(n.actor_id, "?"))
    return n.kind


def _subject(n: Notification) -> str:
    return {
        TASK_ASSIGNED: lambda: gettext("aTES: a task was assigned to you"),
        SHUFFLED: lambda: gettext("aTES: a shuffle gave you tasks"),
        HANDED_OVER: lambda: gettext("aTES: tasks were handed over to you"),
        PAID_OUT: lambda: gettext("aTES: you were paid out"),
        ROLE_CHANGED: lambda: gettext("aTES: your role was changed"),
        EMAIL_CHANGED: lambda: gettext("aTES: your e-mail address was changed"),
        BEAK_CHANGED: lambda: gettext("aTES: your beak shape was reset"),
    }[n.kind]()


def _letter(username: str, lines: list[str], why: str) -> str:
    return "\n".join(
        [
            gettext("Hello %(username)s,", username=username),
            "",
            *lines,
            "",
            why,
            "",
            gettext("aTES, UberPopug Inc."),
            "",
        ]
    )


def one_notification(n: Notification, username: str, words: dict) -> tuple[str, str]:
    """(subject, body) of the e-mail of one notification, in the current language."""
    if n.kind in ALWAYS_EMAILED:
        why = gettext(
            "aTES always e-mails changes to how you sign in. If you did not expect this one, "
            "tell an admin at once."
        )
    else:
        why = gettext(
            "You get this e-mail because you chose to be e-mailed right away; change it on "
            "the Notifications page of aTES."
        )
    return _subject(n), _letter(username, [sentence(n, words)], why)


def digest(day, notifications: list, total: int, username: str, words: dict) -> tuple[str, str]:
    """(subject, body) of a popug's digest of `day`: its notifications oldest first (at
    most DIGEST_LISTED of `total`), in the current language."""
    lines = [gettext("What aTES did to your work and money on %(day)s:", day=format_day(day)), ""]
    for n in notifications:
        lines.append(f"- {format_local_time(n.created_at)}  {sentence(n, words)}")
    if total > len(notifications):
        more = total - len(notifications)
        lines += [
            "",
            ngettext(
                "and %(num)s more: see the Notifications page of aTES.",
                "and %(num)s more: see the Notifications page of aTES.",
                more,
            ),
        ]
    subject = ngettext(
        "aTES: %(num)s notification on %(day)s",
        "aTES: %(num)s notifications on %(day)s",
        total,
        day=format_day(day),
    )
    why = gettext(
        "You get this digest once a day, as you chose (or by default); change it on the "
        "Notifications page of aTES."
    )
    return subject, _letter(username, lines, why)


def texts_for(_sender, *, messages) -> dict[int, tuple[str, str]]:
    """The receiver of signals.mail_texts_wanted: the words of the outbox messages of
    notifications' topics, each in its popug's language; the others are not ours."""
    singles = {id_: ref for id_, topic, ref in messages if topic == TOPIC_NOTIFICATION}
    digests = {id_: ref for id_, topic, ref in messages if topic == TOPIC_DIGEST}
    if not singles and not digests:
        return {}
    found = (
        {
            n.id: n
            for n in db.session.scalars(
                select(Notification).where(Notification.id.in_(set(singles.values())))
            )
        }
        if singles
        else {}
    )
    found_digests = (
        {
            d.id: d
            for d in db.session.scalars(select(Digest).where(Digest.id.in_(set(digests.values()))))
        }
        if digests
        else {}
    )
    listed = {d.id: _digested(d) for d in found_digests.values()}
    every = list(found.values()) + [n for rows, _total in listed.values() for n in rows]
    popugs = {n.popug_id for n in found.values()} | {d.popug_id for d in found_digests.values()}
    words = queries.words_for(every)
    names = auth.usernames(popugs)
    locales = auth.locales_of(popugs)
    # Each message is written by a function of no arguments, in its popug's language; one
    # switch of language per language in the batch, not per message.
    writers: dict[str, dict] = {}
    for message_id, ref in singles.items():
        if (n := found.get(ref)) is not None:
            writers.setdefault(locales.get(n.popug_id) or DEFAULT_LOCALE, {})[message_id] = (
                lambda n=n: one_notification(n, names.get(n.popug_id, ""), words)
            )
    for message_id, ref in digests.items():
        if (d := found_digests.get(ref)) is not None and listed[d.id][0]:
            # (none when its notifications were removed since: nothing to say)
            writers.setdefault(locales.get(d.popug_id) or DEFAULT_LOCALE, {})[message_id] = (
                lambda d=d: digest(d.day, *listed[d.id], names.get(d.popug_id, ""), words)
            )
    texts = {}
    for locale, written in writers.items():
        with force_locale(locale):
            texts.update({message_id: write() for message_id, write in written.items()})
    return texts


def _digested(d: Digest) -> tuple[list[Notification], int]:
    """The notifications a digest lists (at most DIGEST_LISTED, oldest first) and how many
    there were that day."""
    start, end = clock.day_bounds(d.day)
    rows = list(
        db.session.scalars(
            select(Notification)
            .where(
                Notification.popug_id == d.popug_id,
                Notification.created_at >= start,
                Notification.created_at < end,
            )
            .order_by(Notification.id)
            .limit(DIGEST_LISTED)
        )
    )
    return rows, max(d.count, len(rows))
