"""Exact figures on hand-built data: day, week and month boundaries, time zones, DST, ties,
empty periods, business days that differ from the calendar day, closed days."""

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from app import clock
from app.blueprints.accounting import closing, verify
from app.blueprints.analytics import report as analytics_report
from app.extensions import db
from tests.factories import make_popug

LAST_MICROSECOND = 999_999


def wall(tz: str, *parts) -> datetime:
    """A wall-clock time in `tz`, as an aware datetime."""
    return datetime(*parts, tzinfo=ZoneInfo(tz))


def lines(periods) -> list[str]:
    return [period.line for period in periods]


def winners(periods) -> list[str | None]:
    return [period.top.title if period.top else None for period in periods]


def earnings(report) -> dict[date, int]:
    return {row.day: row.cents for row in report.earnings}


def build_boundary_tasks(build, worker, tz: str):
    """Tasks completed on both sides of midnight, a Sunday/Monday and a month end, at the
    same wall-clock times in `tz`, with chosen prices (cents)."""
    w = lambda *parts: wall(tz, *parts)  # noqa: E731
    build.done(
        w(2026, 2, 28, 10), w(2026, 2, 28, 23, 59, 59, LAST_MICROSECOND), worker,
        fee=1000, reward=3000, title="Last of February", jira_id="UBERPOP-1",
    )  # fmt: skip
    build.done(
        w(2026, 2, 28, 11), w(2026, 3, 1), worker,
        fee=1200, reward=2500, title="First of March", jira_id="UBERPOP-2",
    )  # fmt: skip
    build.done(
        w(2026, 3, 1, 12), w(2026, 3, 1, 23, 59, 59, LAST_MICROSECOND), worker,
        fee=1500, reward=2500, title="Late Sunday tie",
    )  # fmt: skip
    build.done(
        w(2026, 3, 1, 13), w(2026, 3, 2), worker,
        fee=1800, reward=4000, title="Monday midnight", jira_id="UBERPOP-4",
    )  # fmt: skip
    build.create(w(2026, 3, 2, 1), fee=2000, reward=5000, title="Open and pricey")
    build.create(w(2026, 3, 3, 10), fee=2000, reward=3900, title="Open today")
    clock.freeze(w(2026, 3, 3, 12))


@pytest.mark.parametrize("tz", ["UTC", "Asia/Tokyo", "America/Los_Angeles"])
def test_days_weeks_and_months_split_at_local_midnight(build, worker, set_timezone, tz):
    set_timezone(tz)
    build_boundary_tasks(build, worker, tz)

    report = analytics_report.range_report(date(2026, 2, 27), date(2026, 3, 3))

    assert lines(report.days) == [
        "02-27 — no task completed",
        "02-28 — most expensive task — $30.00",
        "03-01 — most expensive task — $25.00",
        "03-02 — most expensive task — $40.00",
        "03-03 — no task completed",
    ]
    # 01.03: two $25 tasks; the one completed at midnight beats the one at 23:59:59.999999.
    assert winners(report.days) == [
        None, "Last of February", "First of March", "Monday midnight", None
    ]  # fmt: skip
    assert lines(report.weeks) == [
        "W09 2026 (02-23 – 03-01) — most expensive task — $30.00",
        "W10 2026 (03-02 – 03-08) — most expensive task — $40.00",
    ]
    assert winners(report.weeks) == ["Last of February", "Monday midnight"]
    assert lines(report.months) == [
        "February 2026 — most expensive task — $30.00",
        "March 2026 — most expensive task — $40.00",
    ]
    assert report.days[1].top.jira_id == "UBERPOP-1"
    assert report.days[1].top.completed_at == wall(tz, 2026, 2, 28, 23, 59, 59, LAST_MICROSECOND)
    # Fees charged − rewards paid, per business day (cents); open tasks only cost their fee.
    assert earnings(report) == {
        date(2026, 2, 27): 0,
        date(2026, 2, 28): 1000 + 1200 - 3000,
        date(2026, 3, 1): 1500 + 1800 - 2500 - 2500,
        date(2026, 3, 2): 2000 - 4000,
        date(2026, 3, 3): 2000,
    }
    assert report.total_earnings == -800 - 1700 - 2000 + 2000
    today = analytics_report.today_cards()
    assert (today.day, today.earnings, today.popugs_in_red) == (date(2026, 3, 3), 2000, 0)


