"""The money paths that each database runs its own way (the shuffle's move and charge, the
hand-over's fees, completions, a closed day) write the same books on both: one seeded
history is played on SQLite and on PostgreSQL, and their ledgers, ledger lines, balances,
payouts, closed days and every task's History are compared line by line.

The test needs both databases: it runs where TEST_DATABASE_URL names PostgreSQL (CI's
PostgreSQL pass), with the session's app as the PostgreSQL side and a second app on a SQLite
file as the other. What the service draws at random is pinned the same way on both: each
task's assignee and prices, the hand-over's choice (the eligible popug created first) and
the shuffle's draw (a task's fee in dollars, modulo the number of eligible popugs, picks a
popug in id order, which is what a random slot does on either database).
"""

import random
from datetime import UTC, datetime

import pytest
from sqlalchemy import Integer, cast, select

from app import clock, create_app
from app.blueprints.accounting import closing, verify
from app.blueprints.accounting.models import (
    Account,
    BillingDay,
    LedgerEntry,
    LedgerLine,
    Payout,
    ShuffleLine,
)
from app.blueprints.auth import service as auth
from app.blueprints.auth.models import Popug
from app.blueprints.tasks import queries as task_queries
from app.blueprints.tasks import service as tasks
from app.blueprints.tasks import shuffle_move
from app.blueprints.tasks.models import TASKS, Shuffle, Task
from app.config import TestConfig
from app.extensions import db
from tests.factories import make_popug, make_task, shuffle_now

pytestmark = pytest.mark.postgres

DAY_ONE = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
DAY_TWO = datetime(2026, 3, 3, 8, 0, tzinfo=UTC)


class _FirstCreated:
    """Stands in for the hand-over's random.SystemRandom: the eligible popug created first."""

    def choice(self, pool):
        return min(pool)


