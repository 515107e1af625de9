"""The dashboard's figures, read through tasks' and accounting's report modules.

Days, ISO weeks (Monday to Sunday) and calendar months are business days in ATES_TIMEZONE:
each day's [start, end) in UTC comes from clock.day_bounds, so 23- and 25-hour days are
right and the database never converts time zones. A week's or a month's most expensive task
is the best of its days' (same order: reward, then earlier completion, then lower id), so a
range costs one tasks query and two accounting queries, whatever its length.
"""

from dataclasses import dataclass
from datetime import date, timedelta

from flask_babel import gettext

from app import clock
from app.blueprints.accounting import posting
from app.blueprints.accounting import queries as accounting_queries
from app.blueprints.tasks import report_queries as task_queries
from app.blueprints.tasks.report_queries import TopTask
from app.i18n import format_day_month, format_local_time, format_month
from app.money import format_money, money_class

from .charts import BarChart, bar_chart


@dataclass(frozen=True)
class Period:
    """A day, week or month and its most expensive completed task (None: none completed).

    The texts are made here once, not per row in the template: a year is 365 rows.
    """

    label: str
    first: date
    last: date
    top: TopTask | None
    line: str  # `03.03 — most expensive task — $28`, or `03.03 — no task completed`
    completed: str | None  # the winner's completion, local time, for display


def period(label: str, first: date, last: date, top: TopTask | None) -> Period:
    if top is None:
        line = gettext("%(period)s — no task completed", period=label)
        return Period(label, first, last, None, line, None)
    return Period(
        label,
        first,
        last,
        top,
        gettext(
            "%(period)s — most expensive task — %(reward)s",
            period=label,
            reward=format_money(top.reward),
        ),
        format_local_time(top.completed_at),
    )


@dataclass(frozen=True)
class DayEarnings:
    day: date
    label: str
    cents: int
    money: str  # formatted, e.g. −$13.00
    money_class: str  # money-neg, money-pos or money-zero


@dataclass(frozen=True)
class RangeReport:
    first: date
    last: date
    days: list[Period]
    weeks: list[Period]
    months: list[Period]
    earnings: list[DayEarnings]
    earnings_chart: BarChart
    rewards_chart: BarChart
    first_label: str  # 2026-03-01 (01.03.2026), the range's ends as the page writes them
    last_label: str

    @property
    def day_count(self) -> int:
        return (self.last - self.first).days + 1

    @property
    def total_earnings(self) -> int:
        return sum(day.cents for day in self.earnings)


def days_between(first: date, last: date) -> list[date]:
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]


def week_start(day: date) -> date:
    return day - timedelta(days=day.weekday())


def month_start(day: date) -> date:
    return day.replace(day=1)


def month_end(day: date) -> date:
    return (day.replace(day=28) + timedelta(days=4)).replace(day=1) - timedelta(days=1)


def day_label(day: date, *, with_year: bool = False) -> str:
    return format_day_month(day, with_year=with_year)


def week_label(monday: date) -> str:
    """W09 2026 (02-23 – 03-01): ISO week number and year, Monday to Sunday."""
    year, week, _ = monday.isocalendar()
    sunday = monday + timedelta(days=6)
    return gettext(
        "W%(week)s %(year)s (%(monday)s – %(sunday)s)",
        week=f"{week:02d}",
        year=year,
        monday=format_day_month(monday),
        sunday=format_day_month(sunday),
    )


def month_label(first: date) -> str:
    return format_month(first)


def best(tops) -> TopTask | None:
    winner = None
    for top in tops:
        if top is not None and top.beats(winner):
            winner = top
    return winner


def range_report(first: date, last: date) -> RangeReport:
    """Everything the dashboard shows for the business days `first` to `last`.

    Weeks and months that overlap the range are counted whole, so a week's figure does not
    change with where the range happens to start or end.
    """
    span_first = min(week_start(first), month_start(first))
    span_last = max(week_start(last) + timedelta(days=6), month_end(last))
    span = days_between(span_first, span_last)
    tops = task_queries.most_expensive_by_day([(day, *clock.day_bounds(day)) for day in span])
    earnings = {
        totals.day: totals.management_earnings
        for totals in accounting_queries.daily_totals(first, last)
    }

    with_year = first.year != last.year
    in_range = days_between(first, last)
    days = [period(day_label(d, with_year=with_year), d, d, tops.get(d)) for d in in_range]

    weeks = []
    monday = week_start(first)
    while monday <= last:
        sunday = monday + timedelta(days=6)
        top = best(tops.get(d) for d in days_between(monday, sunday))
        weeks.append(period(week_label(monday), monday, sunday, top))
        monday += timedelta(days=7)

    months = []
    start = month_start(first)
    while start <= last:
        end = month_end(start)
        top = best(tops.get(d) for d in days_between(start, end))
        months.append(period(month_label(start), start, end, top))
        start = end + timedelta(days=1)

    daily = [
        DayEarnings(
            d,
            day_label(d, with_year=with_year),
            earnings[d],
            format_money(earnings[d]),
            money_class(earnings[d]),
        )
        for d in in_range
    ]
    first_label, last_label = day_label(first, with_year=True), day_label(last, with_year=True)
    earnings_chart = bar_chart(
        "earnings-chart",
        gettext("Daily management earnings"),
        gettext(
            "Fees charged minus rewards paid per business day, %(first)s to %(last)s. "
            "Bars below the axis are days that paid out more than they charged.",
            first=first_label,
            last=last_label,
        ),
        [(row.label, row.cents) for row in daily],
    )
    rewards_chart = bar_chart(
        "rewards-chart",
        gettext("Most expensive task per day"),
        gettext(
            "The highest reward among tasks completed each day, %(first)s to %(last)s. "
            "Days without a completed task have no bar.",
            first=first_label,
            last=last_label,
        ),
        [(p.label, p.top.reward if p.top else None) for p in days],
        empty_text=gettext("no task completed in the range"),
    )
    return RangeReport(
        first,
        last,
        days,
        weeks,
        months,
        daily,
        earnings_chart,
        rewards_chart,
        first_label,
        last_label,
    )


@dataclass(frozen=True)
class Today:
    day: date
    earnings: int
    popugs_in_red: int


def today_cards(report: RangeReport | None = None) -> Today:
    """Management earnings of the open business day (today, or the next day once today is
    closed), and popugs in the red right now.

    A `report` whose range includes that day already has its earnings (same snapshot).
    """
    today = posting.open_business_day()
    if report is not None and report.first <= today <= report.last:
        earnings = report.earnings[(today - report.first).days].cents
    else:
        earnings = accounting_queries.management_earnings(today)
    return Today(today, earnings, accounting_queries.popugs_in_red())
