"""auth routes: sign-in, sign-out, sessions, the Popugs page."""

import re
import uuid
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select
from werkzeug.urls import iri_to_uri

from app.blueprints.accounting import posting
from app.blueprints.accounting.models import Account
from app.blueprints.auth import service
from app.blueprints.auth.models import Popug
from app.errors import ServiceError
from app.extensions import db, limiter
from app.money import format_cents
from tests.factories import BEAK, make_popug
from tests.helpers import HTMX, empty_database, signed_in_client

SIGN_IN_FAILED = "Unknown username or wrong beak shape."


def sign_in(client, username, beak=BEAK, next_=None, **kwargs):
    url = "/sign-in" if next_ is None else "/sign-in?" + _query(next=next_)
    return client.post(url, data={"username": username, "beak_shape": beak}, **kwargs)


def _query(**params) -> str:
    return urlencode(params)


def is_sign_in_redirect(response) -> bool:
    """The login_required redirect: to /sign-in (with next= back to the page for a GET)."""
    if response.status_code not in (302, 303):
        return False
    location = urlsplit(response.headers["Location"])
    if response.request.method == "GET" and "next" not in parse_qs(location.query):
        return False
    return location.path == "/sign-in"


def error_text(body: str, field_id: str) -> str:
    match = re.search(rf'<p class="error" id="{field_id}-error">(.*?)</p>', body, re.S)
    return match.group(1) if match else ""


def popug_count() -> int:
    return db.session.scalar(select(func.count(Popug.id)))


# --- sign in -------------------------------------------------------------------------------


def test_sign_in_page(client):
    response = client.get("/sign-in")
    assert response.status_code == 200
    body = response.get_data(as_text=True)
    assert "Username" in body and "Beak shape" in body and ">Sign in</button>" in body
    assert 'type="password"' in body


def test_sign_in_success_redirects_to_board_with_a_session(client):
    make_popug(role="worker", username="kesha")
    response = sign_in(client, "kesha")
    assert response.status_code == 302
    assert response.headers["Location"] == "/"
    assert client.get_cookie("session") is not None
    board = client.get("/")
    assert board.status_code == 200
    assert "kesha" in board.get_data(as_text=True)


def test_sign_in_keeps_the_browser_language_for_what_aTES_writes(app):
    fresh, chosen = make_popug(username="kesha"), make_popug(username="gosha")
    chosen.locale = "en"
    db.session.commit()
    for name in ("kesha", "gosha"):
        response = sign_in(app.test_client(), name, headers={"Accept-Language": "ru-RU,ru"})
        assert response.status_code == 302
    db.session.expire_all()
    assert service.locales_of([fresh.id, chosen.id]) == {fresh.id: "ru", chosen.id: "en"}
    assert fresh.locale is None  # pages still follow the browser of the moment


def test_sign_in_ignores_username_case(client):
    make_popug(role="worker", username="kesha")
    assert sign_in(client, "  KESHA ").status_code == 302


def test_sign_in_starts_a_fresh_session(client):
    """No session fixation: what the session held before sign-in is gone after it."""
    kesha = make_popug(role="worker", username="kesha")
    with client.session_transaction() as session:
        session["planted"] = "by an attacker"
    assert sign_in(client, "kesha").status_code == 302
    with client.session_transaction() as session:
        assert "planted" not in session
        assert session["_user_id"] == kesha.get_id()


def test_signed_in_popug_visiting_sign_in_goes_to_the_board(worker_client):
    response = worker_client.get("/sign-in")
    assert response.status_code == 302
    assert response.headers["Location"] == "/"


def _normalised(response, username: str) -> str:
    body = response.get_data(as_text=True)
    body = body.replace(f'value="{username}"', 'value="USERNAME"')
    return re.sub(r'"X-CSRFToken": "[^"]*"', '"X-CSRFToken": "TOKEN"', body)


def test_wrong_beak_and_unknown_user_get_the_same_answer(app):
    make_popug(role="worker", username="kesha")
    wrong = sign_in(app.test_client(), "kesha", beak="not the right beak")
    unknown = sign_in(app.test_client(), "gosha", beak=BEAK)

    assert wrong.status_code == unknown.status_code == 401
    for response in (wrong, unknown):
        assert SIGN_IN_FAILED in response.get_data(as_text=True)
        assert response.headers.get("Set-Cookie", "").find("remember") == -1
    assert _normalised(wrong, "kesha") == _normalised(unknown, "gosha")


