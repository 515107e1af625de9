"""Wrong guesses at a username slow the guesser down but lock no one out: the popug still
signs in from another address, and from a browser that has signed in as them before, even
on the guesser's own address (docs/security-sign-in.md)."""

from datetime import timedelta
from http.cookies import SimpleCookie

import pytest
from itsdangerous import URLSafeTimedSerializer

from app import clock
from tests.factories import make_popug

from .test_routes import SIGN_IN_FAILED, sign_in

LIMIT = 5  # SIGN_IN_LIMIT_PER_USERNAME, "5 per minute"
TOTAL = 30  # SIGN_IN_LIMIT_PER_USERNAME_TOTAL, "30 per minute"
OFFICE = {"REMOTE_ADDR": "203.0.113.1"}  # the popug and the guesser behind one address
WRONG = "not the right beak"


def at(address: str) -> dict:
    return {"REMOTE_ADDR": address}


def guess_until_blocked(client, username: str, address: dict) -> None:
    """LIMIT wrong guesses (each refused as wrong), then the right beak shape is refused too."""
    for n in range(LIMIT):
        assert sign_in(client, username, beak=WRONG, environ_base=address).status_code == 401, n
    assert sign_in(client, username, environ_base=address).status_code == 429


@pytest.fixture
def kesha(app):
    return make_popug(role="worker", username="kesha")


@pytest.fixture
def keshas_browser(app, kesha):
    """A browser kesha has signed in on before (at the office), signed out since."""
    browser = app.test_client()
    assert sign_in(browser, "kesha", environ_base=OFFICE).status_code == 302
    assert browser.post("/sign-out").status_code == 302
    return browser


def known_cookie(response) -> SimpleCookie:
    cookie = SimpleCookie()
    for header in response.headers.getlist("Set-Cookie"):
        if header.startswith("known_browser="):
            cookie.load(header)
    return cookie


def test_the_limit_holds_for_the_guesser(app, kesha):
    guess_until_blocked(app.test_client(), "kesha", at("192.0.2.66"))
    # A fresh browser on the guesser's address waits for the next minute too.
    assert sign_in(app.test_client(), "kesha", environ_base=at("192.0.2.66")).status_code == 429


def test_guesses_from_one_address_leave_the_popug_free_to_sign_in_elsewhere(app, kesha):
    guess_until_blocked(app.test_client(), "kesha", at("192.0.2.66"))
    assert sign_in(app.test_client(), "kesha", environ_base=at("198.51.100.7")).status_code == 302


def test_a_known_browser_signs_in_beside_the_guesser(app, keshas_browser):
    """A colleague guessing at kesha from the same office address cannot keep kesha out."""
    guess_until_blocked(app.test_client(), "kesha", OFFICE)
    response = sign_in(keshas_browser, "kesha", environ_base=OFFICE)
    assert response.status_code == 302
    assert keshas_browser.get("/").status_code == 200


def test_guesses_from_many_addresses_stop_at_the_total_but_not_a_known_browser(app, keshas_browser):
    for n in range(TOTAL // LIMIT):
        guesser = app.test_client()
        for _ in range(LIMIT):
            response = sign_in(guesser, "kesha", beak=WRONG, environ_base=at(f"192.0.2.{n + 1}"))
            assert response.status_code == 401
    # Every address is under its own limit, but the username has had its total.
    assert sign_in(app.test_client(), "kesha", environ_base=at("192.0.2.99")).status_code == 429
    assert sign_in(keshas_browser, "kesha", environ_base=at("198.51.100.3")).status_code == 302


def test_a_known_browser_has_its_own_limit(app, keshas_browser):
    """A browser that was known to kesha (a stolen laptop, say) still guesses slowly, and
    its guesses hold no one else back."""
    guess_until_blocked(keshas_browser, "kesha", OFFICE)
    assert sign_in(app.test_client(), "kesha", environ_base=OFFICE).status_code == 302


def test_a_browser_known_to_another_popug_is_not_known_to_kesha(app, kesha):
    make_popug(role="worker", username="gosha")
    gosha = app.test_client()
    assert sign_in(gosha, "gosha", environ_base=OFFICE).status_code == 302
    gosha.post("/sign-out")
    guess_until_blocked(gosha, "kesha", OFFICE)


@pytest.mark.parametrize("secret", ["not the app's secret", None])
def test_a_forged_cookie_is_not_known(app, kesha, secret):
    """Signed with another key, or not signed at all: a stranger's cookie."""
    payload = {"browser": "forged", "popugs": [kesha.public_id]}
    if secret is None:
        value = "eyJicm93c2VyIjoiZm9yZ2VkIn0"  # a payload without its signature
    else:
        value = URLSafeTimedSerializer(secret, salt="ates.known-browser").dumps(payload)
    forger = app.test_client()
    forger.set_cookie("known_browser", value)
    guess_until_blocked(forger, "kesha", OFFICE)


def test_a_browser_is_forgotten_after_known_browser_days(app, kesha):
    clock.freeze(clock.now())
    browser = app.test_client()
    assert sign_in(browser, "kesha", environ_base=OFFICE).status_code == 302
    browser.post("/sign-out")
    clock.freeze(clock.now() + timedelta(days=app.config["KNOWN_BROWSER_DAYS"], seconds=1))
    guess_until_blocked(app.test_client(), "kesha", OFFICE)
    assert sign_in(browser, "kesha", environ_base=OFFICE).status_code == 429


def test_the_cookie_is_set_at_each_sign_in_and_names_the_popug(app, kesha):
    browser = app.test_client()
    response = sign_in(browser, "kesha")
    cookie = known_cookie(response)["known_browser"]
    assert cookie["httponly"] and cookie["samesite"] == "Lax" and cookie["path"] == "/"
    assert int(cookie["max-age"]) == app.config["KNOWN_BROWSER_DAYS"] * 24 * 3600
    serializer = URLSafeTimedSerializer(app.config["SECRET_KEY"], salt="ates.known-browser")
    first = serializer.loads(cookie.value)
    assert first["popugs"] == [kesha.public_id]
    # A second popug on the same browser: both known, the latest first, the same browser.
    gosha = make_popug(role="worker", username="gosha")
    browser.post("/sign-out")
    second = serializer.loads(known_cookie(sign_in(browser, "gosha"))["known_browser"].value)
    assert second == {"browser": first["browser"], "popugs": [gosha.public_id, kesha.public_id]}
    # A failed guess sets no cookie.
    browser.post("/sign-out")
    refused = sign_in(browser, "kesha", beak=WRONG)
    assert refused.status_code == 401 and SIGN_IN_FAILED in refused.text
    assert not known_cookie(refused)


def test_a_browser_remembers_its_latest_popugs_only(app):
    browser = app.test_client()
    popugs = [make_popug(role="worker", username=f"popug-{n}") for n in range(7)]
    for popug in popugs:
        assert sign_in(browser, popug.username).status_code == 302
        browser.post("/sign-out")
    serializer = URLSafeTimedSerializer(app.config["SECRET_KEY"], salt="ates.known-browser")
    known = serializer.loads(browser.get_cookie("known_browser").value)
    assert known["popugs"] == [popug.public_id for popug in reversed(popugs[2:])]


def test_production_names_the_cookie_for_this_host_only():
    from app.config import ProductionConfig

    assert ProductionConfig.KNOWN_BROWSER_COOKIE_NAME.startswith("__Host-")
