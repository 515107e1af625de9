"""Accounting pages through the test client: figures to the cent, access, bad input, htmx."""

import csv
import io
import re
from datetime import date

import pytest

from app.blueprints.accounting import closing, mail
from app.blueprints.accounting.models import BillingDay, Payout
from app.extensions import db
from tests.accounting.helpers import (
    balance,
    complete,
    freeze,
    make_task_for,
    outbox,
    payouts,
    row_with,
    text_by_id,
    text_of,
)
from tests.factories import make_popug
from tests.helpers import HTMX, count, signed_in_client, statements


@pytest.fixture
def day(app, worker, accountant):
    """2026-03-02 (UTC), three tasks:
    worker-one: "Feed the parrot" (UBERPOP-7, $15 fee, $30 reward, done at 12:00) and
    "Polish the beak" ($12 fee) → +$3.00; counter (accountant): "Count seeds" ($20 fee) → −$20."""
    freeze("2026-03-02 09:00")
    feed = make_task_for(
        worker, fee=1500, reward=3000, title="Feed the parrot", jira_id="UBERPOP-7"
    )
    freeze("2026-03-02 10:00")
    make_task_for(worker, fee=1200, reward=2500, title="Polish the beak")
    freeze("2026-03-02 11:00")
    make_task_for(accountant, fee=2000, reward=4000, title="Count seeds")
    freeze("2026-03-02 12:00")
    complete(feed, worker)
    freeze("2026-03-02 15:00")
    return feed


# --- My account ------------------------------------------------------------------------


def test_my_account_shows_balance_earnings_and_the_audit_log(worker_client, day):
    page = worker_client.get("/account")
    assert page.status_code == 200
    html = page.data.decode()
    assert text_by_id(html, "account-balance") == "$3.00"
    assert "Earnings today (2026-03-02)" in html
    assert text_by_id(html, "earnings-today") == "+$3.00"
    rows = re.findall(r"<tr>\s*<td class=\"nowrap\"[^>]*>.*?</tr>", html, re.S)
    assert [text_of(row) for row in rows] == [
        "2026-03-02 12:00 Reward UBERPOP-7 Feed the parrot +$30.00",
        "2026-03-02 10:00 Assign fee — Polish the beak \u2212$12.00",
        "2026-03-02 09:00 Assign fee UBERPOP-7 Feed the parrot \u2212$15.00",
    ]
    assert "Count seeds" not in html  # the accountant's entry


def test_my_account_after_the_close_shows_the_payout_and_zero(worker_client, worker, day):
    freeze("2026-03-02 18:00")
    closing.close_day(date(2026, 3, 2))
    db.session.commit()
    closed = worker_client.get("/account?day=2026-03-02").data.decode()
    assert "2026-03-02 18:00 Payout — — \u2212$3.00" in text_of(closed)
    assert text_by_id(closed, "account-balance") == "$0.00"


def test_money_after_todays_close_shows_under_the_open_day(worker_client, worker, day):
    """Today closed at 18:00; a reward at 18:30 belongs to the next business day, which
    My account's card and log show by default, saying so, with a link to today's log."""
    freeze("2026-03-02 18:00")
    closing.close_day(date(2026, 3, 2))
    db.session.commit()
    freeze("2026-03-02 18:30")
    make_task_for(worker, fee=1100, reward=2000, title="Late errand")
    html = worker_client.get("/account").data.decode()
    assert "Earnings of the next day (2026-03-03): today is closed" in text_of(html)
    assert text_by_id(html, "earnings-today") == "\u2212$11.00"
    assert "Late errand" in html
    assert "Today, 2026-03-02, is closed" in text_of(html)
    assert 'href="/account?day=2026-03-02"' in html


