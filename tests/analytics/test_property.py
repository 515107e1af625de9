"""Property: over any sequence of creates, completions, shuffles, closes and waits, in any
time zone, the dashboard equals a brute-force recomputation from the task and ledger rows."""

from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from app import clock
from app.blueprints.accounting import closing, posting
from app.blueprints.accounting.models import ASSIGN_FEE, REWARD, Account, LedgerEntry
from app.blueprints.analytics import report as analytics_report
from app.blueprints.tasks import service as task_service
from app.blueprints.tasks.models import OPEN, Task
from app.errors import ServiceError
from app.extensions import db
from app.money import format_cents
from tests.analytics.pages import body_rows
from tests.factories import make_popug, make_task, shuffle_now
from tests.helpers import empty_database, signed_in_client

ZONES = ["UTC", "Europe/Berlin", "America/New_York", "Asia/Kathmandu"]
# Starts just before a month end, a DST change, New Year (ISO week 1 begins in December)
# and a DST end, so a few days of events cross the interesting boundaries.
STARTS = [
    datetime(2026, 2, 27, 18, tzinfo=UTC),
    datetime(2026, 3, 28, 20, tzinfo=UTC),
    datetime(2025, 12, 28, 21, tzinfo=UTC),
    datetime(2026, 10, 24, 19, tzinfo=UTC),
]

events = st.lists(
    st.one_of(
        st.tuples(
            st.just("create"),
            st.sampled_from([1000, 1500, 2000]),
            st.sampled_from([2000, 3500, 4000]),
        ),
        st.tuples(st.just("complete"), st.integers(0, 40)),
        st.tuples(st.just("shuffle")),
        st.tuples(st.just("wait"), st.integers(1, 30 * 60)),  # minutes
        st.tuples(st.just("close"), st.sampled_from(["today", "ended"])),
    ),
    max_size=30,
)


def run(event, admin, popugs) -> None:
    kind = event[0]
    try:
        if kind == "create":
            make_task(admin, "T", prices=(event[1], event[2]))
        elif kind == "complete":
            open_tasks = db.session.execute(
                select(Task.public_id, Task.assignee_id)
                .where(Task.status == OPEN)
                .order_by(Task.id)
            ).all()
            if open_tasks:
                public_id, assignee_id = open_tasks[event[1] % len(open_tasks)]
                task_service.complete_task(public_id, actor=popugs[assignee_id])
        elif kind == "shuffle":
            shuffle_now(actor=admin)
        elif kind == "wait":
            clock.freeze(clock.now() + timedelta(minutes=event[1]))
        elif kind == "close":
            day = clock.business_day() if event[1] == "today" else closing.day_to_close()
            if day is not None:
                closing.close_day(day)
        db.session.commit()
    except ServiceError:  # e.g. nothing to shuffle, or a day a later close already settled
        db.session.rollback()


def key(reward: int, completed_at: datetime, task_id: int):
    return (-reward, completed_at, task_id)


def brute_force(zone: str):
    """Winners by local day, ISO week and month; earnings by business day; popugs in the red
    from the ledger itself, not from the balance column."""
    tz = ZoneInfo(zone)
    by_day, by_week, by_month = {}, {}, {}
    for task_id, reward, completed_at in db.session.execute(
        select(Task.id, Task.reward, Task.completed_at).where(Task.completed_at.is_not(None))
    ):
        local_day = completed_at.astimezone(tz).date()
        candidate = (key(reward, completed_at, task_id), task_id, reward)
        for table, period in (
            (by_day, local_day),
            (by_week, local_day.isocalendar()[:2]),
            (by_month, (local_day.year, local_day.month)),
        ):
            if period not in table or candidate < table[period]:
                table[period] = candidate
    earnings = defaultdict(int)
    balances = defaultdict(int)
    for account_id, kind, amount, business_day in db.session.execute(
        select(
            LedgerEntry.account_id, LedgerEntry.kind, LedgerEntry.amount, LedgerEntry.business_day
        )
    ):
        balances[account_id] += amount
        if kind in (ASSIGN_FEE, REWARD):
            earnings[business_day] -= amount
    accounts = db.session.scalars(select(Account.id)).all()
    in_red = sum(1 for account_id in accounts if balances[account_id] < 0)
    return by_day, by_week, by_month, earnings, in_red


