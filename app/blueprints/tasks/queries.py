"""Read-side queries of tasks, for tasks' pages and for other blueprints (analytics)."""

import re
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from functools import lru_cache, partial

from sqlalchemy import and_, bindparam, func, or_, select

from app import clock
from app.blueprints.accounting import queries as accounting_queries
from app.blueprints.accounting.models import REWARD
from app.blueprints.auth import service as auth
from app.db import is_postgres
from app.extensions import db
from app.i18n import N_
from app.paging import Page, paged, peek_page

from . import search_plans
from .models import (
    DONE,
    JIRA_RE,
    OPEN,
    TASK_TEXTS,
    TASKS,
    Shuffle,
    ShuffleStatus,
    Task,
    TaskEdit,
)
from .search_plans import SEARCH_WINDOW, SEARCH_WINDOW_MAX

FILTERS = ("all", "open", "done", "mine", "created")
# The board's orders (its `sort` parameter): by creation (the default, newest first), by
# fee or by reward, each either way. Fee and reward are read from their copies in
# task_texts, each through its own index (see the models).
SORTS = {
    "newest": ("created", "desc"),
    "oldest": ("created", "asc"),
    "fee-high": ("fee", "desc"),
    "fee-low": ("fee", "asc"),
    "reward-high": ("reward", "desc"),
    "reward-low": ("reward", "asc"),
}
DEFAULT_SORT = "newest"


@dataclass(frozen=True)
class Order:
    """How the board is sorted: `name` one of SORTS."""

    name: str = DEFAULT_SORT

    @property
    def key(self) -> str:
        return SORTS[self.name][0]

    @property
    def direction(self) -> str:
        return SORTS[self.name][1]

    @property
    def is_default(self) -> bool:
        return self.name == DEFAULT_SORT


def parse_order(value: str | None) -> Order:
    """The board's order from its query string; an unknown value is the default."""
    return Order(value if value in SORTS else DEFAULT_SORT)


def _order_by(order: Order, key_expression: bool = False):
    """ORDER BY terms for `order`, ties by task id the same way. `key_expression`: order by
    expressions of the keys, so that the planner sorts the few rows a search found rather
    than walk an index probing each (as the "pg-hits" plan does)."""
    key = {"fee": TASK_TEXTS.c.fee, "reward": TASK_TEXTS.c.reward}.get(order.key)
    ident = TASK_TEXTS.c.task_id
    if key_expression:
        key = None if key is None else key + 0
        ident = ident + 0
    terms = [ident] if key is None else [key, ident]
    return [term.asc() if order.direction == "asc" else term.desc() for term in terms]


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


SEARCH_MAX = 100  # characters of a search kept; more is cut
SEARCH_WORDS = 8  # words of a search used
_WORD = re.compile(r"[^\W_]+")  # letters and digits: nothing a search syntax could read


@dataclass(frozen=True)
class Search:
    """What the board's Search field asks for: words of the title, all of them (the last
    one may be the start of a word), or a whole Jira ID (either matches)."""

    text: str  # as typed, trimmed (shown back in the field)
    words: tuple[str, ...]
    jira_id: str | None

    def __bool__(self) -> bool:
        return bool(self.words or self.jira_id)


def parse_search(value: str | None) -> Search:
    text_ = " ".join((value or "").split())[:SEARCH_MAX]
    words = tuple(word.lower() for word in _WORD.findall(text_))[:SEARCH_WORDS]
    jira_id = text_.upper() if JIRA_RE.match(text_.upper()) else None
    return Search(text_, words, jira_id)


def _assigned(status: str, popug=None):
    """The tasks of one status assigned to `popug` (default the bound "me"): each status's
    own partial index of assignees matches it (see the models)."""
    popug = bindparam("me") if popug is None else popug
    return and_(TASKS.c.assignee_id == popug, TASKS.c.status == status)


def _mine(popug=None):
    """A popug's tasks, open or done (default the bound "me"): the two indexes OR-ed."""
    return or_(_assigned(OPEN, popug), _assigned(DONE, popug))


def _filtered(query, filter_: str, by_key: bool = False):
    """`query` with the filter's condition. `by_key` (SQLite): the query is ordered by fee
    or reward, and its order's index must drive it; the status is then compared as an
    expression, which no index of statuses can serve (SQLite otherwise read every open
    task through the open tasks' index and sorted them all; PostgreSQL weighs the rows
    itself, and misjudges an expression: bench/README.md, "Board orders")."""
    status = TASKS.c.status.concat("") if by_key else Task.status
    if filter_ == "open":
        return query.where(status == OPEN)
    if filter_ == "done":
        return query.where(status == DONE)
    if filter_ == "mine":
        return query.where(_mine())
    if filter_ == "created":
        return query.where(TASK_TEXTS.c.creator_id == bindparam("me"))
    return query


