"""A task's page: what it is, who has it, and its History from the ledger."""

import re

import pytest
from sqlalchemy import func, select

from app.blueprints.accounting.models import LedgerEntry, LedgerLine
from app.blueprints.auth import service as auth
from app.blueprints.tasks import queries, service
from app.blueprints.tasks.models import Task
from app.money import format_cents
from tests.factories import make_popug, make_task, shuffle_now
from tests.helpers import signed_in_client, statements

from .helpers import fee_charges, ledger_entries


def history_texts(html: str) -> list[str]:
    items = re.findall(r"<li>(.*?)</li>", html[html.index('id="task-history"') :], re.S)
    return [" ".join(re.sub(r"<[^>]+>", " ", item).split()) for item in items]


@pytest.fixture
def story(db):
    """A task created by boss for kesha (the only worker), shuffled twice among kesha and
    gosha, then completed by whoever had it."""
    manager = make_popug(role="manager", username="boss")
    kesha = make_popug(role="worker", username="kesha")
    task = make_task(
        manager,
        title="Feed the parrot",
        jira_id="UBERPOP-42",
        description="Seeds first,\nthen <water>.",
    )
    make_popug(role="worker", username="gosha")
    db.session.commit()
    shuffles = [shuffle_now(actor=manager), shuffle_now(actor=manager)]
    db.session.commit()
    task = db.session.get(Task, task.id)
    owner = auth.get_popug_by_id(task.assignee_id)
    service.complete_task(task.public_id, actor=owner)
    db.session.commit()
    return {
        "task": db.session.get(Task, task.id),
        "manager": manager,
        "kesha": kesha,
        "shuffles": shuffles,
        "owner": owner,
    }


def test_the_history_has_a_line_per_money_movement_equal_to_the_ledger(story):
    task = story["task"]
    lines = queries.history_of(task.id, 1).items
    assert [line.what for line in lines] == ["created", "shuffled", "shuffled", "completed"]
    charges = fee_charges(task_id=task.id)
    assert [line.amount for line in lines[:3]] == [c.amount for c in charges] == [-task.fee] * 3
    [reward] = ledger_entries(LedgerEntry.task_id == task.id, LedgerEntry.kind == "reward")
    assert lines[3].amount == reward.amount == task.reward
    assert lines[0].popug == "kesha" and lines[0].previous is None
    assert lines[1].previous == "kesha" and lines[2].previous == lines[1].popug
    assert lines[3].popug == story["owner"].username == lines[2].popug
    assert [line.shuffle_public_id for line in lines] == [
        None,
        *(s.public_id for s in story["shuffles"]),
        None,
    ]


def test_the_task_page_shows_the_task_and_its_history(app, story):
    task = story["task"]
    page = signed_in_client(app, story["kesha"]).get(f"/tasks/{task.public_id}")
    assert page.status_code == 200
    html = page.text
    assert '<h1 class="task-title">Feed the parrot</h1>' in html
    facts = " ".join(re.sub(r"<[^>]+>", " ", html[html.index('id="task-facts">') + 16 :]).split())
    assert facts.startswith(f"Jira ID UBERPOP-42 Status done Assignee {story['owner'].username}")
    assert f"Creator boss Fee {format_cents(task.fee)} Reward {format_cents(task.reward)}" in facts
    # escaped, line breaks kept (pre-wrap)
    description = '<div class="task-description" id="task-description">'
    assert description + "Seeds first,\nthen &lt;water&gt;.</div>" in html
    texts = history_texts(html)
    assert len(texts) == 4
    fee, reward = format_cents(task.fee), format_cents(task.reward)
    created = f"Created by boss and assigned to kesha, who was charged the fee −{fee}"
    assert texts[0].endswith(created)
    assert f"Shuffled from kesha to {texts[1].split(' to ')[1].split(',')[0]}" in texts[1]
    owner = story["owner"].username
    assert texts[3].endswith(f"Completed by {owner}, who was paid the reward +{reward}")
    assert "Mark done" not in html  # done already
    assert "/shuffles/" not in html  # a worker sees no shuffle records


