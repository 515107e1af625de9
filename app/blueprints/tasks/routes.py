from urllib.parse import parse_qs, urlsplit

from flask import current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext, ngettext
from flask_login import current_user
from werkzeug.datastructures import MultiDict

from app.access import ACCESS, ASSIGNABLE_ROLES, can, role_required
from app.errors import FORM_EXPIRED, NotAllowed, NotFound, ServiceError, found
from app.htmx import redirect_after_post, render, wants_fragment
from app.i18n import N_
from app.live import answer_check
from app.money import format_money
from app.paging import page_number
from app.transaction import finish_writes

from . import bp, queries, service, shuffles, versions
from .forms import CompleteForm, ShuffleForm, TaskEditForm, TaskForm
from .models import ShuffleStatus

NO_TASK = N_("No such task.")


def _board_context(args) -> dict:
    filter_ = args.get("filter", "all")
    if filter_ not in queries.FILTERS:
        filter_ = "all"
    page = page_number(args)
    search = queries.parse_search(args.get("q"))
    order = queries.parse_order(args.get("sort"))
    per_page = current_app.config["TASKS_PER_PAGE"]
    tasks = queries.board(filter_, current_user, page, per_page, search, order)
    return {
        "tasks": tasks,
        "filter_": filter_,
        "filters": queries.FILTERS,
        "order": order,
        "sorts": queries.SORTS,
        "search": search,
        "search_max": queries.SEARCH_MAX,
        "takes_tasks": current_user.role in ASSIGNABLE_ROLES,
        "complete_form": CompleteForm(),
        # Its form token is for the shuffle button, which only managers and admins see.
        "shuffle_form": ShuffleForm() if can("shuffle") else None,
    }


def _board(form: TaskForm, status: int = 200, fragment: str = "tasks/_board.html"):
    finish_writes()  # after an action, the board is read as a GET reads it
    # The page's version is read before what it shows: a change in between shows as one.
    live_version = None if wants_fragment() else versions.board()
    context = _board_context(request.args)
    context["results_only"] = fragment == "tasks/_board_results.html"
    if not wants_fragment():  # the page's notice of a shuffle under way; fragments have none
        context["waiting_shuffle"] = queries.waiting_shuffle()
        context["live_version"] = live_version
    return render("tasks/index.html", fragment, form=form, **context), status


def _current_url_args():
    """The query string of the page htmx is on (HX-Current-URL), to re-render its board."""
    return MultiDict(parse_qs(urlsplit(request.headers.get("HX-Current-URL", "")).query))


@bp.get("/")
@role_required(*ACCESS["tasks"])
def index():
    # The search field swaps only the results (it keeps its focus); everything else the board.
    results_only = request.headers.get("HX-Target") == "board-results"
    fragment = "tasks/_board_results.html" if results_only else "tasks/_board.html"
    return _board(TaskForm(formdata=None), fragment=fragment)


@bp.post("/tasks")
@role_required(*ACCESS["tasks"])
def create_task():
    form = TaskForm()
    if not form.validate_on_submit():
        return _board(form, 422, "tasks/_task_form.html")
    try:
        created = service.create_task(
            title=form.title.data,
            jira_id=form.jira_id.data,
            description=form.description.data,
            actor=current_user,
            form_token=form.form_token.data,
        )
    except service.AlreadySubmitted:
        flash(gettext("That form was already submitted; the task exists once."), "info")
    except ServiceError as error:
        error.show_on(form)
        return _board(form, 422, "tasks/_task_form.html")
    else:
        assignee = queries.assignee_names_by_id([created.assignee_id])[created.assignee_id]
        flash(gettext("Task created and assigned to %(assignee)s.", assignee=assignee), "success")
    if wants_fragment():
        return _created()
    return redirect_after_post(url_for("tasks.index"))


def _created():
    """htmx: a fresh form, and the board the popug is looking at, refreshed out of band."""
    finish_writes()
    return render(
        "tasks/index.html",
        "tasks/_created.html",
        form=TaskForm(formdata=None),
        **_board_context(_current_url_args()),
    )


def _my_tasks_context(args) -> dict:
    return {
        "open_tasks": queries.open_tasks_of(
            current_user.id, page_number(args), current_app.config["TASKS_PER_PAGE"]
        ),
        "done_tasks": queries.recently_done_of(current_user.id),
        "complete_form": CompleteForm(),
    }


