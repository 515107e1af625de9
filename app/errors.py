"""Error pages: fragment-aware, and a 500 rolls the session back before rendering; under
/api/ they are RFC 9457 problems in JSON."""

import json
from datetime import date

from flask import Response, current_app, g, render_template, request, session
from flask_babel import gettext, ngettext
from flask_login import current_user
from flask_wtf.csrf import CSRFError
from limits.errors import StorageError
from sqlalchemy.exc import OperationalError
from werkzeug.exceptions import HTTPException, InternalServerError

from app.db import is_read_timeout
from app.extensions import db, login_manager
from app.htmx import wants_fragment
from app.i18n import N_, format_day, format_number
from app.transaction import finish_writes, refuse

TITLES = {
    400: N_("Bad request"),
    401: N_("Signed out"),
    403: N_("Not allowed"),
    404: N_("Not found"),
    405: N_("Method not allowed"),
    413: N_("Request too large"),
    415: N_("Forms only"),
    429: N_("Too many attempts"),
    500: N_("Something went wrong"),
    503: N_("Temporarily unavailable"),
}
OTHER_ERROR = N_("Error")
# Werkzeug's own descriptions of the errors aTES answers with, word for word, so the error
# pages can show them in the popug's language (tests/test_i18n.py checks they still match).
WERKZEUG_DESCRIPTIONS = (
    N_("The browser (or proxy) sent a request that this server could not understand."),
    N_(
        "You don't have the permission to access the requested resource. It is either "
        "read-protected or not readable by the server."
    ),
    N_(
        "The requested URL was not found on the server. If you entered the URL manually "
        "please check your spelling and try again."
    ),
    N_("The method is not allowed for the requested URL."),
    N_("The data value transmitted exceeds the capacity limit."),
    N_("The server does not support the media type transmitted in the request."),
    N_("This user has exceeded an allotted request count. Try again later."),
    N_(
        "The server encountered an internal error and was unable to complete your request. "
        "Either the server is overloaded or there is an error in the application."
    ),
    N_(
        "The server is temporarily unable to service your request due to maintenance "
        "downtime or capacity problems. Please try again later."
    ),
)


def _render(code: int, message: str, sign_in: bool = False):
    """`message` is English, a catalogue message or already translated (ServiceError's);
    `sign_in`: the page offers to sign in (in a new tab, keeping this one as it is)."""
    try:
        db.session.rollback()
        finish_writes(succeeded=False)
        if request.path.startswith(API_PATH):  # the JSON API answers problems, never pages
            return problem(code, gettext(message) if message else message)
        context = {
            "code": code,
            "title": gettext(TITLES.get(code, OTHER_ERROR)),
            "message": gettext(message) if message else message,
            "sign_in": sign_in,
        }
        if wants_fragment():
            # htmx shows the error in the page's flash area instead of the swap target.
            headers = {"HX-Retarget": "#flashes", "HX-Reswap": "beforeend"}
            return render_template("errors/_error.html", **context), code, headers
        return render_template("errors/error.html", **context), code
    except OperationalError as error:  # the layout needs the database (signed-in popug)
        return handle_database_unavailable(error)


def handle_service_error(error: "ServiceError"):
    return _render(error.status_code, error.translated())


def handle_http_error(error: HTTPException):
    if request.path.startswith(API_PATH):  # no such API address or method: still JSON
        db.session.rollback()
        headers = {k: v for k, v in error.get_headers() if k.lower() != "content-type"}
        return problem(error.code or 500, gettext(error.description or ""), headers=headers)
    return _render(error.code or 500, error.description or "")


API_PATH = "/api/"
PROBLEM = "application/problem+json"


def problem(status: int, detail: str, *, title: str | None = None, headers=None, **extra):
    """An RFC 9457 problem (the JSON API's errors): `detail` is the message a page would
    show, already in the reader's language."""
    body = {
        "type": "about:blank",
        "title": title or gettext(TITLES.get(status, OTHER_ERROR)),
        "status": status,
        "detail": detail,
        **extra,
    }
    response = Response(json.dumps(body), status, mimetype=PROBLEM)
    response.headers.update(headers or {})
    return response


# A form whose one-time token or CSRF token no longer holds, in a flash or next to a field.
FORM_EXPIRED = N_("The form expired; reload the page and try again.")


# Left in the session by signing out: a form of that session sent afterwards (from another
# tab) is refused for its CSRF token, and the popug is told why in those words.
SIGNED_OUT = "signed_out"
SESSION_ENDED = N_(
    "You were signed out, so this was not saved. Sign in again in another tab, then send "
    "it again from here: what you typed is kept."
)


def handle_csrf_error(error: CSRFError):
    """A form refused for its CSRF token; when its session was signed out (in another
    tab), the popug is told so in those words."""
    if not current_user.is_authenticated and session.get(SIGNED_OUT):
        return _render(401, SESSION_ENDED, sign_in=True)
    return _render(
        400, N_("The form expired or was not sent from aTES. Reload the page and try again.")
    )


UNREACHABLE = N_("The database is not reachable right now. Please try again in a moment.")
TOO_SLOW_API = N_("This request took too long to answer. Narrow it, or try again in a moment.")
TOO_SLOW = N_(
    "This page took too long to prepare. Narrow the search or the dates, or try again in a moment."
)


