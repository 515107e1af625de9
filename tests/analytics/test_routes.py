"""The dashboard through the test client: access, the range form, htmx fragments, and the
numbers in its tables and charts."""

from datetime import UTC, datetime

import pytest

from app import clock
from app.money import format_cents
from tests.analytics.pages import axis_y, bars, body_rows, field_error, table_rows

NOW = datetime(2026, 3, 3, 12, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _frozen_now():
    clock.freeze(NOW)


@pytest.fixture
def march(build, worker):
    """02.03: fee $15, reward $28 (−$13). 03.03: fee $20 (+$20), still open. In UTC."""
    build.done(
        datetime(2026, 3, 2, 9, tzinfo=UTC), datetime(2026, 3, 2, 15, 30, tzinfo=UTC), worker,
        fee=1500, reward=2800, title="Polish the beak", jira_id="UBERPOP-28",
    )  # fmt: skip
    build.create(datetime(2026, 3, 3, 9, tzinfo=UTC), fee=2000, reward=3000, title="Open one")
    clock.freeze(NOW)


def test_admin_sees_the_dashboard(admin_page, march):
    response = admin_page()
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "<h1>Analytics</h1>" in html
    assert "Management earnings today" in html
    assert '<span class="money money-pos">$20.00</span>' in html  # today: the $20 fee
    assert "Popugs with a negative balance" in html
    assert "the earlier completion wins" in html


def test_anonymous_visitors_are_sent_to_sign_in(client):
    response = client.get("/analytics")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/sign-in")
    assert "next=%2Fanalytics" in response.headers["Location"]


def test_default_range_is_the_last_30_days_ending_today(admin_page, march):
    html = admin_page().get_data(as_text=True)
    assert 'name="from" type="date" value="2026-02-02"' in html
    assert 'name="to" type="date" value="2026-03-03"' in html
    # Only the day with a completed task is listed; the other 29 are counted.
    assert body_rows(html, "top-days") == [
        [
            "03-02 — most expensive task — $28.00",
            "UBERPOP-28",
            "Polish the beak",
            "2026-03-02 15:30",
        ]
    ]
    assert "29 days with no task completed are not listed." in html
    assert "no task completed" not in "".join(row[0] for row in body_rows(html, "top-days"))
    assert len(body_rows(html, "earnings-table")) == 30
    assert 'class="active" aria-current="true">Last 30 days</a>' in html


def test_the_range_comes_from_the_url_and_stays_in_the_form(admin_page, march):
    html = admin_page("from=2026-03-01&to=2026-03-02").get_data(as_text=True)
    assert 'value="2026-03-01"' in html and 'value="2026-03-02"' in html
    assert [row[0] for row in body_rows(html, "top-days")] == [
        "03-02 — most expensive task — $28.00",
    ]
    assert "1 day with no task completed is not listed." in html
    assert [row[0] for row in body_rows(html, "top-weeks")] == [
        "W09 2026 (02-23 – 03-01) — no task completed",
        "W10 2026 (03-02 – 03-08) — most expensive task — $28.00",
    ]
    assert [row[0] for row in body_rows(html, "top-months")] == [
        "March 2026 — most expensive task — $28.00"
    ]
    assert body_rows(html, "earnings-table") == [["03-01", "$0.00"], ["03-02", "−$13.00"]]
    # Today is outside this range; its card still shows today's $20 fee.
    assert '<div class="value"><span class="money money-pos">$20.00</span></div>' in html


def test_empty_periods_are_empty_not_zero_dollar_tasks(admin_page):
    html = admin_page("from=2026-02-01&to=2026-03-03").get_data(as_text=True)
    assert 'id="top-days"' not in html  # no day to list: 31 days counted instead
    assert "31 days with no task completed are not listed." in html
    for table in ("top-weeks", "top-months"):
        rows = body_rows(html, table)
        assert rows and all(row[0].endswith("— no task completed") for row in rows)
        assert all(row[1:] == ["—"] for row in rows)
    assert "$0 " not in html and "— $0<" not in html
    assert bars(html, "rewards-chart") == []


@pytest.mark.parametrize(
    ("query", "field", "message"),
    [
        ("from=2026-02-30&to=2026-03-03", "from", "Enter a date like 2026-03-03"),
        ("from=2026-03-01&to=tomorrow", "to", "Enter a date like 2026-03-03"),
        ("from=2026-03-04&to=2026-03-03", "to", "The end must not be before the start."),
        ("from=2025-03-02&to=2026-03-03", "to", "Choose at most 366 days (one year)."),
        ("from=1999-12-31&to=2000-01-02", "from", "Choose a day between 2000-01-01"),
        ("from=9999-12-30&to=9999-12-31", "from", "Choose a day between 2000-01-01"),
        ("to=9999-12-31", "to", "Choose a day between 2000-01-01"),
    ],
)
def test_bad_ranges_get_a_message_next_to_the_field(admin_page, query, field, message):
    response = admin_page(query)
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert message in (field_error(html, field) or "")
    assert 'aria-invalid="true"' in html
    assert "Fix the range above to see the figures." in html
    assert 'id="top-days"' not in html
    typed = dict(part.split("=") for part in query.split("&"))
    assert f'value="{typed[field]}"' in html  # what was typed stays in the field


def test_a_full_leap_year_is_allowed(admin_page):
    response = admin_page("from=2024-01-01&to=2024-12-31")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert len(body_rows(html, "earnings-table")) == 366
    assert "366 days with no task completed are not listed." in html


def test_one_end_given_fills_in_the_other(admin_page):
    html = admin_page("to=2026-01-31").get_data(as_text=True)
    assert 'value="2026-01-02"' in html  # 30 days ending on the given day
    html = admin_page("from=2026-03-01").get_data(as_text=True)
    assert 'name="to" type="date" value="2026-03-03"' in html  # up to today


def test_htmx_gets_only_the_results_and_the_url_is_pushed(admin_page, march):
    response = admin_page("from=2026-03-02&to=2026-03-03", **{"HX-Request": "true"})
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "<html" not in html and "Management earnings today" not in html
    assert 'id="top-days"' in html and 'name="from"' in html
    assert [row[0] for row in body_rows(html, "top-days")] == [
        "03-02 — most expensive task — $28.00",
    ]
    assert "HX-Request" in response.headers["Vary"]
    # The form and the quick ranges swap the results in place and keep the range in the URL.
    assert 'data-hx-target="#analytics-results"' in html and 'data-hx-push-url="true"' in html
    assert 'method="get" action="/analytics"' in html


def test_htmx_bad_range_swaps_in_the_form_with_its_message(admin_page):
    response = admin_page("from=2026-03-05&to=2026-03-01", **{"HX-Request": "true"})
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "<html" not in html
    assert field_error(html, "to") == "The end must not be before the start."


@pytest.mark.parametrize("header", ["HX-Boosted", "HX-History-Restore-Request"])
def test_boosted_and_history_restore_requests_get_the_whole_page(admin_page, header):
    response = admin_page("from=2026-03-02&to=2026-03-03", **{"HX-Request": "true", header: "true"})
    html = response.get_data(as_text=True)
    assert "<html" in html and "Management earnings today" in html


def test_earnings_chart_puts_losses_below_the_axis_with_the_same_numbers_as_its_table(
    admin_page, march
):
    html = admin_page("from=2026-03-01&to=2026-03-03").get_data(as_text=True)
    chart = bars(html, "earnings-chart")
    axis = axis_y(html, "earnings-chart")
    assert [(bar["css"], bar["title"]) for bar in chart] == [
        ("bar", "03-01: $0.00"),
        ("bar-neg", "03-02: −$13.00"),
        ("bar", "03-03: $20.00"),
    ]
    zero, loss, gain = chart
    assert zero["height"] == 0
    assert loss["y"] == axis and loss["height"] > 0  # hangs below the axis
    assert gain["y"] + gain["height"] == pytest.approx(axis)  # stands on it
    # Bar heights are to scale: $13 against $20.
    assert loss["height"] / gain["height"] == pytest.approx(13 / 20, abs=0.01)
    assert table_rows(html, "earnings-table") == [
        ["Day", "Management earnings"],
        ["03-01", "$0.00"],
        ["03-02", "−$13.00"],
        ["03-03", "$20.00"],
    ]
    assert 'role="img" aria-labelledby="earnings-chart-title earnings-chart-desc"' in html


def test_rewards_chart_has_a_bar_only_for_days_with_a_completed_task(admin_page, march):
    html = admin_page("from=2026-03-01&to=2026-03-03").get_data(as_text=True)
    assert [(bar["css"], bar["title"]) for bar in bars(html, "rewards-chart")] == [
        ("bar", "03-02: " + format_cents(2800))
    ]


def test_a_task_title_is_escaped(admin_page, build, worker):
    build.done(
        datetime(2026, 3, 3, 9, tzinfo=UTC), datetime(2026, 3, 3, 10, tzinfo=UTC), worker,
        reward=2000, title="<script>alert(1)</script>",
    )  # fmt: skip
    clock.freeze(NOW)
    html = admin_page("from=2026-03-03&to=2026-03-03").get_data(as_text=True)
    assert "<script>alert" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
