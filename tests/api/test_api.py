"""The API's conventions: problems, JSON only, no CSRF with a token, Idempotency-Key,
cursor paging, the OpenAPI document and its page. (What each service decides is tested
with the services; access is in test_api_access.py.)"""

import json
import re

import pytest
from sqlalchemy import func, select

from app.blueprints.accounting.models import LedgerEntry
from app.blueprints.api.openapi import document
from app.blueprints.api.schema import SCHEMAS, errors_of
from app.blueprints.auth import service as auth
from app.blueprints.tasks.models import Task
from app.extensions import db
from tests.factories import make_popug, make_task, make_token
from tests.helpers import bearer, count, signed_in_client


@pytest.fixture
def worker_token(worker):
    return bearer(make_token(worker))


@pytest.fixture
def admin_token(admin):
    return bearer(make_token(admin))


def _is_problem(response, status: int) -> dict:
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/problem+json"
    body = response.get_json()
    assert {"type", "title", "status", "detail"} <= set(body)
    assert body["status"] == status
    return body


# --- authentication and CSRF ----------------------------------------------------------------


def test_a_signed_in_cookie_alone_is_refused_even_for_a_post(app, worker):
    client = signed_in_client(app, worker)
    assert client.get("/").status_code == 200  # the control: the cookie is valid
    response = client.post("/api/v1/tasks", json={"title": "Sneaky"})
    body = _is_problem(response, 401)
    assert "Bearer" in body["detail"]
    assert count(Task) == 0


def test_a_token_needs_no_csrf_token(app, worker, worker_token, monkeypatch):
    monkeypatch.setitem(app.config, "WTF_CSRF_ENABLED", True)
    client = app.test_client()
    page = signed_in_client(app, worker).post("/tasks", data={"title": "From a page"})
    assert page.status_code == 400  # the control: the pages still want their CSRF token
    response = client.post("/api/v1/tasks", json={"title": "From a script"}, headers=worker_token)
    assert response.status_code == 201
    assert count(Task) == 1


def test_a_token_request_never_sets_a_session_cookie(app, client, worker_token):
    response = client.get("/api/v1/me", headers=worker_token)
    assert response.status_code == 200
    assert "Set-Cookie" not in response.headers


# --- problems ---------------------------------------------------------------------------


def test_a_refusal_carries_the_pages_message(app, client, admin_token):
    response = client.post("/api/v1/tasks", json={"title": "Nobody"}, headers=admin_token)
    body = _is_problem(response, 422)
    assert body["detail"] == (
        "Nobody can take tasks right now: there is no active worker or accountant."
    )


def test_a_refusal_speaks_the_owners_language(app, db, client, worker, admin_token):
    admin = auth.get_popug_by_username("root-admin")
    auth.set_locale(admin, "ru")
    db.session.commit()
    response = client.post("/api/v1/tasks", json={"title": "[x]"}, headers=admin_token)
    body = _is_problem(response, 422)
    assert body["field"] == "title"
    assert re.search("[а-я]", body["detail"]), body


def test_unknown_fields_wrong_types_and_missing_fields_are_422_with_pointers(
    app, client, worker_token
):
    response = client.post(
        "/api/v1/tasks", json={"title": 5, "colour": "red"}, headers=worker_token
    )
    body = _is_problem(response, 422)
    assert {e["pointer"] for e in body["errors"]} == {"/title", "/colour"}
    response = client.post("/api/v1/tasks", json={}, headers=worker_token)
    assert [e["pointer"] for e in _is_problem(response, 422)["errors"]] == ["/title"]
    response = client.get("/api/v1/tasks?colour=red", headers=worker_token)
    assert _is_problem(response, 422)["errors"][0]["pointer"] == "?colour"
    assert count(Task) == 0


@pytest.mark.parametrize(
    ("body", "content_type"),
    [("title=x", "application/x-www-form-urlencoded"), ("{not json", "application/json")],
)
def test_only_json_bodies(app, client, worker_token, body, content_type):
    response = client.post(
        "/api/v1/tasks", data=body, content_type=content_type, headers=worker_token
    )
    _is_problem(response, 422)


def test_a_wrong_method_and_an_unknown_address_are_problems_too(app, client, worker_token):
    _is_problem(client.delete("/api/v1/me", headers=worker_token), 405)
    _is_problem(client.get("/api/v1/nothing-here", headers=worker_token), 404)


def test_each_token_has_its_own_rate_limit(app, client, worker, worker_token, monkeypatch):
    monkeypatch.setitem(app.config, "API_LIMIT_PER_TOKEN", "3 per minute")
    for _ in range(3):
        assert client.get("/api/v1/me", headers=worker_token).status_code == 200
    refused = client.get("/api/v1/me", headers=worker_token)
    _is_problem(refused, 429)
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    other = bearer(make_token(worker, name="another"))
    assert client.get("/api/v1/me", headers=other).status_code == 200


# --- creating tasks, idempotently -------------------------------------------------------


