"""Tasks pages through the test client: board, create (plain and htmx), My tasks, Mark done,
shuffle, and who may do what."""

import re
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from app import clock
from app.blueprints.accounting.models import REWARD, LedgerEntry
from app.blueprints.tasks import service, shuffles
from app.blueprints.tasks.models import DONE, OPEN, Shuffle, Task
from app.extensions import db
from app.money import format_cents
from tests.factories import make_popug, make_task, run_queued_shuffles, shuffle_now
from tests.helpers import HTMX, count, signed_in_client
from tests.tasks.helpers import assert_books_balance, assignees, balances

TOP_BAR_BALANCE = re.compile(
    r'<span id="my-balance" data-hx-swap-oob="true"[^>]*>(<span[^>]*>[^<]*)'
)
ROW = re.compile(r'<tr id="task-([0-9a-f-]{36})"')
T0 = datetime(2024, 3, 3, 8, 0, tzinfo=UTC)


def rows(response) -> list[str]:
    """Public ids of the task rows on a page, top to bottom."""
    return ROW.findall(response.get_data(as_text=True))


def text(response) -> str:
    return response.get_data(as_text=True)


def public_ids(tasks) -> list[str]:
    return [t.public_id for t in tasks]


def done(task, popug):
    service.complete_task(task.public_id, actor=popug)
    db.session.commit()


# --- the board ------------------------------------------------------------------------------


def test_empty_board_says_so(worker_client):
    page = worker_client.get("/")
    assert page.status_code == 200
    assert "No tasks here yet" in text(page)
    assert rows(page) == []
    for label in ("Title", "Jira ID", "Description", "Create task"):
        assert label in text(page)


def test_board_filters(app, worker, manager):
    client = signed_in_client(app, worker)
    # Only `worker` is eligible for the first three, then both are.
    mine = [make_task(manager, title=f"Mine {n}") for n in range(3)]
    other = make_popug(role="worker", username="other-worker")
    theirs = []
    for n in range(200):  # draw until `other` has three tasks (each draw is 50:50)
        task = make_task(manager, title=f"Drawn {n}")
        (theirs if task.assignee_id == other.id else mine).append(task)
        if len(theirs) == 3:
            break
    assert len(theirs) == 3
    done(mine[0], worker)
    done(theirs[0], other)
    everything = sorted(mine + theirs, key=lambda t: t.id, reverse=True)

    assert rows(client.get("/")) == public_ids(everything)
    assert rows(client.get("/?filter=all")) == public_ids(everything)
    assert rows(client.get("/?filter=mine")) == public_ids([t for t in everything if t in mine])
    assert rows(client.get("/?filter=open")) == public_ids(
        [t for t in everything if t not in (mine[0], theirs[0])]
    )
    assert rows(client.get("/?filter=done")) == public_ids(
        [t for t in everything if t in (mine[0], theirs[0])]
    )
    assert rows(client.get("/?filter=bogus")) == public_ids(everything)
    # The filter links are there, the current one marked.
    page = text(client.get("/?filter=done"))
    assert re.search(r'href="/\?filter=done"[^>]*aria-current="true"', page)
    # htmx gets the board fragment only.
    fragment = client.get("/?filter=mine", headers=HTMX)
    assert "<html" not in text(fragment)
    assert rows(fragment) == public_ids([t for t in everything if t in mine])
    assert "HX-Request" in fragment.headers.get("Vary", "")


def test_board_columns_show_the_task(worker_client, worker, manager):
    task = make_task(manager, title="Feed the parrot", jira_id="uberpop-42")
    page = text(worker_client.get("/"))
    for heading in ("Jira ID", "Title", "Assignee", "Status", "Fee", "Reward", "Created"):
        assert f">{heading}</th>" in page
    row = page[page.index(f'id="task-{task.public_id}"') :]
    row = row[: row.index("</tr>")]
    assert "UBERPOP-42" in row and "Feed the parrot" in row and "worker-one" in row
    assert format_cents(task.fee) in row and format_cents(task.reward) in row
    assert "Mark done" in row  # one's own open task