def test_my_account_picks_a_day(worker_client, worker, day):
    freeze("2026-03-03 09:30")
    make_task_for(worker, fee=1100, reward=2000, title="Tomorrow's task")
    html = worker_client.get("/account").data.decode()
    assert "Statement of 2026-03-03" in html
    assert "Tomorrow&#39;s task" in html and "Feed the parrot" not in html
    earlier = worker_client.get("/account?day=2026-03-02").data.decode()
    assert "Statement of 2026-03-02" in earlier
    assert "Feed the parrot" in earlier and "Tomorrow" not in earlier
    assert "Earnings on 2026-03-02: +$3.00" in text_of(earlier)
    empty = worker_client.get("/account?day=2026-01-01").data.decode()
    assert "No money moved on your account on 2026-01-01." in empty


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("yesterday", "Enter a date like 2026-03-03 (year-month-day)."),
        ("2026-02-30", "Enter a date like 2026-03-03 (year-month-day)."),
        ("0001-01-01", "Choose a day between 2000-01-01 and 2099-12-31."),
        ("9999-12-31", "Choose a day between 2000-01-01 and 2099-12-31."),
        ("<script>", "Enter a date like 2026-03-03 (year-month-day)."),
    ],
)
def test_my_account_bad_day_is_a_clear_message(worker_client, day, value, message):
    page = worker_client.get("/account", query_string={"day": value})
    assert page.status_code == 422
    html = page.data.decode()
    assert message in html
    assert "Statement of 2026-03-02" in html  # falls back to today
    assert "<script>" not in html


def test_my_account_reaches_no_other_account(app, worker_client, worker, accountant, day):
    """No parameter names another popug's account: every variation shows the caller's own."""
    other = db.session.get(type(accountant), accountant.id)
    for query in (
        {"account_id": "2"},
        {"popug_id": str(other.id)},
        {"username": other.username},
        {"public_id": other.public_id},
        {"account": other.public_id, "day": "2026-03-02"},
    ):
        html = worker_client.get("/account", query_string=query).data.decode()
        assert "Count seeds" not in html and "Feed the parrot" in html, query
    for path in (f"/account/{other.public_id}", f"/account/{other.id}", "/accounts"):
        assert worker_client.get(path).status_code == 404


def test_my_account_paginates_fifty_newest_first(app, worker, worker_client):
    freeze("2026-03-02 08:00")
    for n in range(52):
        make_task_for(worker, fee=1000, reward=2000, title=f"Task number {n:02d}")
    first = worker_client.get("/account").data.decode()
    assert first.count("Task number") == 50
    assert "Task number 51" in first and "Task number 01" not in first
    assert "Page 1 of 2" in first
    assert re.search(r'<a href="[^"]*page=2[^"]*" rel="next">Older →</a>', first)
    second = worker_client.get("/account?page=2").data.decode()
    assert second.count("Task number") == 2
    assert re.search(r'<a href="[^"]*page=1[^"]*" rel="prev">← Newer</a>', second)
    assert 'rel="next"' not in second
    assert "Task number 01" in second and "Task number 00" in second


def test_my_account_htmx_gets_the_log_fragment(worker_client, day):
    fragment = worker_client.get("/account?day=2026-03-02", headers=HTMX)
    assert fragment.status_code == 200
    assert "<html" not in fragment.data.decode()
    assert "Statement of 2026-03-02" in fragment.data.decode()
    assert fragment.headers["Vary"] == "HX-Request" or "HX-Request" in fragment.headers["Vary"]


def test_every_role_has_its_own_account_page(app, admin_client, manager_client, admin, day):
    for client in (admin_client, manager_client):
        page = client.get("/account")
        assert page.status_code == 200
        assert "No money moved on your account on 2026-03-02." in page.data.decode()


# --- a popug's account, for accountants and admins ---------------------------------------


def _audit_rows(html: str) -> list[str]:
    rows = re.findall(r"<tr>\s*<td class=\"nowrap\"[^>]*>.*?</tr>", html, re.S)
    return [text_of(row) for row in rows]


