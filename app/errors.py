"""Error pages: fragment-aware, and a 500 rolls the session back before rendering."""

from flask import current_app, g, render_template
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import OperationalError
from werkzeug.exceptions import HTTPException, InternalServerError

from app.extensions import db, login_manager
from app.htmx import wants_fragment

TITLES = {
    400: "Bad request",
    403: "Not allowed",
    404: "Not found",
    405: "Method not allowed",
    413: "Request too large",
    415: "Forms only",
    429: "Too many attempts",
    500: "Something went wrong",
    503: "Temporarily unavailable",
}


def _render(code: int, message: str):
    try:
        db.session.rollback()
        context = {"code": code, "title": TITLES.get(code, "Error"), "message": message}
        if wants_fragment():
            # htmx shows the error in the page's flash area instead of the swap target.
            headers = {"HX-Retarget": "#flashes", "HX-Reswap": "beforeend"}
            return render_template("errors/_error.html", **context), code, headers
        return render_template("errors/error.html", **context), code
    except OperationalError as error:  # the layout needs the database (signed-in popug)
        return handle_database_unavailable(error)


def handle_service_error(error: "ServiceError"):
    return _render(error.status_code, error.message)


def handle_http_error(error: HTTPException):
    return _render(error.code or 500, error.description or "")


# A form whose one-time token or CSRF token no longer holds, in a flash or next to a field.
FORM_EXPIRED = "The form expired; reload the page and try again."


def handle_csrf_error(error: CSRFError):
    return _render(
        400, "The form expired or was not sent from aTES. Reload the page and try again."
    )


def handle_database_unavailable(error: OperationalError):
    current_app.logger.error("Database error: %s", error.orig)
    try:
        db.session.rollback()
    except OperationalError:
        pass  # the connection is gone; the pool replaces it on the next checkout
    # Render without the database: no signed-in popug is loaded for this page.
    g._login_user = login_manager.anonymous_user()
    context = {
        "code": 503,
        "title": TITLES[503],
        "message": "The database is not reachable right now. Please try again in a moment.",
    }
    if wants_fragment():
        headers = {"HX-Retarget": "#flashes", "HX-Reswap": "beforeend"}
        return render_template("errors/_error.html", **context), 503, headers
    return render_template("errors/unavailable.html", **context), 503


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
    if not app.testing:
        # In tests unexpected errors propagate, so a bug fails loudly.
        app.register_error_handler(Exception, handle_unexpected)


class ServiceError(Exception):
    """A business rule refused the action; `message` is safe to show to the user.

    `field` names the form field the message belongs to, if any.
    """

    status_code = 422

    def __init__(self, message: str, *, field: str | None = None):
        super().__init__(message)
        self.message = message
        self.field = field


class NotAllowed(ServiceError):
    status_code = 403


class NotFound(ServiceError):
    status_code = 404