def test_board_paginates_50_per_page_newest_first(worker_client, worker, manager):
    tasks = [make_task(manager, title=f"Task {n:03d}") for n in range(120)]
    newest_first = public_ids(reversed(tasks))
    first = worker_client.get("/")
    assert rows(first) == newest_first[:50]
    assert "Page 1" in text(first) and "Page 1 of" not in text(first)  # no count
    assert re.search(r'<a href="[^"]*page=2[^"]*" rel="next">', text(first))
    assert rows(worker_client.get("/?page=2")) == newest_first[50:100]
    third = worker_client.get("/?page=3")
    assert rows(third) == newest_first[100:]
    assert "Page 3" in text(third) and not re.search(r"<a [^>]*rel=\"next\"", text(third))
    beyond = worker_client.get("/?page=9")
    assert beyond.status_code == 200 and rows(beyond) == []
    assert rows(worker_client.get("/?page=0")) == newest_first[:50]
    assert rows(worker_client.get("/?page=-3")) == newest_first[:50]
    assert rows(worker_client.get("/?page=abc")) == newest_first[:50]
    # The filter survives paging.
    assert "filter=open" in re.search(
        r'<a [^>]*rel="next"[^>]*>', text(worker_client.get("/?filter=open"))
    ).group(0)


def test_filter_with_no_match_shows_the_empty_state(worker_client, worker, manager):
    make_task(manager)
    page = worker_client.get("/?filter=done")
    assert rows(page) == []
    assert "No task has been done yet." in text(page)


# --- create ---------------------------------------------------------------------------------


def test_create_without_htmx_redirects_with_a_flash(worker_client, worker):
    response = worker_client.post(
        "/tasks",
        data={"title": "  Feed the parrot ", "jira_id": "uberpop-7", "form_token": "tok-a"},
    )
    assert response.status_code == 303
    assert response.headers["Location"] == "/"
    task = db.session.scalars(select(Task)).one()
    assert (task.title, task.jira_id, task.assignee_id, task.creator_id) == (
        "Feed the parrot",
        "UBERPOP-7",
        worker.id,
        worker.id,
    )
    page = worker_client.get("/")
    assert "Task created and assigned to worker-one." in text(page)
    assert rows(page) == [task.public_id]
    assert balances()[worker.id] == -task.fee
    assert_books_balance()


def test_create_with_htmx_returns_the_new_row_and_a_fresh_form(worker_client, worker, manager):
    older = make_task(manager, title="Older")
    response = worker_client.post(
        "/tasks",
        data={"title": "Feed the parrot", "jira_id": "", "form_token": "tok-h"},
        headers=HTMX | {"HX-Current-URL": "http://localhost/?filter=all"},
    )
    assert response.status_code == 200
    body = text(response)
    assert "<html" not in body
    task = db.session.scalar(select(Task).where(Task.title == "Feed the parrot"))
    # the new row, on top of the board
    assert rows(response) == [task.public_id, older.public_id]
    assert 'data-hx-swap-oob="true"' in body
    # a fresh form: empty fields and a new one-time token
    form = body[body.index('<form id="task-form"') :]
    form = form[: form.index("</form>")]
    assert re.search(r'<input [^>]*id="title"[^>]*value=""', form)
    assert "Feed the parrot" not in form
    token = re.search(r'<input [^>]*name="form_token"[^>]*value="([^"]+)"', form)
    assert token and token.group(1) != "tok-h"
    assert "Task created and assigned to worker-one." in body  # flash, out of band


def test_htmx_create_landing_on_its_creator_updates_the_top_bar_balance(worker_client, worker):
    """The creator is the only one tasks land on: charged the fee, and the top bar says so
    without a page load."""
    response = worker_client.post(
        "/tasks", data={"title": "My own chore", "form_token": "tok-b"}, headers=HTMX
    )
    assert response.status_code == 200
    task = db.session.scalar(select(Task).where(Task.title == "My own chore"))
    assert task.assignee_id == worker.id
    balance = TOP_BAR_BALANCE.search(text(response))
    assert balance and format_cents(-task.fee) in balance.group(1)


