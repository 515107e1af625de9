"""Pages of rows, and page numbers from the query string (clamped so no value reaches the
database unchecked)."""

import math

from sqlalchemy import bindparam, func, select

MAX_PAGE = 100_000


def page_number(args) -> int:
    """The `page` argument as 1..MAX_PAGE (garbage, zero or negative: 1; huge: MAX_PAGE)."""
    page = args.get("page", 1, type=int)
    return min(max(page, 1), MAX_PAGE)


class Page:
    """One page of rows, shaped like Flask-SQLAlchemy's pager. With a `total` the caller
    counted, it knows its `pages`; without, the query asked for one row more than the page,
    and that row only tells whether a next page exists (an exact count of every matching
    row on every view costs more than the page: `COUNT(*)` has no shortcut on PostgreSQL)."""

    def __init__(self, rows: list, page: int, per_page: int, total: int | None = None):
        self.items = list(rows[:per_page])
        self.page = page
        self.per_page = per_page
        self.total = total
        self.pages = None if total is None else max(1, math.ceil(total / per_page))
        self.has_next = len(rows) > per_page if total is None else page < self.pages
        self.capped = False  # rows exist past the last page a list shows
        self.has_prev = page > 1
        self.prev_num = page - 1
        self.next_num = page + 1

    def __iter__(self):
        return iter(self.items)


def paged(query):
    """`query` with its LIMIT and OFFSET left as parameters, which peek_page binds: a page's
    statement can then be built once and reused (see tasks.queries)."""
    return query.limit(bindparam("page_limit")).offset(bindparam("page_offset"))


def peek_page(
    session,
    statement,
    page: int,
    per_page: int,
    params=None,
    total: int | None = None,
    *,
    entities: bool = False,
) -> Page:
    """Rows of `statement` (a SELECT made by `paged`, with `params` for its own parameters)
    for `page` in one query; no count of its own. `entities`: the first column's objects
    (a SELECT of one model) instead of rows."""
    bound = {**(params or {}), "page_limit": per_page + 1, "page_offset": (page - 1) * per_page}
    result = session.execute(statement, bound)
    return Page((result.scalars() if entities else result).all(), page, per_page, total)


def counted_page(
    session, query, page: int, per_page: int, *, count=None, entities: bool = False
) -> Page:
    """A page of `query` and its number of pages, in two queries: `count` (a SELECT of one
    number; by default the rows of `query` counted) and the page's rows."""
    if count is None:
        count = select(func.count()).select_from(query.order_by(None).subquery())
    total = session.scalar(count)
    return peek_page(session, paged(query), page, per_page, total=total, entities=entities)
