"""Bad input: hostile values in every form field, query parameter, path argument
and htmx header of every endpoint, as every role: never a 5xx, a clear message with every
4xx page, and nothing half-saved (the books still balance after each example).

Endpoints come from app.url_map; the parameter names come from the forms (every FlaskForm
subclass), from the code (`request.args.get("…")` and friends under app/) and from a fixed
list, so a new endpoint or parameter is fuzzed without touching this file.
"""

from __future__ import annotations

import io
import json
import re
import uuid
from datetime import timedelta
from pathlib import Path
from urllib.parse import quote, urlencode

import pytest
from flask import g
from flask_wtf import FlaskForm
from hypothesis import HealthCheck, Phase, example, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select
from werkzeug.test import encode_multipart

from app import clock
from app.blueprints.auth.models import Popug
from app.blueprints.tasks import service as tasks_service
from app.extensions import db, limiter
from tests import factories
from tests.factories import shuffle_now
from tests.helpers import HTMX, fill_url, signed_in_client, url_rules
from tests.reliability.helpers import balance_mismatches, verify_problems

ROLES = ("anonymous", "worker", "accountant", "manager", "admin")
EXAMPLES = 10  # random ones per endpoint, after the explicit edge cases; each sent as all roles
APP_DIR = Path(__file__).absolute().parents[2] / "app"

# --- which parameters exist ------------------------------------------------------------

BRIEF_FIELDS = (
    "page filter sort dir from to day date start end title jira_id description username "
    "email role beak_shape form_token csrf_token submit next seen status"
).split()
_CODE_PATTERNS = (
    r"args\.get\(\s*['\"]([\w-]+)['\"]",
    r"args\[\s*['\"]([\w-]+)['\"]\s*\]",
    r"form\.get\(\s*['\"]([\w-]+)['\"]",
    r"values\.get\(\s*['\"]([\w-]+)['\"]",
    r"_page\(\s*['\"]([\w-]+)['\"]",
)


def _form_classes(cls=FlaskForm):
    for sub in cls.__subclasses__():
        yield sub
        yield from _form_classes(sub)


def discovered_fields(app) -> list[str]:
    names = set(BRIEF_FIELDS)
    for path in APP_DIR.rglob("*.py"):
        source = path.read_text()
        for pattern in _CODE_PATTERNS:
            names.update(re.findall(pattern, source))
    with app.test_request_context():
        for form_class in _form_classes():
            try:
                form = form_class(meta={"csrf": False}, formdata=None)
            except TypeError:  # a form that needs constructor arguments
                continue
            names.update(field.name for field in form)
    return sorted(names)


def _rule_ids():
    from app import create_app
    from app.config import TestConfig

    return [rule.endpoint for rule in url_rules(create_app(TestConfig))]


ENDPOINTS = _rule_ids()

# --- hostile values --------------------------------------------------------------------

HOSTILE = [
    "",
    " ",
    "\t\n\r",
    "\x00",
    "abc\x00def",
    "\x1b[31mred\x1b[0m",
    "\x7f\x08\x0b\x0c",
    "\u202eevil\u202c",
    "\ufeffbom",
    "😀🦜" * 3,
    "ÅÄÖ ß 漢字 العربية",
    "Robert'); DROP TABLE tasks;--",
    "' OR '1'='1",
    '" OR ""="',
    "1; SELECT pg_sleep(10)",
    "<script>alert(1)</script>",
    '"><img src=x onerror=alert(1)>',
    "{{ 7*7 }}",
    "{% raw %}",
    "%s%n%x",
    "../../../etc/passwd",
    "javascript:alert(1)",
    "//evil.example/",
    "/\\evil.example",
    "https://evil.example/",
    "[UBERPOP-1] title",
    "UBERPOP-",
    "-UBERPOP-1",
    "-1",
    "0",
    "1",
    "2",
    "-0",
    "00000000000000000001",
    "9" * 30,
    "-" + "9" * 30,
    str(2**31),
    str(2**63),
    str(-(2**63) - 1),
    "1e309",
    "1.5",
    "0x10",
    "NaN",
    "inf",
    "-inf",
    "abc",
    "٣",
    "²",
    "true",
    "null",
    "None",
    "[]",
    "{}",
    '{"a": 1}',
    str(uuid.uuid4()),
    "00000000-0000-0000-0000-000000000000",
    "2024-02-30",
    "2024-13-01",
    "0000-00-00",
    "0001-01-01",
    "9999-12-31",
    "10000-01-01",
    "-2024-01-01",
    "2024/01/01",
    "01.03.2024",
    "2024-1-1",
    "2024-01-01T25:00",
    "today",
    "admin",
    "manager",
    "worker",
    "accountant",
    "superuser",
    "ADMIN",
    "asc",
    "desc",
    "balance",
    "open",
    "done",
    "mine",
    "board",
    "pending",
]
LONG_CHARS = ["a", "9", "[", "😀", "\x00", "<", "-", "'"]
LONG_SIZES = [33, 65, 201, 255, 5_001, 20_000]