@bp.get("/my-tasks")
@role_required(*ACCESS["my_tasks"])
def my_tasks():
    page = not wants_fragment()
    live_version = versions.my_tasks(current_user.id) if page else None
    return render(
        "tasks/my_tasks.html",
        "tasks/_my_tasks.html",
        **_my_tasks_context(request.args),
        live_version=live_version,
        waiting_shuffle=queries.waiting_shuffle() if page else None,
    )


@bp.get("/board/version")
@role_required(*ACCESS["tasks"])
def board_version():
    """The Tasks board's live check (app/live.py): 304 while nothing on it changed."""
    return answer_check(versions.board())


@bp.get("/my-tasks/version")
@role_required(*ACCESS["my_tasks"])
def my_tasks_version():
    """My tasks' live check: 304 while the popug's tasks and money are as they were."""
    return answer_check(versions.my_tasks(current_user.id))


@bp.get("/tasks/<public_id>/version")
@role_required(*ACCESS["tasks"])
def task_version(public_id: str):
    """A task's page's live check: 304 while the task and its History are as they were."""
    return answer_check(found(versions.task(public_id), NO_TASK))


@bp.post("/tasks/<public_id>/done")
@role_required(*ACCESS["my_tasks"])
def complete_task(public_id: str):
    if not CompleteForm().validate_on_submit():
        flash(gettext(FORM_EXPIRED), "error")
        return redirect(url_for("tasks.my_tasks"))
    try:
        task = service.complete_task(public_id, actor=current_user)
    except (NotAllowed, NotFound):
        raise  # 403 / 404 pages (htmx shows them in the flash area)
    except ServiceError as error:
        flash(error.translated(), "error")
    else:
        flash(
            gettext(
                "Done! “%(title)s” paid you %(reward)s.",
                title=task.title,
                reward=format_money(task.reward),
            ),
            "success",
        )
    if wants_fragment():
        return _after_done(public_id)
    return redirect(_back(public_id), code=303)


def _after_done(public_id: str):
    """htmx: the list the button was in, as a reload would show it — My tasks (the task
    moves to Recently done, the counts change) or the board (it leaves the Open filter) —
    else the task's row alone."""
    finish_writes()
    page = urlsplit(request.headers.get("HX-Current-URL", "")).path
    if page == url_for("tasks.my_tasks"):
        context, fragment, target = (
            _my_tasks_context(_current_url_args()),
            "tasks/_my_tasks.html",
            "#my-tasks",
        )
    elif page == url_for("tasks.index"):
        context, fragment, target = (
            _board_context(_current_url_args()),
            "tasks/_board_results.html",
            "#board-results",
        )
    else:
        return _row(public_id)
    body = render("tasks/my_tasks.html", fragment, **context)
    return body, {"HX-Retarget": target, "HX-Reswap": "innerHTML"}


def _row(public_id: str):
    """htmx: the task's row in its current state (and, as after every action, the top
    bar's balance out of band)."""
    finish_writes()
    task = queries.row_of(public_id)
    return render(
        "tasks/my_tasks.html", "tasks/_task_row.html", task=task, complete_form=CompleteForm()
    )


def _back(public_id: str) -> str:
    """Where Mark done returns without htmx: the page the button was on."""
    origin = request.args.get("from")
    if origin == "task":
        return url_for("tasks.show_task", public_id=public_id)
    return url_for("tasks.index") if origin == "board" else url_for("tasks.my_tasks")


@bp.get("/tasks/<public_id>")
@role_required(*ACCESS["tasks"])
def show_task(public_id: str):
    """A task's page: what it is, who has it, and its History (any signed-in popug)."""
    live_version = versions.task(public_id)
    task = found(queries.task_view(public_id), NO_TASK)
    return render_template(
        "tasks/task.html",
        task=task,
        live_version=live_version,
        history=queries.history_with_edits(task.id, page_number(request.args)),
        complete_form=CompleteForm(),
    )


@bp.get("/tasks/<public_id>/edit")
@role_required(*ACCESS["tasks"])
def edit_task(public_id: str):
    """The form to edit a task's title, Jira ID and description (its creator only)."""
    task = service.task_to_edit(public_id, actor=current_user)
    form = TaskEditForm(
        formdata=None, title=task.title, jira_id=task.jira_id, description=task.description
    )
    return render_template("tasks/edit.html", task=task, form=form)