def test_an_empty_sign_in_form_says_what_is_missing_not_that_it_is_wrong(client):
    response = client.post("/sign-in", data={})
    assert response.status_code == 401
    body = response.get_data(as_text=True)
    assert "This field is required." in body
    assert SIGN_IN_FAILED not in body
    only_a_name = client.post("/sign-in", data={"username": "kesha"}).get_data(as_text=True)
    assert "This field is required." in only_a_name and SIGN_IN_FAILED not in only_a_name


def test_sign_in_keeps_the_username_but_not_the_beak(client):
    make_popug(role="worker", username="kesha")
    body = sign_in(client, "kesha", beak="a secret wrong beak").get_data(as_text=True)
    assert 'value="kesha"' in body
    assert "a secret wrong beak" not in body


def test_deactivated_popug_cannot_sign_in(client):
    make_popug(role="worker", username="kesha", active=False)
    response = sign_in(client, "kesha")
    assert response.status_code == 401
    assert SIGN_IN_FAILED in response.get_data(as_text=True)
    assert client.get("/").status_code == 302


# --- rate limits ---------------------------------------------------------------------------


def test_rate_limit_per_username_and_address(app, client):
    make_popug(role="worker", username="kesha")
    limit = int(app.config["SIGN_IN_LIMIT_PER_USERNAME"].split()[0])
    here = {"REMOTE_ADDR": "192.0.2.1"}
    for attempt in range(limit):
        response = sign_in(
            client, "kesha" if attempt % 2 else "KESHA", beak="wrong beak!", environ_base=here
        )
        assert response.status_code == 401, attempt
    blocked = sign_in(client, "kesha", environ_base=here)
    assert blocked.status_code == 429
    assert "Too many attempts" in blocked.get_data(as_text=True)
    assert client.get("/").status_code == 302  # the right beak, but refused: not signed in
    # Another username is not affected, from the same address either.
    make_popug(role="worker", username="gosha")
    assert sign_in(app.test_client(), "gosha", environ_base=here).status_code == 302
    # Nor is the same username from another address.
    elsewhere = {"REMOTE_ADDR": "198.51.100.1"}
    assert sign_in(app.test_client(), "kesha", environ_base=elsewhere).status_code == 302


def test_successful_sign_ins_do_not_count_against_the_limit(app):
    make_popug(role="worker", username="kesha")
    limit = int(app.config["SIGN_IN_LIMIT_PER_USERNAME"].split()[0])
    for _ in range(limit + 2):
        assert sign_in(app.test_client(), "kesha").status_code == 302


def test_rate_limit_per_address(app, client, monkeypatch):
    monkeypatch.setitem(app.config, "SIGN_IN_LIMIT_PER_ADDRESS", "3 per minute")
    make_popug(role="worker", username="kesha")
    here = {"REMOTE_ADDR": "203.0.113.7"}
    for n in range(3):
        assert sign_in(client, f"nobody-{n}", environ_base=here).status_code == 401
    blocked = sign_in(client, "kesha", environ_base=here)
    assert blocked.status_code == 429
    # Another address still gets through.
    assert sign_in(client, "kesha", environ_base={"REMOTE_ADDR": "203.0.113.8"}).status_code == 302


# --- sign out and sessions ------------------------------------------------------------------


def test_sign_out_is_post_only(worker_client):
    assert worker_client.get("/sign-out").status_code == 405
    assert worker_client.get("/").status_code == 200


def test_sign_out_ends_the_session_even_for_a_replayed_cookie(app):
    make_popug(role="worker", username="kesha")
    client = app.test_client()
    assert sign_in(client, "kesha").status_code == 302
    assert client.get("/").status_code == 200
    stolen = client.get_cookie("session").value

    response = client.post("/sign-out")
    assert response.status_code == 302
    assert response.headers["Location"] == "/sign-in"
    assert is_sign_in_redirect(client.get("/"))
    assert "You are signed out." in client.get("/sign-in").get_data(as_text=True)

    replay = app.test_client()
    replay.set_cookie("session", stolen)
    assert is_sign_in_redirect(replay.get("/"))
    assert replay.get("/sign-in").status_code == 200


