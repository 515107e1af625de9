"""Page numbers from the query string, clamped so no value reaches the database unchecked."""

MAX_PAGE = 100_000


def page_number(args) -> int:
    """The `page` argument as 1..MAX_PAGE (garbage, zero or negative: 1; huge: MAX_PAGE)."""
    page = args.get("page", 1, type=int)
    return min(max(page, 1), MAX_PAGE)