@lru_cache(maxsize=len(FILTERS))
def _in_window(filter_: str):
    """How many tasks of the filter among the window's match the words (PostgreSQL)."""
    matches = select(func.count()).select_from(Task)
    in_window = (search_plans.PG_TITLE_HAS_WORDS, Task.id > bindparam("window_start"))
    return _filtered(matches.where(*in_window), filter_)


def _windows(filter_: str, newest: int, needed: int, params: dict):
    """The windows of newest tasks to read a page of a search from (PostgreSQL): the first
    SEARCH_WINDOW; then, if the page lies deeper, one as wide as the matches in the first
    suggest the page needs (`needed` rows), if that is at most SEARCH_WINDOW_MAX."""
    yield SEARCH_WINDOW
    if newest <= SEARCH_WINDOW:
        return
    first = {**params, "window_start": newest - SEARCH_WINDOW}
    seen = db.session.scalar(_in_window(filter_), first)
    wide = needed * SEARCH_WINDOW * 5 // (4 * seen) if seen else SEARCH_WINDOW_MAX + 1
    if SEARCH_WINDOW < wide <= SEARCH_WINDOW_MAX:
        yield wide


@lru_cache(maxsize=len(FILTERS) * len(SORTS) * 8)
def _board_page(
    filter_: str,
    plan: str | None = None,
    jira_id: bool = False,
    order: Order = Order(),
    sqlite: bool = False,
):
    """The board's statement for a filter, a search plan (`jira_id`: the search has a
    Jira ID besides its words), an order and a database (`sqlite`), built once."""
    by_key = sqlite and order.key != "created"
    if plan in ("pg-sorted", "fts-sorted", "pg-sorted-few", "fts-sorted-few"):
        postgres, few = plan.startswith("pg-"), plan.endswith("-few")
        statement = search_plans.sorted_search(
            _rows, partial(_order_by, order), jira_id, postgres, few
        )
        return paged(_filtered(statement, filter_, by_key=by_key and not few))
    if plan is None and order.key != "created":
        return _keyed_page(filter_, order, by_key)
    if plan is None:
        return paged(_filtered(_rows().order_by(*_order_by(order)), filter_))
    return paged(_filtered(search_plans.newest_first(plan, _rows, jira_id), filter_))


def _keyed_page(filter_: str, order: Order, by_key: bool):
    """A page of the board by fee or reward: first the page's task ids, read in the order's
    index (an index-only walk, the filter's status checked in `tasks` by primary key), then
    the rows of those ids alone. Read in one pass, a deep page fetched the row and the
    assignee's name of every task before it, in the key's order, which is no order of
    the tables (bench/README.md, "Board orders")."""
    ids = select(TASK_TEXTS.c.task_id)
    if filter_ in ("open", "done", "mine"):
        ids = ids.join(TASKS, TASKS.c.id == TASK_TEXTS.c.task_id)
    ids = paged(_filtered(ids, filter_, by_key=by_key).order_by(*_order_by(order)))
    page_ids = ids.subquery("page_ids")
    return (
        _rows()
        .where(Task.id.in_(select(page_ids.c.task_id)))
        .order_by(*_order_by(order, key_expression=True))
    )


# A search in another order than newest first sorts its matches when they are at most this
# many; more, and the words are common: the order's index is walked instead, each task
# checked against the words, which finds a page's rows after about page × tasks / matches.
SORTED_SEARCH_HITS = 10_000


@lru_cache(maxsize=2)
def _hits_at_most(jira_id: bool):
    """How many tasks a search matches, counted up to SORTED_SEARCH_HITS + 1 (SQLite: the
    FTS5 index yields its matches one by one, so the count stops there)."""
    first = search_plans.hit_ids(jira_id, False).limit(SORTED_SEARCH_HITS + 1)
    first = first.subquery("first_hits")
    return select(func.count()).select_from(first)


SORTED_SEARCH_SAMPLE = 200  # PostgreSQL: the newest tasks a sorted search is tried on


