"""A shuffle as a job: the press queues it, the job worker runs it, and its page, the board
and My tasks say where it is (queued, running, done, failed)."""

import threading
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.exc import OperationalError

from app import clock
from app.blueprints.accounting.models import LedgerEntry
from app.blueprints.tasks import jobs, service, shuffle_move, shuffles
from app.blueprints.tasks.models import DONE, Shuffle, ShuffleStatus, Task
from app.extensions import db
from app.worker import runner_lock
from tests.factories import make_task, run_queued_shuffles
from tests.helpers import HTMX, count, signed_in_client
from tests.tasks.helpers import assert_books_balance, assignees, fee_charges

T0 = datetime(2024, 3, 3, 12, 0, tzinfo=UTC)


def press(client, token: str):
    response = client.post("/tasks/shuffle", data={"form_token": token})
    assert response.status_code == 303, response.data
    return response


def page(client, url: str, **kwargs) -> str:
    response = client.get(url, **kwargs)
    assert response.status_code == 200
    return response.get_data(as_text=True)


def test_the_press_only_queues_and_the_worker_runs_it(manager_client, manager, worker):
    for _ in range(4):
        make_task(manager)
    before = assignees()
    response = press(manager_client, "tok-1")
    shuffle = db.session.scalars(select(Shuffle)).one()
    assert (shuffle.status, shuffle.attempts, shuffle.started_at) == (ShuffleStatus.QUEUED, 0, None)
    assert assignees() == before and count(LedgerEntry, LedgerEntry.shuffle_id.is_not(None)) == 0

    [ran] = run_queued_shuffles()
    db.session.refresh(shuffle)
    assert ran.id == shuffle.id
    assert (shuffle.status, shuffle.attempts, shuffle.tasks_count) == (ShuffleStatus.DONE, 1, 4)
    assert shuffle.finished_at >= shuffle.started_at >= shuffle.requested_at
    assert len(fee_charges(shuffle_id=shuffle.id)) == 4
    assert_books_balance()
    body = page(manager_client, response.headers["Location"])
    assert "Reassigned 4 open tasks among 1 popugs." in body
    assert run_queued_shuffles() == [], "a done shuffle is not run again"


def test_a_press_while_one_is_queued_joins_it(manager_client, admin_client, manager, worker):
    make_task(manager)
    first = press(manager_client, "tok-a")
    second = press(admin_client, "tok-b")
    assert first.headers["Location"] == second.headers["Location"]
    assert count(Shuffle) == 1
    assert "your press joined it" in page(admin_client, second.headers["Location"])
    assert len(run_queued_shuffles()) == 1


def test_a_press_while_one_runs_queues_exactly_one_more(manager_client, manager, worker):
    make_task(manager)
    press(manager_client, "tok-a")
    running = shuffles.claim_next_shuffle()
    db.session.commit()
    assert running.status == ShuffleStatus.RUNNING
    second = press(manager_client, "tok-b")
    third = press(manager_client, "tok-c")
    assert second.headers["Location"] == third.headers["Location"]
    assert [s.status for s in db.session.scalars(select(Shuffle).order_by(Shuffle.id))] == [
        ShuffleStatus.RUNNING,
        ShuffleStatus.QUEUED,
    ]


def test_running_page_shows_time_against_the_last_shuffle(manager_client, manager, worker):
    make_task(manager)
    clock.freeze(T0)
    press(manager_client, "tok-1")
    run_queued_shuffles()
    db.session.scalars(select(Shuffle)).one().duration_ms = 20_000
    db.session.commit()
    response = press(manager_client, "tok-2")
    shuffles.claim_next_shuffle()
    db.session.commit()
    clock.freeze(T0 + timedelta(seconds=5))

    body = page(manager_client, response.headers["Location"])
    assert "Running" in body and "Running for 5 s of about 20 s" in body
    assert '<progress max="100" value="25"' in body
    fragment = page(manager_client, response.headers["Location"], headers=HTMX)
    assert fragment.lstrip().startswith('<div id="shuffle-state"') and "<html" not in fragment
    assert 'data-hx-trigger="every 1s"' in fragment, "it keeps polling while it runs"
    assert 'http-equiv="refresh"' in body, "without JavaScript the page refreshes itself"