def long_values():
    return st.builds(
        lambda char, size: char * size, st.sampled_from(LONG_CHARS), st.sampled_from(LONG_SIZES)
    )


def text_values():
    return st.text(st.characters(blacklist_categories=("Cs",)), max_size=40)


def plausible(today) -> dict[str, list[str]]:
    """Valid values, so that some examples get past validation into the services."""
    days = [today.isoformat(), (today - timedelta(days=1)).isoformat()]
    return {
        "page": ["1", "2"],
        "filter": ["all", "open", "done", "mine"],
        "sort": ["username", "balance"],
        "dir": ["asc", "desc"],
        "from": ["board", *days],
        "to": days,
        "day": days,
        "date": days,
        "start": days,
        "end": days,
        "title": ["A fine task"],
        "jira_id": ["UBERPOP-42", ""],
        "description": ["Nothing special."],
        "username": ["new-popug", "worker-one"],
        "email": ["new-popug@example.com"],
        "role": ["worker", "accountant", "manager", "admin"],
        "beak_shape": [factories.BEAK, "a brand-new beak"],
        "form_token": ["token-1", "token-2"],
        "seen": ["0", "1"],
        "status": ["pending", "sent", "logged"],
    }


NUMBER_EDGES = [
    "-1",
    "0",
    "1",
    "abc",
    "",
    "1.5",
    "9" * 30,
    "-" + "9" * 30,
    str(2**31),
    str(2**63),
    "1e309",
]
DATE_EDGES = ["2024-02-30", "0001-01-01", "9999-12-31", "abc", "", "-1", "2024-1-1", "9" * 30]
NUMBER_NAMES = re.compile(r"(^|_)(page|seen|id|limit|offset|count|n)$")
DATE_NAMES = re.compile(r"(^|_)(day|date|from|to|start|end|since|until)$")


def values(name: str, today):
    """Hostile values for parameter `name`, weighted towards the edges of what it means
    (numbers for page-like names, dates for day-like ones), with valid values sometimes."""
    options = [st.sampled_from(HOSTILE), text_values(), long_values()]
    options.append(st.integers(-(10**31), 10**31).map(str))
    if NUMBER_NAMES.search(name):
        options += [st.sampled_from(NUMBER_EDGES)] * 3
    if DATE_NAMES.search(name):
        options += [st.sampled_from(DATE_EDGES)] * 3
    good = plausible(today).get(name)
    if good:
        options.append(st.sampled_from(good))
    return st.one_of(*options)


HEADER_TEXT = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=60)
RAW_QUERY = [
    "",
    "page=%ff%fe",
    "%00=%00",
    "filter",
    "&&&=",
    "page[]=1",
    "page=1&page=abc",
    "day=%c0%af",
]
EXTRA_METHODS = ["PUT", "DELETE", "PATCH"]
BODY_KINDS = ["form", "multipart", "json", "raw"]
# What a JSON body may hold where a form has strings: numbers, nulls, lists, objects.
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=6,
)


