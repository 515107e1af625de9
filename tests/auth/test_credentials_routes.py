"""The admin's pages for a popug's e-mail and beak shape, and the Popugs list's search."""

import html
import re
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import select

from app import create_app, signals
from app.blueprints.accounting.models import Account
from app.blueprints.auth import service
from app.blueprints.auth.models import Popug
from app.config import TestConfig
from app.extensions import db
from tests.factories import BEAK, make_popug, make_token
from tests.helpers import signed_in_client

RU = {"Accept-Language": "ru-RU,ru;q=0.9"}
NEW_BEAK = "hooked, with a notch on the left"
JUNK = [
    "",
    " ",
    "\x00",
    "a\x00b@uberpopug.inc",
    "<script>alert(1)</script>",
    "кеша@попуг.рф",
    "x" * 5000,
    "%00",
    "\ud7ff\U0010ffff",
    "' OR 1=1 --",
]


def error_text(body: str, field_id: str) -> str:
    match = re.search(rf'<p class="error" id="{field_id}-error">(.*?)</p>', body, re.S)
    return html.unescape(match.group(1)) if match else ""


@pytest.fixture
def kesha(app):
    return make_popug(role="worker", username="kesha")


@pytest.fixture
def heard():
    """The credentials_changed events told during the test: [kwargs, …]."""
    events: list[dict] = []

    def receiver(_sender, **kwargs):
        events.append(kwargs)

    signals.credentials_changed.connect(receiver)
    yield events
    signals.credentials_changed.disconnect(receiver)


def email_of(popug) -> str:
    db.session.expire_all()
    return db.session.get(Popug, popug.id).email


# --- the popug's page ---------------------------------------------------------------------


def test_a_popugs_page_offers_the_email_form_and_the_beak_shape_link(admin_client, kesha):
    page = admin_client.get(f"/popugs/{kesha.public_id}").text
    assert f'action="/popugs/{kesha.public_id}/email"' in page
    assert 'name="email"' in page and "Now kesha@uberpopug.inc." in page
    assert f'href="/popugs/{kesha.public_id}/beak-shape"' in page
    ru = admin_client.get(f"/popugs/{kesha.public_id}", headers=RU).text
    assert "Сменить e-mail" in ru and "Задать новую форму клюва" in ru


# --- e-mail -------------------------------------------------------------------------------


def test_change_email_via_the_form(admin_client, kesha, heard):
    response = admin_client.post(
        f"/popugs/{kesha.public_id}/email", data={"email": "Kesha.New@uberpopug.inc"}
    )
    assert response.status_code == 303
    assert response.headers["Location"] == f"/popugs/{kesha.public_id}"
    assert email_of(kesha) == "kesha.new@uberpopug.inc"
    assert db.session.scalar(select(Account.email).where(Account.popug_id == kesha.id)) == (
        "kesha.new@uberpopug.inc"
    )
    assert [e["fields"] for e in heard] == [("email",)]
    page = admin_client.get(response.headers["Location"]).text
    assert "kesha&#39;s e-mail is now kesha.new@uberpopug.inc." in page
    assert "Changed e-mail" in page  # the audit trail about kesha


@pytest.mark.parametrize(
    ("email", "english", "russian"),
    [
        ("not an address", "Enter a valid e-mail address", "Введите правильный адрес e-mail"),
        ("", "This field is required.", "Обязательное поле."),
        ("worker-one@uberpopug.inc", "A popug with this e-mail already exists.", "Попуг с таким"),
        ("kesha@uberpopug.inc", "This is already their e-mail.", "Это уже текущий e-mail попуга."),
    ],
)
def test_a_refused_email_shows_why_next_to_the_field_keeping_what_was_typed(
    admin_client, kesha, worker, heard, email, english, russian
):
    for headers, expected in (({}, english), (RU, russian)):
        response = admin_client.post(
            f"/popugs/{kesha.public_id}/email", data={"email": email}, headers=headers
        )
        assert response.status_code == 422
        assert error_text(response.text, "email").startswith(expected), response.text
        assert f'value="{email}"' in response.text or not email
        assert "<h1>kesha</h1>" in response.text  # the page itself, not a bare form
    assert email_of(kesha) == "kesha@uberpopug.inc"
    assert heard == []


def test_an_admin_changes_their_own_email_and_stays_signed_in(admin_client, admin):
    response = admin_client.post(
        f"/popugs/{admin.public_id}/email", data={"email": "root@uberpopug.inc"}
    )
    assert response.status_code == 303
    assert admin_client.get("/popugs").status_code == 200
    assert email_of(admin) == "root@uberpopug.inc"


