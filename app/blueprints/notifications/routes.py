from flask import flash, make_response, redirect, render_template, request, url_for
from flask_babel import gettext
from flask_login import current_user

from app.access import ACCESS, role_required
from app.db import MAX_ID, SAFE_METHODS
from app.errors import ServiceError, found
from app.htmx import redirect_after_post, render, wants_fragment
from app.i18n import label, locale_code
from app.live import reads_top_bar
from app.paging import page_number

from . import bp, queries, service
from .forms import EmailChoiceForm

PER_PAGE = 30
# The largest id a notification can have (BIGINT): a larger number in a URL or form names none.


@bp.app_context_processor
def _top_bar():
    """The top bar's unread count (every page), and where it stops counting ("99+")."""
    return {"unread_notifications": _unread, "UNREAD_SHOWN": queries.UNREAD_SHOWN}


def _unread() -> int:
    """A GET shows the count loaded with the signed-in popug (same statement, same
    snapshot); after a POST it is read again, since the request may have changed it."""
    loaded = getattr(current_user, "loaded_extras", {}).get("unread_notifications")
    if loaded is not None and request.method in SAFE_METHODS:
        return loaded
    return queries.unread_count(current_user.id)


def _page_context(page: int) -> dict:
    notifications = queries.page_of(current_user.id, page, PER_PAGE)
    return {"notifications": notifications, **queries.words_for(notifications)}


@bp.get("/notifications")
@role_required(*ACCESS["notifications"])
def index():
    """The popug's own notifications, newest first; reading the page marks nothing read.
    Above them, the popug's choice of e-mails."""
    return _index()


def _index(form: EmailChoiceForm | None = None, status: int = 200):
    """The page; htmx gets the list, or the form when it is the form being answered."""
    choice = service.email_choice(current_user.id)
    if form is None:
        form = EmailChoiceForm(choice=choice)
    page = render(
        "notifications/index.html",
        "notifications/_list.html"
        if request.method == "GET"
        else "notifications/_email_choice.html",
        email_form=form,
        email_choice=choice,
        **_page_context(page_number(request.args)),
    )
    return page, status


@bp.post("/notifications/email")
@role_required(*ACCESS["notifications"])
def set_email_choice():
    """The popug's own choice of notification e-mails: right away, once a day or never."""
    form = EmailChoiceForm()
    if form.validate_on_submit():
        try:
            choice = service.set_email_choice(form.choice.data, actor=current_user)
        except ServiceError as error:
            error.show_on(form, "choice")
        else:
            flash(gettext("E-mails: %(choice)s.", choice=label(choice, "email")), "success")
            return redirect_after_post(url_for("notifications.index") + "#email")
    return _index(form, 422)


def _back():
    """Without htmx, back to the page of notifications the button was on."""
    return redirect(url_for("notifications.index", page=page_number(request.args)), code=303)


@bp.post(f"/notifications/<int(max={MAX_ID}):notification_id>/read")
@role_required(*ACCESS["notifications"])
def mark_read(notification_id: int):
    service.mark_read(notification_id, actor=current_user)
    if not wants_fragment():
        return _back()
    notification = found(queries.one_of(current_user.id, notification_id), service.NO_NOTIFICATION)
    return render(
        "notifications/index.html",
        "notifications/_item_read.html",
        notification=notification,
        **queries.words_for([notification]),
    )


@bp.post("/notifications/read")
@role_required(*ACCESS["notifications"])
def mark_all_read():
    up_to = request.form.get("up_to", type=int)
    if up_to is not None:
        up_to = min(max(up_to, 0), MAX_ID)
    service.mark_all_read(actor=current_user, up_to=up_to)
    if not wants_fragment():
        return _back()
    return render(
        "notifications/index.html",
        "notifications/_list_read.html",
        **_page_context(page_number(request.args)),
    )


@bp.get("/notifications/count")
@reads_top_bar
@role_required(*ACCESS["notifications"])
def count():
    """The top bar's count, polled by every page. Its ETag is the version of the count
    (the newest notification and the unread count) and the language: unchanged, the answer
    is a bodiless 304."""
    loaded = getattr(current_user, "loaded_extras", {})
    if "latest_notification" in loaded:  # read with the signed-in popug, this request
        state = queries.CountState(loaded["latest_notification"], loaded["unread_notifications"])
    else:
        state = queries.count_state(current_user.id)
    etag = f"{state.version}.{locale_code()}"
    if request.if_none_match.contains(etag):
        response = make_response("", 304)
    else:
        response = make_response(render_template("notifications/_count.html", unread=state.unread))
    response.set_etag(etag)
    # Kept by the browser and asked again each time (If-None-Match), never shared.
    response.headers["Cache-Control"] = "private, no-cache"
    return response
