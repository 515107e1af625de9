"""Property: any sequence of creates, completions, shuffles, closes and passing time over
several days keeps `accounting verify` clean, and the per-day figures equal a brute-force
sum kept by the test itself."""

from collections import defaultdict
from datetime import UTC, date, datetime, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select, text

from app import clock
from app.blueprints.accounting import closing, posting, queries, verify
from app.blueprints.accounting.models import Account, Payout
from app.blueprints.tasks import service as tasks
from app.blueprints.tasks.models import OPEN, Task
from app.extensions import db
from tests.accounting.helpers import make_task_for
from tests.factories import make_popug, shuffle_now

START = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)

operations = st.lists(
    st.one_of(
        st.tuples(
            st.just("create"),
            st.integers(0, 2),  # which worker
            st.integers(10, 20),  # fee, dollars
            st.integers(20, 40),  # reward, dollars
        ),
        st.tuples(st.just("complete"), st.integers(0, 20)),
        st.tuples(st.just("shuffle")),
        st.tuples(st.just("close")),  # "Close the day" in the overview: today
        st.tuples(st.just("cron")),  # `billing close-day`: yesterday, if not closed
        st.tuples(st.just("wait"), st.integers(1, 30)),  # hours
    ),
    max_size=16,
)


def reset_database() -> None:
    db.session.remove()
    with db.engine.begin() as conn:
        if db.engine.dialect.name == "postgresql":
            tables = ", ".join(t.name for t in db.metadata.sorted_tables)
            conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
        else:
            for table in reversed(db.metadata.sorted_tables):
                conn.execute(table.delete())


class Model:
    """What the money should be, kept without reading the ledger."""

    def __init__(self):
        self.fees: dict[date, int] = defaultdict(int)
        self.rewards: dict[date, int] = defaultdict(int)
        self.closed: set[date] = set()

    def entry_day(self) -> date:
        today = clock.business_day()
        return max(today, max(self.closed) + timedelta(days=1)) if self.closed else today


@settings(
    max_examples=30,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(ops=operations)
def test_any_sequence_keeps_the_books_straight(app, ops):
    reset_database()
    clock.freeze(START)
    try:
        run(ops)
    finally:
        clock.freeze(None)
        db.session.rollback()


def run(ops) -> None:
    workers = [make_popug("worker") for _ in range(3)]
    manager = make_popug("manager")
    by_id = {popug.id: popug for popug in workers}
    model = Model()

    for op in ops:
        kind = op[0]
        if kind == "create":
            _, index, fee, reward = op
            make_task_for(workers[index], fee=fee * 100, reward=reward * 100)
            model.fees[model.entry_day()] += fee * 100
        elif kind == "complete":
            open_tasks = db.session.scalars(
                select(Task).where(Task.status == OPEN).order_by(Task.id)
            ).all()
            if open_tasks:
                task = open_tasks[op[1] % len(open_tasks)]
                day = model.entry_day()
                tasks.complete_task(task.public_id, actor=by_id[task.assignee_id])
                db.session.commit()
                model.rewards[day] += task.reward
        elif kind == "shuffle":
            open_fees = db.session.scalar(
                select(func.coalesce(func.sum(Task.fee), 0)).where(Task.status == OPEN)
            )
            if open_fees:
                day = model.entry_day()
                shuffle_now(actor=manager)
                db.session.commit()
                model.fees[day] += int(open_fees)
        elif kind == "close":
            today = clock.business_day()
            if today not in model.closed and (not model.closed or today > max(model.closed)):
                assert closing.close_day(today).closed_now
                db.session.commit()
                model.closed.add(today)
        elif kind == "cron":
            day = closing.day_to_close()
            if day is not None:
                assert closing.close_day(day).closed_now
                db.session.commit()
                model.closed.add(day)
        else:
            clock.freeze(clock.now() + timedelta(hours=op[1]))

    assert verify.verify() == []

    today = clock.business_day()
    first = START.date()
    last = max([today, *model.fees, *model.rewards])
    figures = {d.day: d for d in queries.daily_totals(first, last)}
    for day in figures:
        assert (figures[day].fees, figures[day].rewards) == (model.fees[day], model.rewards[day])
        assert figures[day].closed == (day in model.closed)
    assert queries.management_earnings(today) == model.fees[today] - model.rewards[today]

    # No cent appears or disappears: balances + payouts = rewards − fees.
    balances = db.session.scalar(select(func.coalesce(func.sum(Account.balance), 0)))
    paid = db.session.scalar(select(func.coalesce(func.sum(Payout.amount), 0)))
    assert int(balances) + int(paid) == sum(model.rewards.values()) - sum(model.fees.values())
    assert all(balance <= 0 or day_open for balance, day_open in _balances_since_close())


def _balances_since_close():
    """(balance, whether money moved after the last close) per account: after a close and
    no later entries, nobody may be left with a positive balance."""
    last = posting.last_closed_day()
    rows = db.session.execute(select(Account.id, Account.balance)).all()
    if last is None:
        return [(balance, True) for _, balance in rows]
    moved = set(
        db.session.scalars(
            text("SELECT DISTINCT account_id FROM ledger_entries WHERE business_day > :d"),
            {"d": last},
        )
    )
    return [(balance, account_id in moved) for account_id, balance in rows]