def test_htmx_create_refreshes_the_board_the_popug_is_on(worker_client, worker, manager):
    make_task(manager, title="Open one")
    finished = make_task(manager, title="Done one")
    done(finished, worker)
    response = worker_client.post(
        "/tasks",
        data={"title": "Brand new", "form_token": "tok-f"},
        headers=HTMX | {"HX-Current-URL": "http://localhost/?filter=done"},
    )
    assert response.status_code == 200
    assert rows(response) == [finished.public_id]


@pytest.mark.parametrize("htmx", [False, True])
def test_create_errors_sit_next_to_fields_and_keep_what_was_typed(worker_client, worker, htmx):
    response = worker_client.post(
        "/tasks",
        data={
            "title": "Fix [it]",
            "jira_id": "uberpop 7",
            "description": "seeds & nuts",
            "form_token": "tok-bad",
        },
        headers=HTMX if htmx else {},
    )
    assert response.status_code == 422
    body = text(response)
    assert ("<html" in body) is not htmx
    assert re.search(r'<p class="error" id="title-error">[^<]*Jira ID', body)
    assert 'value="Fix [it]"' in body
    assert "seeds &amp; nuts" in body
    assert count(Task) == 0
    assert count(LedgerEntry) == 0
    # Fixing the title shows the Jira ID message next to its field.
    response = worker_client.post(
        "/tasks",
        data={"title": "Fix it", "jira_id": "uberpop 7", "form_token": "tok-bad"},
        headers=HTMX if htmx else {},
    )
    assert response.status_code == 422
    assert re.search(r'<p class="error" id="jira_id-error">[^<]*UBERPOP-42', text(response))
    assert 'value="uberpop 7"' in text(response)
    # The token was not used up by the failed attempts.
    response = worker_client.post(
        "/tasks",
        data={"title": "Fix it", "jira_id": "uberpop-7", "form_token": "tok-bad"},
        headers=HTMX if htmx else {},
    )
    assert response.status_code == (200 if htmx else 303)
    assert count(Task) == 1


def test_empty_title_message(worker_client, worker):
    response = worker_client.post("/tasks", data={"title": "   ", "form_token": "t"})
    assert response.status_code == 422
    assert re.search(r'<p class="error" id="title-error">Give the task a title', text(response))


def test_create_with_nobody_eligible_is_a_form_error(manager_client, manager):
    response = manager_client.post("/tasks", data={"title": "Lonely", "form_token": "t"})
    assert response.status_code == 422
    assert shuffles.NOBODY_ELIGIBLE in text(response)
    assert count(Task) == 0 and count(LedgerEntry) == 0


@pytest.mark.parametrize("htmx", [False, True])
def test_double_submit_creates_one_task(worker_client, worker, htmx):
    data = {"title": "Only once", "form_token": "tok-double"}
    first = worker_client.post("/tasks", data=data, headers=HTMX if htmx else {})
    second = worker_client.post("/tasks", data=data, headers=HTMX if htmx else {})
    assert first.status_code == second.status_code == (200 if htmx else 303)
    assert count(Task) == 1
    assert count(LedgerEntry) == 1
    if htmx:
        assert "already submitted" in text(second)
    else:
        assert "already submitted" in text(worker_client.get("/"))
    assert_books_balance()


def test_create_needs_sign_in(client):
    response = client.post("/tasks", data={"title": "x", "form_token": "t"})
    assert response.status_code == 302
    assert "/sign-in" in response.headers["Location"]
    assert client.get("/").status_code == 302


def test_create_without_csrf_token_is_400(app, worker, monkeypatch):
    monkeypatch.setitem(app.config, "WTF_CSRF_ENABLED", True)
    client = signed_in_client(app, worker)
    response = client.post("/tasks", data={"title": "Forged", "form_token": "t"})
    assert response.status_code == 400
    assert count(Task) == 0
    # The real form carries the token and works.
    page = text(client.get("/"))
    form = page[page.index('<form id="task-form"') :]
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', form).group(1)
    response = client.post("/tasks", data={"csrf_token": token, "title": "Real", "form_token": "t"})
    assert response.status_code == 303
    assert count(Task) == 1


