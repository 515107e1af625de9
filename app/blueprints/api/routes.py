"""The API's operations: each checks its input against its schema, makes one service call
(or one read), and answers in its response schema. Every rule stays in the services."""

from datetime import date, timedelta

from flask import current_app, url_for

from app import clock
from app.access import ACCESS
from app.blueprints.accounting import queries as accounting_queries
from app.blueprints.accounting import service as accounting
from app.blueprints.analytics import queries as analytics
from app.blueprints.auth import service as auth
from app.blueprints.tasks import queries as task_queries
from app.blueprints.tasks import service as tasks
from app.days import FIRST_DAY, LAST_DAY, MAX_RANGE_DAYS
from app.errors import NotFound, ServiceError, found
from app.i18n import N_

from . import schemas as s
from .core import decode_cursor, idempotency_key, iso_day, listing, money, operation, timestamp

EVERYONE = ACCESS["my_account"]
LEDGER_PER_PAGE = 50
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


def _day(query: dict, name: str = "day") -> date:
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


# --- me -----------------------------------------------------------------------------------


@operation(
    "GET",
    "/me",
    summary="The token's owner: role and balance",
    tag="me",
    roles=EVERYONE,
    responses={200: s.Me},
)
def get_me(actor):
    return {
        "username": actor.username,
        "public_id": actor.public_id,
        "email": actor.email,
        "role": actor.role,
        "balance": money(accounting.balance_of(actor.id)),
    }


def _ledger(popug_id: int, username: str, query: dict):
    """A page of an account's ledger entries of one day, newest first."""
    the_day, page = _day(query), decode_cursor(query.get("cursor"))
    account = found(accounting_queries.account_of(popug_id), accounting.NO_ACCOUNT)
    entries = accounting_queries.audit_log(account.id, the_day, page, LEDGER_PER_PAGE)
    lines = accounting_queries.lines_of(e.id for e in entries.items if e.task_id is None)
    task_ids = [e.task_id for e in entries.items]
    task_ids += [task_id for of_entry in lines.values() for task_id, _ in of_entry]
    labels = accounting.task_labels(task_ids)

    def ref(task_id):
        if task_id not in labels:
            return None
        jira_id, title, public_id = labels[task_id]
        return {"public_id": public_id, "jira_id": jira_id, "title": title}

    items = [
        {
            "kind": entry.kind,
            "amount": money(entry.amount),
            "at": timestamp(entry.created_at),
            "business_day": iso_day(entry.business_day),
            "task": ref(entry.task_id),
            "lines": [
                {"task": ref(task_id), "amount": money(amount)}
                for task_id, amount in lines.get(entry.id, ())
            ],
        }
        for entry in entries.items
    ]
    body, status, headers = listing(items, entries.has_next, page, query)
    body = {
        "username": username,
        "day": iso_day(the_day),
        "balance": money(account.balance),
        **body,
    }
    return body, status, headers


@operation(
    "GET",
    "/me/ledger",
    summary="The owner's ledger of one day",
    tag="me",
    roles=EVERYONE,
    query={"day": s.DAY, "cursor": s.CURSOR},
    responses={200: s.Ledger},
)
def get_my_ledger(actor, query):
    """The audit log of My account: the entries of one business day, newest first."""
    return _ledger(actor.id, actor.username, query)


# --- tasks --------------------------------------------------------------------------------


@operation(
    "GET",
    "/tasks",
    summary="The board: tasks, newest first",
    tag="tasks",
    roles=ACCESS["tasks"],
    query={"filter": s.FILTER, "q": s.SEARCH, "cursor": s.CURSOR},
    responses={200: s.TaskPage},
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
)
def create_shuffle(actor):
    """Answers at once with the queued shuffle; a press while one waits joins it."""
    try:
        press = tasks.request_shuffle(actor=actor, form_token=idempotency_key(actor))
        shuffle, joined = press.shuffle, press.joined
    except tasks.AlreadyShuffled as repeated:
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
    return _shuffle(tasks.get_shuffle(public_id))


# --- accounting ---------------------------------------------------------------------------


@operation(
    "GET",
    "/accounts",
    summary="Every popug's balance",
    tag="accounting",
    roles=ACCESS["accounting"],
    query={"cursor": s.CURSOR},
    responses={200: s.BalancePage},
)
def list_accounts(actor, query):
    page = decode_cursor(query.get("cursor"))
    rows = accounting_queries.balances("username", "asc", page, s.PER_PAGE_MAX)
    items = [
        {"username": r.username, "public_id": r.owner_public_id, "balance": money(r.balance)}
        for r in rows.items
    ]
    return listing(items, rows.has_next, page, query)


@operation(
    "GET",
    "/accounts/<username>/ledger",
    summary="A popug's ledger of one day",
    tag="accounting",
    roles=ACCESS["accounting"],
    query={"day": s.DAY, "cursor": s.CURSOR},
    responses={200: s.Ledger},
)
def get_account_ledger(actor, username, query):
    popug = auth.get_popug_by_username(username)
    return _ledger(popug.id, popug.username, query)


