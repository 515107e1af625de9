"""Versions of what tasks' pages show, for their live checks (app/live.py): one statement
of a few index lookups each, whatever the number of tasks. The statements are built once,
with parameters (building one and its cache key cost more than running it)."""

from functools import cache

from sqlalchemy import bindparam, func, select

from app.blueprints.accounting import queries as accounting_queries
from app.extensions import db
from app.live import version_of

from .models import OPEN, TASK_TEXTS, TASKS, Shuffle, TaskEdit


def _newest_shuffle():
    """The newest shuffle's id and state (queued, running, done, failed): the board and My
    tasks say when one is under way, and a done one moved every open task."""
    return (
        select(func.max(Shuffle.id)).scalar_subquery(),
        select(Shuffle.status).order_by(Shuffle.id.desc()).limit(1).scalar_subquery(),
    )


def _newest_edit(task_id=None):
    """The newest edit of a task's texts (of any task without `task_id`): an edit writes no
    ledger entry, but changes the title and Jira ID every list of tasks shows."""
    newest = select(func.max(TaskEdit.id))
    return (
        newest if task_id is None else newest.where(TaskEdit.task_id == task_id)
    ).scalar_subquery()


@cache
def _board():
    return select(accounting_queries.entries_version(), _newest_edit(), *_newest_shuffle())


@cache
def _my_tasks():
    popug = bindparam("popug_id")
    entries = accounting_queries.entries_of_popug_version(popug)
    return select(entries, _newest_edit(), *_newest_shuffle())


@cache
def _task():
    task_id = select(TASK_TEXTS.c.task_id).where(TASK_TEXTS.c.public_id == bindparam("public_id"))
    return select(
        TASKS.c.status,
        TASKS.c.assignee_id,
        accounting_queries.entries_of_task_version(task_id.scalar_subquery()),
        _newest_edit(task_id.scalar_subquery()),
        *_newest_shuffle(),
    ).where(TASKS.c.id == task_id.scalar_subquery())


def board() -> str:
    """The Tasks board shows every task: any task created, completed, shuffled or handed
    over writes a ledger entry, an edit a task_edits row; and a shuffle under way is said
    above it."""
    return version_of(db.session.execute(_board()).one())


def my_tasks(popug_id: int) -> str:
    """My tasks: a task given to the popug, or done by them, writes an entry on their
    account; a shuffle may also take their tasks away (and is said while under way)."""
    return version_of(db.session.execute(_my_tasks(), {"popug_id": popug_id}).one())


def task(public_id: str) -> str | None:
    """A task's page: its status and assignee, the entries naming it, its edits, and while
    it is open the shuffles (each done one moved it). None: no such task."""
    row = db.session.execute(_task(), {"public_id": public_id}).first()
    if row is None:
        return None
    # A done task's page no longer changes with shuffles.
    return version_of(row if row.status == OPEN else row[:4])
