"""Concurrent closes, money writes during a close, and concurrent e-mail senders, on real
PostgreSQL connections from several threads."""

import threading
from datetime import date

import pytest

from app import clock
from app.blueprints.accounting import closing, mail, verify
from app.blueprints.accounting.models import Payout
from app.blueprints.auth.models import Popug
from app.blueprints.tasks import service as tasks
from app.db import write_intent
from app.extensions import db
from tests.accounting.helpers import balance, complete, freeze, make_task_for, outbox, payouts
from tests.factories import make_popug
from tests.helpers import count

pytestmark = pytest.mark.postgres
D1 = date(2026, 3, 2)


def run_together(app, *jobs, timeout=60):
    """Run each job in its own thread, app context and database session, released at once."""
    start = threading.Barrier(len(jobs))
    results, errors = [None] * len(jobs), []
    now = clock.now()

    def worker(index, job):
        try:
            with app.app_context(), write_intent():
                clock.freeze(now)
                start.wait(timeout)
                results[index] = job()
                db.session.commit()
        except Exception as error:  # reported below, in the test's thread
            errors.append(error)
            db.session.rollback()

    threads = [threading.Thread(target=worker, args=(i, job)) for i, job in enumerate(jobs)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout)
        assert not thread.is_alive(), "a job hung"
    assert not errors, errors
    return results


@pytest.fixture
def kesha(app):
    kesha = make_popug("worker", username="kesha")
    gosha = make_popug("worker", username="gosha")
    freeze("2026-03-02 09:00")
    complete(make_task_for(kesha, fee=1000, reward=3000), kesha)
    complete(make_task_for(gosha, fee=1000, reward=1500), gosha)
    freeze("2026-03-02 20:00")
    return kesha


def test_two_closes_at_once_pay_once(app, kesha):
    results = run_together(app, *[lambda: closing.close_day(D1)] * 4)
    assert sorted(r.closed_now for r in results) == [False, False, False, True]
    assert payouts() == {("kesha", "2026-03-02"): 2000, ("gosha", "2026-03-02"): 500}
    assert len(outbox()) == 2
    assert verify.verify() == []


def test_money_written_during_a_close_lands_on_one_side_of_it(app, kesha):
    """A task created while the day closes is either in the closed day (and paid out) or in
    the next one; never half of each, and the books balance."""
    late = make_task_for(kesha, fee=1200, reward=2400)
    kesha_id = kesha.id

    def finish():
        return tasks.complete_task(late.public_id, actor=db.session.get(Popug, kesha_id)).id

    run_together(app, lambda: closing.close_day(D1), finish)
    assert verify.verify() == []
    paid = payouts()[("kesha", "2026-03-02")]
    assert paid in (2000 - 1200, 2000 - 1200 + 2400)
    assert balance(kesha) == (0 if paid == 3200 else 2400)


def test_two_senders_never_send_one_message_twice(app, kesha):
    closing.close_day(D1)
    db.session.commit()
    sent = run_together(app, mail.send_pending, mail.send_pending, mail.send_pending)
    assert sum(report.logged for report in sent) == 2
    assert [m.attempts for m in outbox()] == [1, 1]
    assert count(Payout) == 2
