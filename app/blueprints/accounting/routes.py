import csv
import io
from datetime import timedelta

from flask import Response, current_app, flash, redirect, request, stream_with_context, url_for
from flask_babel import gettext, ngettext
from flask_login import current_user
from werkzeug.exceptions import BadRequest

from app import clock
from app.access import ACCESS, role_required
from app.days import parse_day
from app.db import MAX_ID
from app.errors import FORM_EXPIRED, ServiceError, found
from app.extensions import db
from app.htmx import redirect_after_post, render, wants_fragment
from app.i18n import N_, format_day
from app.live import answer_check
from app.money import decimal_text, format_cents, format_money
from app.paging import page_number
from app.transaction import own_transactions, renew_read_deadline

from . import bp, closing, mail, posting, queries, service
from .forms import CloseDayForm, DayForm, RangeForm, SendAgainForm, SendMailForm
from .models import MAIL_STATUSES

AUDIT_LOG_PER_PAGE = 50
BALANCES_PER_PAGE = 50
CLOSED_DAYS_PER_PAGE = 30
PAYOUTS_PER_PAGE = 50
OUTBOX_PER_PAGE = 50
RECENT_CLOSED_DAYS = 7
RECENT_OUTBOX = 10
# E-mails sent inside the close-the-day request; the rest waits for `billing send-mail`.
MAIL_AFTER_CLOSE = 200


def _sort() -> tuple[str, str]:
    sort = request.args.get("sort", "username")
    direction = request.args.get("dir", "asc")
    return (
        sort if sort in queries.BALANCE_SORTS else "username",
        direction if direction in queries.SORT_DIRECTIONS else "asc",
    )


# --- My account ------------------------------------------------------------------------


def _account_page(popug_id: int, *, heading: str, endpoint: str, **params):
    """A popug's account: balance, earnings of the open business day (today, or the next
    day once today is closed: where new money goes), and the audit log of a chosen day,
    paged. `endpoint` and `params` make this very page's URL (the day picker and pager);
    its live check is `endpoint`_version."""
    live_version = None if wants_fragment() else queries.account_version(popug_id)
    today = posting.open_business_day()
    form = DayForm(request.args)
    valid = form.validate()
    day = form.day.data if valid and form.day.data else today
    if valid:
        form.day.data = day
    account = found(queries.account_summary(popug_id, today, day), posting.NO_ACCOUNT)
    entries = queries.audit_log(account.id, day, page_number(request.args), AUDIT_LOG_PER_PAGE)
    lines = queries.lines_of(entry.id for entry in entries.items if entry.task_id is None)
    task_ids = [entry.task_id for entry in entries.items]
    task_ids += [task_id for of_entry in lines.values() for task_id, _ in of_entry]
    context = {
        "heading": heading,
        "endpoint": endpoint,
        "params": params,
        "account": account,
        "today": today,
        "calendar_today": clock.business_day(),
        "day": day,
        "form": form,
        "entries": entries,
        "lines": lines,
        "labels": service.task_labels(task_ids),
        "live_check": url_for(f"{endpoint}_version", **params),
        "live_version": live_version,
    }
    page = render("accounting/my_account.html", "accounting/_audit_log.html", **context)
    return page, 200 if valid else 422


@bp.get("/account")
@role_required(*ACCESS["my_account"])
def my_account():
    """The signed-in popug's own account; no parameter can name another account."""
    return _account_page(
        current_user.id, heading=gettext("My account"), endpoint="accounting.my_account"
    )


@bp.get("/accounting/popugs/<public_id>")
@role_required(*ACCESS["accounting"])
def popug_account(public_id: str):
    """Any popug's account, as they see it in My account (accountants and admins)."""
    account = found(queries.account_of_owner(public_id), N_("No such popug."))
    return _account_page(
        account.popug_id,
        heading=gettext("%(username)s’s account", username=account.username),
        endpoint="accounting.popug_account",
        public_id=public_id,
    )


@bp.get("/account/version")
@role_required(*ACCESS["my_account"])
def my_account_version():
    """My account's live check (app/live.py): 304 while its money is as it was."""
    return answer_check(queries.account_version(current_user.id))


