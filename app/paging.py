"""Page numbers from the query string, clamped so no value reaches the database unchecked."""

import math

from sqlalchemy import bindparam

MAX_PAGE = 100_000


def page_number(args) -> int:
    """The `page` argument as 1..MAX_PAGE (garbage, zero or negative: 1; huge: MAX_PAGE)."""
    page = args.get("page", 1, type=int)
    return min(max(page, 1), MAX_PAGE)


class PeekPage:
    """One page of rows without a total: the query asks for one row more than the page, and
    that row only tells whether an older page exists. Costs what the page's rows cost, where
    an exact total would count every matching row on every view (`COUNT(*)` has no
    shortcut on PostgreSQL). Shaped like Flask-SQLAlchemy's pager; `total` and `pages` only
    when the caller counted (cheaply) itself."""

    def __init__(self, rows: list, page: int, per_page: int, total: int | None = None):
        self.items = rows[:per_page]
        self.total = total
        self.pages = None if total is None else math.ceil(total / per_page)
        self.page = page
        self.per_page = per_page
        self.has_next = len(rows) > per_page
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
    session, statement, page: int, per_page: int, params=None, total: int | None = None
) -> PeekPage:
    """Rows of `statement` (a SELECT of columns made by `paged`, with `params` for its own
    parameters) for `page` in one query; no count of its own."""
    bound = {**(params or {}), "page_limit": per_page + 1, "page_offset": (page - 1) * per_page}
    return PeekPage(session.execute(statement, bound).all(), page, per_page, total)