# --- My tasks and Mark done -----------------------------------------------------------------


def test_my_tasks_lists_open_tasks_then_the_last_20_done(app, worker, manager):
    client = signed_in_client(app, worker)
    clock.freeze(T0)
    tasks = [make_task(manager, title=f"Task {n:03d}") for n in range(28)]
    for n, task in enumerate(tasks[:25]):
        clock.freeze(T0 + timedelta(minutes=n + 1))
        done(task, worker)
    other = make_popug(role="worker")
    clock.freeze(T0 + timedelta(hours=1))
    theirs = None
    for _ in range(60):  # draw until one lands on the other worker
        task = make_task(manager, title="Not mine")
        if task.assignee_id == other.id:
            theirs = task
            break
    assert theirs is not None
    page = client.get("/my-tasks")
    assert page.status_code == 200
    body = text(page)
    open_part, done_part = body.split('id="done-title"')
    open_mine = db.session.scalars(
        select(Task)
        .where(Task.status == OPEN, Task.assignee_id == worker.id)
        .order_by(Task.id.desc())
    ).all()
    assert len(open_mine) >= 3
    assert rows_of(open_part) == public_ids(open_mine)
    assert open_part.count("Mark done") == len(open_mine)
    # the 20 most recently completed, newest first; the 5 first completed are not shown
    assert rows_of(done_part) == public_ids(reversed(tasks[5:25]))
    assert "Mark done" not in done_part
    assert theirs.public_id not in body


def rows_of(html: str) -> list[str]:
    return ROW.findall(html)


def test_my_tasks_empty_states(worker_client, worker):
    body = text(worker_client.get("/my-tasks"))
    assert "Nothing open for you" in body
    assert "You have not finished a task yet" in body


@pytest.mark.parametrize("origin", ["my-tasks", "board"])
def test_mark_done_without_htmx(worker_client, worker, manager, origin):
    task = make_task(manager, title="Feed")
    url = f"/tasks/{task.public_id}/done" + ("?from=board" if origin == "board" else "")
    response = worker_client.post(url)
    assert response.status_code in (302, 303)
    assert response.headers["Location"] == ("/" if origin == "board" else "/my-tasks")
    page = text(worker_client.get(response.headers["Location"]))
    assert f"paid you {format_cents(task.reward)}" in page
    db.session.expire_all()
    stored = db.session.get(Task, task.id)
    assert stored.status == DONE and stored.completed_at is not None
    assert count(LedgerEntry, LedgerEntry.kind == REWARD) == 1
    assert balances()[worker.id] == task.reward - task.fee
    assert_books_balance()


def test_mark_done_with_htmx_updates_row_and_balance(worker_client, worker, manager):
    task = make_task(manager, title="Feed")
    response = worker_client.post(f"/tasks/{task.public_id}/done", headers=HTMX)
    assert response.status_code == 200
    body = text(response)
    assert "<html" not in body
    row = re.search(rf'<tr id="task-{task.public_id}" class="([^"]*)"', body)
    assert row and "row-done" in row.group(1)
    assert 'badge-done">done<' in body
    assert "Mark done" not in body
    balance = TOP_BAR_BALANCE.search(body)
    assert balance, body
    assert format_cents(task.reward - task.fee) in balance.group(1)
    assert f"paid you {format_cents(task.reward)}" in body  # flash, out of band
    assert count(LedgerEntry, LedgerEntry.kind == REWARD) == 1


def test_mark_done_on_my_tasks_moves_the_task_as_a_reload_would(worker_client, worker, manager):
    done, other = make_task(manager, title="Feed"), make_task(manager, title="Water")
    before = text(worker_client.get("/my-tasks"))
    assert 'Open <span class="muted">(2)</span>' in before
    response = worker_client.post(
        f"/tasks/{done.public_id}/done",
        headers=HTMX | {"HX-Current-URL": "http://localhost/my-tasks"},
    )
    assert response.headers["HX-Retarget"] == "#my-tasks"
    body = text(response)
    assert 'Open <span class="muted">(1)</span>' in body
    assert "You have not finished a task yet" not in body
    open_section, done_section = body.split('id="done-title"')
    assert f'id="task-{other.public_id}"' in open_section
    assert f'id="task-{done.public_id}"' not in open_section
    assert f'id="task-{done.public_id}"' in done_section
    assert f'id="task-{other.public_id}"' not in done_section