def test_the_same_instants_fall_on_other_days_in_another_zone(build, worker, set_timezone):
    """Built at UTC wall times, read in Tokyo (UTC+9): 23:59 UTC is the next morning there."""
    set_timezone("UTC")
    build_boundary_tasks(build, worker, "UTC")
    set_timezone("Asia/Tokyo")

    report = analytics_report.range_report(date(2026, 2, 27), date(2026, 3, 3))

    assert lines(report.days) == [
        "02-27 — no task completed",
        "02-28 — no task completed",
        "03-01 — most expensive task — $30.00",  # 02-28 23:59 UTC = 03-01 08:59 in Tokyo
        "03-02 — most expensive task — $40.00",  # 03-01 23:59 and 03-02 00:00 UTC
        "03-03 — no task completed",
    ]
    assert winners(report.weeks) == ["Last of February", "Monday midnight"]
    assert lines(report.months) == [
        "February 2026 — no task completed",
        "March 2026 — most expensive task — $40.00",
    ]


def test_dst_days_are_23_and_25_hours_long(build, worker, set_timezone):
    tz = "Europe/Berlin"
    set_timezone(tz)
    # 29.03.2026 has 23 hours (02:00 → 03:00); 25.10.2026 has 25 (03:00 → 02:00).
    build.done(
        wall(tz, 2026, 3, 28, 12), wall(tz, 2026, 3, 29, 0, 0), worker,
        reward=2100, title="Spring day start",
    )  # fmt: skip
    build.done(
        wall(tz, 2026, 3, 28, 12), datetime(2026, 3, 29, 21, 59, 59, LAST_MICROSECOND, UTC),
        worker, reward=2200, title="Spring day end",
    )  # fmt: skip
    build.done(
        wall(tz, 2026, 3, 28, 12), datetime(2026, 3, 29, 22, 0, tzinfo=UTC), worker,
        reward=3900, title="Spring next day",
    )  # fmt: skip
    build.done(
        wall(tz, 2026, 10, 24, 12), datetime(2026, 10, 24, 22, 0, tzinfo=UTC), worker,
        reward=2300, title="Autumn day start",
    )  # fmt: skip
    build.done(
        wall(tz, 2026, 10, 24, 12), datetime(2026, 10, 25, 22, 59, 59, LAST_MICROSECOND, UTC),
        worker, reward=2400, title="Autumn 25th hour",
    )  # fmt: skip
    build.done(
        wall(tz, 2026, 10, 24, 12), datetime(2026, 10, 25, 23, 0, tzinfo=UTC), worker,
        reward=3800, title="Autumn next day",
    )  # fmt: skip
    clock.freeze(wall(tz, 2026, 10, 27, 12))

    spring = analytics_report.range_report(date(2026, 3, 29), date(2026, 3, 30))
    autumn = analytics_report.range_report(date(2026, 10, 25), date(2026, 10, 26))

    assert lines(spring.days) == [
        "03-29 — most expensive task — $22.00",
        "03-30 — most expensive task — $39.00",
    ]
    assert lines(autumn.days) == [
        "10-25 — most expensive task — $24.00",
        "10-26 — most expensive task — $38.00",
    ]
    assert winners(autumn.days) == ["Autumn 25th hour", "Autumn next day"]
    # Each task's fee counts on its creation day: 28.03 and 24.10 had three each.
    assert earnings(spring) == {date(2026, 3, 29): -2100 - 2200, date(2026, 3, 30): -3900}
    assert earnings(autumn) == {date(2026, 10, 25): -2300 - 2400, date(2026, 10, 26): -3800}


