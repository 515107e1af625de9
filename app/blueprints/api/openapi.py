"""/api/v1/openapi.json, built from the operations and schemas the API checks requests and
responses with, and /api/v1/docs, the same description as a page (rendered here: no
script, no CDN)."""

import re
from functools import cache

from flask import jsonify, render_template

from . import bp
from .core import OPERATIONS, Operation
from .schema import SCHEMAS, ref

TITLE = "aTES API"
VERSION = "1"
# The errors every operation may answer, besides its own.
COMMON_ERRORS = {
    400: "The address holds a NUL character, which no aTES address accepts.",
    401: "No token, or a token that is unknown, revoked, expired or whose owner is deactivated.",
    403: "The token owner's role may not use this, or the object is not theirs.",
    422: "The request does not match its schema, or a rule refused it (see `detail`).",
    429: "Too many requests for this token; wait for Retry-After seconds.",
    503: "The database is out of reach, or a read ran past ATES_READ_TIMEOUT_SECONDS; retry.",
}
STATUS_TEXT = {
    200: "OK",
    201: "Created",
    202: "Accepted: queued",
    404: "No such object.",
}


def _path(rule: str) -> str:
    return re.sub(r"<(?:[a-z]+:)?([a-z_]+)>", r"{\1}", rule)


def _parameters(op: Operation) -> list[dict]:
    parameters = [
        {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
        for name in re.findall(r"<(?:[a-z]+:)?([a-z_]+)>", op.rule)
    ]
    parameters += [
        {
            "name": name,
            "in": "query",
            "required": False,
            "schema": {k: v for k, v in schema.items() if k != "description"},
            "description": schema.get("description", ""),
        }
        for name, schema in op.query.items()
    ]
    parameters += [
        {"name": name, "in": "header", "required": False, **header}
        for name, header in op.headers.items()
    ]
    return parameters


def _responses(op: Operation) -> dict:
    responses = {}
    for status, schema in op.responses.items():
        answer: dict = {"description": STATUS_TEXT.get(status, "OK")}
        if schema is not None:
            answer["content"] = {"application/json": {"schema": schema}}
        if status in (201, 202):
            answer["headers"] = {"Location": {"schema": {"type": "string"}}}
        if status in op.links:
            answer["links"] = {
                name: {"operationId": target, "parameters": parameters}
                for name, (target, parameters) in op.links[status].items()
            }
        responses[str(status)] = answer
    errors = dict(COMMON_ERRORS)
    if "<" in op.rule:
        errors[404] = STATUS_TEXT[404]
    for status, description in sorted(errors.items()):
        responses[str(status)] = {
            "description": description,
            "content": {"application/problem+json": {"schema": ref("Problem")}},
        }
    return responses


def _operation(op: Operation) -> dict:
    doc = {
        "operationId": op.endpoint.removeprefix("api."),
        "summary": op.summary,
        "description": (op.description + "\n\n" if op.description else "")
        + "Roles: "
        + ", ".join(op.roles)
        + ".",
        "tags": [op.tag],
        "parameters": _parameters(op),
        "responses": _responses(op),
    }
    if op.body is not None:
        doc["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": op.body}},
        }
    return doc


@cache
def document() -> dict:
    paths: dict = {}
    for op in OPERATIONS:
        paths.setdefault(_path(op.rule), {})[op.method.lower()] = _operation(op)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": TITLE,
            "version": VERSION,
            "description": "Personal tokens (My account → API tokens) as `Authorization: "
            "Bearer …`. Money is integer cents with a formatted string; times are RFC 3339 "
            "UTC; lists page by the `next` link; errors are RFC 9457 problems.",
        },
        "jsonSchemaDialect": "https://json-schema.org/draft/2020-12/schema",
        "servers": [{"url": "/api/v1"}],
        "security": [{"bearer": []}],
        "paths": paths,
        "components": {
            "schemas": SCHEMAS,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
    }


@bp.get("/openapi.json")
def openapi():
    """The API's OpenAPI 3.1 description (no token needed)."""
    return jsonify(document())


@bp.get("/docs")
def docs():
    """The API reference as a page (no token needed)."""
    return render_template("api/docs.html", doc=document(), operations=OPERATIONS, path=_path)
