"""The Tasks board pages without counting: one row more than the page tells whether an older
page exists, and no statement counts the tasks (an exact COUNT(*) costs more than
the page itself on PostgreSQL: docs/performance.md, "Figures behind rules")."""

import re

from tests.factories import make_task
from tests.tasks.test_query_counts import queries_for

NEXT = re.compile(r'<a [^>]*rel="next"[^>]*>')
PREV = re.compile(r'<a [^>]*rel="prev"[^>]*>')
ROW = re.compile(r'<tr id="task-')


def test_older_link_only_while_older_tasks_exist(worker_client, manager):
    for n in range(100):  # exactly two pages of 50
        make_task(manager, title=f"Task {n:03d}")
    first = worker_client.get("/?filter=open").get_data(as_text=True)
    assert len(ROW.findall(first)) == 50
    assert NEXT.search(first) and not PREV.search(first)
    assert "page=2" in NEXT.search(first).group(0) and "filter=open" in NEXT.search(first).group(0)
    assert "Older →" in first and "Page 1" in first

    second = worker_client.get("/?filter=open&page=2").get_data(as_text=True)
    assert len(ROW.findall(second)) == 50
    assert not NEXT.search(second), "the 50 rows of page 2 are the last ones"
    assert "page=1" in PREV.search(second).group(0) and "← Newer" in second

    make_task(manager, title="One more")
    second = worker_client.get("/?filter=open&page=2").get_data(as_text=True)
    assert NEXT.search(second), "the 101st task is on page 3"


def test_a_single_page_has_no_pager_and_the_heading_no_count(worker_client, manager):
    for n in range(3):
        make_task(manager, title=f"Task {n}")
    page = worker_client.get("/").get_data(as_text=True)
    assert len(ROW.findall(page)) == 3
    assert 'class="pagination"' not in page
    heading = re.search(r'<h2 id="board-title">(.*?)</h2>', page, flags=re.S).group(1)
    assert heading.strip() == "Board"


UNREAD_NOTIFICATIONS = "count(*) AS count_1 FROM (SELECT notifications"


def test_the_board_does_not_count_tasks(worker_client, manager):
    for n in range(60):
        make_task(manager, title=f"Task {n}")
    for url in ("/", "/?filter=open", "/?filter=mine", "/?filter=done&page=3"):
        statements = queries_for(worker_client, url)
        # (The top bar's unread notifications are counted, up to a cap; no task is.)
        statements = [s.replace(UNREAD_NOTIFICATIONS, "") for s in statements]
        counting = [s for s in statements if re.search(r"\bcount\s*\(", s, flags=re.I)]
        assert not counting, (url, counting)


def test_each_empty_board_says_what_is_empty(app, db):
    from tests.factories import make_popug, make_task
    from tests.helpers import signed_in_client

    manager = make_popug(role="manager", username="boss")
    kesha = make_popug(role="worker", username="kesha")
    make_task(manager, title="Feed the parrot")
    db.session.commit()
    default = "No tasks here yet."
    worker, boss = signed_in_client(app, kesha), signed_in_client(app, manager)
    done = worker.get("/?filter=done").text
    assert "No task has been done yet." in done and default not in done
    assert "Tasks are never assigned to managers and admins" in boss.get("/?filter=mine").text
    assert "No tasks are assigned to you." not in worker.get("/?filter=mine").text  # kesha has it
    beyond = worker.get("/?page=150").text
    assert "There are no tasks on page 150." in beyond and default not in beyond
