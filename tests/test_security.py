"""Security of the foundation: CSRF, headers, cookies, inline code, beak shapes kept secret."""

import logging
import re
import uuid

import pytest
from sqlalchemy import select

from app import create_app
from app.config import ProductionConfig, TestConfig
from app.extensions import db, limiter
from tests.factories import make_popug
from tests.helpers import HTMX, fill_url, signed_in_client, url_rules

SECRET_BEAK = "zebra-striped and secret beak 7319"


class SecureProductionConfig(ProductionConfig):
    SECRET_KEY = "a-long-random-production-secret-0123456789"
    SQLALCHEMY_DATABASE_URI = TestConfig.SQLALCHEMY_DATABASE_URI


def _csrf_token_from(body: str) -> str:
    return re.search(r'"X-CSRFToken": "([^"]+)"', body).group(1)


# --- CSRF ----------------------------------------------------------------------------------


def test_there_are_post_endpoints_to_check(csrf_app):
    endpoints = {rule.endpoint for rule in url_rules(csrf_app, "POST")}
    assert {"auth.sign_in", "auth.sign_out", "auth.create_popug", "tasks.create_task"} <= endpoints


@pytest.mark.parametrize("signed_in", [False, True], ids=["anonymous", "admin"])
@pytest.mark.parametrize("headers", [{}, HTMX], ids=["form", "htmx"])
def test_every_post_endpoint_refuses_a_missing_csrf_token(csrf_app, signed_in, headers):
    with csrf_app.app_context():
        admin = make_popug(role="admin", username=f"csrf-{uuid.uuid4().hex[:8]}")
        client = signed_in_client(csrf_app, admin) if signed_in else csrf_app.test_client()
    failures = []
    for rule in url_rules(csrf_app, "POST"):
        url = fill_url(csrf_app, rule)
        response = client.post(url, data={"username": "x", "role": "worker"}, headers=headers)
        body = response.get_data(as_text=True)
        if rule.endpoint.startswith("api."):
            # Exempt from CSRF: the JSON API takes Bearer tokens only, never this cookie.
            if response.status_code != 401:
                failures.append(f"{rule.endpoint} {url}: {response.status_code}")
            continue
        if response.status_code != 400 or "The form expired" not in body:
            failures.append(f"{rule.endpoint} {url}: {response.status_code}")
        if headers and response.headers.get("HX-Retarget") != "#flashes":
            failures.append(f"{rule.endpoint}: htmx error not retargeted to #flashes")
    assert failures == []


def test_a_wrong_csrf_token_is_refused(csrf_app):
    client = csrf_app.test_client()
    client.get("/sign-in")
    response = client.post(
        "/sign-in", data={"username": "x", "beak_shape": "y" * 8, "csrf_token": "forged"}
    )
    assert response.status_code == 400
    response = client.post(
        "/sign-in", data={"username": "x", "beak_shape": "y" * 8}, headers={"X-CSRFToken": "x"}
    )
    assert response.status_code == 400


def test_a_valid_csrf_token_passes_in_the_form_and_in_the_htmx_header(csrf_app):
    """The control for the test above: with the token, the same requests get through."""
    username = f"csrf-{uuid.uuid4().hex[:8]}"
    with csrf_app.app_context():
        make_popug(role="admin", username=username)
    client = csrf_app.test_client()
    token = _csrf_token_from(client.get("/sign-in").get_data(as_text=True))
    signed = client.post(
        "/sign-in",
        data={"username": username, "beak_shape": "a fine test beak", "csrf_token": token},
    )
    assert signed.status_code == 302

    page = client.get("/popugs").get_data(as_text=True)
    assert 'name="csrf_token"' in page  # the forms carry the token
    token = _csrf_token_from(page)
    created = client.post(
        "/popugs",
        data={
            "username": f"n-{uuid.uuid4().hex[:8]}",
            "email": f"{uuid.uuid4().hex[:8]}@uberpopug.inc",
            "role": "worker",
            "beak_shape": "long enough beak",
        },
        headers={**HTMX, "X-CSRFToken": token},
    )
    assert created.status_code == 200
    assert created.headers["HX-Redirect"] == "/popugs"
    out = client.post("/sign-out", data={"csrf_token": token})
    assert out.status_code == 302 and out.headers["Location"] == "/sign-in"


