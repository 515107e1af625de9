"""A creator edits a task's title, Jira ID and description: checked as at creation, its
prices never change, and each edit is a line of its History."""

import pytest
from sqlalchemy import select

from app.blueprints.tasks import queries
from app.blueprints.tasks import service as tasks
from app.blueprints.tasks.models import TASK_TEXTS, TASKS, TaskEdit
from app.errors import NotAllowed, ServiceError
from app.extensions import db
from tests.accounting.helpers import freeze
from tests.factories import make_popug, make_task, shuffle_now
from tests.helpers import signed_in_client


def _prices(task_id):
    return db.session.execute(
        select(TASKS.c.fee, TASKS.c.reward, TASK_TEXTS.c.fee, TASK_TEXTS.c.reward)
        .join(TASK_TEXTS, TASK_TEXTS.c.task_id == TASKS.c.id)
        .where(TASKS.c.id == task_id)
    ).one()


def test_the_creator_edits_and_the_history_says_what_changed(app, worker, manager):
    task = make_task(manager, "Fix the perch", "POP-1", "Old words", prices=(1200, 3300))
    before = _prices(task.id)
    edited = tasks.edit_task(
        task.public_id,
        title=" Fix the big perch ",
        jira_id="pop-2",
        description="New words",
        actor=manager,
    )
    db.session.commit()
    assert edited.fields == ("title", "jira_id", "description")
    view = queries.task_view(task.public_id)
    assert (view.title, view.jira_id, view.description) == (
        "Fix the big perch",
        "POP-2",
        "New words",
    )
    assert _prices(task.id) == before == (1200, 3300, 1200, 3300)
    (edit,) = db.session.scalars(select(TaskEdit)).all()
    assert edit.changes == {
        "title": ["Fix the perch", "Fix the big perch"],
        "jira_id": ["POP-1", "POP-2"],
        "description": True,
    }
    history = queries.history_with_edits(task.id, 1)
    assert [line.what for line in history.items] == ["created", "edited"]
    assert history.items[1].popug == "boss"
    assert queries.history_of(task.id, 1).items[-1].what == "created", "the API's is money only"


def test_nothing_changed_records_nothing(app, worker, manager):
    task = make_task(manager, "Same", None, "")
    edited = tasks.edit_task(
        task.public_id, title="Same", jira_id="", description="", actor=manager
    )
    assert edited.fields == ()
    assert db.session.scalars(select(TaskEdit)).all() == []


def test_only_the_creator(app, worker, manager):
    task = make_task(manager, "The boss's task")
    with pytest.raises(NotAllowed):
        tasks.edit_task(task.public_id, title="Mine now", jira_id="", description="", actor=worker)


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"title": ""}, "title"),
        ({"title": "x" * 201}, "title"),
        ({"title": "Has [brackets]"}, "title"),
        ({"jira_id": "not a jira"}, "jira_id"),
        ({"description": "d" * 5001}, "description"),
        ({"description": "bell\x07"}, "description"),
    ],
)
def test_checked_as_at_creation(app, worker, manager, fields, field):
    task = make_task(manager, "Valid title")
    values = {"title": "Valid title", "jira_id": "", "description": "", **fields}
    with pytest.raises(ServiceError) as refused:
        tasks.edit_task(task.public_id, actor=manager, **values)
    assert refused.value.field == field


def test_the_pages_without_javascript(app, manager):
    worker = make_popug("worker", username="kesha")
    task = make_task(manager, "Fix the perch", "POP-1", "Old words", assignee=worker)
    client = signed_in_client(app, manager)
    page = client.get(f"/tasks/{task.public_id}").get_data(as_text=True)
    assert f'href="/tasks/{task.public_id}/edit"' in page
    form = client.get(f"/tasks/{task.public_id}/edit").get_data(as_text=True)
    assert 'value="Fix the perch"' in form and "Old words</textarea>" in form
    assert "fee" not in form.split("<form", 1)[1].split("</form>")[0].lower()

    refused = client.post(
        f"/tasks/{task.public_id}/edit",
        data={"title": "Bad [title]", "jira_id": "POP-1", "description": "Kept words"},
    )
    assert refused.status_code == 422
    text = refused.get_data(as_text=True)
    assert "must not contain [ or ]" in text and "Kept words</textarea>" in text
    assert queries.task_view(task.public_id).description == "Old words"

    saved = client.post(
        f"/tasks/{task.public_id}/edit",
        data={"title": "Fix the big perch", "jira_id": "", "description": "Old words"},
    )
    assert saved.status_code == 303
    page = client.get(saved.headers["Location"]).get_data(as_text=True)
    assert "Edited by boss:" in page
    assert "title “Fix the perch” → “Fix the big perch”" in page
    assert "Jira ID “POP-1” → “—”" in page
    assert "description changed" not in page

    worker_page = signed_in_client(app, worker).get(f"/tasks/{task.public_id}")
    assert f'href="/tasks/{task.public_id}/edit"' not in worker_page.get_data(as_text=True)


def test_russian(app, manager, worker):
    task = make_task(manager, "Fix the perch", "POP-1")
    tasks.edit_task(task.public_id, title="Fix it", jira_id="", description="d", actor=manager)
    db.session.commit()
    client = signed_in_client(app, manager)
    client.post("/language", data={"locale": "ru"})
    page = client.get(f"/tasks/{task.public_id}").get_data(as_text=True)
    assert "Изменения от boss:" in page and "название «Fix the perch» → «Fix it»" in page
    assert "описание изменено" in page and ">Изменить</a>" in page
    form = client.get(f"/tasks/{task.public_id}/edit").get_data(as_text=True)
    assert "Сохранить изменения" in form


def test_the_search_finds_the_new_title(app, worker_client, worker, manager):
    task = make_task(manager, "Polish the beak")
    tasks.edit_task(
        task.public_id, title="Sharpen the claws", jira_id="", description="", actor=manager
    )
    db.session.commit()
    page = worker_client.get("/?q=claws").get_data(as_text=True)
    assert "Sharpen the claws" in page
    assert "Sharpen" not in worker_client.get("/?q=beak").get_data(as_text=True)


def test_edits_land_on_the_page_of_history_they_happened_in(app, manager, monkeypatch):
    monkeypatch.setattr(queries, "HISTORY_PER_PAGE", 2)
    make_popug("worker", username="kesha")
    freeze("2026-03-02 09:00")
    task = make_task(manager, "One")
    freeze("2026-03-02 09:10")
    tasks.edit_task(task.public_id, title="Two", jira_id="", description="", actor=manager)
    for minute in (20, 40):
        freeze(f"2026-03-02 09:{minute}")
        shuffle_now(actor=manager)
    freeze("2026-03-02 09:50")
    tasks.edit_task(task.public_id, title="Three", jira_id="", description="", actor=manager)
    db.session.commit()
    first = queries.history_with_edits(task.id, 1)
    second = queries.history_with_edits(task.id, 2)
    assert [line.what for line in first.items] == ["created", "edited", "shuffled"]
    assert [line.what for line in second.items] == ["shuffled", "edited"]
    assert second.items[-1].changes == {"title": ["Two", "Three"]}