def test_ties_go_to_the_earlier_completion_then_the_lower_id(build, worker):
    first_created = build.create(datetime(2026, 3, 2, 8, tzinfo=UTC), reward=4000, title="Old")
    build.done(
        datetime(2026, 3, 2, 9, tzinfo=UTC), datetime(2026, 3, 2, 10, tzinfo=UTC), worker,
        reward=4000, title="Quick",
    )  # fmt: skip
    build.complete(first_created, datetime(2026, 3, 2, 11, tzinfo=UTC), worker)
    # Two tasks completed in the same microsecond: the lower id wins.
    same_a = build.create(datetime(2026, 3, 4, 8, tzinfo=UTC), reward=3000, title="Same A")
    same_b = build.create(datetime(2026, 3, 4, 8, tzinfo=UTC), reward=3000, title="Same B")
    at = datetime(2026, 3, 4, 12, 0, 0, 1, UTC)
    build.complete(same_b, at, worker)
    build.complete(same_a, at, worker)
    assert same_a.id < same_b.id
    # A week's tie: Monday morning beats Wednesday's earlier time of day.
    build.done(
        datetime(2026, 3, 9, 1, tzinfo=UTC), datetime(2026, 3, 9, 10, tzinfo=UTC), worker,
        reward=3500, title="Monday",
    )  # fmt: skip
    build.done(
        datetime(2026, 3, 11, 1, tzinfo=UTC), datetime(2026, 3, 11, 9, tzinfo=UTC), worker,
        reward=3500, title="Wednesday",
    )  # fmt: skip
    build.done(
        datetime(2026, 3, 11, 1, tzinfo=UTC), datetime(2026, 3, 11, 8, tzinfo=UTC), worker,
        reward=3400, title="Cheaper and earlier",
    )  # fmt: skip

    report = analytics_report.range_report(date(2026, 3, 2), date(2026, 3, 11))

    by_day = {period.first: period.top.title if period.top else None for period in report.days}
    assert by_day[date(2026, 3, 2)] == "Quick"
    assert by_day[date(2026, 3, 4)] == "Same A"
    assert by_day[date(2026, 3, 11)] == "Wednesday"
    assert winners(report.weeks) == ["Quick", "Monday"]
    assert winners(report.months) == ["Quick"]


def test_weeks_and_months_at_the_ends_of_the_range_count_whole(build, worker):
    # Outside the range (30.12 and 31.01) but inside its first week and last month.
    build.done(
        datetime(2025, 12, 30, 1, tzinfo=UTC), datetime(2025, 12, 30, 2, tzinfo=UTC), worker,
        reward=4000, title="Before the range",
    )  # fmt: skip
    build.done(
        datetime(2026, 1, 2, 1, tzinfo=UTC), datetime(2026, 1, 2, 2, tzinfo=UTC), worker,
        reward=2000, title="In the range",
    )  # fmt: skip
    build.done(
        datetime(2026, 1, 31, 1, tzinfo=UTC), datetime(2026, 1, 31, 2, tzinfo=UTC), worker,
        reward=3000, title="After the range",
    )  # fmt: skip

    report = analytics_report.range_report(date(2026, 1, 1), date(2026, 1, 5))

    assert winners(report.days) == [None, "In the range", None, None, None]
    # ISO week 1 of 2026 starts on Monday 29.12.2025.
    assert lines(report.weeks) == [
        "W01 2026 (12-29 – 01-04) — most expensive task — $40.00",
        "W02 2026 (01-05 – 01-11) — no task completed",
    ]
    assert lines(report.months) == ["January 2026 — most expensive task — $30.00"]


def test_a_range_across_new_year_labels_days_with_the_year(build, worker):
    build.done(
        datetime(2025, 12, 31, 1, tzinfo=UTC), datetime(2025, 12, 31, 2, tzinfo=UTC), worker,
        reward=2600, title="Old year",
    )  # fmt: skip
    report = analytics_report.range_report(date(2025, 12, 31), date(2026, 1, 1))
    assert lines(report.days) == [
        "2025-12-31 — most expensive task — $26.00",
        "2026-01-01 — no task completed",
    ]
    assert [period.label for period in report.months] == ["December 2025", "January 2026"]