def _few_hits(search: Search, postgres: bool, params: dict) -> bool:
    """Whether a search matches at most SORTED_SEARCH_HITS tasks. PostgreSQL's GIN index
    yields every match at once (a bitmap of all of them), so there the matches among the
    newest SORTED_SEARCH_SAMPLE tasks are counted and scaled to all tasks: an estimate,
    which only chooses the faster of two right answers."""
    if not postgres:
        hits = db.session.scalar(_hits_at_most(bool(search.jira_id)), params)
        return hits <= SORTED_SEARCH_HITS
    newest = db.session.scalar(select(func.max(TASKS.c.id))) or 0
    sample = {**params, "window_start": newest - SORTED_SEARCH_SAMPLE}
    seen = db.session.scalar(_in_window("all"), sample)
    return seen * max(newest, SORTED_SEARCH_SAMPLE) / SORTED_SEARCH_SAMPLE <= SORTED_SEARCH_HITS


# The board pages through the newest BOARD_PAGES pages of a filter (SEARCH_PAGES of a
# search), no deeper:
# a page further back costs a walk over every task before it. Older tasks are found by a
# search (a Jira ID or a title's words) or on their popug's pages.
BOARD_PAGES = 200
SEARCH_PAGES = 20  # a search's newest matches


def board(
    filter_: str,
    actor,
    page: int,
    per_page: int,
    search: Search | None = None,
    order: Order = Order(),
) -> Page:
    """A page of the Tasks board of the filter and the search if any (see search_plans.plan_for),
    newest first or in `order`: one query, two for some searches on PostgreSQL, and no
    total (an exact count costs more than the page itself; docs/performance.md, "Figures
    behind rules"). An order by fee or reward reads its index in task_texts, as newest
    first reads the primary key. A page past BOARD_PAGES (SEARCH_PAGES for a search) is
    the last one, marked `capped` when more tasks exist."""
    last = SEARCH_PAGES if search else BOARD_PAGES
    page = min(page, last)
    found = _board(filter_, actor, page, per_page, search, order)
    if page == last and found.has_next:
        found.has_next, found.capped = False, True
    return found


def _board(
    filter_: str, actor, page: int, per_page: int, search: Search | None, order: Order
) -> Page:
    params = {"me": actor.id} if filter_ in ("mine", "created") else {}
    plan = None
    if search:
        postgres = is_postgres()
        if order.is_default:
            plan = search_plans.plan_for(filter_, search, postgres)
        else:
            plan = "pg-sorted" if postgres else "fts-sorted"
        words = search_plans.words_query(search.words, postgres)
        params.update(words=words, jira_id=search.jira_id)
        if plan in ("pg-sorted", "fts-sorted") and _few_hits(search, postgres, params):
            plan += "-few"
    if plan == "pg-window":
        newest = db.session.scalar(select(func.max(TASKS.c.id))) or 0
        for window in _windows(filter_, newest, page * per_page + 1, params):
            params["window_start"] = newest - window
            found = peek_page(db.session, _board_page(filter_, plan), page, per_page, params)
            if found.has_next:  # the page and the one row after it are the newest matches
                return found
        plan = "pg-hits"
    jira_id = bool(search and search.jira_id)
    sqlite = not order.is_default and not is_postgres()  # (only orders need to know)
    statement = _board_page(filter_, plan, jira_id, order, sqlite)
    return peek_page(db.session, statement, page, per_page, params)


def row_of(public_id: str):
    """One task as a task table's row (see `_rows()`), or None."""
    return db.session.execute(_rows().where(Task.public_id == public_id)).first()


def task_view(public_id: str):
    """A task's row (see `_rows()`) with what its page adds: id, description, creator's
    name; one query, or None."""
    return db.session.execute(
        _rows()
        .add_columns(
            Task.id,
            Task.description,
            Task.creator_id,
            auth.username_of(Task.creator_id).label("creator_name"),
        )
        .where(Task.public_id == public_id)
    ).first()


HISTORY_PER_PAGE = 100


class HistoryEvent(StrEnum):
    """What a line of a task's History says happened to it."""

    CREATED = "created"  # and assigned
    SHUFFLED = "shuffled"  # moved by a shuffle
    HANDED_OVER = "handed over"  # moved off a popug who no longer takes tasks
    COMPLETED = "completed"


@dataclass(frozen=True)
class HistoryLine:
    """One line of a task's History: what happened, to whom (and from whom), for how much."""

    at: datetime
    what: HistoryEvent
    popug: str  # assigned to, or completed by
    previous: str | None  # the assignee before a move
    amount: int  # the fee charged (negative) or the reward paid (positive)
    shuffle_public_id: str | None


