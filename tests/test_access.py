"""Who may use what: every endpoint × every method × anonymous and each role.

The cases are generated from the app's URL map, so a new endpoint is tested the moment it
exists, and it fails until someone adds it to EXPECTED below with the roles that may use it.
"""

import uuid
from functools import cache
from urllib.parse import parse_qs, urlsplit

from flask import url_for
from sqlalchemy import select, text
from werkzeug.routing import IntegerConverter

from app import clock, create_app
from app.access import ASSIGNABLE_ROLES
from app.blueprints.tasks import service as tasks
from app.config import TestConfig
from app.extensions import db
from tests.factories import BEAK, make_popug, make_task, shuffle_now
from tests.helpers import fill_url, signed_in_client, url_rules

ANONYMOUS = "anonymous"
ROLES = ("admin", "manager", "accountant", "worker")
EVERYONE = frozenset(ROLES)
ADMIN = frozenset({"admin"})
MONEY = frozenset({"admin", "accountant"})  # the accounting overview, closing the day
ASSIGNEES = frozenset({"accountant", "worker"})  # only they hold tasks
SHUFFLERS = frozenset({"admin", "manager"})
# The JSON API takes Bearer tokens only: a signed-in cookie is refused like no credentials
# at all, 401 (tests/api/test_api_access.py walks it with tokens).
TOKEN_ONLY = frozenset()
API_DESCRIPTION = EVERYONE | {ANONYMOUS}  # the OpenAPI document and its page

# endpoint -> the roles that may use it (every method it accepts). Anonymous visitors may
# only sign in; everything else sends them to the sign-in page.
EXPECTED: dict[str, frozenset[str]] = {
    "auth.sign_in": EVERYONE | {ANONYMOUS},
    "auth.sign_out": EVERYONE,
    "auth.set_locale": EVERYONE | {ANONYMOUS},  # the sign-in page has the switch too
    "auth.list_popugs": ADMIN,
    "auth.show_popug": ADMIN,
    "auth.create_popug": ADMIN,
    "auth.change_role": ADMIN,
    "auth.deactivate_popug": ADMIN,
    "auth.confirm_deactivate": ADMIN,
    "auth.activate_popug": ADMIN,
    "auth.change_email": ADMIN,
    "auth.new_beak_shape": ADMIN,
    "auth.set_beak_shape": ADMIN,
    "auth.audit_trail": ADMIN,
    "tasks.index": EVERYONE,
    "tasks.show_task": EVERYONE,
    "tasks.task_version": EVERYONE,
    "tasks.board_version": EVERYONE,
    "tasks.create_task": EVERYONE,
    "tasks.edit_task": EVERYONE,  # a task they created; anyone else's: 403 (below)
    "tasks.update_task": EVERYONE,
    "tasks.my_tasks": ASSIGNEES,
    "tasks.my_tasks_version": ASSIGNEES,
    "tasks.complete_task": ASSIGNEES,
    "tasks.confirm_shuffle": SHUFFLERS,
    "tasks.shuffle": SHUFFLERS,
    "tasks.show_shuffle": SHUFFLERS,
    "tasks.list_shuffles": SHUFFLERS,
    "accounting.my_account": EVERYONE,
    "accounting.my_account_version": EVERYONE,
    "accounting.overview": MONEY,
    "accounting.overview_version": MONEY,
    "accounting.popug_account": MONEY,
    "accounting.popug_account_version": MONEY,
    "accounting.download_balances": MONEY,
    "accounting.download_ledger": MONEY,
    "accounting.confirm_close_day": MONEY,
    "accounting.close_day": MONEY,
    "accounting.list_closed_days": MONEY,
    "accounting.show_payouts": MONEY,
    "accounting.list_outbox": MONEY,
    "accounting.send_mail": MONEY,
    "accounting.resend_mail": MONEY,
    "analytics.dashboard": ADMIN,
    "notifications.index": EVERYONE,
    "notifications.count": EVERYONE,
    "notifications.mark_read": EVERYONE,
    "notifications.mark_all_read": EVERYONE,
    "notifications.set_email_choice": EVERYONE,
    "auth.list_tokens": EVERYONE,
    "auth.create_token": EVERYONE,
    "auth.revoke_token": EVERYONE,  # their own tokens; an admin's, anyone's (tests/api)
    "api.openapi": API_DESCRIPTION,
    "api.docs": API_DESCRIPTION,
    **{
        endpoint: TOKEN_ONLY
        for endpoint in (
            "api.get_me",
            "api.get_my_ledger",
            "api.list_tasks",
            "api.get_task",
            "api.create_task",
            "api.complete_task",
            "api.create_shuffle",
            "api.get_shuffle",
            "api.list_accounts",
            "api.get_account_ledger",
            "api.list_billing_days",
            "api.close_billing_day",
            "api.list_popugs",
            "api.create_popug",
            "api.change_popug",
            "api.get_analytics",
            "api.list_notifications",
            "api.mark_notifications_read",
        )
    },
}

