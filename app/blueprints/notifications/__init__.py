"""notifications: what aTES did to a popug's work and money, told to them (a page, the
top bar's unread count, e-mails). Written by receivers of the events other blueprints tell."""

from flask import Blueprint

from app import signals

bp = Blueprint("notifications", __name__)

from . import mail, queries, routes, service  # noqa: E402,F401
from .cli import notifications_cli  # noqa: E402

CLI_GROUPS = (notifications_cli,)

# The events notifications writes a notification for (connected by create_app).
RECEIVERS = [
    (signals.task_created, service.on_task_created),
    (signals.shuffle_done, service.on_shuffle_done),
    (signals.tasks_handed_over, service.on_tasks_handed_over),
    (signals.day_closed, service.on_day_closed),
    (signals.role_changed, service.on_role_changed),
    (signals.credentials_changed, service.on_credentials_changed),
    # The words of its e-mails, asked for by the outbox's sender.
    (signals.mail_texts_wanted, mail.texts_for),
    # The top bar's unread count and its version, loaded with the signed-in popug (one
    # statement a page, and none of its own for the count's poll).
    (
        signals.signed_in_extras_wanted,
        lambda _sender, popug_id_column: {
            "unread_notifications": queries.unread_count_of(popug_id_column),
            "latest_notification": queries.latest_id_of(popug_id_column),
        },
    ),
]
