"""Real threads against PostgreSQL: concurrent Mark done, shuffles, creates and readers.

Each thread pushes its own app context and so gets its own session and connection. Threads
start together on a barrier; nothing waits by sleeping, every wait has a deadline.
"""

import threading
import time
from collections import Counter

import pytest
from sqlalchemy import event, select

from app.blueprints.accounting.models import ASSIGN_FEE, REWARD, LedgerEntry
from app.blueprints.auth import service as auth
from app.blueprints.tasks import jobs, service, shuffles
from app.blueprints.tasks.models import DONE, OPEN, Shuffle, ShuffleStatus, Task
from app.errors import NotAllowed, ServiceError
from app.extensions import db
from tests.factories import make_popug, make_task, shuffle_now
from tests.helpers import count, run_in_threads, signed_in_client
from tests.reliability.helpers import poll, waiting_on_advisory_lock
from tests.tasks.helpers import (
    assert_books_balance,
    assert_fee_trail_consistent,
    balances,
    fee_charges,
    ledger_entries,
)

pytestmark = pytest.mark.postgres

WAIT = 30  # seconds: the most any barrier or event wait may take


class Outcomes:
    """A thread-safe list of what each click or press ended in."""

    def __init__(self):
        self._lock = threading.Lock()
        self.items: list = []

    def add(self, item) -> None:
        with self._lock:
            self.items.append(item)

    def count(self, item) -> int:
        return self.items.count(item)


def click(task_public_id: str, actor, outcomes: Outcomes) -> None:
    """One "Mark done" as the route does it: one transaction, commit or roll back."""
    try:
        service.complete_task(task_public_id, actor=actor)
        db.session.commit()
        outcomes.add("paid")
    except NotAllowed:
        db.session.rollback()
        outcomes.add("not yours")
    except ServiceError as error:
        db.session.rollback()
        if error.message == service.SHUFFLE_RUNNING:
            outcomes.add("shuffle running")
        else:
            outcomes.add("already done" if "already done" in error.message else error.message)


def test_many_concurrent_mark_done_pay_one_reward(app, worker, manager):
    clicks = 10
    worker_public_id = worker.public_id
    for _ in range(3):  # three rounds: more chances for a race to show
        task = make_task(manager)
        task_id, task_public_id, reward = task.id, task.public_id, task.reward
        barrier = threading.Barrier(clicks, timeout=WAIT)
        outcomes = Outcomes()

        def clicker(barrier=barrier, outcomes=outcomes, task_public_id=task_public_id):
            actor = auth.get_popug(worker_public_id)
            db.session.commit()  # end the read: each click is its own transaction
            barrier.wait()
            click(task_public_id, actor, outcomes)

        errors = run_in_threads(app, [clicker] * clicks)
        assert not errors, errors
        assert outcomes.count("paid") == 1, outcomes.items
        assert outcomes.count("already done") == clicks - 1, outcomes.items
        db.session.expire_all()
        rewards = ledger_entries(LedgerEntry.kind == REWARD, LedgerEntry.task_id == task_id)
        assert [e.amount for e in rewards] == [reward]
        assert db.session.get(Task, task_id).status == DONE
    assert count(LedgerEntry, LedgerEntry.kind == REWARD) == 3
    assert_fee_trail_consistent()