@pytest.mark.parametrize("role", ["accountant", "admin"])
def test_a_popugs_account_is_their_my_account_under_their_name(app, worker, role, day):
    client = signed_in_client(app, make_popug(role=role))
    page = client.get(f"/accounting/popugs/{worker.public_id}")
    assert page.status_code == 200
    html = page.data.decode()
    assert "<h1>worker-one’s account</h1>" in html
    assert text_by_id(html, "account-balance") == "$3.00"
    assert text_by_id(html, "earnings-today") == "+$3.00"
    assert _audit_rows(html) == _audit_rows(signed_in_client(app, worker).get("/account").text)
    assert len(_audit_rows(html)) == 3
    assert "Count seeds" not in html  # the accountant's own entry
    # the day picker stays on this popug's account
    assert f'action="/accounting/popugs/{worker.public_id}"' in html
    earlier = client.get(f"/accounting/popugs/{worker.public_id}?day=2026-01-01").text
    assert "No money moved on this account on 2026-01-01." in earlier


def test_a_popugs_account_pages_on_their_own_account(app, worker, accountant_client):
    freeze("2026-03-02 08:00")
    for n in range(52):
        make_task_for(worker, fee=1000, reward=2000, title=f"Task number {n:02d}")
    first = accountant_client.get(f"/accounting/popugs/{worker.public_id}").text
    assert first.count("Task number") == 50
    older = re.search(r'<a href="([^"]*)" rel="next">Older →</a>', first)[1]
    assert older.startswith(f"/accounting/popugs/{worker.public_id}?")
    assert accountant_client.get(older.replace("&amp;", "&")).text.count("Task number") == 2


def test_an_unknown_popugs_account_is_404(accountant_client, day):
    assert accountant_client.get("/accounting/popugs/no-such-popug").status_code == 404


def test_all_balances_and_the_payouts_of_a_day_link_to_each_account(accountant_client, worker, day):
    link = f'<a href="/accounting/popugs/{worker.public_id}">worker-one</a>'
    assert link in accountant_client.get("/accounting").text
    freeze("2026-03-02 18:00")
    closing.close_day(date(2026, 3, 2))
    db.session.commit()
    assert link in accountant_client.get("/accounting/payouts/2026-03-02").text


# --- Overview --------------------------------------------------------------------------


def test_overview_figures_to_the_cent(accountant_client, worker, accountant, day):
    freeze("2026-03-03 10:00")
    make_task_for(worker, fee=1000, reward=2000)  # today: $10.00 in fees
    html = accountant_client.get("/accounting").data.decode()

    assert text_by_id(html, "management-earnings-today") == "+$10.00"
    assert text_by_id(html, "fees-today") == "$10.00"
    assert text_by_id(html, "rewards-today") == "$0.00"
    assert text_by_id(html, "in-red-now") == "2"  # worker −$7.00, counter −$20.00
    assert row_with(html, 'data-day="2026-03-02"') == ("2026-03-02 $47.00 $30.00 +$17.00 $0.00 —")
    assert row_with(html, 'data-day="2026-03-03"') == "2026-03-03 $10.00 $0.00 +$10.00 $0.00 —"
    assert row_with(html, 'data-day="2026-02-25"') == "2026-02-25 $0.00 $0.00 $0.00 $0.00 —"
    assert 'data-day="2026-02-24"' not in html  # the last 7 days by default
    assert "Total $57.00 $30.00 +$27.00 $0.00" in text_of(html)


def test_closed_days_show_payouts_and_popugs_in_the_red(accountant_client, day):
    freeze("2026-03-02 20:00")
    closing.close_day(date(2026, 3, 2))
    db.session.commit()
    freeze("2026-03-03 08:00")
    html = accountant_client.get("/accounting").data.decode()
    assert row_with(html, 'data-day="2026-03-02"').startswith(
        "2026-03-02 $47.00 $30.00 +$17.00 $3.00 1"
    )
    history = re.search(r'id="payout-history".*?</section>', html, re.S).group(0)
    assert row_with(history, 'data-day="2026-03-02"').startswith(
        "2026-03-02 2026-03-02 20:00 1 $3.00 1"
    )