def test_running_page_without_an_earlier_shuffle_shows_elapsed_time(
    manager_client, manager, worker
):
    make_task(manager)
    clock.freeze(T0)
    response = press(manager_client, "tok-1")
    shuffles.claim_next_shuffle()
    db.session.commit()
    clock.freeze(T0 + timedelta(seconds=3))
    body = page(manager_client, response.headers["Location"])
    assert "Running for 3 s." in body and "<progress aria-label" in body


def test_nothing_left_to_shuffle_when_the_worker_starts_fails_with_the_reason(
    manager_client, manager, worker, app
):
    task = make_task(manager)
    response = press(manager_client, "tok-1")
    service.complete_task(task.public_id, actor=worker)
    db.session.commit()
    [shuffle] = run_queued_shuffles()
    assert (shuffle.status, shuffle.error) == (ShuffleStatus.FAILED, "no_open_tasks")
    body = page(manager_client, response.headers["Location"])
    assert "Failed" in body and shuffles.NO_OPEN_TASKS in body
    russian = page(manager_client, response.headers["Location"], headers={"Accept-Language": "ru"})
    assert "Открытых задач для перетасовки нет." in russian
    assert "hx-trigger" not in body.split("<main", 1)[1], "a failed shuffle stops polling"


def test_an_unexpected_error_fails_the_shuffle_and_changes_nothing(
    manager_client, manager, worker, monkeypatch
):
    make_task(manager)
    before = assignees()
    press(manager_client, "tok-1")

    def broken(*args, **kwargs):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(shuffle_move.bulk_fees, "charge_assign_fees_in_bulk", broken)
    [shuffle] = run_queued_shuffles()
    assert (shuffle.status, shuffle.error) == (ShuffleStatus.FAILED, "unexpected")
    assert assignees() == before
    assert count(LedgerEntry, LedgerEntry.shuffle_id.is_not(None)) == 0


def test_a_shuffle_cut_off_by_a_lost_connection_stays_running_and_is_begun_again(
    manager_client, manager, worker, monkeypatch
):
    make_task(manager)
    before = assignees()
    press(manager_client, "tok-1")

    def connection_lost(*args, **kwargs):
        raise OperationalError(
            "UPDATE tasks",
            {},
            Exception("server closed the connection"),
            connection_invalidated=True,
        )

    with monkeypatch.context() as patch:
        patch.setattr(shuffle_move.bulk_fees, "charge_assign_fees_in_bulk", connection_lost)
        with pytest.raises(OperationalError):
            jobs.run_next_shuffle()
    db.session.rollback()
    shuffle = db.session.scalars(select(Shuffle)).one()
    assert (shuffle.status, shuffle.attempts, shuffle.error) == (ShuffleStatus.RUNNING, 1, None)
    assert assignees() == before
    [ran] = run_queued_shuffles()
    assert (ran.id, ran.status, ran.attempts) == (shuffle.id, ShuffleStatus.DONE, 2)


def test_a_shuffle_left_running_is_begun_again_then_failed(manager_client, manager, worker):
    """A shuffle still marked running when the worker holding the runner lock looks was cut
    off with its worker (its transaction rolled back): it is begun again, SHUFFLE_ATTEMPTS
    times in all, then failed."""
    make_task(manager)
    shuffles.request_shuffle(actor=manager, form_token="tok")
    db.session.commit()
    for attempt in range(1, shuffles.SHUFFLE_ATTEMPTS + 1):
        claimed = shuffles.claim_next_shuffle()
        db.session.commit()  # ... and its worker dies before the shuffle commits
        assert (claimed.status, claimed.attempts) == (ShuffleStatus.RUNNING, attempt)
    assert shuffles.claim_next_shuffle() is None
    db.session.commit()
    shuffle = db.session.scalars(select(Shuffle)).one()
    assert (shuffle.status, shuffle.attempts) == (ShuffleStatus.FAILED, shuffles.SHUFFLE_ATTEMPTS)
    assert shuffle.error == "worker_stopped"
    shown = page(manager_client, f"/shuffles/{shuffle.public_id}")
    assert "A worker stopped while running it, 3 times" in shown