def test_mark_done_on_the_open_filter_takes_the_task_off_the_board(worker_client, worker, manager):
    done, other = make_task(manager, title="Feed"), make_task(manager, title="Water")
    response = worker_client.post(
        f"/tasks/{done.public_id}/done?from=board",
        headers=HTMX | {"HX-Current-URL": "http://localhost/?filter=open"},
    )
    assert response.headers["HX-Retarget"] == "#board-results"
    body = text(response)
    assert f'id="task-{done.public_id}"' not in body
    assert f'id="task-{other.public_id}"' in body


@pytest.mark.parametrize("htmx", [False, True])
def test_someone_elses_task_is_403(app, worker, manager, htmx):
    task = make_task(manager)
    intruder = signed_in_client(app, make_popug(role="accountant"))
    response = intruder.post(f"/tasks/{task.public_id}/done", headers=HTMX if htmx else {})
    assert response.status_code == 403
    db.session.expire_all()
    assert db.session.get(Task, task.id).status == OPEN
    assert count(LedgerEntry, LedgerEntry.kind == REWARD) == 0
    assert_books_balance()


@pytest.mark.parametrize("htmx", [False, True])
def test_done_task_says_already_done_and_pays_once(worker_client, worker, manager, htmx):
    task = make_task(manager)
    assert worker_client.post(f"/tasks/{task.public_id}/done").status_code in (302, 303)
    worker_client.get("/my-tasks")  # consume the first flash
    response = worker_client.post(f"/tasks/{task.public_id}/done", headers=HTMX if htmx else {})
    if htmx:
        assert response.status_code == 200
        assert "already done" in text(response)
        assert re.search(rf'<tr id="task-{task.public_id}" class="row-done"', text(response))
    else:
        assert response.status_code in (302, 303)
        assert "already done" in text(worker_client.get(response.headers["Location"]))
    assert count(LedgerEntry, LedgerEntry.kind == REWARD) == 1
    assert balances()[worker.id] == task.reward - task.fee


@pytest.mark.parametrize("htmx", [False, True])
def test_unknown_task_is_404(worker_client, worker, htmx):
    response = worker_client.post("/tasks/no-such-task/done", headers=HTMX if htmx else {})
    assert response.status_code == 404


# --- shuffle --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("role", "visible"),
    [("manager", True), ("admin", True), ("worker", False), ("accountant", False)],
)
def test_shuffle_button_only_for_managers_and_admins(app, role, visible):
    client = signed_in_client(app, make_popug(role=role))
    page = text(client.get("/"))
    assert ("Shuffle open tasks" in page) is visible
    assert ('action="/tasks/shuffle"' in page) is visible


def test_shuffle_button_confirms_with_and_without_javascript(manager_client, manager, worker):
    """With htmx the board's form posts after the in-page dialog (hx-confirm), carrying its
    one-time token in hx-vals; without JavaScript it opens the confirmation page, whose
    form does the shuffle."""
    for _ in range(3):
        make_task(manager)
    done(make_task(manager), worker)
    make_popug(role="accountant")
    make_popug(role="worker", active=False)
    board = text(manager_client.get("/"))
    form = re.search(r'<form method="get" action="/tasks/shuffle".*?</form>', board, re.S)
    assert form, "the button's form falls back to the confirmation page"
    assert 'data-hx-post="/tasks/shuffle"' in form.group(0)
    assert "data-hx-confirm=" in form.group(0)
    assert re.search(r"""data-hx-vals='\{"form_token": "[\w-]{32}"\}'""", form.group(0))
    assert "<input" not in form.group(0), "nothing secret goes into the GET's query string"

    confirm = manager_client.get("/tasks/shuffle")
    assert confirm.status_code == 200
    page = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", text(confirm)))
    assert "Open tasks 3 Popugs who can get them 2" in page
    token = re.search(r'name="form_token" type="hidden" value="([\w-]+)"', text(confirm))
    assert token and re.search(r'<form method="post" action="/tasks/shuffle"', text(confirm))
    assert count(Shuffle) == 0, "looking at the confirmation shuffles nothing"

    response = manager_client.post("/tasks/shuffle", data={"form_token": token.group(1)})
    assert response.status_code == 303
    run_queued_shuffles()
    assert "Reassigned 3 open tasks among 2 popugs." in text(
        manager_client.get(response.headers["Location"])
    )