# --- beak shape ---------------------------------------------------------------------------


def test_the_beak_shape_page_says_what_happens_first(admin_client, kesha, heard):
    page = admin_client.get(f"/popugs/{kesha.public_id}/beak-shape")
    assert page.status_code == 200
    assert "every session of theirs ends now" in page.text
    assert "API tokens keep working" in page.text
    assert f'action="/popugs/{kesha.public_id}/beak-shape"' in page.text
    assert heard == []  # the page alone changes nothing
    assert service.authenticate("kesha", BEAK) is not None
    ru = admin_client.get(f"/popugs/{kesha.public_id}/beak-shape", headers=RU).text
    assert "Новая форма клюва для kesha" in ru


def test_set_beak_shape_shows_it_once_and_ends_the_popugs_sessions(app, admin_client, kesha, heard):
    kesha_client = signed_in_client(app, kesha)
    secret = make_token(kesha)
    assert kesha_client.get("/my-tasks").status_code == 200
    response = admin_client.post(
        f"/popugs/{kesha.public_id}/beak-shape", data={"beak_shape": NEW_BEAK}
    )
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    assert f'<code id="new-beak-shape">{html.escape(NEW_BEAK)}</code>' in response.text
    assert [e["fields"] for e in heard] == [("beak_shape",)]
    # Shown this once: not in the session cookie, a flash, or the next page.
    with admin_client.session_transaction() as session:
        assert NEW_BEAK not in repr(dict(session))
    assert NEW_BEAK not in admin_client.get(f"/popugs/{kesha.public_id}").text
    assert NEW_BEAK not in admin_client.get(f"/popugs/{kesha.public_id}/beak-shape").text
    # kesha's session ended; the old beak shape no longer signs in, the new one does.
    assert urlsplit(kesha_client.get("/my-tasks").headers["Location"]).path == "/sign-in"
    old = app.test_client().post("/sign-in", data={"username": "kesha", "beak_shape": BEAK})
    assert old.status_code == 401
    new = app.test_client().post("/sign-in", data={"username": "kesha", "beak_shape": NEW_BEAK})
    assert new.status_code == 302
    # Their API tokens stay.
    assert (
        app.test_client()
        .get("/api/v1/me", headers={"Authorization": f"Bearer {secret}"})
        .status_code
        == 200
    )


@pytest.mark.parametrize(
    ("beak", "english", "russian"),
    [
        ("short", "Describe the beak in 8 to 200 characters.", "Опишите клюв"),
        ("", "This field is required.", "Обязательное поле."),
        (BEAK, "This is already their beak shape.", "Это уже текущая форма клюва попуга."),
    ],
)
def test_a_refused_beak_shape_shows_why_and_changes_nothing(
    app, admin_client, kesha, heard, beak, english, russian
):
    kesha_client = signed_in_client(app, kesha)
    for headers, expected in (({}, english), (RU, russian)):
        response = admin_client.post(
            f"/popugs/{kesha.public_id}/beak-shape", data={"beak_shape": beak}, headers=headers
        )
        assert response.status_code == 422
        assert error_text(response.text, "beak_shape").startswith(expected), response.text
        assert 'id="new-beak-shape"' not in response.text
        assert 'value="' + html.escape(beak) not in response.text or not beak  # not echoed
    assert heard == []
    assert kesha_client.get("/my-tasks").status_code == 200
    assert service.authenticate("kesha", BEAK) is not None


def test_an_admin_who_sets_their_own_beak_shape_stays_signed_in_here_only(app, admin):
    here, elsewhere = signed_in_client(app, admin), signed_in_client(app, admin)
    page = here.get(f"/popugs/{admin.public_id}/beak-shape").text
    assert "This is your own beak shape" in page
    response = here.post(f"/popugs/{admin.public_id}/beak-shape", data={"beak_shape": NEW_BEAK})
    assert response.status_code == 200 and NEW_BEAK in response.text
    assert here.get("/popugs").status_code == 200
    assert urlsplit(elsewhere.get("/popugs").headers["Location"]).path == "/sign-in"
    signed = app.test_client().post(
        "/sign-in", data={"username": "root-admin", "beak_shape": NEW_BEAK}
    )
    assert signed.status_code == 302


@pytest.mark.parametrize("path", ["email", "beak-shape"])
def test_an_unknown_popug_is_404(admin_client, path):
    response = admin_client.post(
        f"/popugs/no-such-popug/{path}", data={"email": "x@y.inc", "beak_shape": NEW_BEAK}
    )
    assert response.status_code == 404