def test_creating_a_task_answers_201_with_its_location(app, client, worker, worker_token):
    response = client.post(
        "/api/v1/tasks", json={"title": "Fix the build", "jira_id": "ci-7"}, headers=worker_token
    )
    assert response.status_code == 201
    task = response.get_json()
    assert task["jira_id"] == "CI-7" and task["assignee"] == worker.username
    assert response.headers["Location"] == f"/api/v1/tasks/{task['public_id']}"
    shown = client.get(response.headers["Location"], headers=worker_token).get_json()
    assert shown["history"][0]["what"] == "created"
    assert shown["history"][0]["amount"] == {
        "cents": -task["fee"]["cents"],
        "formatted": shown["history"][0]["amount"]["formatted"],
    }


def _fees() -> int:
    return db.session.scalar(
        select(func.count()).select_from(LedgerEntry).where(LedgerEntry.kind == "assign_fee")
    )


def test_the_same_idempotency_key_creates_one_task_and_one_fee(app, client, worker_token):
    headers = {**worker_token, "Idempotency-Key": "build-1234"}
    first = client.post("/api/v1/tasks", json={"title": "Build broke"}, headers=headers)
    second = client.post("/api/v1/tasks", json={"title": "Build broke"}, headers=headers)
    assert first.status_code == second.status_code == 201
    assert first.get_json() == second.get_json()
    assert count(Task) == 1 and _fees() == 1


def test_the_same_key_with_another_body_is_422(app, client, worker_token):
    headers = {**worker_token, "Idempotency-Key": "build-1234"}
    client.post("/api/v1/tasks", json={"title": "Build broke"}, headers=headers)
    response = client.post("/api/v1/tasks", json={"title": "Other"}, headers=headers)
    assert _is_problem(response, 422)["field"] == "Idempotency-Key"
    assert count(Task) == 1 and _fees() == 1


def test_two_popugs_may_use_the_same_key(app, client, worker, worker_token):
    other = bearer(make_token(make_popug(role="accountant", username="other-one")))
    for headers in (worker_token, other):
        response = client.post(
            "/api/v1/tasks", json={"title": "Mine"}, headers={**headers, "Idempotency-Key": "1"}
        )
        assert response.status_code == 201
    assert count(Task) == 2


@pytest.mark.parametrize("key", ["", "x" * 65, "tab\there"])
def test_a_bad_idempotency_key_is_422(app, client, worker_token, key):
    response = client.post(
        "/api/v1/tasks", json={"title": "T"}, headers={**worker_token, "Idempotency-Key": key}
    )
    _is_problem(response, 422)
    assert count(Task) == 0


def test_completing_a_task_pays_once(app, client, worker, worker_token):
    task = make_task(worker, assignee=worker)
    url = f"/api/v1/tasks/{task.public_id}/complete"
    assert client.post(url, headers=worker_token).get_json()["status"] == "done"
    again = client.post(url, headers=worker_token)
    assert "already done" in _is_problem(again, 422)["detail"]


def test_a_shuffle_press_is_202_with_its_location(app, client, manager, worker):
    make_task(worker)
    token = bearer(make_token(manager))
    headers = {**token, "Idempotency-Key": "press-1"}
    response = client.post("/api/v1/shuffles", headers=headers)
    assert response.status_code == 202
    assert response.get_json()["status"] == "queued"
    again = client.post("/api/v1/shuffles", headers=headers)
    assert again.get_json()["public_id"] == response.get_json()["public_id"]
    shown = client.get(response.headers["Location"], headers=token)
    assert shown.get_json()["public_id"] == response.get_json()["public_id"]


# --- paging -----------------------------------------------------------------------------


def test_lists_page_by_an_opaque_cursor(app, client, worker, worker_token, monkeypatch):
    monkeypatch.setitem(app.config, "TASKS_PER_PAGE", 2)
    titles = [make_task(worker, title=f"Task number {n}").title for n in range(5)]
    seen, url = [], "/api/v1/tasks?filter=open"
    while url:
        response = client.get(url, headers=worker_token)
        assert response.status_code == 200
        body = response.get_json()
        seen += [task["title"] for task in body["items"]]
        if body["next"]:
            assert response.headers["Link"] == f'<{body["next"]}>; rel="next"'
            assert "filter=open" in body["next"]
        url = body["next"]
    assert seen == titles[::-1]


def test_a_made_up_cursor_is_422(app, client, worker_token):
    for cursor in ("garbage", "eyJwIjogMH0", "eyJwIjogImEifQ"):
        response = client.get(f"/api/v1/tasks?cursor={cursor}", headers=worker_token)
        assert _is_problem(response, 422)["errors"][0]["pointer"] == "?cursor"


def test_search_finds_by_title(app, client, worker, worker_token):
    make_task(worker, title="Feed the parrots")
    make_task(worker, title="Clean the cage")
    body = client.get("/api/v1/tasks?q=parrots", headers=worker_token).get_json()
    assert [task["title"] for task in body["items"]] == ["Feed the parrots"]