@st.composite
def params(draw, fields, today) -> list[tuple[str, str]]:
    """Either every field hostile at once (each present with probability 1/2), or valid
    values everywhere with one to three hostile ones among them, so that validation is both
    hit on every field and passed to reach the services. Sometimes a name repeats."""
    good = plausible(today)
    if draw(st.booleans()):
        chosen = [name for name in fields if draw(st.booleans())]
        pairs = [(name, draw(values(name, today))) for name in chosen]
    else:
        pairs = [(name, draw(st.sampled_from(good[name]))) for name in fields if name in good]
        hostile = draw(st.lists(st.sampled_from(fields), min_size=1, max_size=3, unique=True))
        pairs = [(n, v) for n, v in pairs if n not in hostile]
        pairs += [(name, draw(values(name, today))) for name in hostile]
    if pairs and draw(st.integers(0, 4)) == 0:  # a repeated name: a list where one was expected
        pairs.append((pairs[0][0], draw(values(pairs[0][0], today))))
    return pairs


@st.composite
def requests(draw, rule, fields, ids, today):
    """One hostile request for `rule`: (method, path, query string, body kwargs, headers)."""
    methods = sorted(rule.methods - {"HEAD", "OPTIONS"})
    method = draw(
        st.sampled_from(methods + (EXTRA_METHODS if draw(st.integers(0, 9)) == 0 else []))
    )
    path = rule.rule
    for name in rule.arguments:
        real = ids.get(name, []) + ids["any"]
        value = draw(
            st.one_of(
                st.sampled_from(real),
                st.sampled_from(HOSTILE).filter(bool),
                text_values().filter(lambda v: bool(v.strip("/"))),
            )
        )
        pattern = r"<(?:[^<>:]+:)?" + re.escape(name) + ">"
        path = re.sub(pattern, lambda _m, v=value: quote(v, safe=""), path)
    query = draw(params(fields, today))
    query_string = urlencode(query, doseq=True)
    raw = draw(st.sampled_from(RAW_QUERY))
    if raw:
        query_string = f"{query_string}&{raw}" if query_string else raw
    form = draw(params(fields, today))
    kind = draw(st.sampled_from(BODY_KINDS))
    if kind == "form":
        body = {
            "data": urlencode(form, doseq=True),
            "content_type": "application/x-www-form-urlencoded",
        }
    elif kind == "multipart":  # strings, and now and then a file part under a field's name
        data: dict = {}
        for name, value in form:
            if draw(st.integers(0, 3)) == 0:
                value = (value.encode(), f"{name}.txt")  # bytes and a file name: a file part
            data.setdefault(name, []).append(value)
        body = {"data": data, "content_type": "multipart/form-data"}
    elif kind == "json":  # the fields with strings or any JSON value, or not an object at all
        document = {name: draw(st.one_of(st.just(value), JSON_VALUES)) for name, value in form}
        if draw(st.integers(0, 3)) == 0:
            document = draw(JSON_VALUES)
        body = {"data": json.dumps(document), "content_type": "application/json"}
    else:
        garbage = draw(st.binary(max_size=200))
        ctype = draw(
            st.sampled_from(
                [
                    "text/plain",
                    "application/octet-stream",
                    "application/x-www-form-urlencoded",
                    "multipart/form-data; boundary=x",
                ]
            )
        )
        body = {"data": garbage, "content_type": ctype}
    headers = {}
    if draw(st.booleans()):
        headers["HX-Request"] = "true"
        if draw(st.booleans()):
            headers["HX-Current-URL"] = draw(
                st.one_of(
                    st.just("http://localhost/?filter=mine&page=2"),
                    HEADER_TEXT,
                    st.builds(lambda q: "http://localhost/?" + q, st.just(query_string)).filter(
                        lambda v: v.isascii()
                    ),
                )
            )
        if draw(st.booleans()):
            headers["HX-Target"] = draw(
                st.one_of(
                    st.sampled_from(["balances", "daily-stats", "board", "flashes"]), HEADER_TEXT
                )
            )
        if draw(st.integers(0, 4)) == 0:
            headers[draw(st.sampled_from(["HX-Boosted", "HX-History-Restore-Request"]))] = "true"
    return method, path, query_string, body, headers


# --- the world the requests act on -----------------------------------------------------