def winner(table, period):
    found = table.get(period)
    return found[1] if found else None


def expected_line(label: str, table, period) -> str:
    found = table.get(period)
    if found is None:
        return f"{label} — no task completed"
    reward = found[2]
    return f"{label} — most expensive task — {format_cents(reward)}"


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(zone=st.sampled_from(ZONES), start=st.sampled_from(STARTS), script=events)
def test_dashboard_equals_brute_force(app, set_timezone, zone, start, script):
    empty_database()
    set_timezone(zone)
    clock.freeze(start)
    admin = make_popug(role="admin")
    popugs = {p.id: p for p in (make_popug(role="worker"), make_popug(role="accountant"))}
    first = clock.business_day() - timedelta(days=1)
    for event in script:
        run(event, admin, popugs)
    last = clock.business_day() + timedelta(days=1)  # a close moves entries to tomorrow

    by_day, by_week, by_month, earnings, in_red = brute_force(zone)
    report = analytics_report.range_report(first, last)

    days = [first + timedelta(days=n) for n in range((last - first).days + 1)]
    assert [(p.first, p.top and p.top.task_id) for p in report.days] == [
        (day, winner(by_day, day)) for day in days
    ]
    assert [(p.first, p.top and p.top.task_id) for p in report.weeks] == [
        (monday, winner(by_week, monday.isocalendar()[:2]))
        for monday in sorted({day - timedelta(days=day.weekday()) for day in days})
    ]
    assert [(p.first, p.top and p.top.task_id) for p in report.months] == [
        (month, winner(by_month, (month.year, month.month)))
        for month in sorted({day.replace(day=1) for day in days})
    ]
    assert [(row.day, row.cents) for row in report.earnings] == [
        (day, earnings[day]) for day in days
    ]
    today, open_day = analytics_report.today_cards(), posting.open_business_day()
    assert (today.day, today.earnings, today.popugs_in_red) == (
        open_day,
        earnings.get(open_day, 0),
        in_red,
    )

    # The page shows the same: every day's line and every day's earnings.
    html = (
        signed_in_client(app, admin)
        .get(f"/analytics?from={first.isoformat()}&to={last.isoformat()}")
        .get_data(as_text=True)
    )
    fmt = "%Y-%m-%d" if first.year != last.year else "%m-%d"
    # The table lists the days with a completed task; a line counts the others.
    done = [day for day in days if by_day.get(day) is not None]
    shown = body_rows(html, "top-days") if done else []
    assert [row[0] for row in shown] == [
        expected_line(day.strftime(fmt), by_day, day) for day in done
    ]
    quiet = len(days) - len(done)
    assert (quiet > 0) == ('id="quiet-days"' in html)
    if quiet:
        assert f"{quiet} day{'s' if quiet != 1 else ''} with no task completed" in html
    assert [row[1] for row in body_rows(html, "earnings-table")] == [
        _money(earnings[day]) for day in days
    ]


def _money(cents: int) -> str:
    sign = "−" if cents < 0 else ""
    return f"{sign}${abs(cents) // 100:,}.{abs(cents) % 100:02d}"


def test_brute_force_helpers_agree_on_a_known_case():
    """The oracle itself: a tie on reward goes to the earlier completion."""
    at = datetime(2026, 3, 3, 12, tzinfo=UTC)
    assert key(4000, at, 2) < key(4000, at + timedelta(seconds=1), 1) < key(3900, at, 0)
    assert expected_line("03-03", {date(2026, 3, 3): ((0,), 7, 2800)}, date(2026, 3, 3)) == (
        "03-03 — most expensive task — $28.00"
    )