def test_overview_range(accountant_client, day):
    page = accountant_client.get("/accounting?start=2026-03-01&end=2026-03-02")
    assert page.status_code == 200
    html = page.data.decode()
    assert re.findall(r'<tr data-day="([\d-]+)"', html) == ["2026-03-02", "2026-03-01"]
    assert 'value="2026-03-01"' in html and 'value="2026-03-02"' in html


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ({"start": "garbage"}, "Enter a date like 2026-03-03 (year-month-day)."),
        ({"start": "2026-03-05", "end": "2026-03-01"}, "The end must not be before the start."),
        ({"start": "2024-01-01", "end": "2026-03-01"}, "Choose at most 366 days (one year)."),
        ({"end": "0001-01-01"}, "Choose a day between 2000-01-01 and 2099-12-31."),
        ({"start": "2026-13-01", "end": "x"}, "Enter a date like 2026-03-03 (year-month-day)."),
    ],
)
def test_overview_bad_range_is_a_clear_message(accountant_client, day, query, message):
    page = accountant_client.get("/accounting", query_string=query)
    assert page.status_code == 422
    html = page.data.decode()
    assert message in html
    assert len(re.findall(r'<tr data-day="', html)) == 7  # the default range instead


def test_overview_range_fragment_for_htmx(accountant_client, day):
    headers = {**HTMX, "HX-Target": "daily-stats"}
    fragment = accountant_client.get("/accounting?start=2026-03-02&end=2026-03-02", headers=headers)
    html = fragment.data.decode()
    assert fragment.status_code == 200 and "<html" not in html
    assert 'id="stats-title"' in html and "balances-table" not in html
    assert re.findall(r'<tr data-day="([\d-]+)"', html) == ["2026-03-02"]


def _balance_rows(html: str) -> list[str]:
    table = re.search(r'id="balances-table".*?</table>', html, re.S).group(0)
    return [text_of(row) for row in re.findall(r"<tr><td[^>]*>.*?</tr>", table, re.S)]


def test_balances_sort_and_paginate(app, accountant_client, day):
    for n, cents in enumerate((500, -100, 0)):
        popug = make_popug("worker", username=f"extra-{n}")
        if cents:
            freeze("2026-03-02 16:00")
            task = make_task_for(popug, fee=1000, reward=1000 + cents if cents > 0 else 1000)
            if cents > 0:
                complete(task, popug)
    # balances: counter −20.00, extra-0 +5.00, extra-1 −10.00, extra-2 0.00,
    # root-admin 0 … and worker-one +3.00
    by_name = _balance_rows(accountant_client.get("/accounting").data.decode())
    assert [row.split()[0] for row in by_name] == [
        "counter",
        "extra-0",
        "extra-1",
        "extra-2",
        "worker-one",
    ]
    richest = _balance_rows(
        accountant_client.get("/accounting?sort=balance&dir=desc").data.decode()
    )
    assert richest == [
        "extra-0 extra-0@uberpopug.inc $5.00",
        "worker-one worker-one@uberpopug.inc $3.00",
        "extra-2 extra-2@uberpopug.inc $0.00",
        "extra-1 extra-1@uberpopug.inc \u2212$10.00",
        "counter counter@uberpopug.inc \u2212$20.00",
    ]
    ascending = accountant_client.get("/accounting?sort=balance&dir=asc").data.decode()
    assert [row.split()[0] for row in _balance_rows(ascending)] == [
        "counter",
        "extra-1",
        "extra-2",
        "worker-one",
        "extra-0",
    ]
    nonsense = accountant_client.get("/accounting?sort=password&dir=sideways&page=-3")
    assert nonsense.status_code == 200
    assert _balance_rows(nonsense.data.decode()) == by_name


