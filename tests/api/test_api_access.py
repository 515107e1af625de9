"""Who may use which API operation: every operation × every role with a token, and every
operation × every way of not having a valid token. Generated from the app's operations, so
a new one fails here until it is added to EXPECTED with the roles that may use it."""

import uuid
from datetime import timedelta

import pytest
from flask import url_for
from sqlalchemy import select

from app import clock
from app.blueprints.api.core import OPERATIONS
from app.blueprints.auth import service as auth
from app.blueprints.auth.models import ApiToken
from app.extensions import db
from tests.factories import make_popug, make_task, make_token, shuffle_now
from tests.helpers import bearer, signed_in_client

ROLES = ("admin", "manager", "accountant", "worker")
EVERYONE = frozenset(ROLES)
ADMIN = frozenset({"admin"})
MONEY = frozenset({"admin", "accountant"})
ASSIGNEES = frozenset({"accountant", "worker"})
SHUFFLERS = frozenset({"admin", "manager"})

EXPECTED = {
    "api.get_me": EVERYONE,
    "api.get_my_ledger": EVERYONE,
    "api.list_tasks": EVERYONE,
    "api.get_task": EVERYONE,
    "api.create_task": EVERYONE,
    "api.complete_task": ASSIGNEES,
    "api.create_shuffle": SHUFFLERS,
    "api.get_shuffle": SHUFFLERS,
    "api.list_accounts": MONEY,
    "api.get_account_ledger": MONEY,
    "api.list_billing_days": MONEY,
    "api.close_billing_day": MONEY,
    "api.list_popugs": ADMIN,
    "api.create_popug": ADMIN,
    "api.change_popug": ADMIN,
    "api.get_analytics": ADMIN,
    "api.list_notifications": EVERYONE,
    "api.mark_notifications_read": EVERYONE,
}
NO_TOKEN = ("nothing", "cookie", "unknown", "expired", "revoked", "deactivated", "basic")
ENDPOINTS = sorted(op.endpoint for op in OPERATIONS)


def test_every_operation_is_in_the_table():
    assert set(ENDPOINTS) == set(EXPECTED)


class World:
    """An actor with a token, another popug, a task (the actor's when they hold tasks),
    a shuffle."""

    def __init__(self, role: str):
        self.actor = make_popug(role=role, username=f"actor-{role}")
        self.target = make_popug(role="worker", username="target-popug")
        holder = self.actor if role in ASSIGNEES else self.target
        make_task(holder, title="Shuffled task")
        self.shuffle = shuffle_now(actor=make_popug(role="manager", username="presser"))
        db.session.commit()
        self.task = make_task(holder, title="Access check task", assignee=holder)
        self.secret = make_token(self.actor)

    def path_values(self, endpoint: str) -> dict:
        return {
            "public_id": self.shuffle.public_id if "shuffle" in endpoint else self.task.public_id,
            "username": self.target.username,
            "day": (clock.business_day() - timedelta(days=1)).isoformat(),
        }

    def body(self, endpoint: str):
        return {
            "api.create_task": {"title": "Another task"},
            "api.create_popug": {
                "username": "new-popug",
                "email": "new-popug@uberpopug.inc",
                "role": "worker",
                "beak_shape": "a brand new beak",
            },
            "api.change_popug": {"role": "accountant"},
            "api.mark_notifications_read": {},
        }.get(endpoint)


def _call(client, world, endpoint, headers):
    op = next(op for op in OPERATIONS if op.endpoint == endpoint)
    with client.application.test_request_context():
        values = world.path_values(endpoint)
        rule = next(r for r in client.application.url_map.iter_rules() if r.endpoint == endpoint)
        url = url_for(endpoint, **{name: values[name] for name in rule.arguments})
    return client.open(url, method=op.method, json=world.body(endpoint), headers=headers)


def _snapshot() -> dict:
    db.session.expire_all()
    return {
        table.name: sorted(map(tuple, db.session.execute(select(table)).all()), key=repr)
        for table in db.metadata.sorted_tables
        if table.name != "api_tokens"  # a token's last use is recorded
    }


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_roles(app, client, endpoint, role):
    world = World(role)
    before = _snapshot()
    response = _call(client, world, endpoint, bearer(world.secret))
    answer = f"{endpoint} as {role}: {response.status_code} {response.get_data(as_text=True)}"
    if role in EXPECTED[endpoint]:
        assert response.status_code in (200, 201, 202), answer
    else:
        assert response.status_code == 403, answer
        assert response.mimetype == "application/problem+json", answer
        assert _snapshot() == before, answer


@pytest.mark.parametrize("how", NO_TOKEN)
@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_no_valid_token(app, client, endpoint, how):
    world = World("admin")  # allowed everything but what only assignees do
    headers = bearer(world.secret)
    if how in ("nothing", "cookie"):
        headers = {}
        if how == "cookie":
            client = signed_in_client(app, world.actor)
    elif how == "unknown":
        headers = bearer("ates_" + "x" * 43)
    elif how == "basic":
        headers = {"Authorization": "Basic " + world.secret}
    elif how == "expired":
        clock.freeze(clock.now() + timedelta(days=31))
    elif how == "revoked":
        auth.revoke_token(db.session.scalar(select(ApiToken.public_id)), actor=world.actor)
    elif how == "deactivated":
        other_admin = make_popug(role="admin", username="other-admin")
        auth.set_active(world.actor.public_id, False, actor=other_admin)
    db.session.commit()
    before = _snapshot()
    response = _call(client, world, endpoint, headers)
    answer = f"{endpoint} with {how}: {response.status_code}"
    assert response.status_code == 401, answer
    assert response.headers["WWW-Authenticate"] == 'Bearer realm="aTES API"', answer
    assert response.mimetype == "application/problem+json", answer
    assert _snapshot() == before, answer


PATH_OPERATIONS = [
    ("api.get_task", "worker"),
    ("api.complete_task", "worker"),
    ("api.get_shuffle", "manager"),
    ("api.get_account_ledger", "accountant"),
    ("api.change_popug", "admin"),
    ("api.close_billing_day", "accountant"),
]


@pytest.mark.parametrize(("endpoint", "role"), PATH_OPERATIONS)
def test_unknown_objects_are_404(app, client, endpoint, role):
    world = World(role)
    op = next(op for op in OPERATIONS if op.endpoint == endpoint)
    unknown = {"public_id": str(uuid.uuid4()), "username": "nobody-here", "day": "not-a-day"}
    with app.test_request_context():
        rule = next(r for r in app.url_map.iter_rules() if r.endpoint == endpoint)
        url = url_for(endpoint, **{name: unknown[name] for name in rule.arguments})
    response = client.open(
        url, method=op.method, json=world.body(endpoint), headers=bearer(world.secret)
    )
    assert response.status_code == 404, response.get_data(as_text=True)
    assert response.mimetype == "application/problem+json"
    assert response.get_json()["status"] == 404