@pytest.fixture
def world(app):
    """One popug per role (plus a second worker), tasks open and done for the assignable
    ones, and a shuffle: real ids for path arguments."""
    popugs = {
        "admin": factories.make_popug(role="admin", username="root-admin"),
        "manager": factories.make_popug(role="manager", username="boss"),
        "accountant": factories.make_popug(role="accountant", username="counter"),
        "worker": factories.make_popug(role="worker", username="worker-one"),
    }
    factories.make_popug(role="worker", username="worker-two")
    made = [factories.make_task(popugs["manager"], jira_id="UBERPOP-7") for _ in range(6)]
    for task in made[:2]:
        tasks_service.complete_task(task.public_id, actor=db.session.get(Popug, task.assignee_id))
    db.session.commit()
    shuffle = shuffle_now(actor=popugs["manager"])
    db.session.commit()
    today = clock.business_day()
    ids = {
        "public_id": [t.public_id for t in made] + [p.public_id for p in popugs.values()],
        "day": [today.isoformat(), (today - timedelta(days=1)).isoformat()],
        "any": [shuffle.public_id, str(uuid.uuid4()), "1", "0"],
    }
    ids["public_id"].append(shuffle.public_id)
    return {"popugs": popugs, "ids": ids}


def sendable(body: dict) -> dict:
    """The body with each file part (bytes, file name) as a fresh file: the test client
    closes the files it sends, and a body is sent once per role."""
    data = body["data"]
    if not isinstance(data, dict):
        return body

    def fresh(value):
        return (io.BytesIO(value[0]), value[1]) if isinstance(value, tuple) else value

    files = {
        name: [fresh(v) for v in value] if isinstance(value, list) else fresh(value)
        for name, value in data.items()
    }
    return {**body, "data": files}


def reset_world(world) -> None:
    """Undo what an example's admin requests did to the role popugs (role, active), so the
    next example signs in as each role again."""
    db.session.rollback()
    for role, popug in world["popugs"].items():
        db.session.refresh(popug)
        popug.role = role
        popug.active = True
    db.session.commit()
    limiter.reset()


def client_for(app, world, role: str):
    if role == "anonymous":
        return app.test_client()
    return signed_in_client(app, world["popugs"][role])


ERROR_MARKERS = ('class="error"', 'role="alert"', "flash-error", "error-page")
# Markup among the hostile values that must never come back unescaped.
REFLECTED = ("<script>alert(1)</script>", "<img src=x onerror=alert(1)>")


def check_response(response, role, method, path) -> None:
    where = f"{role} {method} {path[:120]}"
    assert response.status_code < 500, f"{where}: {response.status_code}\n{response.text[:2000]}"
    if response.mimetype != "text/html":
        return
    body = response.get_data(as_text=True)
    assert not [markup for markup in REFLECTED if markup in body], f"{where}: markup echoed"
    if 400 <= response.status_code < 500:
        assert any(marker in body for marker in ERROR_MARKERS), (
            f"{where}: {response.status_code} without a visible message:\n{body[:1000]}"
        )


def check_books() -> None:
    """Nothing half-saved: every popug has its account, every balance is its ledger sum,
    and accounting's own verify() finds nothing."""
    from app.blueprints.accounting.models import Account

    db.session.rollback()
    popugs = db.session.scalar(select(func.count(Popug.id)))
    accounts = db.session.scalar(select(func.count(Account.id)))
    assert popugs == accounts, f"{popugs} popugs but {accounts} accounts"
    assert balance_mismatches() == []
    assert verify_problems() == []


SETTINGS = settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    # No shrinking: a failure is reported as drawn, and a broken endpoint fails in seconds.
    phases=[Phase.explicit, Phase.reuse, Phase.generate],
    report_multiple_bugs=False,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
    ],
)


EDGES = [
    "9" * 30,
    "\x00",
    "-1",
    "abc",
    "",
    '"><script>alert(1)</script>',
    "a" * 5_001,
    "2024-02-30",
]


PATH_EDGES = ("\x00", "9" * 30, "-1")


