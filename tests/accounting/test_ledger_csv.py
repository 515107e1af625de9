"""The ledger of a range of business days as CSV: every entry, day by day in ledger order,
amounts as decimal text made from cents, texts safe from spreadsheet formulas, the range
bounded."""

import csv
import io

from app.extensions import db
from tests.accounting.helpers import complete, freeze, make_task_for
from tests.factories import make_popug, shuffle_now

HEADER = [
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


def _rows(client, **query):
    response = client.get("/accounting/ledger.csv", query_string=query)
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.mimetype == "text/csv"
    assert response.is_streamed
    return list(csv.reader(io.StringIO(response.get_data(as_text=True))))


def test_every_entry_of_the_range_day_by_day(app, accountant_client, manager):
    kesha = make_popug("worker", username="kesha")
    freeze("2026-03-01 10:00")
    outside = make_task_for(kesha, fee=1000, reward=2000, title="Before the range")
    freeze("2026-03-02 09:00")
    task = make_task_for(kesha, fee=1500, reward=3050, title="Fix the perch", jira_id="POP-7")
    freeze("2026-03-02 10:30")
    complete(task, kesha)
    freeze("2026-03-03 08:00")
    shuffle_now(actor=manager)
    freeze("2026-03-03 12:00")
    rows = _rows(accountant_client, start="2026-03-02", end="2026-03-03")
    assert rows[0] == HEADER
    body = [row[:7] + row[8:] for row in rows[1:]]
    assert body[0] == [
        "2026-03-02", "2026-03-02 09:00:00", body[0][2], "kesha", "assign_fee", "-15.00",
        "-1500", "POP-7", "Fix the perch",
    ]  # fmt: skip
    assert body[1][3:] == ["kesha", "reward", "30.50", "3050", "POP-7", "Fix the perch"]
    assert rows[1][7] == task.public_id
    # The shuffle charged whoever drew the one open task, in an entry naming no task.
    assert body[2][0] == "2026-03-03" and body[2][3] in ("kesha", "counter")
    assert body[2][4] == "assign_fee"
    assert body[2][5] == "-10.00" and body[2][7:] == ["", ""]
    assert len(body) == 3, "the day before the range is left out"
    assert outside.title not in {row[-1] for row in body}


def test_texts_that_look_like_formulas_are_escaped(app, accountant_client):
    popug = make_popug("worker", username="-cmd")
    freeze("2026-03-02 09:00")
    for title in ("=HYPERLINK(1)", "+1", "@sum", "-2", "Plain"):
        make_task_for(popug, fee=1000, reward=2000, title=title)
    rows = _rows(accountant_client, start="2026-03-02", end="2026-03-02")
    assert [row[9] for row in rows[1:]] == ["'=HYPERLINK(1)", "'+1", "'@sum", "'-2", "Plain"]
    assert {row[3] for row in rows[1:]} == {"'-cmd"}
    assert {row[5] for row in rows[1:]} == {"-10.00"}, "amounts stay numbers"


def test_the_range_is_bounded_and_checked(app, accountant_client):
    too_long = accountant_client.get(
        "/accounting/ledger.csv", query_string={"start": "2025-01-01", "end": "2026-03-01"}
    )
    assert too_long.status_code == 400
    assert "Choose at most 366 days" in too_long.get_data(as_text=True)
    backwards = accountant_client.get(
        "/accounting/ledger.csv", query_string={"start": "2026-03-02", "end": "2026-03-01"}
    )
    assert backwards.status_code == 400
    assert "The end must not be before the start." in backwards.get_data(as_text=True)
    garbage = accountant_client.get("/accounting/ledger.csv", query_string={"start": "x"})
    assert garbage.status_code == 400
    year = _rows(accountant_client, start="2025-03-02", end="2026-03-02")
    assert year == [HEADER]


def test_the_overview_links_the_csv_of_its_range(app, accountant_client):
    page = accountant_client.get("/accounting?start=2026-02-01&end=2026-02-10")
    assert "/accounting/ledger.csv?start=2026-02-01&amp;end=2026-02-10" in page.get_data(True)


def test_a_russian_reader_gets_the_same_file(app, accountant_client):
    kesha = make_popug("worker", username="kesha")
    freeze("2026-03-02 09:00")
    make_task_for(kesha, fee=1500, reward=3000)
    english = _rows(accountant_client, start="2026-03-02", end="2026-03-02")
    accountant_client.post("/language", data={"locale": "ru"})
    db.session.commit()
    assert _rows(accountant_client, start="2026-03-02", end="2026-03-02") == english