def test_two_shuffles_and_a_stream_of_mark_done(app, admin, manager):
    popugs = [make_popug(role="worker") for _ in range(4)] + [make_popug(role="accountant")]
    popug_ids = [p.public_id for p in popugs]
    shufflers = [admin.public_id, manager.public_id]
    expected_shuffles = 0
    for round_ in range(3):
        tasks = [make_task(manager, title=f"R{round_} task {n:02d}") for n in range(60)]
        # Only even tasks are ever clicked, so every shuffle has open tasks to move.
        clickable = {t.public_id for n, t in enumerate(tasks) if n % 2 == 0}
        db.session.expire_all()
        initial = {
            popug.public_id: [
                t.public_id for t in tasks if t.assignee_id == popug.id and t.public_id in clickable
            ]
            for popug in popugs
        }
        barrier = threading.Barrier(len(shufflers) + len(popugs), timeout=WAIT)
        shuffled = Outcomes()  # tasks_count of each shuffle that committed
        ended = Outcomes()  # one item per shuffle thread that finished, however it ended
        clicks = Outcomes()

        def shuffler(actor_public_id, barrier=barrier, shuffled=shuffled, ended=ended):
            try:
                actor = auth.get_popug(actor_public_id)
                db.session.commit()
                barrier.wait()
                result = shuffle_now(actor=actor)
                db.session.commit()
                shuffled.add(result.tasks_count)
            finally:
                ended.add(actor_public_id)

        def clicker(
            popug_public_id,
            barrier=barrier,
            clicks=clicks,
            clickable=clickable,
            initial=initial,
            ended=ended,
        ):
            actor = auth.get_popug(popug_public_id)
            db.session.commit()
            barrier.wait()
            # What the popug saw before the shuffles: some of it is gone by now.
            for public_id in initial[popug_public_id]:
                click(public_id, actor, clicks)
            # Then keep clicking what is theirs now, until both shuffles are over.
            deadline = time.monotonic() + 2 * WAIT
            while time.monotonic() < deadline:
                shuffles_over = len(ended.items) == len(shufflers)
                mine = db.session.scalars(
                    select(Task.public_id).where(
                        Task.assignee_id == actor.id,
                        Task.status == OPEN,
                        Task.public_id.in_(clickable),
                    )
                ).all()
                db.session.commit()
                if not mine and shuffles_over:
                    return
                for public_id in mine:
                    click(public_id, actor, clicks)
            raise AssertionError("clicker did not finish before its deadline")

        targets = [lambda a=a: shuffler(a) for a in shufflers]
        targets += [lambda p=p: clicker(p) for p in popug_ids]
        errors = run_in_threads(app, targets, timeout=120)
        assert not errors, errors
        expected_shuffles += 2
        assert len(shuffled.items) == 2 and all(n >= 30 for n in shuffled.items), shuffled.items
        assert clicks.count("paid") == 30, Counter(clicks.items)
        outcomes = {"paid", "not yours", "already done", "shuffle running"}
        assert set(clicks.items) <= outcomes, Counter(clicks.items)
        db.session.expire_all()
        done_now = set(db.session.scalars(select(Task.public_id).where(Task.status == DONE)))
        assert clickable <= done_now
        assert_fee_trail_consistent()
    assert count(Shuffle) == expected_shuffles
    # per shuffle: exactly the tasks it moved, one entry each, the open tasks' fees
    for shuffle in db.session.scalars(select(Shuffle)):
        entries = fee_charges(shuffle_id=shuffle.id)
        assert len(entries) == shuffle.tasks_count
        assert len({e.task_id for e in entries}) == shuffle.tasks_count