def _billing_day(row) -> dict:
    return {
        "day": iso_day(row.day),
        "closed_at": timestamp(row.closed_at),
        "fees": money(row.fees),
        "rewards": money(row.rewards),
        "payouts": money(row.payouts),
        "popugs_paid": row.popugs_paid,
        "popugs_in_red": row.popugs_in_red,
    }


@operation(
    "GET",
    "/billing-days",
    summary="Closed business days and their payouts, newest first",
    tag="accounting",
    roles=ACCESS["accounting"],
    query={"cursor": s.CURSOR},
    responses={200: s.BillingDayPage},
)
def list_billing_days(actor, query):
    page = decode_cursor(query.get("cursor"))
    days = accounting_queries.closed_days(page, s.PER_PAGE_MAX)
    return listing([_billing_day(c.day) for c in days.items], days.has_next, page, query)


@operation(
    "POST",
    "/billing-days/<day>/close",
    summary="Close a business day: pay out balances",
    tag="accounting",
    roles=ACCESS["accounting"],
    responses={200: s.CloseResult},
)
def close_billing_day(actor, day):
    """Exactly once: closing a closed day changes nothing (`closed_now` false). The payout
    e-mails wait in the outbox for `flask billing send-mail`."""
    try:
        the_day = date.fromisoformat(day)
    except ValueError:
        raise NotFound(N_("No such day: write it as 2026-03-03.")) from None
    result = accounting.close_day(the_day, actor=actor)
    return {
        "day": iso_day(result.day),
        "closed_now": result.closed_now,
        "popugs_paid": result.popugs_paid,
        "total_paid": money(result.total_paid),
        "popugs_in_red": result.popugs_in_red,
        "summary": result.summary(),
    }


# --- popugs -------------------------------------------------------------------------------


def _popug(popug) -> dict:
    return {
        "username": popug.username,
        "public_id": popug.public_id,
        "email": popug.email,
        "role": popug.role,
        "active": popug.active,
        "created_at": timestamp(popug.created_at),
    }


@operation(
    "GET",
    "/popugs",
    summary="Every popug",
    tag="popugs",
    roles=ACCESS["popugs"],
    query={"cursor": s.CURSOR},
    responses={200: s.PopugPage},
)
def list_popugs(actor, query):
    page = decode_cursor(query.get("cursor"))
    popugs = auth.list_popugs(page, s.PER_PAGE_MAX)
    return listing([_popug(p) for p in popugs.items], popugs.has_next, page, query)


@operation(
    "POST",
    "/popugs",
    summary="Create a popug (and their account)",
    tag="popugs",
    roles=ACCESS["popugs"],
    body=s.NewPopug,
    responses={201: s.Popug},
)
def create_popug(actor, body):
    popug = auth.create_popug(actor=actor, **body)
    return _popug(popug), 201, {"Location": url_for("api.list_popugs")}


@operation(
    "PATCH",
    "/popugs/<username>",
    summary="Change a popug's role, or (de)activate them",
    tag="popugs",
    roles=ACCESS["popugs"],
    body=s.PopugChange,
    responses={200: s.ChangedPopug},
)
def change_popug(actor, username, body):
    """`role` first, then `active`; either hands open tasks over as on the Popugs page."""
    popug = auth.get_popug_by_username(username)
    handed_over = 0
    if "role" in body:
        handed_over += auth.change_role(
            popug.public_id, body["role"], actor=actor
        ).tasks_handed_over
    if "active" in body:
        change = auth.set_active(popug.public_id, body["active"], actor=actor)
        handed_over += change.tasks_handed_over
    return {"popug": _popug(popug), "tasks_handed_over": handed_over}


# --- analytics ----------------------------------------------------------------------------


def _top(top) -> dict | None:
    if top is None:
        return None
    return {
        "public_id": top.public_id,
        "jira_id": top.jira_id,
        "title": top.title,
        "reward": money(top.reward),
        "completed_at": timestamp(top.completed_at),
    }


def _periods(periods) -> list[dict]:
    return [
        {"first": iso_day(p.first), "last": iso_day(p.last), "most_expensive_task": _top(p.top)}
        for p in periods
    ]


@operation(
    "GET",
    "/analytics",
    summary="Management earnings and the most expensive tasks",
    tag="analytics",
    roles=ACCESS["analytics"],
    query={"from": s.DAY, "to": s.DAY},
    responses={200: s.Analytics},
)
def get_analytics(actor, query):
    """`from` and `to` (both included) default to the last 30 days; at most a year."""
    last = _day(query, "to")
    first = _day(query, "from") if "from" in query else last - timedelta(days=29)
    if first > last:
        raise ServiceError(N_("The end must not be before the start."), field="to")
    if (last - first).days + 1 > MAX_RANGE_DAYS:
        raise ServiceError(
            N_("Choose at most %(num)s days (one year)."), field="from", num=MAX_RANGE_DAYS
        )
    report = analytics.range_report(first, last)
    return {
        "from": iso_day(first),
        "to": iso_day(last),
        "management_earnings": money(report.total_earnings),
        "earnings": [{"day": iso_day(e.day), "earnings": money(e.cents)} for e in report.earnings],
        "days": _periods(report.days),
        "weeks": _periods(report.weeks),
        "months": _periods(report.months),
    }