def test_shuffle_confirmation_says_when_there_is_nothing_to_do(manager_client, manager, worker):
    page = text(manager_client.get("/tasks/shuffle"))
    assert "There are no open tasks to shuffle." in page
    assert 'method="post"' not in page.split("<main", 1)[1]
    make_task(manager)
    worker.active = False
    db.session.commit()
    page = text(manager_client.get("/tasks/shuffle"))
    assert shuffles.NOBODY_ELIGIBLE in page
    assert 'method="post"' not in page.split("<main", 1)[1]


def test_shuffle_confirmation_counts_open_tasks_up_to_a_cap(
    manager_client, manager, worker, monkeypatch
):
    """Counting every open task reads them all: past the cap the page says "more than"."""
    monkeypatch.setattr(shuffles, "PREVIEW_COUNT_MAX", 2)
    for _ in range(2):
        make_task(manager)
    page = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", text(manager_client.get("/tasks/shuffle"))))
    assert "Open tasks 2 Popugs who can get them 1" in page
    make_task(manager)
    page = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", text(manager_client.get("/tasks/shuffle"))))
    assert "Open tasks more than 2 Popugs who can get them 1" in page
    assert shuffles.preview_shuffle() == shuffles.ShufflePreview(2, 1, more_open_tasks=True)


@pytest.mark.parametrize("role", ["worker", "accountant"])
def test_shuffle_is_403_for_others(app, worker, manager, role):
    make_task(manager)
    before = assignees()
    client = signed_in_client(app, make_popug(role=role))
    assert client.post("/tasks/shuffle", data={"form_token": "t"}).status_code == 403
    assert client.post("/tasks/shuffle", data={"form_token": "t"}, headers=HTMX).status_code == 403
    assert count(Shuffle) == 0
    assert assignees() == before


def test_shuffle_shows_the_result_and_its_record(manager_client, manager, worker):
    make_popug(role="accountant", username="counter")
    for _ in range(5):
        make_task(manager)
    response = manager_client.post("/tasks/shuffle", data={"form_token": "tok-s"})
    assert response.status_code == 303
    shuffle = db.session.scalars(select(Shuffle)).one()
    assert response.headers["Location"] == f"/shuffles/{shuffle.public_id}"
    page = manager_client.get(response.headers["Location"])
    assert page.status_code == 200
    body = text(page)
    assert "Queued" in body and "Reassigned" not in body
    assert "boss" in body  # pressed by
    assert 'data-hx-trigger="every 1s"' in body, "the page refreshes its state while it waits"
    assert count(LedgerEntry, LedgerEntry.shuffle_id.is_not(None)) == 0, "nothing moved yet"
    run_queued_shuffles()
    again = text(manager_client.get(f"/shuffles/{shuffle.public_id}"))
    assert again.count("Reassigned 5 open tasks among 2 popugs") == 1
    assert "hx-trigger" not in again.split("<main", 1)[1], "a done shuffle stops polling"


def test_shuffle_with_htmx_navigates_to_the_record(manager_client, manager, worker):
    make_task(manager)
    response = manager_client.post("/tasks/shuffle", data={"form_token": "t"}, headers=HTMX)
    assert response.status_code == 200
    shuffle = db.session.scalars(select(Shuffle)).one()
    assert response.headers["HX-Redirect"] == f"/shuffles/{shuffle.public_id}"