def test_sign_out_ends_every_session_of_the_popug(app):
    make_popug(role="worker", username="kesha")
    laptop, phone = app.test_client(), app.test_client()
    sign_in(laptop, "kesha")
    sign_in(phone, "kesha")
    laptop.post("/sign-out")
    assert is_sign_in_redirect(phone.get("/"))


def test_open_session_stops_working_after_deactivation(app, admin, worker, worker_client):
    assert worker_client.get("/").status_code == 200
    service.set_active(worker.public_id, False, actor=admin)
    db.session.commit()
    assert is_sign_in_redirect(worker_client.get("/"))
    assert is_sign_in_redirect(worker_client.post("/tasks", data={"title": "Sneaky"}))


def test_open_session_stops_working_after_deactivation_via_the_page(
    app, admin_client, worker, worker_client
):
    assert worker_client.get("/my-tasks").status_code == 200
    admin_client.post(f"/popugs/{worker.public_id}/deactivate")
    assert is_sign_in_redirect(worker_client.get("/my-tasks"))


def test_role_change_takes_effect_on_the_next_request(app, admin, worker, worker_client):
    assert worker_client.get("/popugs").status_code == 403
    assert worker_client.get("/my-tasks").status_code == 200
    service.change_role(worker.public_id, "admin", actor=admin)
    db.session.commit()
    assert worker_client.get("/popugs").status_code == 200
    assert worker_client.get("/my-tasks").status_code == 403
    service.change_role(worker.public_id, "worker", actor=admin)
    db.session.commit()
    assert worker_client.get("/popugs").status_code == 403


def test_navigation_follows_the_role(worker_client, admin_client):
    worker_nav = worker_client.get("/").get_data(as_text=True)
    admin_nav = admin_client.get("/").get_data(as_text=True)
    assert ">My tasks</a>" in worker_nav and ">Popugs</a>" not in worker_nav
    assert ">Popugs</a>" in admin_nav and ">Analytics</a>" in admin_nav


def test_a_post_after_the_session_ended_leads_back_to_a_page_not_a_405(app, worker):
    """Signed out in another tab, then a form is sent: after signing in again the popug
    lands on a page, never on a POST-only URL (GET would answer 405)."""
    client = signed_in_client(app, worker)
    service.end_sessions(worker)
    db.session.commit()
    response = client.post("/tasks", data={"title": "Written before the session ended"})
    assert response.status_code in (302, 303)
    sign_in_url = response.headers["Location"]
    assert urlsplit(sign_in_url).path == "/sign-in"
    assert client.get(sign_in_url).status_code == 200
    signed = client.post(sign_in_url, data={"username": "worker-one", "beak_shape": BEAK})
    assert signed.status_code == 302
    landing = client.get(signed.headers["Location"])
    assert landing.status_code == 200, signed.headers["Location"]


def test_signing_out_twice_from_two_tabs_ends_on_a_page(app):
    make_popug(role="worker", username="kesha")
    first_tab = app.test_client()
    sign_in(first_tab, "kesha")
    stale_tab = app.test_client()
    stale_tab.set_cookie("session", first_tab.get_cookie("session").value)
    first_tab.post("/sign-out")
    response = stale_tab.post("/sign-out")
    assert urlsplit(response.headers["Location"]).path == "/sign-in"
    signed = stale_tab.post(
        response.headers["Location"], data={"username": "kesha", "beak_shape": BEAK}
    )
    assert stale_tab.get(signed.headers["Location"]).status_code == 200


def test_htmx_request_after_the_session_ended_navigates_to_sign_in(app, worker):
    """htmx follows a 302 itself and would swap the whole sign-in page into a table row;
    it must be told to navigate instead (HX-Redirect)."""
    client = signed_in_client(app, worker)
    service.end_sessions(worker)
    db.session.commit()
    response = client.post("/tasks", data={"title": "Late"}, headers=HTMX)
    assert response.status_code not in (301, 302, 303, 307, 308)
    assert urlsplit(response.headers.get("HX-Redirect", "")).path == "/sign-in"