def test_mark_done_during_a_shuffle_is_refused_at_once_and_pays_nothing(app, worker, manager):
    """While the job worker runs a shuffle, "Mark done" answers without waiting for it; once
    the shuffle has committed, the same click pays. The shuffle is the real one, held just
    before its commit: it has moved and charged the task and still holds the tasks lock."""
    task = make_task(manager)
    assert task.assignee_id == worker.id  # the only popug who can take tasks
    task_id, reward = task.id, task.reward
    shuffles.request_shuffle(actor=manager)
    db.session.commit()
    shuffle_running = threading.Event()
    shuffle_may_end = threading.Event()
    shuffle_thread: list[int] = []

    def hold_before_commit(conn, cursor, statement, parameters, context, executemany):
        # The shuffle's last statement before the commit is its audit record.
        if threading.get_ident() in shuffle_thread and "INSERT INTO audit_events" in statement:
            shuffle_running.set()
            assert shuffle_may_end.wait(WAIT)

    def job_worker():
        shuffle_thread.append(threading.get_ident())
        assert jobs.run_next_shuffle() is not None

    thread_errors: list = []

    def run():
        thread_errors.extend(run_in_threads(app, [job_worker], timeout=2 * WAIT))

    event.listen(db.engine, "before_cursor_execute", hold_before_commit)
    thread = threading.Thread(target=run)
    thread.start()
    try:
        assert shuffle_running.wait(WAIT)
        # Waiting for the lock would block until the shuffle commits (WAIT) and then pay.
        with pytest.raises(ServiceError) as refused:
            service.complete_task(task.public_id, actor=worker)
        assert refused.value.message == service.SHUFFLE_RUNNING
        db.session.rollback()
    finally:
        shuffle_may_end.set()
        thread.join(2 * WAIT)
        event.remove(db.engine, "before_cursor_execute", hold_before_commit)
    assert not thread_errors, thread_errors
    [shuffle] = db.session.scalars(select(Shuffle))
    assert (shuffle.status, shuffle.tasks_count) == (ShuffleStatus.DONE, 1)
    assert db.session.get(Task, task_id).status == OPEN
    assert len(fee_charges(shuffle_id=shuffle.id)) == 1
    assert ledger_entries(LedgerEntry.kind == REWARD, LedgerEntry.task_id == task_id) == []

    service.complete_task(task.public_id, actor=worker)
    db.session.commit()
    rewards = ledger_entries(LedgerEntry.kind == REWARD, LedgerEntry.task_id == task_id)
    assert [entry.amount for entry in rewards] == [reward]
    assert_books_balance()


def test_two_shuffles_with_the_same_form_token_shuffle_once(app, admin, manager):
    for _ in range(3):
        make_popug(role="worker")
    for n in range(20):
        make_task(manager, title=f"Task {n}")
    actors = [admin.public_id, manager.public_id]
    for round_ in range(5):
        token = f"tok-{round_}"
        barrier = threading.Barrier(2, timeout=WAIT)
        outcomes = Outcomes()

        def press(actor_public_id, barrier=barrier, outcomes=outcomes, token=token):
            actor = auth.get_popug(actor_public_id)
            db.session.commit()
            barrier.wait()
            try:
                result = shuffle_now(actor=actor, form_token=token)
                public_id = result.public_id
                db.session.commit()
                outcomes.add(("shuffled", public_id))
            except shuffles.AlreadyShuffled as duplicate:
                public_id = duplicate.shuffle.public_id
                db.session.rollback()
                outcomes.add(("duplicate", public_id))

        errors = run_in_threads(app, [lambda a=a: press(a) for a in actors])
        assert not errors, errors
        kinds = Counter(kind for kind, _ in outcomes.items)
        assert kinds == {"shuffled": 1, "duplicate": 1}, outcomes.items
        assert len({public_id for _, public_id in outcomes.items}) == 1
        db.session.expire_all()
        assert count(Shuffle, Shuffle.form_token == token) == 1
    assert count(Shuffle) == 5
    for shuffle in db.session.scalars(select(Shuffle)):
        assert shuffle.tasks_count == 20
        assert len(fee_charges(shuffle_id=shuffle.id)) == 20
    assert_fee_trail_consistent()


