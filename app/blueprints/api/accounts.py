"""The API's money operations: my account and its ledger, every account (accountants and
admins), closed days and closing a day. Thin like the pages: one service call or read each."""

from datetime import date

from app.access import ACCESS
from app.blueprints.accounting import closing, posting
from app.blueprints.accounting import queries as accounting_queries
from app.blueprints.accounting import service as accounting
from app.blueprints.auth import service as auth
from app.errors import NotFound, found
from app.i18n import N_

from . import schemas as s
from .core import decode_cursor, iso_day, listing, money, operation, query_day, timestamp

LEDGER_PER_PAGE = 50


# --- me -----------------------------------------------------------------------------------


@operation(
    "GET",
    "/me",
    summary="The token's owner: role and balance",
    tag="me",
    roles=ACCESS["my_account"],
    responses={200: s.Me},
)
def get_me(actor):
    return {
        "username": actor.username,
        "public_id": actor.public_id,
        "email": actor.email,
        "role": actor.role,
        "balance": money(posting.balance_of(actor.id)),
    }


def _ledger(popug_id: int, username: str, query: dict):
    """A page of an account's ledger entries of one day, newest first."""
    the_day, page = query_day(query), decode_cursor(query.get("cursor"))
    account = found(accounting_queries.account_of(popug_id), posting.NO_ACCOUNT)
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
    roles=ACCESS["my_account"],
    query={"day": s.DAY, "cursor": s.CURSOR},
    responses={200: s.Ledger},
)
def get_my_ledger(actor, query):
    """The audit log of My account: the entries of one business day, newest first."""
    return _ledger(actor.id, actor.username, query)


# --- accounting ---------------------------------------------------------------------------


@operation(
    "GET",
    "/accounts",
    summary="Every popug's balance",
    tag="accounting",
    roles=ACCESS["accounting"],
    query={"cursor": s.CURSOR},
    responses={200: s.BalancePage},
    links={
        200: {
            "FirstLedger": (
                "get_account_ledger",
                {"username": "$response.body#/items/0/username"},
            )
        }
    },
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
    links={200: {"CloseAgain": ("close_billing_day", {"day": "$response.body#/items/0/day"})}},
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
    result = closing.close_day(the_day, actor=actor)
    return {
        "day": iso_day(result.day),
        "closed_now": result.closed_now,
        "popugs_paid": result.popugs_paid,
        "total_paid": money(result.total_paid),
        "popugs_in_red": result.popugs_in_red,
        "summary": result.summary(),
    }