def test_a_shuffle_done_meanwhile_is_not_run_again(manager, worker):
    make_task(manager)
    shuffles.request_shuffle(actor=manager)
    claimed = shuffles.claim_next_shuffle()
    shuffles.run_shuffle(claimed.id)
    db.session.commit()
    entries = count(LedgerEntry)
    again = shuffles.run_shuffle(claimed.id)  # a second worker that claimed it before
    db.session.commit()
    assert again.status == ShuffleStatus.DONE and count(LedgerEntry) == entries


@pytest.mark.parametrize("status", [ShuffleStatus.QUEUED, ShuffleStatus.RUNNING])
def test_board_and_my_tasks_say_a_shuffle_is_under_way(app, manager, worker, status):
    make_task(manager)
    shuffles.request_shuffle(actor=manager)
    if status == ShuffleStatus.RUNNING:
        shuffles.claim_next_shuffle()
    db.session.commit()
    expected = {
        ShuffleStatus.QUEUED: "A shuffle of the open tasks is about to start",
        ShuffleStatus.RUNNING: "Open tasks are being shuffled right now",
    }[status]
    worker_client = signed_in_client(app, worker)
    for url in ("/", "/my-tasks"):
        body = page(worker_client, url)
        assert expected in body, url
        assert "See its progress" not in body, "only those who may see a shuffle get the link"
    assert "See its progress" in page(signed_in_client(app, manager), "/")
    run_queued_shuffles()
    for url in ("/", "/my-tasks"):
        assert 'id="shuffle-notice"' not in page(worker_client, url)


def test_the_runner_lock_is_held_by_one_worker_at_a_time(app, tmp_path):
    """Two workers: the second waits for the lock until the first lets it go."""
    from sqlalchemy import create_engine

    url = app.config["SQLALCHEMY_DATABASE_URI"]
    if url.startswith("sqlite") and ":memory:" in url:
        url = f"sqlite:///{tmp_path / 'lock.sqlite3'}"
    engine = create_engine(url)
    stop = threading.Event()
    events = []
    first_holds, second_tried = threading.Event(), threading.Event()

    def second():
        second_tried.set()
        with runner_lock(engine, stop, poll=0.01) as held:
            events.append(("second", bool(held)))

    try:
        with runner_lock(engine, stop, poll=0.01) as held:
            assert held
            first_holds.set()
            thread = threading.Thread(target=second)
            thread.start()
            assert second_tried.wait(5)
            thread.join(0.3)
            assert thread.is_alive() and events == [], "the second worker did not wait"
            events.append(("first done", True))
        thread.join(10)
        assert events == [("first done", True), ("second", True)]
    finally:
        stop.set()
        engine.dispose()


def test_done_tasks_stay_done_and_the_shuffle_moves_only_open_ones(manager, worker):
    done_task, open_task = make_task(manager), make_task(manager)
    service.complete_task(done_task.public_id, actor=worker)
    db.session.commit()
    shuffles.request_shuffle(actor=manager)
    db.session.commit()
    [shuffle] = run_queued_shuffles()
    assert shuffle.tasks_count == 1
    assert db.session.get(Task, done_task.id).status == DONE
    assert len(fee_charges(task_id=open_task.id)) == 2
    assert fee_charges(task_id=done_task.id)[-1].shuffle_id is None


def test_my_account_explains_a_shuffles_summed_fee_task_by_task(app, manager, worker):
    first = make_task(manager, title="Feed <the> parrot", jira_id="UBERPOP-7")
    second = make_task(manager, title="Clean the cage")
    shuffles.request_shuffle(actor=manager)
    db.session.commit()
    run_queued_shuffles()
    [entry] = db.session.scalars(select(LedgerEntry).where(LedgerEntry.shuffle_id.is_not(None)))
    assert entry.amount == -(first.fee + second.fee) and entry.task_id is None
    body = page(signed_in_client(app, worker), "/account")
    assert "Shuffle: 2 tasks" in body
    assert f'UBERPOP-7 · <a href="/tasks/{first.public_id}">Feed &lt;the&gt; parrot</a>' in body
    assert "Clean the cage" in body
