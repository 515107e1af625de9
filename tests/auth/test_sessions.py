"""Sessions that end: after SESSION_IDLE_MINUTES without a request and
SESSION_LIFETIME_HOURS after sign-in, whatever the cookie says, a copied cookie included."""

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from app import clock
from tests.factories import make_popug

from .test_routes import is_sign_in_redirect, sign_in

TEMPLATES = Path(__file__).absolute().parents[2] / "app" / "templates"
SIGNED_IN = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@pytest.fixture
def kesha_client(app, client):
    make_popug(role="worker", username="kesha")
    clock.freeze(SIGNED_IN)
    assert sign_in(client, "kesha").status_code == 302
    return client


def at(minutes: float) -> None:
    clock.freeze(SIGNED_IN + timedelta(minutes=minutes))


def test_defaults_are_an_hour_idle_and_twelve_hours_in_all(app):
    assert app.config["SESSION_IDLE_MINUTES"] == 60
    assert app.config["SESSION_LIFETIME_HOURS"] == 12
    assert app.config["PERMANENT_SESSION_LIFETIME"] == 12 * 3600  # the cookie's Max-Age


def test_the_cookie_expires_with_the_session(kesha_client):
    """Even the browser drops it after the lifetime (Max-Age), not only the server."""
    clock.freeze(None)
    response = sign_in(kesha_client, "kesha")  # signed in already: to the board, new cookie
    assert response.status_code == 302
    cookie = next(c for c in response.headers.getlist("Set-Cookie") if c.startswith("session="))
    assert "Max-Age=43200" in cookie or "Expires=" in cookie


def test_a_session_ends_after_an_hour_without_a_request(kesha_client):
    at(59)
    assert kesha_client.get("/").status_code == 200
    at(59 + 61)  # 61 minutes after the last request
    ended = kesha_client.get("/my-tasks")
    assert is_sign_in_redirect(ended)
    page = kesha_client.get(ended.headers["Location"]).text
    assert "Your session has ended. Sign in again to continue." in page
    assert is_sign_in_redirect(kesha_client.get("/"))  # it stays ended


def test_requests_keep_a_session_alive_until_its_lifetime(kesha_client):
    for minutes in range(30, 12 * 60, 30):  # a request every half hour, all day
        at(minutes)
        assert kesha_client.get("/").status_code == 200, minutes
    at(12 * 60 + 1)
    assert is_sign_in_redirect(kesha_client.get("/"))


def test_a_copied_cookie_ends_with_its_idle_time(app, kesha_client):
    """A cookie copied at 9:00 and replayed at 10:30 has ended, though its owner's own
    cookie, used meanwhile, goes on."""
    copied = kesha_client.get_cookie("session").value
    at(50)
    assert kesha_client.get("/").status_code == 200
    at(90)
    assert kesha_client.get("/").status_code == 200
    thief = app.test_client()
    thief.set_cookie("session", copied)
    assert is_sign_in_redirect(thief.get("/"))


def test_a_session_without_its_clocks_has_ended(app):
    """A cookie from before sessions had times (or not written by aTES's sign-in)."""
    kesha = make_popug(role="worker", username="kesha")
    client = app.test_client()
    with client.session_transaction() as session:
        session["_user_id"] = kesha.get_id()
    assert is_sign_in_redirect(client.get("/"))


def test_htmx_requests_of_an_ended_session_go_to_sign_in(kesha_client):
    at(2 * 60)
    response = kesha_client.get("/", headers={"HX-Request": "true"})
    assert response.headers.get("HX-Redirect", "").startswith("/sign-in")


# --- polls are not activity ------------------------------------------------------------------

POLL = {"HX-Request": "true", "X-Background": "1", "HX-Current-URL": "http://localhost/my-tasks"}


def poll(client):
    """What the top bar sends every 15 s (an htmx poll)."""
    return client.get("/notifications/count", headers=POLL)


