"""The API's admin operations: popugs and analytics. Thin like the pages: one service call
or read each."""

from datetime import timedelta

from flask import url_for

from app.access import ACCESS
from app.blueprints.analytics import report as analytics
from app.blueprints.auth import service as auth
from app.days import MAX_RANGE_DAYS
from app.errors import ServiceError
from app.i18n import N_

from . import schemas as s
from .core import decode_cursor, iso_day, listing, money, operation, query_day, timestamp

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
    links={
        201: {
            "ChangePopug": ("change_popug", {"username": "$response.body#/username"}),
            "PopugLedger": ("get_account_ledger", {"username": "$response.body#/username"}),
        }
    },
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
    links={
        200: {"PopugLedger": ("get_account_ledger", {"username": "$response.body#/popug/username"})}
    },
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
    last = query_day(query, "to")
    first = query_day(query, "from") if "from" in query else last - timedelta(days=29)
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
