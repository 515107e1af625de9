"""Read-side queries of tasks, for tasks' pages and for other blueprints (analytics)."""

from functools import lru_cache

from sqlalchemy import bindparam, func, select

from app.blueprints.auth import service as auth
from app.extensions import db
from app.paging import Page, paged, peek_page

from .models import DONE, OPEN, Shuffle, Task

FILTERS = ("all", "open", "done", "mine")


def _rows():
    """SELECT of what a row of a task table shows (tasks/_task_row.html), with the
    assignee's name. Pages read plain rows rather than Task objects (they change nothing,
    and loading 50 ORM objects cost more than the query)."""
    return select(
        Task.public_id,
        Task.jira_id,
        Task.title,
        Task.status,
        Task.assignee_id,
        auth.username_of(Task.assignee_id).label("assignee_name"),
        Task.fee,
        Task.reward,
        Task.created_at,
        Task.completed_at,
    )


# The statements of the pages every popug keeps opening are built once, with parameters:
# building a statement and its cache key anew took longer than PostgreSQL took to run it.


@lru_cache(maxsize=len(FILTERS))
def _board_page(filter_: str):
    query = _rows().order_by(Task.id.desc())
    if filter_ == "open":
        query = query.where(Task.status == OPEN)
    elif filter_ == "done":
        query = query.where(Task.status == DONE)
    elif filter_ == "mine":
        query = query.where(Task.assignee_id == bindparam("me"))
    return paged(query)


def board(filter_: str, actor, page: int, per_page: int) -> Page:
    """A page of the Tasks board, newest first: one query, and no total (an exact count of
    100,000 tasks cost more than the page itself; see bench/README.md, "Load")."""
    params = {"me": actor.id} if filter_ == "mine" else None
    return peek_page(db.session, _board_page(filter_), page, per_page, params)


def row_of(public_id: str):
    """One task as a task table's row (see `_rows()`), or None."""
    return db.session.execute(_rows().where(Task.public_id == public_id)).first()


def last_shuffle_id() -> int:
    """A cheap version number of assignments: the id of the latest shuffle (0 if none)."""
    return db.session.scalar(select(func.coalesce(func.max(Shuffle.id), 0)))


_MINE_OPEN = (Task.assignee_id == bindparam("me"), Task.status == OPEN)


@lru_cache(maxsize=1)
def _my_open_tasks():
    """(the page's statement, the count's statement) of a popug's open tasks."""
    return (
        paged(_rows().where(*_MINE_OPEN).order_by(Task.id.desc())),
        select(func.count()).select_from(Task).where(*_MINE_OPEN),
    )


def open_tasks_of(popug_id: int, page: int, per_page: int) -> Page:
    """A page of the popug's open tasks, newest first, with their `total` (My tasks shows
    it; counting one popug's open tasks is an index range)."""
    rows, count = _my_open_tasks()
    params = {"me": popug_id}
    total = db.session.scalar(count, params)
    return peek_page(db.session, rows, page, per_page, params, total=total)


@lru_cache(maxsize=1)
def _recently_done():
    return (
        _rows()
        .where(Task.assignee_id == bindparam("me"), Task.status == DONE)
        .order_by(Task.completed_at.desc(), Task.id.desc())
        .limit(bindparam("limit"))
    )


def recently_done_of(popug_id: int, limit: int = 20) -> list:
    return db.session.execute(_recently_done(), {"me": popug_id, "limit": limit}).all()


def assignee_names_by_id(popug_ids) -> dict[int, str]:
    return auth.usernames(popug_ids)


def labels(task_ids) -> dict[int, tuple[str | None, str]]:
    """{task id: (Jira ID, title)} for the given ids, in one query (for accounting)."""
    rows = db.session.execute(
        select(Task.id, Task.jira_id, Task.title).where(Task.id.in_(task_ids))
    )
    return {task_id: (jira_id, title) for task_id, jira_id, title in rows}
