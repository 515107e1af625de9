"""Page numbers from the query string, clamped so no value reaches the database unchecked."""

import math

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


def peek_page(session, query, page: int, per_page: int, total: int | None = None) -> PeekPage:
    """Rows of `query` (a SELECT of columns) for `page` in one query; no count of its own."""
    rows = session.execute(query.limit(per_page + 1).offset((page - 1) * per_page)).all()
    return PeekPage(rows, page, per_page, total)
