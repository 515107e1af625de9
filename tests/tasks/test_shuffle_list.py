"""Past shuffles: who pressed, when, how many tasks among how many popugs, the state;
newest first, paged, each linking to its page; linked from where shuffles are pressed."""

import re

from app.blueprints.tasks import queries, shuffles
from app.blueprints.tasks import service as tasks
from app.extensions import db
from tests.accounting.helpers import freeze
from tests.factories import make_popug, make_task, run_queued_shuffles, shuffle_now
from tests.helpers import signed_in_client

ROW = re.compile(r"<tr>\s*<td class=\"nowrap[^\"]*\"><a href=\"/shuffles/([^\"]+)\">", re.S)


def test_the_list_newest_first_with_counts_and_state(app, manager, admin):
    make_popug("worker", username="kesha")
    make_popug("accountant", username="counter")
    for n in range(3):
        make_task(manager, f"Task {n}")
    freeze("2026-03-02 09:00")
    done = shuffle_now(actor=manager)
    db.session.commit()
    freeze("2026-03-02 10:00")
    queued = shuffles.request_shuffle(actor=admin).shuffle
    db.session.commit()

    client = signed_in_client(app, manager)
    page = client.get("/shuffles").get_data(as_text=True)
    assert ROW.findall(page) == [queued.public_id, done.public_id]
    rows = page.split("<tbody>")[1].split("</tr>")
    assert "root-admin" in rows[0] and "queued" in rows[0]
    assert "boss" in rows[1] and "done" in rows[1]
    assert re.search(r'<td class="num"[^>]*>3</td>\s*<td class="num"[^>]*>2</td>', rows[1])
    assert "2026-03-02 09:00" in rows[1]


def test_paged_without_a_count(app, manager, monkeypatch):
    make_popug("worker", username="kesha")
    make_task(manager, "Task")
    for _ in range(3):
        shuffle_now(actor=manager)
    db.session.commit()
    assert len(queries.shuffles(1, per_page=2).items) == 2
    assert queries.shuffles(1, per_page=2).has_next
    last = queries.shuffles(2, per_page=2)
    assert len(last.items) == 1 and not last.has_next
    client = signed_in_client(app, manager)
    empty = client.get("/shuffles?page=9").get_data(as_text=True)
    assert "There are no shuffles on page 9." in empty


def test_a_failed_shuffle_says_why(app, manager, worker):
    task = make_task(manager, "Soon done")
    shuffles.request_shuffle(actor=manager)
    tasks.complete_task(task.public_id, actor=worker)  # nothing left to shuffle
    db.session.commit()
    assert [shuffle.status for shuffle in run_queued_shuffles()] == ["failed"]
    page = signed_in_client(app, manager).get("/shuffles").get_data(as_text=True)
    assert "failed" in page and "no open tasks" in page.lower()


def test_linked_from_the_board_and_the_shuffle_page(app, manager, worker):
    client = signed_in_client(app, manager)
    assert 'href="/shuffles"' in client.get("/").get_data(as_text=True)
    make_task(manager, "Task")
    shuffle = shuffle_now(actor=manager)
    db.session.commit()
    assert 'href="/shuffles"' in client.get(f"/shuffles/{shuffle.public_id}").get_data(True)
    assert 'href="/shuffles"' not in signed_in_client(app, worker).get("/").get_data(True)


def test_nobody_has_shuffled_yet(app, manager):
    page = signed_in_client(app, manager).get("/shuffles").get_data(as_text=True)
    assert "Nobody has pressed “Shuffle open tasks” yet." in page
