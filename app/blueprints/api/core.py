"""The API's plumbing: who is asking (a Bearer token, never the session cookie), one
decorator that declares an operation (its roles, its query, body and responses by schema)
and checks requests against it, RFC 9457 problem responses, and opaque cursors.

The declarations are the OpenAPI document's source (openapi.py): an operation exists in
the description exactly as it is checked here.
"""

import base64
import binascii
import hashlib
import json
import math
import time
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from functools import wraps
from urllib.parse import urlencode

from flask import Response, current_app, g, request, url_for
from flask_babel import gettext
from flask_login import AnonymousUserMixin
from limits import parse
from werkzeug.exceptions import HTTPException

from app import clock, errors
from app.blueprints.auth import service as auth
from app.days import FIRST_DAY, LAST_DAY
from app.db import SAFE_METHODS, write_intent
from app.errors import NotAllowed, ServiceError
from app.extensions import db, limiter
from app.i18n import N_
from app.money import format_money
from app.transaction import begin_reads, finish_writes

from . import bp
from .schema import errors_of

REALM = 'Bearer realm="aTES API"'
NO_TOKEN = N_(
    "Send an API token: Authorization: Bearer <token>. The API does not accept the session cookie."
)
BAD_TOKEN = N_(
    "This API token is not valid: it is unknown, revoked or expired, or its owner is deactivated."
)
NOT_ALLOWED = N_("Your role may not use this.")
NOT_JSON = N_("Send the body as JSON (Content-Type: application/json).")
INVALID = N_("The request does not match the schema.")
BAD_CURSOR = N_("This cursor is not one aTES gave out.")
TOO_MANY = N_("Too many requests with this API token. Wait, then try again.")
BAD_KEY = N_("Send an Idempotency-Key of 1 to 64 printable characters.")


# --- problems ---------------------------------------------------------------------------


# Titles of the statuses only the API answers with (the pages' are app.errors.TITLES).
TITLES = {401: N_("API token needed"), 422: N_("Refused"), 429: N_("Too many requests")}


def problem(status: int, detail: str, *, headers=None, **extra):
    """A problem (app.errors.problem); a 401 says which scheme to use."""
    headers = dict(headers or {})
    if status == 401:
        headers["WWW-Authenticate"] = REALM
    title = gettext(TITLES[status]) if status in TITLES else None
    return errors.problem(status, detail, title=title, headers=headers, **extra)


def _failed() -> None:
    """The request's changes are rolled back before its problem is answered."""
    db.session.rollback()
    finish_writes(succeeded=False)


@bp.errorhandler(ServiceError)
def _service_error(error: ServiceError):
    _failed()
    extra = {"field": error.field} if error.field else {}
    return problem(error.status_code, error.translated(), **extra)


@bp.errorhandler(HTTPException)
def _http_error(error: HTTPException):
    _failed()
    headers = {k: v for k, v in error.get_headers() if k.lower() != "content-type"}
    return problem(error.code or 500, gettext(error.description or ""), headers=headers)


class Invalid(ServiceError):
    """A request that does not match its schema: 422 with each field's message."""

    def __init__(self, found: list[tuple[str, str, dict]]):
        super().__init__(INVALID)
        self.found = found


@bp.errorhandler(Invalid)
def _invalid(error: Invalid):
    _failed()
    fields = [
        {
            "pointer": where or "/",
            "detail": gettext(message) % params if params else gettext(message),
        }
        for where, message, params in error.found
    ]
    return problem(422, error.translated(), errors=fields)


# --- who is asking ----------------------------------------------------------------------

PUBLIC_ENDPOINTS = {"api.openapi", "api.docs"}