@bp.get("/accounting/popugs/<public_id>/version")
@role_required(*ACCESS["accounting"])
def popug_account_version(public_id: str):
    """A popug's account page's live check."""
    account = found(queries.account_of_owner(public_id), N_("No such popug."))
    return answer_check(queries.account_version(account.popug_id))


# --- Accounting overview ---------------------------------------------------------------


@bp.get("/accounting/version")
@role_required(*ACCESS["accounting"])
def overview_version():
    """The accounting overview's live check: 304 while its figures are as they were."""
    return answer_check(queries.overview_version())


def _stats_context():
    today = clock.business_day()
    form = RangeForm(request.args)
    valid = form.check(today)
    start, end = (form.start.data, form.end.data) if valid else form.default_range(today)
    days = queries.daily_totals(start, end)
    return valid, {
        "range_form": form,
        "start": start,
        "end": end,
        "days": days,
        "range_fees": sum(d.fees for d in days),
        "range_rewards": sum(d.rewards for d in days),
        "range_payouts": sum(d.payouts for d in days),
    }


def _balances_context():
    sort, direction = _sort()
    return {
        "balances": queries.balances(sort, direction, page_number(request.args), BALANCES_PER_PAGE),
        "sort": sort,
        "dir": direction,
        "range_args": {k: request.args[k] for k in ("start", "end") if request.args.get(k)},
    }


@bp.get("/accounting")
@role_required(*ACCESS["accounting"])
def overview():
    """Management earnings today, per-day statistics, all balances, payout history, the
    outbox and the "Close the day" button; sections reload alone through htmx."""
    target = request.headers.get("HX-Target") if wants_fragment() else None
    if target == "balances":
        return render(
            "accounting/overview.html", "accounting/_balances.html", **_balances_context()
        )
    valid, stats = _stats_context()
    status = 200 if valid else 422
    if target == "daily-stats":
        return render("accounting/overview.html", "accounting/_daily_stats.html", **stats), status
    live_version = queries.overview_version()  # read before what the page shows
    today = clock.business_day()
    # The cards show the open business day: today, or the next day once today is closed
    # (new money goes there). Its figures come with the range when it includes that day.
    open_day = posting.open_business_day()
    open_totals = next((d for d in stats["days"] if d.day == open_day), None)
    if open_totals is None:
        open_totals = queries.day_totals(open_day)
    closed = queries.closed_day(today)
    today_closed_at = closed.closed_at if closed else None
    context = {
        **stats,
        **_balances_context(),
        "today": today,
        "open_day": open_day,
        "today_totals": open_totals,
        "today_closed_at": today_closed_at,
        "in_red_now": queries.popugs_in_red(),
        "closed_days": queries.recent_closed_days(RECENT_CLOSED_DAYS),
        "outbox": queries.recent_outbox(RECENT_OUTBOX),
        "pending_mail": queries.pending_mail(),
        "mail_server": bool(current_app.config.get("MAIL_SERVER")),
        "send_form": SendMailForm(),
        "live_version": live_version,
    }
    return render("accounting/overview.html", "accounting/overview.html", **context), status


def _csv_cell(value) -> str | int:
    """Numbers as they are; text that a spreadsheet would run as a formula gets a leading '."""
    if isinstance(value, int):
        return value
    text = str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