def _shuffles_while_open(task_id: int):
    """The ids of the done shuffles that ran while the task was open: finished after it was
    created and, if it is done, pressed before it was completed (each moved it, unless it
    was created during the shuffle). A statement, for the History's one query."""
    task = (
        select(TASK_TEXTS.c.created_at, TASKS.c.completed_at)
        .join(TASKS, TASKS.c.id == TASK_TEXTS.c.task_id)
        .where(TASKS.c.id == task_id)
    )
    created, completed = task.subquery("task").c
    return (
        select(Shuffle.id)
        .join(created.table, Shuffle.finished_at >= created)
        .where(
            Shuffle.status == ShuffleStatus.DONE,
            or_(completed.is_(None), Shuffle.requested_at <= completed),
        )
    )


def history_of(task_id: int, page: int) -> Page:
    """A page of a task's History, oldest first, from the ledger: each line is a movement of
    money (every assignment charges the task's fee, completing it pays its reward), so the
    amounts are the ledger's own. Two queries whatever its length: the money (with the line
    before the page, whose popug a move starts from) and the shuffles' public ids."""
    return _money_history(task_id, page)[0]


def _money_history(task_id: int, page: int) -> tuple[Page, datetime | None]:
    """history_of's page, and the time of the line before it (None on the first page)."""
    start = (page - 1) * HISTORY_PER_PAGE
    before = 1 if start else 0
    money = accounting_queries.task_money(
        task_id, _shuffles_while_open(task_id), start - before, HISTORY_PER_PAGE + 1 + before
    )
    shuffle_ids = {m.shuffle_id for m in money if m.shuffle_id is not None}
    public_ids = dict(  # queried even for none: the same queries whatever the history
        db.session.execute(
            select(Shuffle.id, Shuffle.public_id).where(Shuffle.id.in_(shuffle_ids))
        ).all()
    )
    lines, previous = [], money[0].username if before and money else None
    for movement in money[before:]:
        if movement.kind == REWARD:
            what = HistoryEvent.COMPLETED
        elif movement.shuffle_id is not None:
            what = HistoryEvent.SHUFFLED
        elif movement.handed_over_from is not None:
            what = HistoryEvent.HANDED_OVER
        else:
            what = HistoryEvent.CREATED
        lines.append(
            HistoryLine(
                at=movement.at,
                what=what,
                popug=movement.username,
                previous=previous
                if what in (HistoryEvent.SHUFFLED, HistoryEvent.HANDED_OVER)
                else None,
                amount=movement.amount,
                shuffle_public_id=public_ids.get(movement.shuffle_id),
            )
        )
        previous = movement.username
    return Page(lines, page, HISTORY_PER_PAGE), money[0].at if before and money else None


@dataclass(frozen=True)
class EditLine:
    """A creator's edit of a task's texts, as a line of its History: `changes` as stored
    (field code: [old, new], or True for a description)."""

    at: datetime
    popug: str
    changes: dict
    what: str = "edited"


EDITS_PER_PAGE = 100  # a page of History shows at most this many edits


def history_with_edits(task_id: int, page: int) -> Page:
    """history_of's page of money lines with the task's edits made in its span merged in,
    by time: the edits after the line before the page (the first page: any) up to its
    last line (the last page: any later), so each edit is on one page. At most
    EDITS_PER_PAGE of them, the oldest (three queries whatever the history)."""
    money, after = _money_history(task_id, page)
    until = money.items[-1].at if money.has_next and money.items else None
    query = (
        select(TaskEdit.at, auth.username_of(TaskEdit.editor_id), TaskEdit.changes)
        .where(TaskEdit.task_id == task_id)
        .order_by(TaskEdit.at, TaskEdit.id)
        .limit(EDITS_PER_PAGE)
    )
    if after is not None:
        query = query.where(TaskEdit.at > after)
    if until is not None:
        query = query.where(TaskEdit.at <= until)
    edits = [EditLine(at, name or "?", changes) for at, name, changes in db.session.execute(query)]
    if edits:
        # Stable: at the same instant, the money line first.
        money.items = sorted([*money.items, *edits], key=lambda line: line.at)
    return money


def shuffle_public_ids(shuffle_ids) -> dict[int, str]:
    """{shuffle id: public id} for a page's worth of ids, in one query (notifications link
    to a shuffle's page)."""
    ids = set(shuffle_ids)
    if not ids:
        return {}
    return dict(
        db.session.execute(select(Shuffle.id, Shuffle.public_id).where(Shuffle.id.in_(ids))).all()
    )


