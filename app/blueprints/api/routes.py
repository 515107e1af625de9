"""The API's task operations: the board, a task, creating and completing tasks, shuffles.
Each checks its input against its schema, makes one service call (or one read), and answers
in its response schema; every rule stays in the services."""

from flask import current_app, url_for

from app.access import ACCESS
from app.blueprints.tasks import queries as task_queries
from app.blueprints.tasks import service as tasks
from app.blueprints.tasks import shuffles
from app.errors import ServiceError, found
from app.i18n import N_

from . import schemas as s
from .core import decode_cursor, idempotency_key, listing, money, operation, timestamp

KEY_REUSED = N_("This Idempotency-Key was used for a different request.")
IDEMPOTENCY_KEY = {
    "schema": s.string(64, min_length=1),
    "description": "The same key (per popug) returns the first result instead of acting twice.",
}


def _task(row) -> dict:
    return {
        "public_id": row.public_id,
        "jira_id": row.jira_id,
        "title": row.title,
        "status": row.status,
        "assignee": row.assignee_name,
        "fee": money(row.fee),
        "reward": money(row.reward),
        "created_at": timestamp(row.created_at),
        "completed_at": timestamp(row.completed_at),
    }


def _task_location(public_id: str) -> dict:
    return {"Location": url_for("api.get_task", public_id=public_id)}


# --- tasks --------------------------------------------------------------------------------


@operation(
    "GET",
    "/tasks",
    summary="The board: tasks, newest first",
    tag="tasks",
    roles=ACCESS["tasks"],
    query={"filter": s.FILTER, "q": s.SEARCH, "cursor": s.CURSOR},
    responses={200: s.TaskPage},
    links={200: {"FirstTask": ("get_task", {"public_id": "$response.body#/items/0/public_id"})}},
)
def list_tasks(actor, query):
    """The board's filters (`all`, `open`, `done`, `mine`) and search, paged by cursor."""
    page = decode_cursor(query.get("cursor"))
    search = task_queries.parse_search(query.get("q"))
    per_page = current_app.config["TASKS_PER_PAGE"]
    rows = task_queries.board(query.get("filter", "all"), actor, page, per_page, search)
    return listing([_task(row) for row in rows.items], rows.has_next, page, query)


@operation(
    "GET",
    "/tasks/<public_id>",
    summary="One task with its History",
    tag="tasks",
    roles=ACCESS["tasks"],
    responses={200: s.TaskDetail},
)
def get_task(actor, public_id):
    task = found(task_queries.task_view(public_id), N_("No such task."))
    history = task_queries.history_of(task.id, 1)
    return {
        **_task(task),
        "description": task.description,
        "creator": task.creator_name,
        "history": [
            {
                "at": timestamp(line.at),
                "what": line.what,
                "popug": line.popug,
                "previous": line.previous,
                "amount": money(line.amount),
                "shuffle": line.shuffle_public_id,
            }
            for line in history.items
        ],
    }


@operation(
    "POST",
    "/tasks",
    summary="Create a task (its assignee is charged the fee)",
    tag="tasks",
    roles=ACCESS["tasks"],
    body=s.NewTask,
    headers={"Idempotency-Key": IDEMPOTENCY_KEY},
    responses={201: s.Task},
    links={
        201: {
            "GetTask": ("get_task", {"public_id": "$response.body#/public_id"}),
            "CompleteTask": ("complete_task", {"public_id": "$response.body#/public_id"}),
        }
    },
)
def create_task(actor, body):
    """Assigned at random to an active worker or accountant, who is charged its fee. With an
    Idempotency-Key, repeating the request returns the task it created, with no second fee."""
    key = idempotency_key(actor)
    try:
        task = tasks.create_task(
            title=body["title"],
            jira_id=body.get("jira_id"),
            description=body.get("description"),
            actor=actor,
            form_token=key,
        )
        public_id = task.public_id
    except tasks.AlreadySubmitted as repeated:
        public_id = tasks.get_task_by_id(repeated.task_id).public_id
        row = task_queries.task_view(public_id)
        sent = tasks.validate_task_input(
            body["title"], body.get("jira_id"), body.get("description")
        )
        if (sent.title, sent.jira_id, sent.description) != (
            row.title,
            row.jira_id,
            row.description,
        ):
            raise ServiceError(KEY_REUSED, field="Idempotency-Key") from None
    return _task(task_queries.row_of(public_id)), 201, _task_location(public_id)


@operation(
    "POST",
    "/tasks/<public_id>/complete",
    summary="Mark one of your tasks done",
    tag="tasks",
    roles=ACCESS["my_tasks"],
    responses={200: s.Task},
    links={200: {"GetTask": ("get_task", {"public_id": "$response.body#/public_id"})}},
)
def complete_task(actor, public_id):
    """Pays its reward to you, once; refused (403) for a task that is not yours."""
    task = tasks.complete_task(public_id, actor=actor)
    return _task(task_queries.row_of(task.public_id))


# --- shuffles -----------------------------------------------------------------------------


def _shuffle(shuffle, joined: bool | None = None) -> dict:
    body = {
        "public_id": shuffle.public_id,
        "status": shuffle.status,
        "requested_at": timestamp(shuffle.requested_at),
        "started_at": timestamp(shuffle.started_at),
        "finished_at": timestamp(shuffle.finished_at),
        "tasks_moved": shuffle.tasks_count,
        "popugs": shuffle.popugs_count,
        "error": shuffle.error,
    }
    if joined is not None:
        body["joined"] = joined
    return body


@operation(
    "POST",
    "/shuffles",
    summary="Shuffle open tasks (queued; runs in the job worker)",
    tag="shuffles",
    roles=ACCESS["shuffle"],
    headers={"Idempotency-Key": IDEMPOTENCY_KEY},
    responses={202: s.Shuffle},
    links={202: {"GetShuffle": ("get_shuffle", {"public_id": "$response.body#/public_id"})}},
)
def create_shuffle(actor):
    """Answers at once with the queued shuffle; a press while one waits joins it."""
    try:
        press = shuffles.request_shuffle(actor=actor, form_token=idempotency_key(actor))
        shuffle, joined = press.shuffle, press.joined
    except shuffles.AlreadyShuffled as repeated:
        shuffle, joined = repeated.shuffle, False
    location = url_for("api.get_shuffle", public_id=shuffle.public_id)
    return _shuffle(shuffle, joined), 202, {"Location": location}


@operation(
    "GET",
    "/shuffles/<public_id>",
    summary="A shuffle's state",
    tag="shuffles",
    roles=ACCESS["shuffle"],
    responses={200: s.Shuffle},
)
def get_shuffle(actor, public_id):
    return _shuffle(shuffles.get_shuffle(public_id))