# --- the description ----------------------------------------------------------------------


def test_the_openapi_document_describes_every_operation(app, client):
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    doc = response.get_json()
    assert doc["openapi"] == "3.1.0"
    operations = {(method.upper(), path) for path, item in doc["paths"].items() for method in item}
    rules = {
        (method, re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule.removeprefix("/api/v1")))
        for rule in app.url_map.iter_rules()
        if rule.endpoint.startswith("api.") and rule.endpoint not in ("api.openapi", "api.docs")
        for method in rule.methods - {"HEAD", "OPTIONS"}
    }
    assert operations == rules
    text = json.dumps(doc)
    for name in re.findall(r"#/components/schemas/(\w+)", text):
        assert name in doc["components"]["schemas"], name


def test_the_schemas_refuse_what_they_do_not_describe():
    task = SCHEMAS["NewTask"]
    assert errors_of(task, {"title": "ok"}) == []
    assert errors_of(task, {"title": "ok", "extra": 1})
    assert errors_of(task, {"title": "x" * 201})
    assert errors_of(task, {"title": None})
    assert errors_of(SCHEMAS["Money"], {"cents": True, "formatted": "$1"})


def test_the_reference_page_is_served_by_ates_without_scripts_of_its_own(app, client):
    response = client.get("/api/v1/docs")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "GET /api/v1/tasks" in page and "POST /api/v1/tasks" in page
    assert "https://" not in page.split("<main", 1)[-1]
    assert "<script>" not in page
    assert "default-src 'self'" in response.headers["Content-Security-Policy"]
    assert len(document()["paths"]) >= 10


def test_the_reference_page_keeps_a_signed_in_popugs_top_bar(app, worker):
    page = signed_in_client(app, worker).get("/api/v1/docs").get_data(as_text=True)
    assert worker.username in page


def test_a_body_over_the_limit_is_413(app, client, worker_token):
    body = '{"title": "' + "x" * app.config["MAX_CONTENT_LENGTH"] + '"}'
    response = client.post(
        "/api/v1/tasks", data=body, content_type="application/json", headers=worker_token
    )
    _is_problem(response, 413)
    assert count(Task) == 0


def test_notifications_list_and_mark_read(app, client):
    """The token owner's notifications, with their parameters, and marking them read (the
    page's service)."""
    from tests.factories import make_popug, make_task, make_token

    worker = make_popug(role="worker", username="listener")
    manager = make_popug(role="manager", username="giver")
    task = make_task(manager, title="Polish the perch", assignee=worker, prices=(1200, 2400))
    make_task(manager, title="Another", assignee=worker)
    headers = {"Authorization": f"Bearer {make_token(worker)}"}
    db.session.commit()
    listed = client.get("/api/v1/notifications", headers=headers)
    assert listed.status_code == 200
    items = listed.get_json()["items"]
    assert [item["kind"] for item in items] == ["task_assigned", "task_assigned"]
    oldest = items[-1]
    assert oldest["task"]["public_id"] == task.public_id and oldest["by"] == "giver"
    assert oldest["amount"]["cents"] == -1200 and oldest["read"] is False
    marked = client.post(
        "/api/v1/notifications/read", json={"up_to": oldest["id"]}, headers=headers
    )
    assert marked.get_json() == {"marked": 1}
    items = client.get("/api/v1/notifications", headers=headers).get_json()["items"]
    assert [item["read"] for item in items] == [False, True]
    assert client.post("/api/v1/notifications/read", json={}, headers=headers).get_json() == {
        "marked": 1
    }


def test_notifications_of_an_admins_change_of_credentials(app, client, admin, worker):
    """The two security kinds are listed with the admin who made the change, and are among
    the kinds the API's reference declares."""
    from app import signals

    signals.tell(
        signals.credentials_changed,
        popug_id=worker.id,
        actor_id=admin.id,
        fields=("email", "beak_shape"),
        previous_email="old@uberpopug.inc",
    )
    headers = bearer(make_token(worker))
    db.session.commit()
    items = client.get("/api/v1/notifications", headers=headers).get_json()["items"]
    assert [(item["kind"], item["by"]) for item in items] == [
        ("beak_changed", admin.username),
        ("email_changed", admin.username),
    ]
    declared = document()["components"]["schemas"]["Notification"]["properties"]["kind"]["enum"]
    assert {"email_changed", "beak_changed"} <= set(declared)


# --- errors the app answers outside the API's own handlers ------------------------------


def test_a_database_out_of_reach_is_a_503_problem(app, client, worker_token, monkeypatch):
    from sqlalchemy.exc import OperationalError

    from app.blueprints.api import accounts

    def unreachable(popug_id):
        raise OperationalError("SELECT 1", {}, Exception("connection refused"))

    monkeypatch.setattr(accounts.posting, "balance_of", unreachable)
    body = _is_problem(client.get("/api/v1/me", headers=worker_token), 503)
    assert "not reachable" in body["detail"]
    assert "503" in document()["paths"]["/me"]["get"]["responses"]