# OPTIONS is answered by Flask itself without running the view (tested separately below).
CHECKED_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE")


@cache
def _url_map_cases() -> tuple[tuple[str, str], ...]:
    """(endpoint, method) for every rule of the app, read from a freshly built app."""
    return tuple(
        sorted(
            (rule.endpoint, method)
            for rule in url_rules(create_app(TestConfig))
            for method in rule.methods
            if method in CHECKED_METHODS
        )
    )


def pytest_generate_tests(metafunc):
    if {"endpoint", "method", "who"} <= set(metafunc.fixturenames):
        metafunc.parametrize(
            ("endpoint", "method", "who"),
            [(e, m, who) for e, m in _url_map_cases() for who in (ANONYMOUS, *ROLES)],
            ids=lambda value: value,
        )


def _endpoints(app) -> set[str]:
    return {rule.endpoint for rule in url_rules(app)}


def test_every_endpoint_is_in_the_expected_table(app):
    missing = _endpoints(app) - set(EXPECTED)
    assert not missing, f"add these endpoints to EXPECTED in {__file__}: {sorted(missing)}"


def test_the_expected_table_has_no_stale_endpoints(app):
    assert set(EXPECTED) - _endpoints(app) == set()


def test_the_generated_cases_cover_the_app(app):
    cases = {endpoint for endpoint, _ in _url_map_cases()}
    assert cases == _endpoints(app)
    assert ("auth.sign_out", "GET") not in _url_map_cases()


def test_only_sign_in_its_language_switch_and_the_api_description_are_open_to_anonymous():
    assert [e for e, roles in EXPECTED.items() if ANONYMOUS in roles] == [
        "auth.sign_in",
        "auth.set_locale",
        "api.openapi",
        "api.docs",
    ]


# --- the matrix ------------------------------------------------------------------------------


class World:
    """The objects a request can point at: the actor, another popug, a task, a shuffle."""

    def __init__(self, who: str):
        self.actor = None if who == ANONYMOUS else make_popug(role=who, username=f"actor-{who}")
        self.target = make_popug(role="manager", username="target-popug")
        if self.actor is None or self.actor.role not in ASSIGNABLE_ROLES:
            make_popug(role="worker", username="helper-worker")
        # Assigned to the actor when the actor can hold tasks (the only eligible popug).
        self.task = make_task(self.actor or self.target, title="Access check task")
        self.shuffle = shuffle_now(actor=self.target, form_token=None)
        db.session.commit()

    def url_values(self, endpoint: str, rule) -> dict:
        known = {
            "auth.change_role": {"public_id": self.target.public_id},
            "auth.deactivate_popug": {"public_id": self.target.public_id},
            "auth.confirm_deactivate": {"public_id": self.target.public_id},
            "auth.activate_popug": {"public_id": self.target.public_id},
            "auth.change_email": {"public_id": self.target.public_id},
            "auth.new_beak_shape": {"public_id": self.target.public_id},
            "auth.set_beak_shape": {"public_id": self.target.public_id},
            "tasks.complete_task": {"public_id": self.task.public_id},
            "tasks.edit_task": {"public_id": self.task.public_id},
            "tasks.update_task": {"public_id": self.task.public_id},
            "tasks.show_shuffle": {"public_id": self.shuffle.public_id},
            "tasks.task_version": {"public_id": self.task.public_id},
            "accounting.popug_account_version": {"public_id": self.target.public_id},
        }.get(endpoint, {})
        values = {}
        for name in rule.arguments:
            if name in known:
                values[name] = known[name]
            elif isinstance(rule._converters[name], IntegerConverter):
                values[name] = 1
            elif name == "day":
                values[name] = clock.business_day().isoformat()
            else:  # an id that does not exist: 404 is an allowed answer
                values[name] = str(uuid.uuid4())
        return values

    def form(self, endpoint: str) -> dict:
        return {
            "auth.sign_in": {
                "username": self.actor.username if self.actor else self.target.username,
                "beak_shape": BEAK,
            },
            "auth.create_popug": {
                "username": "new-popug",
                "email": "new-popug@uberpopug.inc",
                "role": "worker",
                "beak_shape": "a brand new beak",
            },
            "auth.change_role": {"role": "manager"},
            "auth.change_email": {"email": "renamed@uberpopug.inc"},
            "auth.set_beak_shape": {"beak_shape": "a brand new beak"},
            "tasks.create_task": {"title": "Another task", "form_token": uuid.uuid4().hex},
            "tasks.shuffle": {"form_token": uuid.uuid4().hex},
            "tasks.update_task": {"title": "Edited in the access check"},
        }.get(endpoint, {})


def _rule(app, endpoint: str):
    return next(rule for rule in url_rules(app) if rule.endpoint == endpoint)


def _snapshot() -> dict:
    """Every row of every table, to prove a refused request changed nothing."""
    db.session.expire_all()
    return {
        table.name: sorted(map(tuple, db.session.execute(select(table)).all()), key=repr)
        for table in db.metadata.sorted_tables
    }


