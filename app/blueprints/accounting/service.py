"""Accounting's questions to the blueprints above it: the labels of the tasks its ledger
names (accounting imports no other blueprint: it asks, through a signal). Its work lives in
modules named for their jobs, which other blueprints import directly: posting.py (accounts,
the ledger, fees, rewards, business days), bulk_fees.py (a shuffle's charge), closing.py
(closing a day, payouts, their e-mails), verify.py (the `accounting verify` checks) and
queries.py (reads).
"""

from app import signals
from app.signals import ask


def task_labels(task_ids) -> dict[int, tuple[str | None, str, str]]:
    """{task id: (Jira ID or None, title, public id)} of the task ids ledger entries carry,
    for the audit logs of accounts (accounting imports no other blueprint: it asks)."""
    ids = {task_id for task_id in task_ids if task_id is not None}
    labels: dict[int, tuple[str | None, str, str]] = {}
    for answer in ask(signals.task_labels_wanted, task_ids=ids) if ids else ():
        labels.update(answer)
    return labels
