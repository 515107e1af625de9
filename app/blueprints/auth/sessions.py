"""How long a signed-in session lasts: it ends after SESSION_IDLE_MINUTES without a request
and SESSION_LIFETIME_HOURS after sign-in, whichever comes first, whatever the cookie's own
expiry says (a copied cookie stops working too). The times are kept in the signed session
cookie, so ending a session needs no table and no write per request."""

from flask import current_app
from flask.sessions import SecureCookieSessionInterface

from app import clock
from app.htmx import is_background

SIGNED_IN_AT = "signed_in_at"
SEEN_AT = "seen_at"
# `seen_at` is written again only after this many seconds, so most responses carry no new
# cookie; the idle timeout is that much less exact.
SEEN_EVERY_SECONDS = 60


def _now() -> int:
    return int(clock.now().timestamp())


def begin(session) -> None:
    """Start a signed-in session's clocks (at sign-in; tests and benchmarks that write a
    session id into a cookie call it too)."""
    session.permanent = True  # the cookie's Max-Age: PERMANENT_SESSION_LIFETIME
    session[SIGNED_IN_AT] = session[SEEN_AT] = _now()


def still_valid(session, activity: bool = True) -> bool:
    """Whether the session may go on, noting that it was seen now if the request is the
    popug's `activity` (a page polling in the background is not: a tab left open must not
    keep a session alive). A session without its clocks (written before they existed, or
    not by aTES) has ended."""
    config = current_app.config
    now = _now()
    signed_in_at, seen_at = session.get(SIGNED_IN_AT), session.get(SEEN_AT)
    if not isinstance(signed_in_at, int) or not isinstance(seen_at, int):
        return False
    if now - seen_at > config["SESSION_IDLE_MINUTES"] * 60:
        return False
    if now - signed_in_at > config["SESSION_LIFETIME_HOURS"] * 3600:
        return False
    if activity and now - seen_at >= SEEN_EVERY_SECONDS:
        session[SEEN_AT] = now
    return True


class SessionInterface(SecureCookieSessionInterface):
    """Flask's signed session cookie, except that a background request (a live check, the
    top bar's count) gets no new cookie unless it changed the session: by default Flask
    signs and sends a permanent session's cookie again on every response, which was a
    tenth of a 304 check's CPU and made a bodiless answer carry the cookie. A popug's own
    requests still renew it (its Max-Age), as before; the session's end is kept by its
    clocks above, whatever the cookie says."""

    def should_set_cookie(self, app, session) -> bool:
        if session.modified:
            return True
        return not is_background() and super().should_set_cookie(app, session)