def _is_sign_in_redirect(response) -> bool:
    """The login_required answer: a redirect to the sign-in page."""
    if response.status_code not in (301, 302, 303, 307, 308):
        return False
    return urlsplit(response.headers["Location"]).path == "/sign-in"


def _next_of(response) -> str | None:
    return parse_qs(urlsplit(response.headers["Location"]).query).get("next", [None])[0]


def test_access(app, endpoint, method, who):
    assert endpoint in EXPECTED, f"add {endpoint!r} to EXPECTED in {__file__}"
    world = World(who)
    client = app.test_client() if world.actor is None else signed_in_client(app, world.actor)
    rule = _rule(app, endpoint)
    with app.test_request_context():
        url = url_for(endpoint, **world.url_values(endpoint, rule))
    before = _snapshot()

    response = client.open(url, method=method, data=world.form(endpoint))
    response.close()
    answer = f"{method} {url} as {who}: {response.status_code} {response.headers.get('Location')}"

    if EXPECTED[endpoint] is TOKEN_ONLY:
        assert response.status_code == 401, answer
        assert response.headers["WWW-Authenticate"].startswith("Bearer"), answer
        assert _snapshot() == before, f"a refused request changed data: {answer}"
        return

    if who in EXPECTED[endpoint]:
        assert response.status_code not in (401, 403), answer
        # sign-out's own redirect goes to the sign-in page too, but not as a refusal.
        assert not _is_sign_in_redirect(response) or endpoint == "auth.sign_out", answer
        assert response.status_code < 500, answer
        if endpoint == "auth.sign_out":
            assert _snapshot() != before, "signing out must end the popug's sessions"
    else:
        if who == ANONYMOUS:
            assert _is_sign_in_redirect(response), answer
            if method in ("GET", "HEAD"):  # back to the page after signing in
                assert urlsplit(_next_of(response)).path == urlsplit(url).path, answer
        else:
            assert response.status_code == 403, answer
        assert _snapshot() == before, f"a refused request changed data: {answer}"


def test_options_reveal_nothing(app):
    client = app.test_client()
    for rule in url_rules(app, "OPTIONS"):
        url = fill_url(app, rule, "x")
        response = client.options(url)
        assert response.status_code == 200
        assert response.get_data() == b"", rule.endpoint


# --- objects: nobody reaches another popug's things by id ----------------------------------------


def test_a_popug_cannot_complete_another_popugs_task(app):
    owner = make_popug(role="worker", username="owner")
    task = make_task(owner)
    assert task.assignee_id == owner.id
    intruder = make_popug(role="accountant", username="intruder")
    client = signed_in_client(app, intruder)
    before = _snapshot()
    for headers in ({}, {"HX-Request": "true"}):
        response = client.post(f"/tasks/{task.public_id}/done", headers=headers)
        assert response.status_code == 403
        assert _snapshot() == before
    db.session.expire_all()
    assert tasks.get_task(task.public_id).status == "open"


def test_only_its_creator_may_edit_a_task(app):
    creator = make_popug(role="worker", username="creator")
    task = make_task(creator, title="Creator's own words")
    for role in ROLES:
        other = make_popug(role=role, username=f"other-{role}")
        client = signed_in_client(app, other)
        before = _snapshot()
        assert client.get(f"/tasks/{task.public_id}/edit").status_code == 403
        response = client.post(f"/tasks/{task.public_id}/edit", data={"title": "Taken over"})
        assert response.status_code == 403
        assert _snapshot() == before
    db.session.expire_all()
    assert tasks.get_task(task.public_id).title == "Creator's own words"


def test_public_ids_are_uuids_not_sequence_numbers(app):
    first, second = make_popug(), make_popug()
    task = make_task(first)
    for public_id in (first.public_id, second.public_id, task.public_id):
        assert uuid.UUID(public_id).version == 4
    assert first.public_id != second.public_id


def test_no_parameter_opens_another_popugs_account(app):
    owner = make_popug(role="worker", username="owner")
    make_task(owner, title="Secret errand of owner")
    other = make_popug(role="accountant", username="other")
    own_page = signed_in_client(app, owner).get("/account").get_data(as_text=True)
    assert "Secret errand of owner" in own_page  # the control: the owner sees it

    account_id = db.session.execute(
        text("SELECT id FROM accounts WHERE popug_id = :id"), {"id": owner.id}
    ).scalar_one()
    client = signed_in_client(app, other)
    for params in (
        {"popug_id": owner.id},
        {"popug": owner.public_id},
        {"public_id": owner.public_id},
        {"owner": owner.public_id},
        {"account": account_id},
        {"account_id": account_id},
        {"id": account_id},
        {"user": "owner"},
        {"username": "owner"},
    ):
        response = client.get("/account", query_string=params)
        assert "Secret errand of owner" not in response.get_data(as_text=True), params