def test_balances_paginate(app, accountant_client, accountant):
    for n in range(55):
        make_popug("worker", username=f"popug-{n:02d}")
    first = _balance_rows(accountant_client.get("/accounting").data.decode())
    assert len(first) == 50 and first[0].startswith("counter")
    second = accountant_client.get("/accounting?page=2").data.decode()
    assert [row.split()[0] for row in _balance_rows(second)] == [
        "popug-49",
        "popug-50",
        "popug-51",
        "popug-52",
        "popug-53",
        "popug-54",
    ]
    assert "Page 2 of 2" in second


def test_balances_fragment_for_htmx(accountant_client, day):
    headers = {**HTMX, "HX-Target": "balances"}
    fragment = accountant_client.get("/accounting?sort=balance&dir=desc", headers=headers)
    html = fragment.data.decode()
    assert "<html" not in html and "daily-stats-table" not in html
    assert _balance_rows(html)[0].startswith("worker-one")


def test_csv_matches_the_page(app, accountant_client, day):
    make_popug("worker", username="-minus-first")
    for sort, direction in (("username", "asc"), ("balance", "desc"), ("balance", "asc")):
        query = {"sort": sort, "dir": direction}
        page_rows = _balance_rows(
            accountant_client.get("/accounting", query_string=query).data.decode()
        )
        download = accountant_client.get("/accounting/balances.csv", query_string=query)
        assert download.status_code == 200
        assert download.mimetype == "text/csv"
        assert "attachment; filename=" in download.headers["Content-Disposition"]
        rows = list(csv.reader(io.StringIO(download.data.decode())))
        assert rows[0] == ["Username", "E-mail", "Balance", "Balance (cents)"]
        csv_rows = [" ".join(cell.removeprefix("'") for cell in row[:3]) for row in rows[1:]]
        assert csv_rows == page_rows
        for row in rows[1:]:
            cents = int(row[3])
            assert row[2] == ("\u2212" if cents < 0 else "") + f"${abs(cents) / 100:,.2f}"


def test_csv_neutralises_formulas(app, accountant_client, accountant):
    make_popug("worker", username="-cmd")
    from app.blueprints.auth import service as auth

    auth.create_popug(
        username="sneaky",
        email="=sum@uberpopug.inc",
        role="worker",
        beak_shape="x" * 10,
        actor=None,
    )
    db.session.commit()
    rows = list(
        csv.reader(io.StringIO(accountant_client.get("/accounting/balances.csv").data.decode()))
    )
    cells = {row[0]: row for row in rows[1:]}
    assert cells["'-cmd"][0] == "'-cmd"
    assert cells["sneaky"][1] == "'=sum@uberpopug.inc"
    for row in rows[1:]:
        assert all(not cell.startswith(("=", "+", "@")) for cell in row[:3])


def test_anonymous_is_sent_to_sign_in(client, day):
    for path in ("/account", "/accounting", "/accounting/balances.csv", "/accounting/outbox"):
        response = client.get(path)
        assert response.status_code == 302
        assert "/sign-in" in response.headers["Location"]
    assert client.post("/accounting/close-day").status_code == 302
    assert count(BillingDay) == 0


def test_admin_sees_the_overview(admin_client, day):
    assert admin_client.get("/accounting").status_code == 200
    assert admin_client.get("/accounting/balances.csv").status_code == 200


# --- Closing the day -------------------------------------------------------------------