def test_creates_during_shuffles_are_charged_once_each(app, manager, admin):
    for _ in range(3):
        make_popug(role="worker")
    make_popug(role="accountant")
    for n in range(10):
        make_task(manager, title=f"Seed {n}")
    creators = 4
    per_creator = 15
    shuffles = 3
    barrier = threading.Barrier(creators + 1, timeout=WAIT)
    created = Outcomes()
    pressed = Outcomes()
    manager_public_id, admin_public_id = manager.public_id, admin.public_id

    def creator(n):
        actor = auth.get_popug(admin_public_id if n % 2 else manager_public_id)
        db.session.commit()
        barrier.wait()
        for k in range(per_creator):
            task = service.create_task(
                title=f"C{n} {k}",
                jira_id=f"UBERPOP-{n * 100 + k}",
                description="",
                actor=actor,
                form_token=f"c{n}-{k}",
            )
            db.session.commit()
            created.add(task.id)

    def shuffler():
        actor = auth.get_popug(manager_public_id)
        db.session.commit()
        barrier.wait()
        for _ in range(shuffles):
            result = shuffle_now(actor=actor)
            db.session.commit()
            pressed.add(result.tasks_count)

    targets = [lambda n=n: creator(n) for n in range(creators)] + [shuffler]
    errors = run_in_threads(app, targets, timeout=120)
    assert not errors, errors
    assert len(set(created.items)) == creators * per_creator
    assert count(Task) == 10 + creators * per_creator
    assert len(pressed.items) == shuffles
    # each shuffle moved every task open when it ran: at least the 10 seeds, at most all
    assert all(10 <= n <= 10 + creators * per_creator for n in pressed.items), pressed.items
    creation = Counter(
        db.session.scalars(
            select(LedgerEntry.task_id).where(
                LedgerEntry.kind == ASSIGN_FEE, LedgerEntry.shuffle_id.is_(None)
            )
        )
    )
    assert set(creation.values()) == {1} and len(creation) == count(Task)
    per_shuffle = Counter(e.shuffle_id for e in fee_charges() if e.shuffle_id is not None)
    for shuffle in db.session.scalars(select(Shuffle)):
        assert per_shuffle[shuffle.id] == shuffle.tasks_count
    assert_fee_trail_consistent()


def test_the_same_create_form_twice_at_once_creates_one_task(app, worker, manager):
    manager_public_id = manager.public_id
    for round_ in range(5):
        token = f"create-{round_}"
        barrier = threading.Barrier(2, timeout=WAIT)
        outcomes = Outcomes()

        def submit(barrier=barrier, outcomes=outcomes, token=token):
            actor = auth.get_popug(manager_public_id)
            db.session.commit()
            barrier.wait()
            try:
                task = service.create_task(
                    title="Once", jira_id=None, description="", actor=actor, form_token=token
                )
                task_id = task.id
                db.session.commit()
                outcomes.add(("created", task_id))
            except service.AlreadySubmitted as duplicate:
                db.session.rollback()
                outcomes.add(("duplicate", duplicate.task_id))

        errors = run_in_threads(app, [submit, submit])
        assert not errors, errors
        assert Counter(kind for kind, _ in outcomes.items) == {"created": 1, "duplicate": 1}
        assert len({task_id for _, task_id in outcomes.items}) == 1
    assert count(Task) == 5
    assert count(LedgerEntry) == 5
    assert_fee_trail_consistent()


def test_readers_see_the_state_before_an_uncommitted_shuffle(app, manager):
    """A shuffle holds its transaction open; pages read meanwhile show the old assignees,
    and after the commit the new ones. Only `beta` is eligible when it runs, so every task
    moves from alpha to beta."""
    alpha = make_popug(role="worker", username="alpha-popug")
    tasks = [make_task(manager, title=f"Task {n:02d}") for n in range(8)]
    beta = make_popug(role="worker", username="beta-popug")
    alpha.active = False
    db.session.commit()
    fees = sum(t.fee for t in tasks)
    manager_public_id, beta_id = manager.public_id, beta.id
    held, release = threading.Event(), threading.Event()
    shuffled = Outcomes()

    def hold_a_shuffle():
        actor = auth.get_popug(manager_public_id)
        result = shuffle_now(actor=actor)
        shuffled.add(result.tasks_count)
        held.set()
        shuffled.add("released" if release.wait(WAIT) else "timed out")
        db.session.commit()

    holder = threading.Thread(target=lambda: _in_app(app, hold_a_shuffle), daemon=True)
    holder.start()
    try:
        assert held.wait(WAIT), "the shuffle never got going"
        board = signed_in_client(app, manager)
        beta_client = signed_in_client(app, beta)
        db.session.remove()
        during = board.get("/").get_data(as_text=True)
        assert during.count("alpha-popug") == 8 and "beta-popug" not in during
        db.session.remove()
        mine = beta_client.get("/my-tasks").get_data(as_text=True)
        assert "Nothing open for you" in mine
        db.session.remove()
        assert balances()[beta_id] == 0
        db.session.remove()
    finally:
        release.set()
        holder.join(WAIT)
    assert not holder.is_alive()
    assert shuffled.items == [8, "released"]
    db.session.remove()
    after = board.get("/").get_data(as_text=True)
    assert after.count("beta-popug") == 8 and "alpha-popug" not in after
    db.session.remove()
    assert beta_client.get("/my-tasks").get_data(as_text=True).count('<tr id="task-') == 8
    assert balances()[beta_id] == -fees
    assert_books_balance()


