"""Accounting's public face, the functions other blueprints call, each inside the caller's
transaction (nothing here commits). They live in modules named for their jobs: posting.py
(accounts, the ledger, fees, rewards, a shuffle's bulk charge, business days), closing.py
(closing a day, payouts, their e-mails) and verify.py (the `accounting verify` checks).
"""

from .closing import (  # noqa: F401
    ClosePreview,
    CloseResult,
    check_closable,
    close_day,
    day_to_close,
    preview_close,
)
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
from .verify import PROBLEMS_PER_CHECK, register_check, verify  # noqa: F401

# Accounting imports no other blueprint; tasks registers how to label the task ids that
# ledger entries carry (Jira ID, title and public id, for the audit logs of accounts).
_task_labeler = None


def register_task_labeler(labeler) -> None:
    """`labeler(task_ids) -> {task_id: (jira_id or None, title, public_id)}`, in one query."""
    global _task_labeler
    _task_labeler = labeler


def task_labels(task_ids) -> dict[int, tuple[str | None, str, str]]:
    ids = {task_id for task_id in task_ids if task_id is not None}
    return _task_labeler(ids) if ids and _task_labeler else {}
