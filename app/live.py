"""Pages that tell their reader when what they show has changed since it was loaded.

Such a page (the Tasks board, My tasks, a task's page, My account, the accounting overview)
carries a version of what it shows, computed in the request that renders it, and the URL of
its check. `static/js/live.js` asks the check every 15 seconds while the tab is visible,
with the version in `If-None-Match`, as a background request (`X-Background: 1`: a tab left
open does not keep its session alive). The check answers a bodiless 304 while the version is
the same, and otherwise 200 with the new version in its ETag; the page then updates itself
in place, or says "Updated — show" where the reader is busy with it. A version is read by a
few index lookups in one statement (each blueprint's queries), whatever the size of the
tables. App-level, like htmx.py: it imports no blueprint.
"""

from hashlib import blake2b

from flask import current_app, make_response, request


def version_of(parts) -> str:
    """A short opaque version of the values a page depends on (equal values, equal version)."""
    return blake2b(repr(tuple(parts)).encode(), digest_size=8).hexdigest()


def reads_top_bar(view):
    """Marks a background view that answers from the top bar's extras (the unread count):
    its signed-in popug is read with them, in one statement. Other background requests
    read the popug alone (auth's user loader), which a 304 check needs and no more."""
    view.reads_top_bar = True
    return view


def top_bar_wanted() -> bool:
    """Whether this request's view was marked with `reads_top_bar`."""
    view = current_app.view_functions.get(request.endpoint or "")
    return getattr(view, "reads_top_bar", False)


def answer_check(version: str):
    """A check's answer: 304 without a body while the page's version (If-None-Match) is
    still `version`, else 200 naming the new one in its ETag (the page fetches itself)."""
    if request.if_none_match.contains(version):
        response = make_response("", 304)
    else:
        response = make_response("", 200)
    response.set_etag(version)
    # Asked again every time, never kept by a shared cache.
    response.headers["Cache-Control"] = "private, no-cache"
    return response