# --- next= ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "target",
    [
        "//evil.com",
        "https://evil.com",
        "http://evil.com/",
        "/\\evil.com",
        "\\\\evil.com",
        "/\t/evil.com",
        "///evil.com",
        "javascript:alert(1)",
        "evil.com",
        "https:evil.com",
        "",
    ],
)
def test_next_refuses_other_sites(client, target):
    make_popug(role="worker", username="kesha")
    response = sign_in(client, "kesha", next_=target)
    assert response.status_code == 302
    assert response.headers["Location"] == "/"


@pytest.mark.parametrize("target", ["/my-tasks", "/account?day=2024-01-02", "/popugs?page=2"])
def test_next_follows_local_paths(client, target):
    make_popug(role="worker", username="kesha")
    response = sign_in(client, "kesha", next_=target)
    assert response.status_code == 302
    assert response.headers["Location"] == target


# Control characters, raw and as a browser percent-encodes them: each would put a broken
# Location header after the sign-in had committed.
CONTROL_TARGETS = ["/\r\nX:1", "/\nSet-Cookie: a=b", "/\r", "/a\tb", "/\x7f", "/\x85", "/a\u2028b"]


@pytest.mark.parametrize("target", CONTROL_TARGETS)
def test_next_with_a_control_character_falls_back_to_the_board(client, target):
    make_popug(role="worker", username="kesha")
    response = sign_in(client, "kesha", next_=target)
    assert response.status_code == 302
    assert response.headers["Location"] == "/"
    assert client.get("/").status_code == 200  # signed in


def test_a_percent_encoded_crlf_in_next_is_not_a_500(client):
    """The query string as a client sends it: `?next=/%0d%0aX:1`."""
    make_popug(role="worker", username="kesha")
    response = client.post(
        "/sign-in?next=/%0d%0aX:1", data={"username": "kesha", "beak_shape": BEAK}
    )
    assert response.status_code == 302 and response.headers["Location"] == "/"


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(target=st.text(max_size=20).map(lambda tail: "/" + tail))
def test_any_next_is_followed_or_falls_back(app, target):
    """Whatever `next` holds, signing in answers with a redirect: to `next` itself when it
    is a printable local path, else to the board. (A NUL anywhere in the address is refused
    with a 400 before the sign-in is tried.)"""
    empty_database()
    limiter.reset()
    make_popug(role="worker", username="kesha")
    response = sign_in(app.test_client(), "kesha", next_=target)
    if "\x00" in target:
        assert response.status_code == 400
        return
    assert response.status_code == 302
    location = response.headers["Location"]
    followed = target.isprintable() and not target.startswith(("//", "/\\"))
    assert location == (iri_to_uri(target) if followed else "/")
    assert location.isascii() and location.isprintable()


def test_login_required_round_trip_keeps_next(client):
    make_popug(role="worker", username="kesha")
    first = client.get("/my-tasks")
    assert is_sign_in_redirect(first)
    next_ = parse_qs(urlsplit(first.headers["Location"]).query)["next"][0]
    assert next_ == "/my-tasks"
    page = client.get(first.headers["Location"]).get_data(as_text=True)
    assert 'action="/sign-in?next=/my-tasks"' in page  # the form posts back with next=
    assert sign_in(client, "kesha", next_=next_).headers["Location"] == "/my-tasks"


# --- the Popugs page -----------------------------------------------------------------------

NEW = {"username": "Kiwi", "email": "kiwi@uberpopug.inc", "role": "accountant"}
NEW_BEAK = "small and green and shiny"


def post_popug(client, headers=None, **changes):
    data = {**NEW, "beak_shape": NEW_BEAK, **changes}
    return client.post("/popugs", data=data, headers=headers or {})


def test_popugs_page_lists_popugs(admin_client, worker):
    body = admin_client.get("/popugs").get_data(as_text=True)
    assert "worker-one" in body and "root-admin" in body
    assert "All popugs" in body and "(2)" in body
    for label in ("Username", "E-mail", "Role", "Beak shape", "Create popug"):
        assert label in body