def _draw_by_fee(count):
    """The shuffle's draw, pinned: a task's fee in dollars modulo the eligible popugs."""
    return cast((TASKS.c.fee // 100) % count, Integer)


def _at(start: datetime, minutes: int) -> None:
    clock.freeze(start.replace(minute=minutes))


def _play() -> None:
    """The history, each step committed as its request or job would commit it."""
    _at(DAY_ONE, 0)
    admin = make_popug("admin", "root")
    boss = make_popug("manager", "boss")
    wa, wb = make_popug("worker", "wa-1"), make_popug("worker", "wb-2")
    acc = make_popug("accountant", "acc-3")
    created = []
    for n, assignee in enumerate([wa, wb, acc, wa, wb, acc], start=1):
        _at(DAY_ONE, n)
        created.append(
            make_task(
                boss,
                f"Task {n}",
                f"POP-{n}",
                prices=(900 + 100 * n, 2000 + 300 * n),
                assignee=assignee,
            )
        )
    ids = [task.public_id for task in created]

    _at(DAY_ONE, 10)
    tasks.complete_task(ids[0], actor=wa)
    db.session.commit()
    _at(DAY_ONE, 11)
    tasks.complete_task(ids[2], actor=acc)
    db.session.commit()

    _at(DAY_ONE, 20)
    shuffle_now(actor=boss)  # tasks 2, 4, 5, 6 among wa, wb, acc
    db.session.commit()

    _at(DAY_ONE, 30)
    auth.set_active(wb.public_id, False, actor=admin)  # wb's open tasks go to wa
    db.session.commit()

    _at(DAY_ONE, 40)
    for public_id in ids[1:]:
        task = tasks.get_task(public_id)
        if task.status == "open" and task.assignee_id == wa.id:
            tasks.complete_task(public_id, actor=wa)
            db.session.commit()
            break

    clock.freeze(DAY_ONE.replace(hour=20))
    closing.close_day(clock.business_day(), actor=acc)
    db.session.commit()

    _at(DAY_TWO, 0)
    make_task(boss, "Task 7", None, prices=(1700, 3900), assignee=acc)
    _at(DAY_TWO, 5)
    shuffle_now(actor=admin)  # every open task between wa and acc
    db.session.commit()
    _at(DAY_TWO, 10)
    open_on_acc = db.session.scalars(
        select(Task.public_id)
        .where(Task.status == "open", Task.assignee_id == acc.id)
        .order_by(Task.title)
    ).first()
    if open_on_acc:
        tasks.complete_task(open_on_acc, actor=acc)
        db.session.commit()


def _books() -> dict:
    """The books and every task's History, with ids replaced by what they name (usernames,
    titles, the order of shuffles and entries), which the two databases number differently."""
    usernames = dict(db.session.execute(select(Popug.id, Popug.username)).all())
    accounts = dict(db.session.execute(select(Account.id, Account.username)).all())
    titles = dict(db.session.execute(select(Task.id, Task.title)).all())
    shuffles = {
        shuffle_id: n
        for n, shuffle_id in enumerate(db.session.scalars(select(Shuffle.id).order_by(Shuffle.id)))
    }
    by_public_id = dict(db.session.execute(select(Shuffle.public_id, Shuffle.id)).all())
    entries = db.session.scalars(select(LedgerEntry).order_by(LedgerEntry.id)).all()
    entry_number = {entry.id: n for n, entry in enumerate(entries)}
    history = {}
    for task_id, title in sorted(titles.items(), key=lambda item: item[1]):
        history[title] = [
            (
                line.at,
                str(line.what),
                line.popug,
                line.previous,
                line.amount,
                shuffles[by_public_id[line.shuffle_public_id]] if line.shuffle_public_id else None,
            )
            for line in task_queries.history_of(task_id, 1).items
        ]
    return {
        "ledger": [
            (
                accounts[e.account_id],
                e.kind,
                e.amount,
                titles.get(e.task_id),
                shuffles.get(e.shuffle_id),
                usernames.get(e.handed_over_from),
                e.business_day,
                e.created_at,
            )
            for e in entries
        ],
        "lines": sorted(
            (entry_number[line.entry_id], titles[line.task_id], line.amount)
            for line in db.session.scalars(select(LedgerLine))
        ),
        "shuffle lines": sorted(
            (shuffles[line.shuffle_id], titles[line.task_id], entry_number[line.entry_id])
            for line in db.session.scalars(select(ShuffleLine))
        ),
        "balances": sorted(db.session.execute(select(Account.username, Account.balance)).all()),
        "payouts": sorted(
            (payout.day, accounts[payout.account_id], payout.amount)
            for payout in db.session.scalars(select(Payout))
        ),
        "closed days": [
            (d.day, d.fees, d.rewards, d.payouts, d.popugs_paid, d.popugs_in_red)
            for d in db.session.scalars(select(BillingDay).order_by(BillingDay.day))
        ],
        "assignees": sorted(
            (titles[task_id], usernames[assignee], status)
            for task_id, assignee, status in db.session.execute(
                select(Task.id, Task.assignee_id, Task.status)
            )
        ),
        "history": history,
        "verify": verify.verify(),
    }


def _played_on(app) -> dict:
    with app.app_context(), pytest.MonkeyPatch.context() as patch:
        patch.setattr(random, "SystemRandom", _FirstCreated)
        patch.setattr(shuffle_move, "_random_slot", _draw_by_fee)
        try:
            _play()
            return _books()
        finally:
            db.session.remove()
            clock.freeze(None)


@pytest.fixture
def sqlite_app(tmp_path):
    class OnSQLite(TestConfig):
        SQLALCHEMY_DATABASE_URI = f"sqlite:///{tmp_path / 'ates.sqlite3'}"

    app = create_app(OnSQLite)
    with app.app_context():
        db.create_all()
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def test_one_history_writes_the_same_books_on_sqlite_and_postgresql(app, sqlite_app):
    with sqlite_app.app_context():
        assert db.engine.dialect.name == "sqlite"
    assert db.engine.dialect.name == "postgresql"
    on_sqlite = _played_on(sqlite_app)
    on_postgresql = _played_on(app)

    for part in on_sqlite:
        assert on_postgresql[part] == on_sqlite[part], part
    # The history was worth comparing: the first shuffle moved four tasks to three popugs,
    # a hand-over and a close happened, and the books are sound.
    first_shuffle = {line[1] for line in on_sqlite["shuffle lines"] if line[0] == 0}
    assert len(first_shuffle) == 4
    assert len({e[0] for e in on_sqlite["ledger"] if e[4] == 0}) == 3
    assert any(e[5] == "wb-2" for e in on_sqlite["ledger"])
    assert on_sqlite["payouts"] and on_sqlite["closed days"]
    assert on_sqlite["verify"] == []