@bp.post("/tasks/<public_id>/edit")
@role_required(*ACCESS["tasks"])
def update_task(public_id: str):
    form = TaskEditForm()
    if not form.validate_on_submit():
        task = service.task_to_edit(public_id, actor=current_user)
        form.form_errors.append(gettext(FORM_EXPIRED))
        return render_template("tasks/edit.html", task=task, form=form), 400
    try:
        edited = service.edit_task(
            public_id,
            title=form.title.data,
            jira_id=form.jira_id.data,
            description=form.description.data,
            actor=current_user,
        )
    except (NotAllowed, NotFound):
        raise
    except ServiceError as error:
        error.show_on(form)
        finish_writes()
        task = service.task_to_edit(public_id, actor=current_user)
        return render_template("tasks/edit.html", task=task, form=form), 422
    if edited.fields:
        flash(gettext("Task saved; its History shows what changed."), "success")
    else:
        flash(gettext("Nothing changed."), "info")
    return redirect_after_post(url_for("tasks.show_task", public_id=public_id))


@bp.get("/tasks/shuffle")
@role_required(*ACCESS["shuffle"])
def confirm_shuffle():
    """What a shuffle would do now, and the button that does it (the no-JavaScript path of
    the board's confirmation)."""
    return render(
        "tasks/confirm_shuffle.html",
        "tasks/confirm_shuffle.html",
        preview=shuffles.preview_shuffle(),
        nobody_eligible=gettext(shuffles.NOBODY_ELIGIBLE),
        form=ShuffleForm(),
    )


@bp.post("/tasks/shuffle")
@role_required(*ACCESS["shuffle"])
def shuffle():
    """Record the press and answer at once with the shuffle's page; the job worker runs it."""
    form = ShuffleForm()
    if not form.validate_on_submit():
        flash(gettext(FORM_EXPIRED), "error")
        return redirect(url_for("tasks.index"))
    try:
        press = shuffles.request_shuffle(actor=current_user, form_token=form.form_token.data)
    except shuffles.AlreadyShuffled as duplicate:
        shuffle = duplicate.shuffle
    except ServiceError as error:
        flash(error.translated(), "error")
        return redirect_after_post(url_for("tasks.index"))
    else:
        shuffle = press.shuffle
        if press.joined:
            flash(gettext("A shuffle was already waiting to start; your press joined it."), "info")
    return redirect_after_post(url_for("tasks.show_shuffle", public_id=shuffle.public_id))


@bp.get("/shuffles")
@role_required(*ACCESS["shuffle"])
def list_shuffles():
    """Every shuffle pressed, newest first, each linking to its page."""
    shuffles = queries.shuffles(page_number(request.args))
    return render_template(
        "tasks/shuffles.html",
        shuffles=shuffles,
        failures={row.public_id: _failure(row) for row in shuffles.items},
    )


@bp.get("/shuffles/<public_id>")
@role_required(*ACCESS["shuffle"])
def show_shuffle(public_id: str):
    """A shuffle's state; while it waits or runs, htmx re-fetches the state every second."""
    shuffle = shuffles.get_shuffle(public_id)
    return render(
        "tasks/shuffle.html",
        "tasks/_shuffle_state.html",
        shuffle=shuffle,
        progress=queries.shuffle_progress(shuffle),
        actor_name=queries.assignee_names_by_id([shuffle.actor_id]).get(shuffle.actor_id, "?"),
        poll_seconds=max(1, round(current_app.config["JOBS_POLL_SECONDS"] * 2)),
        failure=_failure(shuffle),
    )


def _failure(shuffle) -> str | None:
    """Why a failed shuffle failed, in the popug's language (stored as a code; a shuffle
    failed before codes were stored kept its English reason)."""
    if shuffle.status != ShuffleStatus.FAILED or not shuffle.error:
        return None
    if shuffle.error not in shuffles.FAILURE_REASONS:
        return gettext(shuffle.error)
    singular, plural = shuffles.FAILURE_REASONS[shuffle.error]
    return gettext(singular) if plural is None else ngettext(singular, plural, shuffle.attempts)