def test_overview_close_button_confirms_with_and_without_javascript(accountant_client, day):
    html = accountant_client.get("/accounting").data.decode()
    form = re.search(r'<form method="get" action="/accounting/close-day".*?</form>', html, re.S)
    assert form, "the button's form falls back to the confirmation page"
    assert 'data-hx-post="/accounting/close-day"' in form.group(0)
    assert "data-hx-confirm=" in form.group(0)
    assert 'class="btn btn-money">Close the day</button>' in form.group(0)
    assert 'name="day" value="2026-03-02"' in form.group(0)

    confirm = accountant_client.get("/accounting/close-day?day=2026-03-02").data.decode()
    assert "Popugs to pay 1 Total to pay out $3.00 Left in the red 1" in text_of(confirm)
    assert re.search(r'<form method="post" action="/accounting/close-day"', confirm)


def test_close_the_day_from_the_overview(accountant_client, worker, day):
    response = accountant_client.post("/accounting/close-day", data={"day": "2026-03-02"})
    assert response.status_code == 303
    assert response.headers["Location"] == "/accounting/payouts/2026-03-02"
    assert payouts() == {("worker-one", "2026-03-02"): 300}
    assert balance(worker) == 0
    page = accountant_client.get(response.headers["Location"]).data.decode()
    assert "Closed 2026-03-02: paid $3.00 to 1 popug, 1 left in the red." in page
    assert "Payout e-mails: Sent 0, logged 1, failed 0; 0 still pending." in page
    assert "worker-one worker-one@uberpopug.inc $3.00 logged, not sent 1" in text_of(page)
    overview = accountant_client.get("/accounting").data.decode()
    assert "Today (2026-03-02) was closed at 2026-03-02 15:00." in text_of(overview)
    assert 'hx-post="/accounting/close-day"' not in overview

    again = accountant_client.post("/accounting/close-day", data={"day": "2026-03-02"})
    assert again.status_code == 303
    page = accountant_client.get(again.headers["Location"]).data.decode()
    assert "2026-03-02 was already closed; nothing changed." in page
    assert count(Payout) == 1 and len(outbox()) == 1


def test_close_the_day_with_htmx_redirects(accountant_client, day):
    response = accountant_client.post(
        "/accounting/close-day", data={"day": "2026-03-02"}, headers=HTMX
    )
    assert response.status_code == 200
    assert response.headers["HX-Redirect"] == "/accounting/payouts/2026-03-02"
    assert count(BillingDay) == 1


def test_a_form_from_yesterday_does_not_close_today(accountant_client, day):
    freeze("2026-03-03 00:02")
    response = accountant_client.post("/accounting/close-day", data={"day": "2026-03-02"})
    assert response.status_code == 303
    page = accountant_client.get(response.headers["Location"]).data.decode()
    assert "It is 2026-03-03 now, not 2026-03-02" in page
    assert count(BillingDay) == 0


def test_close_records_an_audit_event(accountant_client, day):
    from app.audit import AuditEvent

    accountant_client.post("/accounting/close-day", data={"day": "2026-03-02"})
    [event] = db.session.query(AuditEvent).filter_by(action="billing.close_day").all()
    assert (event.action, event.actor_username) == ("billing.close_day", "counter")
    assert event.description == "2026-03-02: paid $3.00 to 1 popug, 1 left in the red"


