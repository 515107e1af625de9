"""Each tasks page runs the same number of SQL statements for 5 rows as for 50 (no N+1)."""

import pytest
from sqlalchemy import update

from app.access import ASSIGNABLE_ROLES
from app.blueprints.auth.models import Popug
from app.blueprints.tasks import service
from app.extensions import db
from tests.factories import make_popug, make_task
from tests.helpers import empty_database, signed_in_client, statements


def queries_for(client, url: str) -> list[str]:
    db.session.remove()  # a fresh session per request, as in production
    with statements() as run:
        response = client.get(url)
    assert response.status_code == 200
    return run


def add_tasks(creator, assignees, count: int, *, done: bool = False) -> None:
    """`count` tasks assigned round-robin to `assignees` (by making only the next one
    eligible), completed by their assignee if `done`."""
    assignable = Popug.role.in_(ASSIGNABLE_ROLES)
    for n in range(count):
        target = assignees[n % len(assignees)]
        db.session.execute(update(Popug).where(assignable).values(active=Popug.id == target.id))
        db.session.commit()
        task = make_task(creator, title=f"Task {n}", jira_id=f"UBERPOP-{n + 1}")
        assert task.assignee_id == target.id
        if done:
            service.complete_task(task.public_id, actor=target)
            db.session.commit()
    db.session.execute(update(Popug).where(assignable).values(active=True))
    db.session.commit()


def rows(client, url: str) -> int:
    db.session.remove()
    return client.get(url).get_data(as_text=True).count('<tr id="task-')


def seed_board(manager, viewer, others, rows_wanted: int) -> None:
    """All tasks: a mix of open and done, over several assignees."""
    add_tasks(manager, [viewer, *others], rows_wanted - rows_wanted // 3)
    add_tasks(manager, [viewer, *others], rows_wanted // 3, done=True)


def seed_open(manager, viewer, others, rows_wanted: int) -> None:
    add_tasks(manager, [viewer, *others], rows_wanted)
    add_tasks(manager, others, 2, done=True)  # not on the page


def seed_done(manager, viewer, others, rows_wanted: int) -> None:
    add_tasks(manager, [viewer, *others], rows_wanted, done=True)
    add_tasks(manager, others, 2)  # not on the page


def seed_mine(manager, viewer, others, rows_wanted: int) -> None:
    add_tasks(manager, [viewer], rows_wanted - rows_wanted // 3)
    add_tasks(manager, [viewer], rows_wanted // 3, done=True)
    add_tasks(manager, others, 2)  # not on the page


def seed_my_tasks(manager, viewer, others, rows_wanted: int) -> None:
    """Open ones, then done ones; My tasks shows at most 20 done."""
    done = min(rows_wanted // 2, 20)
    add_tasks(manager, [viewer], rows_wanted - done)
    add_tasks(manager, [viewer], done, done=True)
    add_tasks(manager, others, 2)  # not on the page


PAGES = [
    ("/", seed_board),
    ("/?filter=all&page=1", seed_board),
    ("/?filter=open", seed_open),
    ("/?filter=done", seed_done),
    ("/?filter=mine", seed_mine),
    ("/my-tasks", seed_my_tasks),
]


@pytest.mark.parametrize(("url", "seed"), PAGES, ids=[url for url, _ in PAGES])
def test_page_query_count_is_the_same_for_5_and_50_rows(app, manager, url, seed):
    viewer = make_popug(role="worker", username="viewer")
    others = [make_popug(role="worker") for _ in range(3)] + [make_popug(role="accountant")]
    client = signed_in_client(app, viewer)

    seed(manager, viewer, others, 5)
    assert rows(client, url) == 5
    queries_for(client, url)  # warm-up: one-off work is not what we compare
    small = queries_for(client, url)

    db.session.remove()
    empty_database()  # start again from an empty database for the 50-row case
    viewer = make_popug(role="worker", username="viewer")
    others = [make_popug(role="worker") for _ in range(3)] + [make_popug(role="accountant")]
    manager = make_popug(role="manager")
    client = signed_in_client(app, viewer)
    seed(manager, viewer, others, 50)
    assert rows(client, url) == 50
    large = queries_for(client, url)

    assert len(small) == len(large), "\n".join(large)
