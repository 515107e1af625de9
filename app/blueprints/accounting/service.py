"""Accounting's public face, the functions other blueprints call, each inside the caller's
transaction (nothing here commits). They live in modules named for their jobs: posting.py
(accounts, the ledger, fees, rewards, a shuffle's bulk charge, business days), closing.py
(closing a day, payouts, their e-mails), mail.py (the outbox, where others queue e-mails
too) and verify.py (the `accounting verify` checks).
"""

from app import signals
from app.signals import ask

from .closing import (  # noqa: F401
    ClosePreview,
    CloseResult,
    check_closable,
    close_day,
    day_to_close,
    preview_close,
)
from .mail import queue_mail_from  # noqa: F401
from .posting import (  # noqa: F401
    LEDGER_LOCK,
    NO_ACCOUNT,
    balance_of,
    charge_assign_fee,
    charge_assign_fees_in_bulk,
    charge_handed_over_fees,
    last_closed_day,
    open_account,
    open_business_day,
    pay_reward,
)
from .verify import PROBLEMS_PER_CHECK, verify  # noqa: F401


def task_labels(task_ids) -> dict[int, tuple[str | None, str, str]]:
    """{task id: (Jira ID or None, title, public id)} of the task ids ledger entries carry,
    for the audit logs of accounts (accounting imports no other blueprint: it asks)."""
    ids = {task_id for task_id in task_ids if task_id is not None}
    labels: dict[int, tuple[str | None, str, str]] = {}
    for answer in ask(signals.task_labels_wanted, task_ids=ids) if ids else ():
        labels.update(answer)
    return labels