SHUFFLES_PER_PAGE = 50


def shuffles(page: int, per_page: int = SHUFFLES_PER_PAGE) -> Page:
    """A page of every shuffle pressed, newest first: its public id, who pressed it and
    when, its state, and how many tasks it moved among how many popugs (read backwards
    along the primary key, no count)."""
    statement = select(
        Shuffle.public_id,
        Shuffle.status,
        Shuffle.requested_at,
        Shuffle.finished_at,
        Shuffle.tasks_count,
        Shuffle.popugs_count,
        Shuffle.error,
        Shuffle.attempts,
        auth.username_of(Shuffle.actor_id).label("actor_name"),
    ).order_by(Shuffle.id.desc())
    return peek_page(db.session, paged(statement), page, per_page)


def waiting_shuffle():
    """(public_id, status) of the oldest shuffle that is queued or running, or None: the
    board and My tasks say that one is under way (read through a tiny partial index)."""
    return db.session.execute(
        select(Shuffle.public_id, Shuffle.status)
        .where(Shuffle.finished_at.is_(None))  # queued or running
        .order_by(Shuffle.id)
        .limit(1)
    ).first()


@dataclass(frozen=True)
class ShuffleProgress:
    """How far a shuffle has got, as time: seconds it waited for the worker, seconds it
    has run, and the estimate, the seconds the last done shuffle took (None: no shuffle
    was done before it). A shuffle is one transaction: it has no share of tasks done."""

    waited_s: int
    elapsed_s: int
    estimate_s: int | None

    @property
    def percent(self) -> int | None:
        if not self.estimate_s:
            return None
        return min(99, int(100 * self.elapsed_s / self.estimate_s))


def shuffle_progress(shuffle) -> ShuffleProgress:
    now = clock.now()
    last = db.session.execute(
        select(Shuffle.duration_ms)
        .where(Shuffle.status == ShuffleStatus.DONE, Shuffle.id < shuffle.id)
        .order_by(Shuffle.id.desc())
        .limit(1)
    ).scalar()
    begun = shuffle.started_at or now
    return ShuffleProgress(
        waited_s=int(((shuffle.started_at or now) - shuffle.requested_at).total_seconds()),
        elapsed_s=int((now - begun).total_seconds()) if shuffle.started_at else 0,
        estimate_s=max(1, round(last / 1000)) if last else None,
    )


_MINE_OPEN = _assigned(OPEN)


@lru_cache(maxsize=1)
def _my_open_tasks():
    """(the page's statement, the count's statement) of a popug's open tasks."""
    return (
        paged(_rows().where(_MINE_OPEN).order_by(Task.id.desc())),
        select(func.count()).select_from(TASKS).where(_MINE_OPEN),
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
        .where(_assigned(DONE))
        .order_by(Task.completed_at.desc(), Task.id.desc())
        .limit(bindparam("limit"))
    )


def recently_done_of(popug_id: int, limit: int = 20) -> list:
    return db.session.execute(_recently_done(), {"me": popug_id, "limit": limit}).all()


def task_counts_of(popug_id: int) -> dict[str, int]:
    """How many open and done tasks a popug holds (each counted in its status's index)."""
    counts = dict(
        db.session.execute(
            select(TASKS.c.status, func.count()).where(_mine(popug_id)).group_by(TASKS.c.status)
        ).all()
    )
    return {N_("Open tasks"): counts.get(OPEN, 0), N_("Done tasks"): counts.get(DONE, 0)}


def handover_of(popug_id: int) -> tuple[int, int]:
    """(how many open tasks a popug holds, the sum of their fees): what handing them over
    would move and charge."""
    count, fees = db.session.execute(
        select(func.count(), func.coalesce(func.sum(TASKS.c.fee), 0)).where(
            _assigned(OPEN, popug_id)
        )
    ).one()
    return count, int(fees)  # PostgreSQL sums BIGINT as NUMERIC


def assignee_names_by_id(popug_ids) -> dict[int, str]:
    return auth.usernames(popug_ids)


def labels(task_ids) -> dict[int, tuple[str | None, str, str]]:
    """{task id: (Jira ID, title, public id)} for the given ids, in one query (for
    accounting: its audit log names each task and links to its page)."""
    rows = db.session.execute(
        select(Task.id, Task.jira_id, Task.title, Task.public_id).where(Task.id.in_(task_ids))
    )
    return {task_id: (jira_id, title, public_id) for task_id, jira_id, title, public_id in rows}