def test_shufflers_get_links_to_the_shuffles(app, story):
    html = signed_in_client(app, story["manager"]).get(f"/tasks/{story['task'].public_id}").text
    for shuffle in story["shuffles"]:
        assert f'href="/shuffles/{shuffle.public_id}"' in html


def test_its_assignee_marks_an_open_task_done_from_its_page(app, db):
    manager = make_popug(role="manager")
    kesha = make_popug(role="worker", username="kesha")
    task = make_task(manager, title="Polish the beak")
    db.session.commit()
    client = signed_in_client(app, kesha)
    html = client.get(f"/tasks/{task.public_id}").text
    assert f'action="/tasks/{task.public_id}/done?from=task"' in html
    done = client.post(f"/tasks/{task.public_id}/done?from=task")
    assert done.status_code == 303 and done.headers["Location"] == f"/tasks/{task.public_id}"
    after = client.get(done.headers["Location"]).text
    assert "Mark done" not in after and "Completed by kesha" in after
    other = signed_in_client(app, make_popug(role="worker"))
    assert "Mark done" not in other.get(f"/tasks/{task.public_id}").text


def test_a_handed_over_task_says_so(app, db):
    admin, manager = make_popug(role="admin"), make_popug(role="manager")
    kesha = make_popug(role="worker", username="kesha")
    task = make_task(manager, title="Count seeds")
    gosha = make_popug(role="worker", username="gosha")
    db.session.commit()
    auth.set_active(kesha.public_id, False, actor=admin)
    db.session.commit()
    texts = history_texts(signed_in_client(app, gosha).get(f"/tasks/{task.public_id}").text)
    assert texts[1].endswith(
        f"Handed over from kesha (who no longer takes tasks) to gosha, who was charged the fee "
        f"−{format_cents(task.fee)}"
    )


def test_a_long_history_is_paged_by_a_hundred_in_constant_queries(app, db, monkeypatch):
    monkeypatch.setattr(queries, "HISTORY_PER_PAGE", 3)
    manager = make_popug(role="manager")
    make_popug(role="worker", username="kesha")
    make_popug(role="worker", username="gosha")
    task = make_task(manager, title="Moved a lot")
    for _ in range(6):
        shuffle_now(actor=manager)
    db.session.commit()
    assert db.session.scalar(select(func.count()).select_from(LedgerLine)) == 6
    client = signed_in_client(app, manager)
    first = client.get(f"/tasks/{task.public_id}").text
    second = client.get(f"/tasks/{task.public_id}?page=2").text
    third = client.get(f"/tasks/{task.public_id}?page=3").text
    texts = history_texts(first) + history_texts(second) + history_texts(third)
    assert len(texts) == 7 and texts[0].split(" ", 2)[2].startswith("Created by")
    assert 'rel="next"' in first and 'rel="next"' not in third
    # each page's first move starts from the last popug of the page before
    lines = [queries.history_of(task.id, page).items for page in (1, 2, 3)]
    flat = [line for page in lines for line in page]
    for before, after in zip(flat, flat[1:], strict=False):
        assert after.previous == before.popug
    assert client.get(f"/tasks/{task.public_id}?page=9").status_code == 200
    new = make_task(manager, title="Never moved")
    counts = []
    for path in (f"/tasks/{new.public_id}", f"/tasks/{task.public_id}?page=2"):
        db.session.commit()  # each request from the same state of the shared session
        with statements() as queries_run:
            assert client.get(path).status_code == 200
        counts.append(len(queries_run))
    assert counts[0] == counts[1]  # whatever the history's length


def test_an_unknown_task_is_404(app, db):
    client = signed_in_client(app, make_popug(role="worker"))
    assert client.get("/tasks/no-such-task").status_code == 404