@pytest.mark.parametrize("junk", JUNK)
def test_junk_input_never_fails_the_server(admin_client, kesha, junk):
    for path, field in (("email", "email"), ("beak-shape", "beak_shape")):
        response = admin_client.post(f"/popugs/{kesha.public_id}/{path}", data={field: junk})
        assert response.status_code in (200, 303, 422), (path, junk, response.status_code)
    for path in ("", "/beak-shape"):
        page = admin_client.get(f"/popugs/{kesha.public_id}{path}", query_string={"page": junk})
        assert page.status_code == (400 if "\x00" in junk else 200)  # NUL: a bad request
    listed = admin_client.get("/popugs", query_string={"q": junk})
    assert listed.status_code == (400 if "\x00" in junk else 200)


class CsrfConfig(TestConfig):
    WTF_CSRF_ENABLED = True


def test_the_forms_need_their_csrf_token(app):
    csrf_app = create_app(CsrfConfig)
    try:
        with csrf_app.app_context():
            db.create_all()
            admin = make_popug(role="admin", username="csrf-admin")
            kesha = make_popug(role="worker", username="csrf-kesha")
            client = signed_in_client(csrf_app, admin)
            for path, data in (
                ("email", {"email": "new@uberpopug.inc"}),
                ("beak-shape", {"beak_shape": NEW_BEAK}),
            ):
                refused = client.post(f"/popugs/{kesha.public_id}/{path}", data=data)
                assert refused.status_code == 400
            assert service.authenticate("csrf-kesha", BEAK) is not None
            page = client.get(f"/popugs/{kesha.public_id}").text
            token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
            done = client.post(
                f"/popugs/{kesha.public_id}/email",
                data={"email": "new@uberpopug.inc", "csrf_token": token},
            )
            assert done.status_code == 303
    finally:
        with csrf_app.app_context():
            db.session.remove()
            db.engine.dispose()


# --- search -------------------------------------------------------------------------------


def listed(body: str) -> list[str]:
    return re.findall(r'<a href="/popugs/[^"]+">([^<]+)</a></td>', body)


def test_search_by_the_beginning_of_a_username_or_email(admin_client):
    for username in ("kesha", "keshka", "gosha"):
        make_popug(username=username)
    page = admin_client.get("/popugs?q=KESH").text
    assert listed(page) == ["kesha", "keshka"]
    assert 'value="kesh"' in page and "Popugs found" in page and "(2)" in page
    assert listed(admin_client.get("/popugs?q=gosha@uberpopug").text) == ["gosha"]
    assert len(listed(admin_client.get("/popugs?q=").text)) == 4


def test_search_without_a_match_says_so_in_both_languages(admin_client):
    page = admin_client.get("/popugs?q=<b>zork").text
    assert "No popug matches “&lt;b&gt;zork”." in page
    assert "<b>zork" not in page
    ru = admin_client.get("/popugs?q=zork", headers=RU).text
    assert "Ни один попуг не подходит под «zork»." in ru


def test_search_keeps_its_query_in_the_pages_and_after_a_row_action(app, admin_client):
    for n in range(60):
        make_popug(username=f"kesha-{n:03d}")
    make_popug(username="gosha")
    first = admin_client.get("/popugs?q=kesha").text
    assert "Page 1 of 2" in first
    link = re.search(r'href="(/popugs\?[^"]*page=2[^"]*)"', first).group(1)
    assert parse_qs(urlsplit(html.unescape(link)).query) == {"page": ["2"], "q": ["kesha"]}
    second = admin_client.get(html.unescape(link)).text
    assert listed(second) == [f"kesha-{n:03d}" for n in range(50, 60)]
    target = db.session.scalar(select(Popug.public_id).where(Popug.username == "kesha-055"))
    assert f"/popugs/{target}/role?page=2&amp;q=kesha" in second
    done = admin_client.post(f"/popugs/{target}/role?page=2&q=kesha", data={"role": "accountant"})
    assert done.status_code in (302, 303)
    assert parse_qs(urlsplit(done.headers["Location"]).query) == {"page": ["2"], "q": ["kesha"]}


def test_a_page_past_the_end_says_so_not_that_there_are_no_popugs(admin_client):
    page = admin_client.get("/popugs?page=999").text
    assert 'There is no page 999. <a href="/popugs">Back to the first page</a>.' in page
    assert "No popugs yet" not in page
    ru = admin_client.get("/popugs?page=999", headers=RU).text
    assert "Страницы 999 нет." in ru