def test_create_popug_via_form(admin_client):
    response = post_popug(admin_client)
    assert response.status_code == 303
    assert response.headers["Location"] == "/popugs"
    page = admin_client.get("/popugs").get_data(as_text=True)
    assert "Popug kiwi created as accountant." in page
    assert ">kiwi</a></td>" in page and "kiwi@uberpopug.inc" in page
    kiwi = db.session.scalar(select(Popug).where(Popug.username == "kiwi"))
    assert kiwi.role == "accountant" and kiwi.active
    assert posting.balance_of(kiwi.id) == 0
    assert NEW_BEAK not in page
    # The new popug can sign in.
    assert sign_in(admin_client.application.test_client(), "kiwi", NEW_BEAK).status_code == 302


def test_create_popug_via_htmx(admin_client):
    response = post_popug(admin_client, headers=HTMX)
    assert response.status_code == 200
    assert response.headers["HX-Redirect"] == "/popugs"
    assert popug_count() == 2


@pytest.mark.parametrize("headers", [{}, HTMX], ids=["page", "htmx"])
def test_every_wrong_field_of_a_new_popug_is_shown_at_once(admin_client, headers):
    response = post_popug(
        admin_client, headers=headers, username="k!", email="not-an-email", beak_shape="short"
    )
    assert response.status_code == 422
    body = response.get_data(as_text=True)
    assert "Use 3 to 32 characters" in error_text(body, "username")
    assert "Enter a valid e-mail address" in error_text(body, "email")
    assert "Describe the beak in 8 to 200 characters." in error_text(body, "beak_shape")
    assert popug_count() == 1


@pytest.mark.parametrize("headers", [{}, HTMX], ids=["page", "htmx"])
@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"username": "k!"}, "username", "Use 3 to 32 characters"),
        ({"username": "x" * 33}, "username", "Use 3 to 32 characters"),
        ({"username": ""}, "username", "This field is required."),
        ({"email": "not-an-email"}, "email", "Enter a valid e-mail address"),
        ({"email": ""}, "email", "This field is required."),
        ({"beak_shape": "short"}, "beak_shape", "Describe the beak in 8 to 200 characters."),
        ({"beak_shape": "q" * 201}, "beak_shape", "Describe the beak in 8 to 200 characters."),
        ({"role": "overlord"}, "role", "Not a valid choice"),
    ],
)
def test_create_popug_validation_keeps_what_was_typed(
    admin_client, headers, changes, field, message
):
    response = post_popug(admin_client, headers=headers, **changes)
    assert response.status_code == 422
    body = response.get_data(as_text=True)
    assert message in error_text(body, field), body
    assert 'aria-invalid="true"' in body
    typed = {**NEW, "beak_shape": NEW_BEAK, **changes}
    if field != "username" and typed["username"]:
        assert f'value="{typed["username"]}"' in body
    if field != "email" and typed["email"]:
        assert f'value="{typed["email"]}"' in body
    assert typed["beak_shape"] not in body  # never echoed
    if typed["beak_shape"]:
        assert NEW_BEAK not in body
    if headers:
        assert "<html" not in body and 'id="popug-form"' in body
    else:
        assert "<html" in body and "All popugs" in body
    assert popug_count() == 1


def test_create_popug_keeps_the_chosen_role_on_error(admin_client):
    body = post_popug(admin_client, username="k!", role="manager").get_data(as_text=True)
    assert '<option selected value="manager">' in body or 'value="manager" selected' in body


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"username": "WORKER-ONE"}, "username", "This username is taken."),
        (
            {"email": "Worker-One@uberpopug.inc"},
            "email",
            "A popug with this e-mail already exists.",
        ),
    ],
)
def test_create_popug_duplicates(admin_client, worker, changes, field, message):
    response = post_popug(admin_client, **changes)
    assert response.status_code == 422
    assert message in error_text(response.get_data(as_text=True), field)
    assert popug_count() == 2


def test_create_popug_route_is_atomic_when_the_account_cannot_be_opened(admin_client, monkeypatch):
    def refuse(*args, **kwargs):
        raise ServiceError("Accounting refused to open the account.")

    monkeypatch.setattr(posting, "open_account", refuse)
    response = post_popug(admin_client)
    assert response.status_code == 422
    assert "Accounting refused to open the account." in response.get_data(as_text=True)
    assert popug_count() == 1
    assert db.session.scalar(select(func.count(Account.id))) == 1