def _in_app(app, target):
    with app.app_context():
        target()


def test_a_popug_deactivated_as_a_shuffle_starts(app, admin, manager):
    """An admin deactivates a popug (another request) just as the shuffle's UPDATE of tasks
    begins, a shuffle that has already counted them eligible. The deactivation waits for
    the shuffle (TASKS_LOCK), then hands over every open task the popug holds, those the
    shuffle gave them included: no task is left on them, each move is charged once."""
    popugs = [make_popug(role="worker") for _ in range(3)]
    for n in range(30):
        make_task(manager, title=f"Task {n:02d}")
    victim_public_id, victim_id = popugs[1].public_id, popugs[1].id
    admin_public_id = admin.public_id
    handed_over = []

    def deactivate():
        with app.app_context():
            change = auth.set_active(victim_public_id, False, actor=auth.get_popug(admin_public_id))
            handed_over.append(change.tasks_handed_over)
            db.session.commit()

    admin_request = threading.Thread(target=_in_app, args=(app, deactivate))

    def deactivate_during_the_update(conn, cursor, statement, parameters, context, many):
        if (
            admin_request.is_alive()
            or handed_over
            or "UPDATE TASKS SET" not in " ".join(statement.upper().split())
        ):
            return
        admin_request.start()
        # until it waits for the shuffle's TASKS_LOCK
        assert poll(lambda: waiting_on_advisory_lock(db.engine, db.engine.url.database), timeout=10)

    event.listen(db.engine, "before_cursor_execute", deactivate_during_the_update)
    try:
        result = shuffle_now(actor=manager)
        db.session.commit()
    finally:
        event.remove(db.engine, "before_cursor_execute", deactivate_during_the_update)
    admin_request.join(30)
    assert result.tasks_count == 30
    db.session.expire_all()
    assert handed_over and handed_over[0] > 0  # the shuffle gave them some: all moved on
    open_now = set(db.session.scalars(select(Task.assignee_id).where(Task.status == OPEN)))
    assert victim_id not in open_now
    assert open_now <= {p.id for p in popugs}
    assert_fee_trail_consistent()


def test_tasks_created_while_their_drawn_popug_is_deactivated_go_to_someone_else(
    app, admin, manager
):
    """Creators draw an assignee while an admin's deactivation of that popug is flushed but
    not committed (its open tasks already handed over). The drawn row is locked FOR SHARE:
    such a creator waits for the deactivation and then takes the other popug, so no task
    lands on the deactivated one after the hand-over."""
    victim, other = make_popug(role="worker"), make_popug(role="worker")
    db.session.commit()
    victim_id, victim_public_id = victim.id, victim.public_id
    admin_public_id, manager_public_id = admin.public_id, manager.public_id
    deactivated, creators_started = threading.Event(), threading.Event()

    def deactivate():
        auth.set_active(victim_public_id, False, actor=auth.get_popug(admin_public_id))
        deactivated.set()
        creators_started.wait(10)
        time.sleep(0.5)  # the creators draw, and those that drew the victim wait for it
        db.session.commit()

    def create(n):
        def run():
            deactivated.wait(10)
            creators_started.set()
            manager_ = auth.get_popug(manager_public_id)
            service.create_task(title=f"During {n}", jira_id=None, description="", actor=manager_)
            db.session.commit()

        return run

    errors = run_in_threads(app, [deactivate] + [create(n) for n in range(12)])
    assert errors == []
    db.session.expire_all()
    on = Counter(db.session.scalars(select(Task.assignee_id).where(Task.status == OPEN)))
    assert victim_id not in on
    assert on == {other.id: 12}
    assert_fee_trail_consistent()
