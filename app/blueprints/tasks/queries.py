"""Read-side queries of tasks, for tasks' pages and for other blueprints (analytics)."""

from sqlalchemy import func, select

from app.blueprints.auth import service as auth
from app.extensions import db
from app.paging import PeekPage, peek_page

from .models import DONE, OPEN, Shuffle, Task

FILTERS = ("all", "open", "done", "mine")


def board(filter_: str, actor, page: int, per_page: int) -> PeekPage:
    """A page of the Tasks board, newest first: one query, and no total (an exact count of
    100,000 tasks cost more than the page itself; see bench/README.md, "Load")."""
    query = select(Task).order_by(Task.id.desc())
    if filter_ == "open":
        query = query.where(Task.status == OPEN)
    elif filter_ == "done":
        query = query.where(Task.status == DONE)
    elif filter_ == "mine":
        query = query.where(Task.assignee_id == actor.id)
    return peek_page(db.session, query, page, per_page)


def last_shuffle_id() -> int:
    """A cheap version number of assignments: the id of the latest shuffle (0 if none)."""
    return db.session.scalar(select(func.coalesce(func.max(Shuffle.id), 0)))


def open_tasks_of(popug_id: int, page: int, per_page: int):
    query = (
        select(Task)
        .where(Task.assignee_id == popug_id, Task.status == OPEN)
        .order_by(Task.id.desc())
    )
    return db.paginate(query, page=page, per_page=per_page, error_out=False)


def recently_done_of(popug_id: int, limit: int = 20) -> list[Task]:
    return list(
        db.session.scalars(
            select(Task)
            .where(Task.assignee_id == popug_id, Task.status == DONE)
            .order_by(Task.completed_at.desc(), Task.id.desc())
            .limit(limit)
        )
    )


def assignee_names(tasks) -> dict[int, str]:
    return auth.usernames(task.assignee_id for task in tasks)


def assignee_names_by_id(popug_ids) -> dict[int, str]:
    return auth.usernames(popug_ids)


def labels(task_ids) -> dict[int, tuple[str | None, str]]:
    """{task id: (Jira ID, title)} for the given ids, in one query (for accounting)."""
    rows = db.session.execute(
        select(Task.id, Task.jira_id, Task.title).where(Task.id.in_(task_ids))
    )
    return {task_id: (jira_id, title) for task_id, jira_id, title in rows}