def test_mail_failure_after_the_close_keeps_the_close(accountant_client, worker, day, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("SMTP exploded")

    monkeypatch.setattr(mail, "send_pending", broken)
    response = accountant_client.post("/accounting/close-day", data={"day": "2026-03-02"})
    assert response.status_code == 303
    assert payouts() == {("worker-one", "2026-03-02"): 300}
    assert [m.status for m in outbox()] == ["pending"]
    page = accountant_client.get(response.headers["Location"]).data.decode()
    assert "The payout e-mails could not be sent yet; they wait in the outbox." in page
    assert "worker-one worker-one@uberpopug.inc $3.00 waiting" in text_of(page)


# --- Payout history and the outbox -----------------------------------------------------


def test_payout_pages(accountant_client, day):
    freeze("2026-03-02 20:00")
    closing.close_day(date(2026, 3, 2))
    db.session.commit()
    listing = accountant_client.get("/accounting/payouts").data.decode()
    assert row_with(listing, 'data-day="2026-03-02"') == (
        "2026-03-02 2026-03-02 20:00 1 $3.00 1 1 waiting"
    )
    assert accountant_client.get("/accounting/payouts/2026-03-01").status_code == 404
    assert accountant_client.get("/accounting/payouts/not-a-day").status_code == 404
    day_page = accountant_client.get("/accounting/payouts/2026-03-02").data.decode()
    assert "worker-one worker-one@uberpopug.inc $3.00 waiting 0" in text_of(day_page)


def test_outbox_page_and_send_button(accountant_client, day):
    freeze("2026-03-02 20:00")
    closing.close_day(date(2026, 3, 2))
    db.session.commit()
    page = accountant_client.get("/accounting/outbox").data.decode()
    assert "aTES payout for 2026-03-02: $3.00" in page
    assert "Paid out: $3.00" in page  # the body, behind <details>
    assert "Send pending e-mails now" in page
    assert (
        "aTES payout" not in accountant_client.get("/accounting/outbox?status=sent").data.decode()
    )

    response = accountant_client.post("/accounting/outbox/send")
    assert response.status_code == 303
    assert [m.status for m in outbox()] == ["logged"]
    logged = accountant_client.get("/accounting/outbox?status=logged").data.decode()
    assert "Payout e-mails: Sent 0, logged 1, failed 0; 0 still pending." in logged
    assert "aTES payout for 2026-03-02: $3.00" in logged
    overview = accountant_client.get("/accounting").data.decode()
    assert "aTES payout for 2026-03-02: $3.00" in overview
    listing = accountant_client.get("/accounting/payouts").data.decode()
    assert row_with(listing, 'data-day="2026-03-02"').endswith("1 logged, not sent")
    assert "all delivered" not in listing


def test_an_already_closed_day_says_popug_in_the_singular(accountant_client, day):
    freeze("2026-03-02 20:00")
    closing.close_day(date(2026, 3, 2))
    db.session.commit()
    page = text_of(accountant_client.get("/accounting/close-day").data.decode())
    assert "paid to 1 popug." in page and "1 popugs" not in page


# --- Constant query counts -------------------------------------------------------------


def _queries(client, path) -> int:
    db.session.commit()  # a fresh request starts with nothing cached (the test shares its session)
    with statements() as run:
        assert client.get(path).status_code == 200
    return len(run)


def _grow(worker, accountant, start, days):
    """More of everything: popugs, closed days with payouts and e-mails, and entries of
    today (2026-03-01) on the worker's audit log, each for another task."""
    for n in range(start, start + days):
        freeze(f"2026-02-{10 + n:02d} 10:00")
        for popug in (worker, accountant, make_popug("worker")):
            complete(make_task_for(popug, fee=1000, reward=3000, jira_id=f"UBERPOP-{n}"), popug)
        closing.close_day(date(2026, 2, 10 + n))
        db.session.commit()
        freeze("2026-03-01 09:00")
        make_task_for(worker, fee=1000, reward=2000, title=f"Today {n}", jira_id=f"TODAY-{n}")
    freeze("2026-03-01 10:00")


def test_pages_run_a_constant_number_of_queries(
    app, worker, accountant, worker_client, accountant_client
):
    pages = (
        (worker_client, "/account"),
        (accountant_client, "/accounting?start=2026-02-01&end=2026-03-01"),
        (accountant_client, "/accounting/payouts"),
        (accountant_client, "/accounting/payouts/2026-02-10"),
        (accountant_client, "/accounting/outbox"),
    )
    _grow(worker, accountant, 0, 1)
    small = [_queries(client, path) for client, path in pages]
    _grow(worker, accountant, 1, 6)
    large = [_queries(client, path) for client, path in pages]
    assert worker_client.get("/account").data.decode().count("TODAY-") == 7
    assert small == large
    assert max(large) <= 20