def test_entries_after_a_close_count_for_the_next_business_day(build, worker, set_timezone):
    tz = "America/New_York"
    set_timezone(tz)
    morning = build.create(wall(tz, 2026, 3, 3, 9), fee=1100, reward=2900, title="Morning")
    build.complete(morning, wall(tz, 2026, 3, 3, 10), worker)
    clock.freeze(wall(tz, 2026, 3, 3, 11))
    closing.close_day(date(2026, 3, 3))  # today, closed early: pays the worker out
    db.session.commit()
    # Made on 03.03 but counted for 04.03, the first open business day.
    build.done(
        wall(tz, 2026, 3, 3, 12), wall(tz, 2026, 3, 3, 13), worker,
        fee=1300, reward=2000, title="After the close",
    )  # fmt: skip

    report = analytics_report.range_report(date(2026, 3, 3), date(2026, 3, 4))

    assert earnings(report) == {date(2026, 3, 3): 1100 - 2900, date(2026, 3, 4): 1300 - 2000}
    # Today is closed: the card shows the open business day, where new money goes.
    assert (analytics_report.today_cards().day, analytics_report.today_cards().earnings) == (
        date(2026, 3, 4),
        1300 - 2000,
    )
    # The most expensive task is about when it was completed, not the business day.
    assert lines(report.days) == [
        "03-03 — most expensive task — $29.00",
        "03-04 — no task completed",
    ]


def test_closed_days_show_the_same_earnings_as_their_ledger(build, worker):
    for day, (fee, reward) in enumerate([(1000, 2000), (2000, 2100), (1500, 4000)], start=2):
        build.done(
            datetime(2026, 3, day, 9, tzinfo=UTC), datetime(2026, 3, day, 17, tzinfo=UTC),
            worker, fee=fee, reward=reward,
        )  # fmt: skip
    build.create(datetime(2026, 3, 3, 12, tzinfo=UTC), fee=1700, reward=3000)
    clock.freeze(datetime(2026, 3, 5, 9, tzinfo=UTC))
    before = earnings(analytics_report.range_report(date(2026, 3, 1), date(2026, 3, 5)))

    for day in (2, 3):  # 03-04 stays open: the range mixes closed and open days
        closing.close_day(date(2026, 3, day))
        db.session.commit()
    after = earnings(analytics_report.range_report(date(2026, 3, 1), date(2026, 3, 5)))

    assert (
        before
        == after
        == {
            date(2026, 3, 1): 0,
            date(2026, 3, 2): 1000 - 2000,
            date(2026, 3, 3): 2000 + 1700 - 2100,
            date(2026, 3, 4): 1500 - 4000,
            date(2026, 3, 5): 0,
        }
    )
    assert verify.verify() == []


def test_popugs_in_the_red_counts_negative_balances_now(build, worker):
    make_popug(role="manager", username="zero-balance")  # never gets tasks
    task = build.create(datetime(2026, 3, 3, 9, tzinfo=UTC), fee=1500, reward=2000)
    assert analytics_report.today_cards().popugs_in_red == 1
    build.complete(task, datetime(2026, 3, 3, 10, tzinfo=UTC), worker)
    assert analytics_report.today_cards().popugs_in_red == 0


def test_a_years_range_is_one_row_per_day_with_its_own_figures(build, worker):
    build.done(
        datetime(2025, 3, 4, 9, tzinfo=UTC), datetime(2025, 3, 4, 10, tzinfo=UTC), worker,
        fee=1000, reward=2000, title="A year ago",
    )  # fmt: skip
    build.done(
        datetime(2026, 3, 3, 9, tzinfo=UTC), datetime(2026, 3, 3, 10, tzinfo=UTC), worker,
        fee=1000, reward=3300, title="Today",
    )  # fmt: skip
    report = analytics_report.range_report(date(2025, 3, 4), date(2026, 3, 3))
    assert len(report.days) == len(report.earnings) == 365
    assert report.days[0].line == "2025-03-04 — most expensive task — $20.00"
    assert report.days[-1].line == "2026-03-03 — most expensive task — $33.00"
    assert sum(1 for period in report.days if period.top) == 2
    assert report.total_earnings == 1000 - 2000 + 1000 - 3300
    assert len(report.months) == 13
    assert report.weeks[0].first == date(2025, 3, 3)
    assert report.weeks[-1].last == date(2026, 3, 8)
    assert all((p.last - p.first) == timedelta(days=6) for p in report.weeks)
