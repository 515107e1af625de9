"""The one place that decides "fragment or full page" for a request."""

from urllib.parse import urlsplit

from flask import redirect, render_template, request
from flask_login import current_user

from app.db import SAFE_METHODS
from app.transaction import finish_writes


def is_htmx() -> bool:
    return request.headers.get("HX-Request") == "true"


# Sent by elements that poll (hx-trigger="every …", with
# data-hx-headers='{"X-Background": "1"}'): a check nobody asked for just now.
BACKGROUND_HEADER = "X-Background"


def is_background() -> bool:
    """A poll, not something the popug did: it does not count as activity."""
    return request.headers.get(BACKGROUND_HEADER) == "1"


def wants_fragment() -> bool:
    """An htmx request that is neither boosted nor a history restore gets the fragment."""
    return (
        is_htmx()
        and request.headers.get("HX-Boosted") != "true"
        and request.headers.get("HX-History-Restore-Request") != "true"
    )


def render(page: str, fragment: str, **context) -> str:
    """Render the partial for htmx, the whole page otherwise (both include the partial).

    A fragment also carries pending flash messages, swapped out-of-band into the page's
    flash area, and after an action the signed-in popug's balance into the top bar (the
    action may have moved it: a task created that landed on them, a reward, a payout).
    After an action, its transaction ends first: the page is read as a GET reads.
    """
    finish_writes()
    if wants_fragment():
        parts = [render_template(fragment, **context), render_template("_flashes_oob.html")]
        if request.method not in SAFE_METHODS and current_user.is_authenticated:
            parts.append(render_template("_my_balance.html", oob=True))
        return "".join(parts)
    return render_template(page, **context)


def add_vary(response):
    """Responses differ by HX-Request, so caches must key on it."""
    response.vary.add("HX-Request")
    return response


def redirect_after_post(url: str):
    """Post/redirect/get; htmx gets HX-Redirect, so it navigates instead of swapping a page in."""
    if is_htmx():
        return "", 200, {"HX-Redirect": url}
    return redirect(url, code=303)


def is_local_path(target: str | None) -> bool:
    """Whether `target` may be followed after an action (`next=`): a path of this site (no
    open redirects), printable throughout, so it can go into a Location header as it is (a
    CR, LF or any other control character never reaches one)."""
    if not target or not target.startswith("/") or target.startswith(("//", "/\\")):
        return False
    if not target.isprintable():
        return False
    parts = urlsplit(target)
    return not parts.scheme and not parts.netloc


def local_path_or(target: str | None, default: str) -> str:
    """`target` if it is a local path (is_local_path), else `default`."""
    return target if is_local_path(target) else default