def test_the_same_shuffle_form_twice_shuffles_once(manager_client, manager, worker):
    make_popug(role="worker")
    for _ in range(6):
        make_task(manager)
    first = manager_client.post("/tasks/shuffle", data={"form_token": "tok-twice"})
    run_queued_shuffles()
    after_first = (assignees(), balances(), count(LedgerEntry))
    second = manager_client.post("/tasks/shuffle", data={"form_token": "tok-twice"})
    assert run_queued_shuffles() == []
    assert first.status_code == second.status_code == 303
    assert first.headers["Location"] == second.headers["Location"]
    assert count(Shuffle) == 1
    assert (assignees(), balances(), count(LedgerEntry)) == after_first
    assert "Reassigned 6 open tasks among 2 popugs" in text(
        manager_client.get(second.headers["Location"])
    )


def test_shuffle_with_nothing_open_flashes_and_changes_nothing(manager_client, manager, worker):
    task = make_task(manager)
    done(task, worker)
    response = manager_client.post("/tasks/shuffle", data={"form_token": "t"})
    assert response.status_code == 303 and response.headers["Location"] == "/"
    assert "There are no open tasks to shuffle." in text(manager_client.get("/"))
    assert count(Shuffle) == 0


def test_shuffle_record_access(app, manager, worker):
    make_task(manager)
    shuffle = shuffle_now(actor=manager)
    db.session.commit()
    url = f"/shuffles/{shuffle.public_id}"
    assert signed_in_client(app, manager).get(url).status_code == 200
    assert signed_in_client(app, make_popug(role="admin")).get(url).status_code == 200
    assert signed_in_client(app, worker).get(url).status_code == 403
    assert signed_in_client(app, manager).get("/shuffles/nope").status_code == 404


def test_my_tasks_after_a_shuffle(app, manager, worker):
    """A worker's My tasks shows what the shuffle gave them, and only that."""
    other = make_popug(role="worker")
    tasks = [make_task(manager, title=f"Task {n:03d}") for n in range(10)]
    shuffle_now(actor=manager)
    db.session.commit()
    db.session.expire_all()
    for popug in (worker, other):
        body = text(signed_in_client(app, popug).get("/my-tasks"))
        open_part = body.split('id="done-title"')[0]
        expected = [
            t.public_id
            for t in sorted(tasks, key=lambda t: t.id, reverse=True)
            if db.session.get(Task, t.id).assignee_id == popug.id
        ]
        assert rows_of(open_part) == expected


# --- bad input never makes a 500 --------------------------------------------------------------


@pytest.mark.parametrize("field", ["title", "description"])
def test_control_characters_are_a_field_error(worker_client, worker, field):
    """PostgreSQL refuses NUL in text (a 500 if it reaches the database); SQLite would store
    it. Both must answer with a message next to the field and save nothing."""
    data = {"title": "Feed the parrot", "description": "", "form_token": "t"}
    data[field] = "seeds\x00nuts"
    response = worker_client.post("/tasks", data=data)
    assert response.status_code == 422
    assert re.search(rf'<p class="error" id="{field}-error">', text(response))
    assert count(Task) == 0 and count(LedgerEntry) == 0


@pytest.mark.parametrize(
    "url",
    [
        "/?page=99999999999999999999",
        "/?filter=open&page=9223372036854775807",
        "/?page=46116860184273880",
        "/my-tasks?page=99999999999999999999",
    ],
)
def test_huge_page_numbers_are_not_a_500(worker_client, worker, manager, url):
    make_task(manager)
    response = worker_client.get(url)
    assert response.status_code == 200


def test_htmx_create_on_a_huge_page_is_not_a_500(worker_client, worker):
    response = worker_client.post(
        "/tasks",
        data={"title": "Feed", "form_token": "t"},
        headers=HTMX | {"HX-Current-URL": "http://localhost/?page=99999999999999999999"},
    )
    assert response.status_code == 200
    assert count(Task) == 1


def test_user_text_is_escaped(worker_client, worker):
    title = '<script src="/x.js"></script><b>bold</b>'
    worker_client.post("/tasks", data={"title": title, "form_token": "t"})
    for url in ("/", "/my-tasks"):
        body = text(worker_client.get(url))
        assert '<script src="/x.js">' not in body and "<b>bold</b>" not in body
        assert "&lt;b&gt;bold&lt;/b&gt;" in body