@bp.before_request
def _authenticate():
    """Every operation needs a Bearer token; the session cookie is never read (so a page's
    visitor cannot be made to call the API, and no CSRF token is needed). The token owner
    becomes `current_user` for this request (their language), never via the session."""
    if request.endpoint in PUBLIC_ENDPOINTS or request.routing_exception is not None:
        return None  # the reference page shows a signed-in popug's top bar as any page does
    g._login_user = AnonymousUserMixin()
    if request.method == "OPTIONS":
        return None  # Flask answers it with the allowed methods alone
    scheme, _, secret = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not secret.strip():
        return problem(401, gettext(NO_TOKEN))
    db.session.rollback()  # nothing read yet: no lock held while a last use is recorded
    use = auth.authenticate_token(secret.strip())
    db.session.rollback()  # SQLite: hold no lock while the limiter's connection writes
    if use is None:
        return problem(401, gettext(BAD_TOKEN))
    wait = _seconds_to_wait(use.token_id)
    if wait:
        return problem(429, gettext(TOO_MANY), headers={"Retry-After": str(wait)})
    if use.stale:
        _record_use(use.token_id)
    if request.method in SAFE_METHODS:
        begin_reads()
    g._login_user = g.api_actor = auth.get_popug_by_id(use.popug_id)
    return None


def _seconds_to_wait(token_id: int) -> int:
    """Count this request against its token's limit (API_LIMIT_PER_TOKEN, in the sign-in
    limits' storage); 0 when it may go on, else the seconds until the window ends."""
    item = parse(current_app.config["API_LIMIT_PER_TOKEN"])
    if limiter.limiter.hit(item, "api-token", str(token_id)):
        return 0
    reset = limiter.limiter.get_window_stats(item, "api-token", str(token_id)).reset_time
    return max(1, math.ceil(reset - time.time()))


def _record_use(token_id: int) -> None:
    """A token's last use, in a transaction of its own before the request's (a GET
    commits nothing, and a refused POST rolls back)."""
    db.session.rollback()
    with write_intent():
        auth.record_use(token_id)
        db.session.commit()


def actor():
    return g.api_actor


# --- operations -------------------------------------------------------------------------


@dataclass
class Operation:
    method: str
    rule: str
    endpoint: str
    summary: str
    tag: str
    roles: tuple[str, ...]
    responses: dict[int, dict | None]
    query: dict[str, dict] = field(default_factory=dict)
    body: dict | None = None
    headers: dict[str, dict] = field(default_factory=dict)
    links: dict[int, dict[str, tuple[str, dict[str, str]]]] = field(default_factory=dict)
    description: str = ""


OPERATIONS: list[Operation] = []


def operation(
    method: str,
    rule: str,
    *,
    summary: str,
    tag: str,
    roles,
    responses: dict[int, dict | None],
    query: dict[str, dict] | None = None,
    body: dict | None = None,
    headers: dict[str, dict] | None = None,
    links: dict[int, dict[str, tuple[str, dict[str, str]]]] | None = None,
):
    """Declare an API operation. The view is called as view(actor, **path values, query=…
    (the checked query string), body=… (the checked JSON body)) and returns its result: a
    body, or (body, status, headers). Roles outside `roles` get 403 before anything runs.

    `links` are the OpenAPI links of a response: {status: {name: (the view name of the
    operation it leads to, {its parameter: a runtime expression such as
    "$response.body#/public_id"})}}; a client (and schemathesis's stateful tests) follows
    them from one answer to the next request."""

    def decorator(view):
        op = Operation(
            method=method,
            rule=rule,
            endpoint=f"api.{view.__name__}",
            summary=summary,
            tag=tag,
            roles=tuple(roles),
            responses=responses,
            query=query or {},
            body=body,
            headers=headers or {},
            links=links or {},
            description=(view.__doc__ or "").strip(),
        )
        OPERATIONS.append(op)

        @wraps(view)
        def wrapped(**values):
            popug = actor()
            if popug.role not in op.roles:
                raise NotAllowed(NOT_ALLOWED)
            if op.query:
                values["query"] = _checked_query(op.query)
            if op.body is not None:
                values["body"] = _checked_body(op.body)
            result = view(popug, **values)
            payload, status, extra = result if isinstance(result, tuple) else (result, None, {})
            status = status or min(op.responses)
            _check_response(op, status, payload)
            response = Response(json.dumps(payload), status, mimetype="application/json")
            response.headers.update(extra)
            return response

        bp.add_url_rule(rule, view.__name__, wrapped, methods=[method])
        return wrapped

    return decorator