def handle_database_unavailable(error: OperationalError):
    """503: the database is not reachable, or a read ran out of its time."""
    too_slow = is_read_timeout(error)
    if too_slow:
        current_app.logger.warning("Read timed out: %s %s", request.method, request.full_path)
    else:
        current_app.logger.error("Database error: %s", error.orig)
    try:
        db.session.rollback()
    except OperationalError:
        pass  # the connection is gone; the pool replaces it on the next checkout
    # Render without the database: no signed-in popug is loaded for this page.
    g._login_user = login_manager.anonymous_user()
    if request.path.startswith(API_PATH):
        detail = gettext(TOO_SLOW_API) if too_slow else gettext(UNREACHABLE)
        return problem(503, detail, headers={"Retry-After": "1"})
    context = {
        "title": gettext(TITLES[503]),
        "message": gettext(TOO_SLOW) if too_slow else gettext(UNREACHABLE),
    }
    if wants_fragment():
        headers = {"HX-Retarget": "#flashes", "HX-Reswap": "beforeend"}
        return render_template("errors/_error.html", **context), 503, headers
    return render_template("errors/unavailable.html", **context), 503


# The limiter's counters are out of reach: sign-in waits rather than go on without its limits.
COUNTERS_UNAVAILABLE = N_(
    "Signing in is paused: the attempt counters are not reachable right now. Please try "
    "again in a moment."
)


def handle_counters_unavailable(error: StorageError):
    if isinstance(error.storage_error, OperationalError):  # database://: the database is out
        return handle_database_unavailable(error.storage_error)
    current_app.logger.error("Rate-limit storage error: %r", error.storage_error)
    return _render(503, COUNTERS_UNAVAILABLE)


def handle_unexpected(error: Exception):
    if isinstance(error, HTTPException):
        return handle_http_error(error)
    current_app.logger.exception("Unhandled error")
    return _render(500, InternalServerError.description)


def register_error_handlers(app) -> None:
    app.register_error_handler(ServiceError, handle_service_error)
    app.register_error_handler(CSRFError, handle_csrf_error)
    app.register_error_handler(HTTPException, handle_http_error)
    app.register_error_handler(OperationalError, handle_database_unavailable)
    app.register_error_handler(StorageError, handle_counters_unavailable)
    if not app.testing:
        # In tests unexpected errors propagate, so a bug fails loudly.
        app.register_error_handler(Exception, handle_unexpected)


class ServiceError(Exception):
    """A business rule refused the action; `message` is safe to show to the user.

    `field` names the form field the message belongs to, if any. Services raise it with an
    English catalogue message (marked with `N_`) and its named parameters apart:
    `ServiceError(N_("Keep the title to %(max)s characters."), max=200)`; `message` is the
    English text, `translated()` the text in the request's language.
    """

    status_code = 422

    def __init__(
        self, message: str, plural: str | None = None, *, field: str | None = None, **params
    ):
        # `plural`: the message has plural forms, chosen by the parameter `num`.
        self.template, self.plural = message, plural
        self.params = params
        english = {k: v.isoformat() if isinstance(v, date) else v for k, v in params.items()}
        if plural is not None and params["num"] != 1:
            message = plural
        self.message = message % english if params else message
        super().__init__(self.message)
        self.field = field
        refuse()  # a refused action commits nothing, even when its view shows the message

    def translated(self) -> str:
        """The message in the request's language, its days and counts written as there."""
        shown = {
            key: format_day(value)
            if isinstance(value, date)
            else format_number(value)
            if isinstance(value, int)
            else value
            for key, value in self.params.items()
        }
        if self.plural is not None:
            shown.pop("num")
            return ngettext(self.template, self.plural, self.params["num"], **shown)
        return gettext(self.template, **shown)

    def show_on(self, form, default_field: str | None = None) -> None:
        """Put the message next to its field on `form` (`default_field` when the service
        named none), or at the top of the form when there is no field."""
        field = self.field or default_field
        errors = getattr(form, field).errors if field else form.form_errors
        errors.append(self.translated())


class InvalidFields(ServiceError):
    """Several fields refused at once: a form shows each message next to its field."""

    def __init__(self, errors: list[ServiceError]):
        first = errors[0]
        super().__init__(first.template, first.plural, field=first.field, **first.params)
        self.errors = errors
        self.message = " ".join(error.message for error in errors)

    def translated(self) -> str:
        return " ".join(error.translated() for error in self.errors)

    def show_on(self, form, default_field: str | None = None) -> None:
        for error in self.errors:
            error.show_on(form, default_field)


def validated(*checks):
    """Each (validate, value) pair's result; every refusal at once (InvalidFields), so a
    form shows all that is wrong with it, not one field per submit."""
    results, errors = [], []
    for validate, value in checks:
        try:
            results.append(validate(value))
        except ServiceError as error:
            errors.append(error)
    if errors:
        raise errors[0] if len(errors) == 1 else InvalidFields(errors)
    return results


class NotAllowed(ServiceError):
    status_code = 403


class NotFound(ServiceError):
    status_code = 404


def found(value, message: str):
    """`value`, unless it is None (what was asked for does not exist): NotFound(message)."""
    if value is None:
        raise NotFound(message)
    return value