@bp.get("/accounting/balances.csv")
@role_required(*ACCESS["accounting"])
def download_balances():
    """The "All balances" table as CSV: same rows, same order, same figures."""
    sort, direction = _sort()

    def generate():
        # Queried here, not before: a HEAD request never runs the generator, and a server-side
        # cursor opened outside it would be left open.
        rows = queries.all_balances(sort, direction)
        try:
            buffer = io.StringIO()
            writer = csv.writer(buffer)
            writer.writerow(["Username", "E-mail", "Balance", "Balance (cents)"])
            for count, (username, email, balance, _) in enumerate(rows, 1):
                writer.writerow(
                    [_csv_cell(username), _csv_cell(email), format_cents(balance), int(balance)]
                )
                if count % 500 == 0:
                    yield buffer.getvalue()
                    buffer.seek(0)
                    buffer.truncate()
            yield buffer.getvalue()
        finally:
            rows.close()

    filename = f"balances-{clock.business_day().isoformat()}.csv"
    return Response(
        stream_with_context(generate()),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


LEDGER_CSV_HEADER = [
    "Day",
    "Time (UTC)",
    "Entry",
    "Account",
    "Kind",
    "Amount",
    "Amount (cents)",
    "Task",
    "Jira ID",
    "Title",
]
CSV_CHUNK = 500  # rows written before they are sent (and their tasks' labels asked at once)


@bp.get("/accounting/ledger.csv")
@role_required(*ACCESS["accounting"])
def download_ledger():
    """Every ledger entry of a range of business days (`start`, `end`; at most a year) as
    CSV, day by day in ledger order: day, time, entry, account, kind, amount (decimal text
    made from the cents: a number, written by aTES, so never escaped; and the cents), the
    task it names (texts people typed are escaped as formulas, as in balances.csv). A
    shuffle's entry charges a popug for all the tasks it gave them and names none.
    Streamed: each day is its own statement (with a fresh read bound) and each CSV_CHUNK
    rows are sent as they are written."""
    form = RangeForm(request.args)
    if not form.check(clock.business_day()):
        problems = [str(error) for errors in form.errors.values() for error in errors]
        raise BadRequest(" ".join(problems))
    start, end = form.start.data, form.end.data

    def generate():
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(LEDGER_CSV_HEADER)
        day = start
        while day <= end:
            renew_read_deadline()
            rows = queries.ledger_of_day(day)
            try:
                for chunk in rows.partitions(CSV_CHUNK):
                    labels = service.task_labels(row.task_id for row in chunk)
                    for entry_id, at, username, kind, amount, task_id in chunk:
                        jira_id, title, public_id = labels.get(task_id, (None, "", ""))
                        writer.writerow(
                            [
                                day.isoformat(),
                                at.strftime("%Y-%m-%d %H:%M:%S"),
                                entry_id,
                                _csv_cell(username),
                                kind,
                                decimal_text(int(amount)),
                                int(amount),
                                public_id,
                                _csv_cell(jira_id or ""),
                                _csv_cell(title),
                            ]
                        )
                    yield buffer.getvalue()
                    buffer.seek(0)
                    buffer.truncate()
            finally:
                rows.close()
            day += timedelta(days=1)
        yield buffer.getvalue()

    filename = f"ledger-{start.isoformat()}-{end.isoformat()}.csv"
    return Response(
        stream_with_context(generate()),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


# --- Closing the day -------------------------------------------------------------------


@bp.get("/accounting/close-day")
@role_required(*ACCESS["accounting"])
def confirm_close_day():
    """What closing today would do, and the button that does it (the no-JavaScript path of
    the overview's confirmation)."""
    today = clock.business_day()
    return render(
        "accounting/close_day.html",
        "accounting/close_day.html",
        today=today,
        closed=queries.closed_day(today),
        preview=closing.preview_close(today),
        form=CloseDayForm(day=today.isoformat()),
    )


@bp.post("/accounting/close-day")
@role_required(*ACCESS["accounting"])
def close_day():
    """Close today: pay out every positive balance, queue the e-mails, then send them.

    The close commits first; sending afterwards cannot undo it, and whatever is not sent
    stays in the outbox for `billing send-mail`.
    """
    form = CloseDayForm()
    today = clock.business_day()
    if not form.validate_on_submit():
        flash(gettext(FORM_EXPIRED), "error")
        return redirect_after_post(url_for("accounting.overview"))
    day = parse_day(form.day.data) or today
    if day != today:
        flash(
            gettext(
                "It is %(today)s now, not %(day)s: check today's figures and close again.",
                today=format_day(today),
                day=format_day(day),
            ),
            "error",
        )
        return redirect_after_post(url_for("accounting.overview"))
    try:
        result = closing.close_day(day, actor=current_user)
    except ServiceError as error:
        flash(error.translated(), "error")
        return redirect_after_post(url_for("accounting.overview"))
    if result.closed_now:
        flash(_closed_message(result), "success")
    else:
        flash(gettext("%(day)s was already closed; nothing changed.", day=format_day(day)), "info")
    _send_mail_after_close()
    return redirect_after_post(url_for("accounting.show_payouts", day=day.isoformat()))


def _closed_message(result) -> str:
    """ "Closed 2026-03-03: paid $3.00 to 1 popug, 2 left in the red." (the English of
    CloseResult.summary, which the command line and the audit trail keep)."""
    return ngettext(
        "Closed %(day)s: paid %(paid)s to %(num)s popug, %(in_red)s left in the red.",
        "Closed %(day)s: paid %(paid)s to %(num)s popugs, %(in_red)s left in the red.",
        result.popugs_paid,
        day=format_day(result.day),
        paid=format_money(result.total_paid),
        in_red=result.popugs_in_red,
    )


def _mail_message(report) -> str:
    """ "Payout e-mails: Sent 1, logged 0, failed 0; 0 still pending." (SendReport.summary)."""
    return gettext(
        "Payout e-mails: Sent %(sent)s, logged %(logged)s, failed %(failed)s; "
        "%(pending)s still pending.",
        sent=report.sent,
        logged=report.logged,
        failed=report.failed,
        pending=report.pending,
    )


def _send_mail_after_close() -> None:
    try:
        with own_transactions():  # the close commits first
            report = mail.send_pending(limit=MAIL_AFTER_CLOSE)
    except Exception:  # the payouts are committed; the e-mails wait in the outbox
        db.session.rollback()
        current_app.logger.exception("Sending payout e-mails after the close failed")
        flash(
            gettext("The payout e-mails could not be sent yet; they wait in the outbox."),
            "error",
        )
        return
    if report.sent or report.logged or report.failed or report.pending:
        flash(_mail_message(report), "error" if report.failed else "info")


# --- Payout history and the outbox -----------------------------------------------------


@bp.get("/accounting/payouts")
@role_required(*ACCESS["accounting"])
def list_closed_days():
    return render(
        "accounting/payouts.html",
        "accounting/payouts.html",
        closed_days=queries.closed_days(page_number(request.args), CLOSED_DAYS_PER_PAGE),
    )


@bp.get("/accounting/payouts/<day>")
@role_required(*ACCESS["accounting"])
def show_payouts(day: str):
    """Who was paid how much when `day` closed, and where each e-mail is."""
    parsed = parse_day(day)
    closed = found(parsed and queries.closed_day(parsed), N_("That day has not been closed."))
    return render(
        "accounting/day.html",
        "accounting/day.html",
        closed=closed,
        payouts=queries.payouts_of(parsed, page_number(request.args), PAYOUTS_PER_PAGE),
        mail_state=queries.mail_state,
        send_again_form=SendAgainForm(),
    )


@bp.post(f"/accounting/outbox/<int(max={MAX_ID}):message_id>/send-again")
@role_required(*ACCESS["accounting"])
def resend_mail(message_id: int):
    """ "Send again" for a payout e-mail whose last attempt failed: it is made due now in
    the outbox (committed first) and the outbox is sent, as after a close."""
    day = found(mail.payout_day_of(message_id), N_("No such payout e-mail."))
    back = url_for("accounting.show_payouts", day=day.isoformat())
    if not SendAgainForm().validate_on_submit():
        flash(gettext(FORM_EXPIRED), "error")
        return redirect(back)
    if mail.send_again(message_id):
        flash(gettext("The e-mail is queued again."), "info")
        _send_mail_after_close()
    else:
        flash(gettext("That e-mail is not failed (it was sent, or is being sent)."), "info")
    return redirect_after_post(back)


@bp.get("/accounting/outbox")
@role_required(*ACCESS["accounting"])
def list_outbox():
    status = request.args.get("status")
    status = status if status in MAIL_STATUSES else None
    return render(
        "accounting/outbox.html",
        "accounting/outbox.html",
        outbox=queries.outbox(status, page_number(request.args), OUTBOX_PER_PAGE),
        pending_mail=queries.pending_mail(),
        status=status,
        statuses=MAIL_STATUSES,
        mail_server=bool(current_app.config.get("MAIL_SERVER")),
        send_form=SendMailForm(),
    )


@bp.post("/accounting/outbox/send")
@role_required(*ACCESS["accounting"])
def send_mail():
    """Retry failed e-mails now instead of waiting for their backoff, and send what is due."""
    if not SendMailForm().validate_on_submit():
        flash(gettext(FORM_EXPIRED), "error")
        return redirect(url_for("accounting.list_outbox"))
    mail.retry_now()
    report = mail.send_pending(limit=MAIL_AFTER_CLOSE)
    flash(_mail_message(report), "error" if report.failed else "success")
    return redirect_after_post(url_for("accounting.list_outbox"))