def _checked_query(declared: dict[str, dict]) -> dict:
    """The declared query parameters (strings; integers converted), unknown ones refused."""
    values, found = {}, []
    for name in request.args:
        if name not in declared:
            found.append((f"?{name}", N_("Unknown field."), {}))
    for name, schema in declared.items():
        raw = request.args.get(name)
        if raw is None:
            continue
        value = raw
        if schema.get("type") == "integer":
            try:
                value = int(raw)
            except ValueError:
                found.append(
                    (f"?{name}", N_("Send a value of type %(type)s."), {"type": "integer"})
                )
                continue
        problems = errors_of(schema, value, f"?{name}")
        found += problems
        if not problems:
            values[name] = value
    if found:
        raise Invalid(found)
    return values


def _checked_body(schema: dict) -> dict:
    if request.mimetype != "application/json":
        raise Invalid([("", NOT_JSON, {})])
    try:
        data = json.loads(request.get_data(as_text=True) or "null")
    except ValueError:
        raise Invalid([("", NOT_JSON, {})]) from None
    found = errors_of(schema, data)
    if found:
        raise Invalid(found)
    return data


def _check_response(op: Operation, status: int, payload) -> None:
    """In tests, every answer is checked against the schema its operation declares."""
    if not current_app.config.get("API_CHECK_RESPONSES"):
        return
    if status not in op.responses:
        raise AssertionError(f"{op.endpoint} answered {status}, not declared")
    schema = op.responses[status]
    found = errors_of(schema, payload) if schema is not None else []
    if found:
        raise AssertionError(f"{op.endpoint} answered against its schema: {found}")


# --- shapes shared by the resources -----------------------------------------------------


def money(cents: int) -> dict:
    return {"cents": int(cents), "formatted": format_money(int(cents))}


def timestamp(at: datetime | None) -> str | None:
    """RFC 3339 in UTC."""
    if at is None:
        return None
    return at.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def iso_day(value: date | None) -> str | None:
    return value.isoformat() if value is not None else None


def query_day(query: dict, name: str = "day") -> date:
    """A query's day (checked as a date by its schema), within the days aTES accepts."""
    value = date.fromisoformat(query[name]) if name in query else clock.business_day()
    if not FIRST_DAY <= value <= LAST_DAY:
        raise ServiceError(
            N_("Choose a day between %(first)s and %(last)s."),
            field=name,
            first=FIRST_DAY,
            last=LAST_DAY,
        )
    return value


def idempotency_key(actor) -> str | None:
    """The Idempotency-Key header as the services' one-time form token, scoped to the
    actor (two popugs may choose the same key)."""
    key = request.headers.get("Idempotency-Key")
    if key is None:
        return None
    if not 1 <= len(key) <= 64 or not key.isprintable():
        raise ServiceError(BAD_KEY, field="Idempotency-Key")
    return hashlib.sha256(f"api:{actor.id}:{key}".encode()).hexdigest()


# --- cursors ----------------------------------------------------------------------------


def encode_cursor(page: int) -> str:
    return base64.urlsafe_b64encode(json.dumps({"p": page}).encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> int:
    """The page a cursor stands for (1 without one); a cursor aTES did not give is 422."""
    if not cursor:
        return 1
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        page = json.loads(base64.urlsafe_b64decode(padded.encode()))["p"]
    except (ValueError, KeyError, TypeError, binascii.Error):
        raise Invalid([("?cursor", BAD_CURSOR, {})]) from None
    if not isinstance(page, int) or not 1 <= page <= 100_000:
        raise Invalid([("?cursor", BAD_CURSOR, {})])
    return page


def listing(items: list, has_next: bool, page: int, query: dict):
    """A page of a list: its items and the `next` link (also in a Link header)."""
    next_url = None
    if has_next:
        args = {k: v for k, v in query.items() if k != "cursor"}
        args["cursor"] = encode_cursor(page + 1)
        next_url = url_for(request.endpoint, **(request.view_args or {})) + "?" + urlencode(args)
    headers = {"Link": f'<{next_url}>; rel="next"'} if next_url else {}
    return {"items": items, "next": next_url}, 200, headers