def check(client, version):
    """What static/js/live.js sends every 15 s from My tasks (a fetch, not htmx)."""
    return client.get(
        "/my-tasks/version", headers={"X-Background": "1", "If-None-Match": f'"{version}"'}
    )


def _version(client) -> str:
    page = client.get("/my-tasks").text
    return re.search(r'data-live-version="([0-9a-f]+)"', page).group(1)


def test_polls_do_not_keep_a_session_alive(kesha_client):
    """A tab left on My tasks polls all along; the session still ends an hour after the
    popug's last request, and the poll that finds it ended takes the tab to sign-in, back
    to My tasks afterwards."""
    version = _version(kesha_client)
    for minutes in range(1, 60, 2):
        at(minutes)
        assert poll(kesha_client).status_code == 200, minutes
        assert check(kesha_client, version).status_code == 304, minutes
    at(61)
    assert is_sign_in_redirect(check(kesha_client, version))
    ended = poll(kesha_client)
    location = urlsplit(ended.headers["HX-Redirect"])
    assert location.path == "/sign-in" and parse_qs(location.query)["next"] == ["/my-tasks"]
    assert is_sign_in_redirect(kesha_client.get("/my-tasks"))


def test_the_idle_hour_counts_from_the_last_request_that_was_not_a_poll(kesha_client):
    at(30)
    assert kesha_client.get("/my-tasks").status_code == 200  # the popug, back at the tab
    version = _version(kesha_client)
    for minutes in range(31, 90, 3):
        at(minutes)
        assert poll(kesha_client).status_code == 200, minutes
        assert check(kesha_client, version).status_code == 304, minutes
    at(89)
    assert kesha_client.get("/my-tasks").status_code == 200
    at(89 + 61)
    assert is_sign_in_redirect(kesha_client.get("/my-tasks"))


def test_a_plain_htmx_request_is_activity(kesha_client):
    """A search as the popug types, say: htmx, but not a poll."""
    at(50)
    assert kesha_client.get("/?q=feed", headers={"HX-Request": "true"}).status_code == 200
    at(100)
    assert kesha_client.get("/").status_code == 200


def _session_cookies(response) -> list[str]:
    return [c for c in response.headers.getlist("Set-Cookie") if c.startswith("session=")]


def test_a_poll_that_changes_nothing_sends_no_cookie(kesha_client):
    """A 304 check and the count answer without a new cookie (nothing in the session
    changed: re-signing it is wasted work); a request of the popug's still renews it."""
    version = _version(kesha_client)
    at(5)
    answered = check(kesha_client, version)
    assert answered.status_code == 304 and not _session_cookies(answered)
    assert not _session_cookies(poll(kesha_client))
    assert _session_cookies(kesha_client.get("/my-tasks"))


def test_a_poll_that_ends_the_session_clears_the_cookie(kesha_client):
    """The session ended: the poll's answer empties the cookie (the session changed)."""
    version = _version(kesha_client)
    at(61)
    ended = check(kesha_client, version)
    assert is_sign_in_redirect(ended)
    assert _session_cookies(ended)  # emptied (or carrying only the flashed message)
    assert is_sign_in_redirect(kesha_client.get("/my-tasks"))


POLLING_TAG = re.compile(r"<[^>]*hx-trigger=\"every [^>]*>", re.S)


def test_every_polling_element_marks_its_requests_as_background():
    """Each template element that polls (hx-trigger="every …") sends X-Background: 1."""
    polling = []
    for template in sorted(TEMPLATES.rglob("*.html")):
        for tag in POLLING_TAG.findall(template.read_text()):
            polling.append(template.name)
            assert """data-hx-headers='{"X-Background": "1"}'""" in tag, template.name
    assert {"_count.html", "_shuffle_state.html"} <= set(polling)


def test_the_live_checks_are_sent_in_the_background():
    """static/js/live.js asks a page's check as a background request, never as activity."""
    script = (TEMPLATES.parent / "static" / "js" / "live.js").read_text()
    check = script[script.index("async function ask") : script.index("function showNotice")]
    assert '"X-Background": "1"' in check
