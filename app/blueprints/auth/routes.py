from flask import (
    abort,
    current_app,
    flash,
    g,
    make_response,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext, ngettext, refresh
from flask_login import current_user, login_required, login_url, login_user, logout_user

from app import audit, clock
from app.access import ACCESS, role_required
from app.blueprints.accounting import posting
from app.errors import FORM_EXPIRED, SIGNED_OUT, ServiceError
from app.extensions import db, login_manager
from app.htmx import (
    is_background,
    is_htmx,
    local_path_or,
    redirect_after_post,
    render,
    wants_fragment,
)
from app.i18n import CHOSEN_LOCALE, LOCALES, N_, browser_locale, label
from app.live import top_bar_wanted
from app.paging import page_number
from app.transaction import finish_writes

from . import bp, guesses, service, sessions
from .forms import (
    BeakShapeForm,
    EmailForm,
    EmptyForm,
    LocaleForm,
    PopugForm,
    RoleForm,
    SignInForm,
    TokenForm,
)

SIGN_IN_FAILED = N_("Unknown username or wrong beak shape.")


SESSION_ENDED = N_("Your session has ended. Sign in again to continue.")


@login_manager.user_loader
def load_user(session_id: str):
    background = is_background()
    if not sessions.still_valid(session, activity=not background):
        session.clear()
        g.session_ended = True
        return None
    # A background request (a live check) shows no top bar: the popug alone, unless its
    # view answers from the top bar's extras (the count: app/live.py).
    return service.load_signed_in(session_id, extras=not background or top_bar_wanted())


@login_manager.unauthorized_handler
def sign_in_first():
    """Not signed in, or the session ended: to the sign-in page.

    `next` only for pages (GET), so signing in never lands on a POST-only URL (405): for a
    fragment (a poll, a search) the page it was for; htmx is told to navigate, or it would
    swap the sign-in page into a fragment.
    """
    message = SESSION_ENDED if g.get("session_ended") else login_manager.login_message
    flash(gettext(message), login_manager.login_message_category)
    page = None
    if request.method in ("GET", "HEAD"):
        page = request.headers.get("HX-Current-URL") if wants_fragment() else request.url
    target = login_url(login_manager.login_view, next_url=page)
    return redirect_after_post(target) if is_htmx() else redirect(target)


TOO_MANY_SIGN_INS = N_("Too many sign-in attempts. Wait a minute, then try again.")


@bp.route("/sign-in", methods=["GET", "POST"])
def sign_in():
    if current_user.is_authenticated:
        return redirect(url_for("tasks.index"))
    form = SignInForm()
    next_path = request.args.get("next")
    if form.validate_on_submit():
        username = service.normalise_username(form.username.data)
        limits = guesses.limits_for(username, service.public_id_of(username))
        db.session.rollback()  # SQLite: hold no lock while the counter's connection writes
        if not guesses.count(limits):
            abort(429, TOO_MANY_SIGN_INS)
        popug = service.authenticate(username, form.beak_shape.data)
        if popug is not None:
            service.note_browser_locale(popug, browser_locale())
            if session.get(CHOSEN_LOCALE) in LOCALES:  # chosen on the sign-in page
                service.set_locale(popug, session[CHOSEN_LOCALE])
            finish_writes()  # the limiter's storage writes on a connection of its own
            guesses.refund(limits)
            session.clear()  # a fresh session on sign-in (no fixation)
            login_user(popug)
            sessions.begin(session)
            response = redirect(local_path_or(next_path, url_for("tasks.index")))
            guesses.remember_browser(response, popug.public_id)
            return response
        form.form_errors.append(gettext(SIGN_IN_FAILED))
        return render_template("auth/sign_in.html", form=form), 401
    status = 401 if request.method == "POST" else 200
    # The generic refusal, unless a field says what is missing (both would contradict).
    shown = form.form_errors or form.username.errors or form.beak_shape.errors
    if request.method == "POST" and not shown:
        form.form_errors.append(gettext(SIGN_IN_FAILED))
    return render_template("auth/sign_in.html", form=form), status


@bp.post("/sign-out")
@login_required
def sign_out():
    service.end_sessions(current_user._get_current_object())
    logout_user()
    session.clear()
    session[SIGNED_OUT] = True  # a form of this session sent later is told why it fails
    flash(gettext("You are signed out."), "info")
    return redirect(url_for("auth.sign_in"))


def _popugs_page(form: PopugForm, status: int = 200):
    finish_writes()  # after an action, the list shows what it committed
    search = service.parse_popug_search(request.args.get("q"))
    popugs = service.list_popugs(
        page_number(request.args), current_app.config["POPUGS_PER_PAGE"], search=search
    )
    return (
        render(
            "auth/popugs.html",
            "auth/_popug_form.html",
            form=form,
            popugs=popugs,
            q=search,
            role_form=RoleForm(),
            action_form=EmptyForm(),
        ),
        status,
    )


@bp.get("/popugs")
@role_required(*ACCESS["popugs"])
def list_popugs():
    return _popugs_page(PopugForm())


@bp.post("/popugs")
@role_required(*ACCESS["popugs"])
def create_popug():
    form = PopugForm()
    if form.validate_on_submit():
        try:
            popug = service.create_popug(
                username=form.username.data,
                email=form.email.data,
                role=form.role.data,
                beak_shape=form.beak_shape.data,
                actor=current_user,
            )
        except ServiceError as error:
            error.show_on(form, "username")
        else:
            flash(
                gettext(
                    "Popug %(username)s created as %(role)s.",
                    username=popug.username,
                    role=label(popug.role, "role"),
                ),
                "success",
            )
            return redirect_after_post(url_for("auth.list_popugs"))
    return _popugs_page(form, 422)


def _role_changed(change) -> str:
    """ "kesha is now manager." and how many open tasks went to others."""
    popug, count = change.popug, change.tasks_handed_over
    role = label(popug.role, "role")
    if not count:
        return gettext("%(username)s is now %(role)s.", username=popug.username, role=role)
    return ngettext(
        "%(username)s is now %(role)s. %(num)s open task handed over to others, each "
        "charged its fee.",
        "%(username)s is now %(role)s. %(num)s open tasks handed over to others, each "
        "charged its fee.",
        count,
        username=popug.username,
        role=role,
    )


def _activity_changed(change) -> str:
    """ "kesha is deactivated." and how many open tasks went to others."""
    popug, count = change.popug, change.tasks_handed_over
    name = popug.username
    if popug.active:
        return gettext("%(username)s is active.", username=name)
    if not count:
        return gettext("%(username)s is deactivated.", username=name)
    return ngettext(
        "%(username)s is deactivated. %(num)s open task handed over to others, each charged "
        "its fee.",
        "%(username)s is deactivated. %(num)s open tasks handed over to others, each charged "
        "its fee.",
        count,
        username=name,
    )


def _row_action(public_id: str, change=None, done=None):
    """One popug's row after `change()` (None: the form was refused, nothing changes): with
    "done(what changed)" flashed when it took, or the service's refusal; then the row again
    for htmx, or the list."""
    try:
        changed = change() if change else None
    except ServiceError as error:
        flash(error.translated(), "error")
    else:
        if changed:
            flash(done(changed), "success")
    finish_writes()  # a refused change rolls back before the row is read again
    popug = service.get_popug(public_id)
    if wants_fragment():
        return render(
            "auth/popugs.html",
            "auth/_popug_row.html",
            popug=popug,
            role_form=RoleForm(),
            action_form=EmptyForm(),
        )
    return redirect(
        url_for(
            "auth.list_popugs",
            page=request.args.get("page", type=int),
            q=service.parse_popug_search(request.args.get("q")) or None,
        )
    )


@bp.post("/popugs/<public_id>/role")
@role_required(*ACCESS["popugs"])
def change_role(public_id: str):
    form = RoleForm()
    if not form.validate_on_submit():
        flash(gettext("Choose one of the listed roles."), "error")
        return _row_action(public_id)
    return _row_action(
        public_id,
        lambda: service.change_role(public_id, form.role.data, actor=current_user),
        _role_changed,
    )


@bp.get("/popugs/<public_id>/deactivate")
@role_required(*ACCESS["popugs"])
def confirm_deactivate(public_id: str):
    """What deactivating a popug does (their open tasks and the fees charged for them), and
    the button that does it."""
    popug = service.get_popug(public_id)
    return render_template(
        "auth/confirm_deactivate.html",
        popug=popug,
        handover=service.handover_preview(popug.id),
        form=EmptyForm(),
    )


@bp.post("/popugs/<public_id>/deactivate")
@role_required(*ACCESS["popugs"])
def deactivate_popug(public_id: str):
    return _set_active(public_id, False)


@bp.post("/popugs/<public_id>/activate")
@role_required(*ACCESS["popugs"])
def activate_popug(public_id: str):
    return _set_active(public_id, True)


def _set_active(public_id: str, active: bool):
    if not EmptyForm().validate_on_submit():
        return _row_action(public_id)
    return _row_action(
        public_id,
        lambda: service.set_active(public_id, active, actor=current_user),
        _activity_changed,
    )


def _popug_page(public_id: str, email_form: EmailForm | None = None, status: int = 200):
    finish_writes()  # a refused change rolls back before the page is read
    popug = service.get_popug(public_id)
    return (
        render_template(
            "auth/popug.html",
            popug=popug,
            facts=service.facts_about(popug.id),
            balance=posting.balance_of(popug.id),
            events=audit.page_of_events(page_number(request.args), about=popug.id),
            tokens=service.tokens_of(popug.id),
            now=clock.now(),
            revoke_form=EmptyForm(),
            email_form=email_form or EmailForm(formdata=None),
        ),
        status,
    )


@bp.get("/popugs/<public_id>")
@role_required(*ACCESS["popugs"])
def show_popug(public_id: str):
    """One popug for admins: who they are, their tasks and money, the audit trail about them,
    and the forms that change their e-mail and beak shape."""
    return _popug_page(public_id)


@bp.post("/popugs/<public_id>/email")
@role_required(*ACCESS["popugs"])
def change_email(public_id: str):
    """A popug's new e-mail, from their page; a refusal shows the page again with it."""
    form = EmailForm()
    if form.validate_on_submit():
        try:
            change = service.change_email(public_id, form.email.data, actor=current_user)
        except ServiceError as error:
            error.show_on(form, "email")
        else:
            popug = change.popug
            flash(
                gettext(
                    "%(username)s's e-mail is now %(email)s.",
                    username=popug.username,
                    email=popug.email,
                ),
                "success",
            )
            return redirect(url_for("auth.show_popug", public_id=public_id), code=303)
    return _popug_page(public_id, form, 422)


def _beak_page(public_id: str, form: BeakShapeForm, status: int = 200, new_beak=None):
    finish_writes()  # a refused change rolls back before the page is read
    response = make_response(
        render_template(
            "auth/beak_shape.html",
            popug=service.get_popug(public_id),
            form=form,
            new_beak=new_beak,
        ),
        status,
    )
    response.headers["Cache-Control"] = "no-store"  # the new beak shape is shown this once
    return response


@bp.get("/popugs/<public_id>/beak-shape")
@role_required(*ACCESS["popugs"])
def new_beak_shape(public_id: str):
    """What setting a new beak shape does (their sessions end, their tokens stay), with the
    form that does it: the confirmation, with or without JavaScript."""
    return _beak_page(public_id, BeakShapeForm(formdata=None))


@bp.post("/popugs/<public_id>/beak-shape")
@role_required(*ACCESS["popugs"])
def set_beak_shape(public_id: str):
    """Set the beak shape and show it this once, in this response only (never in the
    session, a flash or a redirect). An admin who sets their own stays signed in here."""
    form = BeakShapeForm()
    if form.validate_on_submit():
        actor = current_user._get_current_object()
        try:
            change = service.set_beak_shape(public_id, form.beak_shape.data, actor=actor)
        except ServiceError as error:
            error.show_on(form, "beak_shape")
        else:
            if change.popug.id == actor.id:  # their other sessions end, this one goes on
                session.clear()
                login_user(actor)
                sessions.begin(session)
            return _beak_page(
                public_id, BeakShapeForm(formdata=None), new_beak=form.beak_shape.data
            )
    return _beak_page(public_id, form, 422)


@bp.get("/audit")
@role_required(*ACCESS["popugs"])
def audit_trail():
    return render_template(
        "auth/audit.html", events=audit.page_of_events(page_number(request.args))
    )


@bp.post("/language")
def set_locale():
    """The top bar's language switch: keep the popug's choice (before signing in, the
    session's, which signing in makes the popug's), back to the page it was on."""
    form = LocaleForm()
    back = local_path_or(request.form.get("next"), url_for("tasks.index"))
    if not form.validate_on_submit():
        flash(gettext("Choose English or Russian."), "error")
        return redirect(back, code=303)
    if not current_user.is_authenticated:
        session[CHOSEN_LOCALE] = form.locale.data
        refresh()
        return redirect(back, code=303)
    try:
        service.set_locale(current_user._get_current_object(), form.locale.data)
    except ServiceError as error:
        flash(error.translated(), "error")
        return redirect(back, code=303)
    refresh()  # this response already speaks the new language
    return redirect(back, code=303)


# --- API tokens ------------------------------------------------------------------------


def _tokens_page(form: TokenForm, new=None, status: int = 200):
    finish_writes()  # the list shows what the action committed
    popug = current_user._get_current_object()
    return (
        render_template(
            "auth/tokens.html",
            form=form,
            new=new,
            tokens=service.tokens_of(popug.id),
            now=clock.now(),
            revoke_form=EmptyForm(),
        ),
        status,
    )


@bp.get("/account/tokens")
@role_required(*ACCESS["my_account"])
def list_tokens():
    """The popug's own API tokens, and the form that creates one."""
    return _tokens_page(TokenForm(formdata=None))


@bp.post("/account/tokens")
@role_required(*ACCESS["my_account"])
def create_token():
    """Create a token and show its secret, this once (never put in the session or a redirect)."""
    form = TokenForm()
    if not form.validate_on_submit():
        return _tokens_page(form, status=422)
    try:
        new = service.create_token(
            name=form.name.data, days=form.days.data, actor=current_user._get_current_object()
        )
    except ServiceError as error:
        error.show_on(form, "name")
        return _tokens_page(form, status=422)
    return _tokens_page(TokenForm(formdata=None), new=new, status=201)


@bp.post("/tokens/<public_id>/revoke")
@role_required(*ACCESS["my_account"])
def revoke_token(public_id: str):
    """Revoke a token (its owner, or an admin from the popug's page); back where it was."""
    if not EmptyForm().validate_on_submit():
        flash(gettext(FORM_EXPIRED), "error")
        return redirect(url_for("auth.list_tokens"), code=303)
    token = service.revoke_token(public_id, actor=current_user._get_current_object())
    flash(gettext("Token “%(name)s” revoked.", name=token.name), "success")
    if token.popug_id != current_user.id:
        owner = service.get_popug_by_id(token.popug_id)
        return redirect(url_for("auth.show_popug", public_id=owner.public_id), code=303)
    return redirect(url_for("auth.list_tokens"), code=303)