@pytest.mark.parametrize("headers", [{}, HTMX], ids=["page", "htmx"])
def test_change_role_via_row_form(admin_client, worker, headers):
    response = admin_client.post(
        f"/popugs/{worker.public_id}/role", data={"role": "manager"}, headers=headers
    )
    db.session.expire_all()
    assert service.get_popug(worker.public_id).role == "manager"
    if headers:
        assert response.status_code == 200
        body = response.get_data(as_text=True)
        assert body.startswith(f'<tr id="popug-{worker.public_id}"')
        assert '<option value="manager" selected>' in body
        assert "worker-one is now manager." in body  # flash, out of band
        assert 'data-hx-swap-oob="innerHTML:#flashes"' in body
    else:
        assert response.status_code == 302
        assert response.headers["Location"].startswith("/popugs")
        assert "worker-one is now manager." in admin_client.get("/popugs").get_data(as_text=True)


@pytest.mark.parametrize("headers", [{}, HTMX], ids=["page", "htmx"])
def test_change_role_refuses_to_demote_the_last_admin(admin_client, admin, headers):
    response = admin_client.post(
        f"/popugs/{admin.public_id}/role", data={"role": "worker"}, headers=headers
    )
    message = "The last active admin cannot be demoted."
    if headers:
        assert response.status_code == 200
        assert message in response.get_data(as_text=True)
    else:
        assert message in admin_client.get("/popugs").get_data(as_text=True)
    db.session.expire_all()
    assert service.get_popug(admin.public_id).role == "admin"


def test_change_role_with_an_unknown_role(admin_client, worker):
    admin_client.post(f"/popugs/{worker.public_id}/role", data={"role": "overlord"})
    assert "Choose one of the listed roles." in admin_client.get("/popugs").get_data(as_text=True)
    assert service.get_popug(worker.public_id).role == "worker"


def test_row_action_on_unknown_popug_is_404(admin_client):
    for action in ("role", "deactivate", "activate"):
        response = admin_client.post(f"/popugs/{uuid.uuid4()}/{action}", data={"role": "worker"})
        assert response.status_code == 404, action


@pytest.mark.parametrize("headers", [{}, HTMX], ids=["page", "htmx"])
def test_deactivate_and_reactivate_via_row_forms(admin_client, worker, headers):
    row = f"/popugs/{worker.public_id}"
    response = admin_client.post(f"{row}/deactivate", headers=headers)
    db.session.expire_all()
    assert service.get_popug(worker.public_id).active is False
    if headers:
        body = response.get_data(as_text=True)
        assert response.status_code == 200
        assert 'class="inactive"' in body and "deactivated" in body and "Reactivate" in body
        assert "worker-one is deactivated." in body
    else:
        assert response.status_code == 302
        page = admin_client.get("/popugs").get_data(as_text=True)
        assert "worker-one is deactivated." in page and "Reactivate" in page

    response = admin_client.post(f"{row}/activate", headers=headers)
    db.session.expire_all()
    assert service.get_popug(worker.public_id).active is True
    if headers:
        body = response.get_data(as_text=True)
        assert "worker-one is active." in body and ">Deactivate</a>" in body
    else:
        assert "worker-one is active." in admin_client.get("/popugs").get_data(as_text=True)


def test_deactivate_asks_first_with_the_tasks_and_fees_it_hands_over(admin_client, admin, worker):
    from tests.factories import make_task

    make_popug(role="worker", username="taker")
    manager = make_popug(role="manager", username="boss")
    tasks = [make_task(manager, title=f"Task {n}") for n in range(6)]
    db.session.commit()
    theirs = [task for task in tasks if task.assignee_id == worker.id]
    page = admin_client.get(f"/popugs/{worker.public_id}/deactivate")
    assert page.status_code == 200
    facts = page.get_data(as_text=True)
    assert f"<dd>{len(theirs)}</dd>" in facts
    assert f"<dd>{format_cents(sum(task.fee for task in theirs))}</dd>" in facts
    assert f'action="/popugs/{worker.public_id}/deactivate"' in facts
    db.session.expire_all()
    assert service.get_popug(worker.public_id).active is True  # asking changes nothing
    listing = admin_client.get("/popugs").get_data(as_text=True)
    assert f'href="/popugs/{worker.public_id}/deactivate"' in listing


