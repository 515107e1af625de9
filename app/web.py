"""Request-wide behaviour: security headers, refusals up front, template helpers."""

import re

from flask import Flask, abort, current_app, request, url_for
from flask_login import current_user
from markupsafe import Markup

from app.access import can
from app.db import SAFE_METHODS
from app.htmx import add_vary
from app.i18n import N_
from app.money import format_money, money_class

CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "connect-src 'self'",
        "form-action 'self'",
        "base-uri 'none'",
        "object-src 'none'",
        "frame-ancestors 'none'",
    ]
)


def refuse_nul_in_url() -> None:
    """No path or query value of aTES may contain NUL, and PostgreSQL text cannot hold one:
    a 400 up front instead of a failing query. (Form fields are the forms' business: they
    answer with a message next to the field.)"""
    values = [str(value) for value in (request.view_args or {}).values()]
    values += [item for pair in request.args.items(multi=True) for item in pair]
    if any("\x00" in value for value in values):
        abort(400, N_("The address contains a NUL character, which no aTES page accepts."))


FORM_BODY = "application/x-www-form-urlencoded"


def refuse_non_form_bodies() -> None:
    """One rule for every endpoint: a request that changes something sends its fields as
    a plain form (what browsers and htmx send for every aTES form), or nothing at all (a bare
    button). Any other body — JSON, multipart with its file parts, text — is refused with 415
    before a form reads it, so every field a view or service sees is a string. (The JSON API
    is the exception: it takes JSON only.)"""
    if request.method in SAFE_METHODS or request.mimetype in ("", FORM_BODY):
        return
    if request.blueprint == "api":
        return  # the JSON API checks its own bodies against its schemas
    if request.routing_exception is not None:
        return  # no such page or method: its 404 or 405 says more
    if (request.content_length or 0) > current_app.config["MAX_CONTENT_LENGTH"]:
        abort(413)  # too large is the first thing wrong with it
    abort(415, N_("aTES takes forms only: send the fields as application/x-www-form-urlencoded."))


def security_headers(response):
    headers = response.headers
    headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("Referrer-Policy", "same-origin")
    headers.setdefault("X-Frame-Options", "DENY")
    if request.endpoint != "static":
        headers.setdefault("Cache-Control", "no-store")
    hsts = current_app.config["HSTS_SECONDS"]
    if hsts:
        headers.setdefault("Strict-Transport-Security", f"max-age={hsts}")
    return response


def money_html(cents: int, signed: bool = False) -> Markup:
    """<span class="money …">−$12.00</span>; the text is ours, never user input."""
    # Both parts come from our own formatters, so no escaping pass is needed.
    return Markup(  # noqa: S704 - both parts are ours, never user input
        f'<span class="money {money_class(cents)}">{format_money(cents, signed=signed)}</span>'
    )


def my_balance() -> int:
    """The top bar's balance. A GET changes no money, so the balance loaded with the
    signed-in popug (same transaction, on PostgreSQL the same snapshot) is the one to show;
    after a POST it is read again, since the request may have moved it."""
    loaded = getattr(current_user, "loaded_balance", None)
    if loaded is not None and request.method in SAFE_METHODS:
        return loaded
    from app.blueprints.accounting import posting

    return posting.balance_of(current_user.id)


# Characters a URL carries as they are (RFC 3986's unreserved ones): an id made of them
# needs no quoting, so its URL is the same string around it.
_PLAIN = re.compile(r"[A-Za-z0-9._~-]+\Z")
_MARKER = "918273645546372819"  # valid for a string and an integer converter alike


class IdUrls:
    """`url_for` once per page for links that differ only by an id (a row's task page):
    `{% set task_url = id_urls('tasks.show_task', 'public_id') %}` … `{{ task_url(id) }}`
    gives what `url_for('tasks.show_task', public_id=id)` would, by putting the id
    between the two parts of a URL built once (werkzeug's build is most of a row's link
    cost). An id that would need quoting is built by `url_for` itself."""

    __slots__ = ("endpoint", "name", "values", "before", "after")

    def __init__(self, endpoint: str, name: str, **values):
        self.endpoint, self.name, self.values = endpoint, name, values
        self.before, marker, self.after = url_for(endpoint, **values, **{name: _MARKER}).partition(
            _MARKER
        )
        if not marker:
            raise ValueError(f"{endpoint} puts no {name} in its URL")

    def __call__(self, value) -> str:
        text = str(value)
        if _PLAIN.match(text):
            return self.before + text + self.after
        return url_for(self.endpoint, **self.values, **{self.name: value})


def init_web(app: Flask) -> None:
    app.before_request(refuse_nul_in_url)
    app.before_request(refuse_non_form_bodies)
    app.after_request(security_headers)
    app.after_request(add_vary)
    app.jinja_env.globals.update(can=can, my_balance=my_balance, id_urls=IdUrls)
    # money, day, local_time and number: app/i18n.py (they follow the language).
    app.jinja_env.filters["money_html"] = money_html