# --- headers and cookies ---------------------------------------------------------------------


def _policy(response) -> dict[str, str]:
    policy = response.headers["Content-Security-Policy"]
    directives = (part.strip().split(None, 1) for part in policy.split(";") if part.strip())
    return {name: value for name, value in directives}


@pytest.mark.parametrize(
    ("path", "headers"),
    [("/sign-in", {}), ("/no-such-page", {}), ("/sign-in", HTMX), ("/static/css/ates.css", {})],
)
def test_security_headers(client, path, headers):
    response = client.get(path, headers=headers)
    response.close()  # static files are streamed
    policy = _policy(response)
    assert policy["script-src"] == "'self'"
    assert policy["frame-ancestors"] == "'none'"
    assert policy["default-src"] == "'self'"
    assert policy["object-src"] == "'none'"
    assert "unsafe-inline" not in response.headers["Content-Security-Policy"]
    assert "unsafe-eval" not in response.headers["Content-Security-Policy"]
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] in {
        "no-referrer",
        "same-origin",
        "strict-origin",
        "strict-origin-when-cross-origin",
    }


def test_security_headers_on_signed_in_pages(admin_client):
    response = admin_client.get("/popugs")
    assert "Strict-Transport-Security" not in response.headers  # plain HTTP outside production
    assert _policy(response)["script-src"] == "'self'"
    assert response.headers["Cache-Control"] == "no-store"
    assert "HX-Request" in response.headers["Vary"]


def _session_cookie_header(response, name: str = "session") -> str:
    cookies = [c for c in response.headers.getlist("Set-Cookie") if c.startswith(f"{name}=")]
    assert cookies, response.headers
    return cookies[-1]


def test_session_cookie_is_httponly_and_samesite_lax(client):
    make_popug(role="worker", username="kesha")
    response = client.post("/sign-in", data={"username": "kesha", "beak_shape": "a fine test beak"})
    assert response.status_code == 302
    cookie = _session_cookie_header(response)
    assert "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie


@pytest.fixture
def production():
    """An app with the production config. Flask-Limiter keeps one storage per process and
    each app it is given replaces it: the suite's is put back afterwards."""
    saved = limiter._storage, limiter._limiter
    try:
        yield create_app(SecureProductionConfig)
    finally:
        limiter._storage, limiter._limiter = saved


def test_session_cookie_is_secure_in_production(app, production):
    try:
        response = production.test_client().get("/sign-in")
        # The __Host- prefix: browsers take it only Secure, for Path=/ and without a Domain.
        cookie = _session_cookie_header(response, "__Host-session")
        assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie
        assert "Path=/;" in cookie and "Domain" not in cookie
        assert response.headers["Strict-Transport-Security"] == "max-age=31536000"
    finally:
        with production.app_context():
            db.session.remove()
            db.engine.dispose()


def _get_pages(flask_app):
    for rule in url_rules(flask_app, "GET"):
        if not rule.arguments:
            yield rule.rule


INLINE = [
    (re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.I), "inline <script>"),
    (re.compile(r"\son[a-z]+\s*=", re.I), "on…= handler"),
    (re.compile(r"\s(data-)?hx-on", re.I), "hx-on handler (needs eval)"),
    (re.compile(r"\sstyle\s*=", re.I), "style= attribute"),
    (re.compile(r"<style", re.I), "<style> block"),
    (re.compile(r"javascript:", re.I), "javascript: URL"),
]


@pytest.mark.parametrize("role", ["admin", "manager", "accountant", "worker", None])
def test_pages_have_no_inline_script_or_style(app, role):
    """The strict CSP would block these, so none may exist."""
    client = signed_in_client(app, make_popug(role=role)) if role else app.test_client()
    if role:
        make_popug(role="worker")  # so a task can be created and pages have rows
        client.post("/tasks", data={"title": "Polish the beak", "jira_id": "UBERPOP-1"})
    checked = 0
    for path in _get_pages(app):
        response = client.get(path)
        if response.status_code != 200:
            continue
        checked += 1
        body = response.get_data(as_text=True)
        for pattern, what in INLINE:
            match = pattern.search(body)
            assert match is None, f"{what} on {path}: {body[max(match.start() - 80, 0) :][:200]}"
    assert checked >= 1