def edge_requests(rule, fields, ids) -> list[tuple]:
    """Deterministic examples: every field and query parameter set to the same edge value,
    path arguments naming a real object (and, for a few edges, set to the edge too), the
    endpoint's methods and the htmx header alternating."""
    methods = sorted(rule.methods - {"HEAD", "OPTIONS"})
    made = []
    for index, edge in enumerate(EDGES):
        variants = [False] + ([True] if rule.arguments and edge in PATH_EDGES else [])
        for edge_in_path in variants:
            path = rule.rule
            for name in rule.arguments:
                real = (ids.get(name) or ids["any"])[0]
                value = edge if edge_in_path else real
                pattern = r"<(?:[^<>:]+:)?" + re.escape(name) + ">"
                path = re.sub(pattern, quote(value, safe=""), path)
            pairs = [(name, edge) for name in fields]
            body = {
                "data": urlencode(pairs),
                "content_type": "application/x-www-form-urlencoded",
            }
            headers = {"HX-Request": "true"} if index % 3 == 1 else {}
            made.append((methods[index % len(methods)], path, urlencode(pairs), body, headers))
    return made


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_hostile_requests_never_fail_the_server(app, world, endpoint):
    rule = next(r for r in url_rules(app) if r.endpoint == endpoint)
    fields = discovered_fields(app)
    today = clock.business_day()

    @SETTINGS
    @given(request=requests(rule, fields, world["ids"], today))
    def run(request):
        method, path, query_string, body, headers = request
        reset_world(world)  # admin goes last: only its requests change the role popugs
        for role in ROLES:
            client = client_for(app, world, role)
            response = client.open(
                path, method=method, query_string=query_string, headers=headers, **sendable(body)
            )
            db.session.rollback()  # what the request left uncommitted is not saved
            g.pop("_login_user", None)
            check_response(response, role, method, path)
        check_books()

    for request in edge_requests(rule, fields, world["ids"]):
        run = example(request=request)(run)
    run()


# --- request size and CSRF, with CSRF on as in production ------------------------------


def _post_endpoints(app) -> list:
    """The pages' POST endpoints (the JSON API takes JSON, checked by its schemas: tests/api)."""
    return [
        rule
        for rule in url_rules(app)
        if "POST" in rule.methods and not rule.endpoint.startswith("api.")
    ]


@pytest.fixture
def csrf_world(csrf_app):
    """The app with CSRF protection on (conftest), its context pushed, with one popug per
    role and a task in it."""
    with csrf_app.app_context():
        popugs = {
            role: factories.make_popug(role=role, username=f"csrf-{role}") for role in ROLES[1:]
        }
        task = factories.make_task(popugs["manager"])
        yield csrf_app, popugs, task.public_id


def _table_counts() -> dict[str, int]:
    return {
        table.name: db.session.scalar(select(func.count()).select_from(table))
        for table in db.metadata.sorted_tables
    }


def _every_post_as_every_role(csrf_world):
    """(path, role, client) for every POST endpoint (its path filled with a real task) and
    every role, anonymous included."""
    app_, popugs, task_id = csrf_world
    for rule in _post_endpoints(app_):
        path = fill_url(app_, rule, task_id)
        for role in ROLES:
            if role == "anonymous":
                yield path, role, app_.test_client()
            else:
                yield path, role, signed_in_client(app_, popugs[role])


def test_every_post_endpoint_refuses_a_body_over_the_limit(csrf_world):
    """Whatever the role, the body is refused before any view code runs (CSRF reads it)."""
    app_ = csrf_world[0]
    limit = app_.config["MAX_CONTENT_LENGTH"]
    assert limit and limit <= 16 * 1024 * 1024, "a request size limit must be configured"
    boundary, multipart = encode_multipart({"description": "x" * (limit + 1), "title": "t"})
    bodies = {
        "urlencoded": ("title=" + "a" * limit, "application/x-www-form-urlencoded"),
        "multipart": (multipart, f"multipart/form-data; boundary={boundary}"),
    }
    before = _table_counts()
    for path, role, client in _every_post_as_every_role(csrf_world):
        for kind, (data, content_type) in bodies.items():
            for headers in ({}, {"HX-Request": "true"}):
                response = client.post(path, data=data, content_type=content_type, headers=headers)
                where = f"{role} POST {path} ({kind}, {headers})"
                assert response.status_code == 413, f"{where}: {response.status_code}"
                assert "Request too large" in response.get_data(as_text=True), where
    db.session.rollback()
    assert _table_counts() == before