def test_deactivating_the_last_admin_via_the_page_is_refused(admin_client, admin):
    admin_client.post(f"/popugs/{admin.public_id}/deactivate")
    page = admin_client.get("/popugs")
    assert page.status_code == 200  # still signed in
    assert "The last active admin cannot be deactivated." in page.get_data(as_text=True)
    assert service.get_popug(admin.public_id).active is True


def test_row_action_keeps_the_page(admin_client, worker):
    response = admin_client.post(f"/popugs/{worker.public_id}/deactivate?page=2")
    assert response.headers["Location"] == "/popugs?page=2"


def test_popugs_pagination(app, admin_client):
    for n in range(60):
        make_popug(role="worker", username=f"p-{n:03d}")
    per_page = app.config["POPUGS_PER_PAGE"]
    assert per_page == 50
    first = admin_client.get("/popugs").get_data(as_text=True)
    second = admin_client.get("/popugs?page=2").get_data(as_text=True)
    assert "(61)" in first
    assert "Page 1 of 2" in first and 'href="/popugs?page=2"' in first
    assert "Page 2 of 2" in second
    assert ">p-000</a></td>" in first and ">p-049</a></td>" in first
    assert ">p-050</a></td>" not in first
    assert ">p-050</a></td>" in second and ">p-059</a></td>" in second
    assert ">root-admin</a></td>" in second
    assert second.count('<tr id="popug-') == 11


def test_popug_emails_are_escaped(admin_client):
    response = post_popug(admin_client, username="obrien", email="o'brien&co@uberpopug.inc")
    assert response.status_code == 303
    page = admin_client.get("/popugs").get_data(as_text=True)
    assert "o&#39;brien&amp;co@uberpopug.inc" in page
    assert "o'brien&co@" not in page


# --- a popug's page (admins) --------------------------------------------------------------


def test_a_popugs_page_shows_role_tasks_balance_and_the_audit_trail_about_them(app, admin):
    from app.blueprints.tasks import service as tasks_service

    admin_client = signed_in_client(app, admin)
    created = admin_client.post(
        "/popugs",
        data={
            "username": "kiwi",
            "email": "kiwi@uberpopug.inc",
            "role": "worker",
            "beak_shape": "small and green",
        },
    )
    assert created.status_code in (302, 303)
    kiwi = service.get_popug_by_id(
        db.session.scalar(select(Popug.id).where(Popug.username == "kiwi"))
    )
    manager = make_popug(role="manager")
    tasks = [
        tasks_service.create_task(title=f"T{n}", jira_id=None, description="", actor=manager)
        for n in range(3)
    ]
    tasks_service.complete_task(tasks[0].public_id, actor=kiwi)
    make_popug(role="worker", username="gosha")  # someone else, whose events do not show
    db.session.commit()
    admin_client.post(f"/popugs/{kiwi.public_id}/role", data={"role": "accountant"})
    page = admin_client.get("/popugs")
    assert f'<a href="/popugs/{kiwi.public_id}">kiwi</a>' in page.text
    html = admin_client.get(f"/popugs/{kiwi.public_id}").text
    assert "<h1>kiwi</h1>" in html
    assert 'badge-role">accountant<' in html and "kiwi@uberpopug.inc" in html
    cards = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))
    assert "Open tasks 2" in cards and "Done tasks 1" in cards
    balance = -sum(t.fee for t in tasks) + tasks[0].reward
    assert f'href="/accounting/popugs/{kiwi.public_id}"' in html
    assert format_cents(balance) in cards
    events = re.findall(r"<tr><td class=\"nowrap\"[^>]*>.*?</tr>", html)
    assert [re.findall(r"<td[^>]*>([^<]*)</td>", e)[2:4] for e in events] == [
        ["Changed role", "kiwi: worker → accountant"],
        ["Created popug", "kiwi as worker"],
    ]
    assert "gosha" not in html


def test_an_unknown_popugs_page_is_404(admin_client):
    assert admin_client.get(f"/popugs/{uuid.uuid4()}").status_code == 404