def test_htmx_is_configured_for_the_strict_csp(client):
    body = client.get("/sign-in").get_data(as_text=True)
    config = re.search(r'<meta name="htmx-config" content=\'([^\']+)\'>', body).group(1)
    assert '"includeIndicatorStyles": false' in config  # htmx would inject a <style>
    assert '"allowEval": false' in config
    assert '"allowScriptTags": false' in config
    assert '<script src="/static/js/htmx.min.js"' in body


# --- beak shapes never leave the server ---------------------------------------------------


def test_beak_shapes_never_appear_in_logs_or_responses(app, caplog):
    caplog.set_level(logging.DEBUG)
    responses = []
    admin = make_popug(role="admin", username="root-admin", beak=SECRET_BEAK)
    anonymous = app.test_client()
    # Failed sign-ins: wrong beak for a known user, the beak for an unknown user.
    responses.append(
        anonymous.post("/sign-in", data={"username": "root-admin", "beak_shape": SECRET_BEAK[::-1]})
    )
    responses.append(
        anonymous.post("/sign-in", data={"username": "nobody", "beak_shape": SECRET_BEAK})
    )
    # A successful one, and pages afterwards.
    client = app.test_client()
    responses.append(
        client.post("/sign-in", data={"username": "root-admin", "beak_shape": SECRET_BEAK})
    )
    assert responses[-1].status_code == 302
    # Creating popugs through the page: valid, invalid (too long) and a duplicate.
    new_beak = "another secret beak 4417"
    too_long = "overlong secret beak " + "x" * 200
    for data in (
        {"username": "kiwi", "email": "kiwi@uberpopug.inc", "beak_shape": new_beak},
        {"username": "koko", "email": "koko@uberpopug.inc", "beak_shape": too_long},
        {"username": "kiwi", "email": "kiwi2@uberpopug.inc", "beak_shape": new_beak},
        {"username": "k!", "email": "kiwi3@uberpopug.inc", "beak_shape": new_beak},
    ):
        for headers in ({}, HTMX):
            responses.append(
                client.post("/popugs", data={**data, "role": "worker"}, headers=headers)
            )
    responses.append(client.get("/popugs"))
    # The rate limit's refusal, too.
    for _ in range(int(app.config["SIGN_IN_LIMIT_PER_USERNAME"].split()[0]) + 1):
        responses.append(
            anonymous.post("/sign-in", data={"username": "kiwi", "beak_shape": new_beak[::-1]})
        )
    assert responses[-1].status_code == 429
    assert admin.beak_hash not in caplog.text

    stored = repr([db.session.execute(select(table)).all() for table in db.metadata.sorted_tables])
    assert "kiwi" in stored  # the popug and its audit record exist, its beak only as a hash
    for secret in (SECRET_BEAK, SECRET_BEAK[::-1], new_beak, new_beak[::-1], too_long):
        assert secret not in caplog.text
        assert secret not in stored
        for response in responses:
            assert secret not in response.get_data(as_text=True)
            assert secret not in str(response.headers)


@pytest.mark.parametrize("headers", [{}, HTMX], ids=["form", "htmx"])
def test_a_form_sent_after_signing_out_in_another_tab_says_so(csrf_app, headers):
    username = f"csrf-{uuid.uuid4().hex[:8]}"
    with csrf_app.app_context():
        make_popug(role="worker", username=username)
    client = csrf_app.test_client()
    token = _csrf_token_from(client.get("/sign-in").get_data(as_text=True))
    client.post(
        "/sign-in",
        data={"username": username, "beak_shape": "a fine test beak", "csrf_token": token},
    )
    token = _csrf_token_from(client.get("/").get_data(as_text=True))  # the board, in tab 1
    client.post("/sign-out", data={"csrf_token": token})  # tab 2
    response = client.post(  # tab 1 sends its form
        "/tasks", data={"title": "Feed", "csrf_token": token}, headers=headers
    )
    assert response.status_code == 401
    body = response.get_data(as_text=True)
    assert "You were signed out, so this was not saved." in body
    assert 'href="/sign-in"' in body