# Hostile tokens; a missing one is tests/test_security.py's.
TOKENS = st.one_of(
    st.sampled_from(HOSTILE),
    text_values(),
    long_values(),
    st.just("ImE2YjQ1NGQ5ZjE4Y2E0NGRkNTQ0NjRhNjk1ZGM1YzFhYTRhNzk0NDki.Z0Vfxw.bogus-signature"),
)


@settings(
    max_examples=6,
    deadline=None,
    database=None,
    phases=[Phase.explicit, Phase.reuse, Phase.generate],
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(token=TOKENS, in_header=st.booleans(), htmx=st.booleans())
def test_a_hostile_csrf_token_is_a_400_and_changes_nothing(csrf_world, token, in_header, htmx):
    before = _table_counts()
    for path, role, client in _every_post_as_every_role(csrf_world):
        form = {"title": "A fine task", "username": "csrf-worker", "beak_shape": factories.BEAK}
        headers = dict(HTMX) if htmx else {}
        if in_header:
            headers["X-CSRFToken"] = (
                token.replace("\r", "").replace("\n", "").encode().decode("latin-1")
            )
        else:
            form["csrf_token"] = token
        response = client.post(path, data=form, headers=headers)
        where = f"{role} POST {path} token={token!r:.40} header={in_header}"
        assert response.status_code == 400, f"{where}: {response.status_code}"
        assert "The form expired" in response.get_data(as_text=True), where
    db.session.rollback()
    assert _table_counts() == before


# --- bodies that are not forms ---------------------------------------------------------

# A security review's reproductions: each sent with a valid CSRF token in the header, as
# a script would, to the endpoint named, and then to every other POST endpoint.
JSON = "application/json"
NOT_FORMS = {  # name: (body, content type)
    "json number": (json.dumps({"username": 123, "beak_shape": "x"}), JSON),
    "json object": (json.dumps({"username": {"a": 1}}), JSON),
    "json beak": (json.dumps({"username": "a", "beak_shape": 12345678}), JSON),
    "json list": ("[1, 2]", JSON),
    "json string": ('"x"', JSON),
    "json title": (json.dumps({"title": 5}), JSON),
    "json token": (json.dumps({"form_token": [1, 2]}), JSON),
    "json day": (json.dumps({"day": 20240101}), JSON),
    "file part": ({"username": (b"kesha", "u.txt"), "title": "t"}, "multipart/form-data"),
    "text": ("username=kesha", "text/plain"),
}


def _csrf_header(client) -> dict:
    g.pop("csrf_token", None)  # requests share the test's app context: no other client's token
    response = client.get("/sign-in")
    if response.status_code == 302:  # signed in: the board has a form too
        response = client.get(response.location)
    page = response.get_data(as_text=True)
    return {"X-CSRFToken": re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page)[1]}


@pytest.mark.parametrize("name", NOT_FORMS)
def test_a_body_that_is_not_a_form_is_a_415_and_changes_nothing(csrf_world, name):
    data, content_type = NOT_FORMS[name]
    before = _table_counts()
    for path, role, client in _every_post_as_every_role(csrf_world):
        for htmx in ({}, {"HX-Request": "true"}):
            response = client.post(
                path,
                **sendable({"data": data}),
                content_type=content_type,
                headers={**_csrf_header(client), **htmx},
            )
            where = f"{role} POST {path} ({name}, {htmx})"
            assert response.status_code == 415, f"{where}: {response.status_code}"
            assert "send the fields as application/x-www-form-urlencoded" in response.text
    db.session.rollback()
    assert _table_counts() == before


def test_a_form_and_an_empty_body_still_pass(csrf_world):
    """The rule refuses only other bodies: a plain form signs in, a bare button signs out."""
    app_ = csrf_world[0]
    client = app_.test_client()
    signed_in = client.post(
        "/sign-in",
        data={"username": "csrf-worker", "beak_shape": factories.BEAK},
        headers=_csrf_header(client),
    )
    assert signed_in.status_code == 302
    assert client.post("/sign-out", headers=_csrf_header(client)).status_code == 302
