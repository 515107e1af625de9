"""The Tasks board's orders (newest first by default, oldest, by fee or reward either way)
and its "Created by me" filter; every board parameter is checked, none answers a 500."""

import re

import pytest

from app.blueprints.tasks import queries
from tests.factories import make_popug, make_task

ROW_TITLE = re.compile(r'<tr id="task-[^"]*".*?<a [^>]*>([^<]*)</a>', re.S)


def titles(client, url: str) -> list[str]:
    response = client.get(url)
    assert response.status_code == 200, url
    return ROW_TITLE.findall(response.get_data(as_text=True))


@pytest.fixture
def priced(manager, worker):
    """Four tasks with distinct prices, created in this order."""
    prices = {"Alpha": (1200, 2500), "Bravo": (2000, 2000), "Charlie": (1000, 4000),
              "Delta": (1500, 3000)}  # fmt: skip
    for title, price in prices.items():
        make_task(manager, title=title, prices=price, assignee=worker)
    return prices


@pytest.mark.parametrize(
    ("sort", "expected"),
    [
        (None, ["Delta", "Charlie", "Bravo", "Alpha"]),
        ("newest", ["Delta", "Charlie", "Bravo", "Alpha"]),
        ("oldest", ["Alpha", "Bravo", "Charlie", "Delta"]),
        ("fee-high", ["Bravo", "Delta", "Alpha", "Charlie"]),
        ("fee-low", ["Charlie", "Alpha", "Delta", "Bravo"]),
        ("reward-high", ["Charlie", "Delta", "Alpha", "Bravo"]),
        ("reward-low", ["Bravo", "Alpha", "Delta", "Charlie"]),
    ],
)
def test_each_order(worker_client, priced, sort, expected):
    url = "/" if sort is None else f"/?sort={sort}"
    assert titles(worker_client, url) == expected
    assert titles(worker_client, url + ("&" if sort else "?") + "filter=open") == expected


def test_ties_go_by_task_the_same_way(worker_client, manager, worker):
    for title in ("First", "Second", "Third"):
        make_task(manager, title=title, prices=(1000, 2000), assignee=worker)
    assert titles(worker_client, "/?sort=fee-high") == ["Third", "Second", "First"]
    assert titles(worker_client, "/?sort=fee-low") == ["First", "Second", "Third"]


@pytest.mark.parametrize(
    "query",
    [
        "sort=price", "sort=", "sort=fee-high%00", "sort[]=x", "sort=newest&sort=fee-low",
        "filter=nope", "filter=created&page=-3", "page=abc", "q=%00&sort=reward-low",
        "filter=" + "x" * 5000, "sort=" + "y" * 5000,
    ],
)  # fmt: skip
def test_unknown_parameters_show_the_default_board(worker_client, priced, query):
    """An unknown value is the default; a NUL is refused with the 400 page, as everywhere."""
    response = worker_client.get(f"/?{query}")
    if "%00" in query:
        assert response.status_code == 400 and "Bad request" in response.get_data(True)
    else:
        assert response.status_code == 200
        assert 'id="board-results"' in response.get_data(as_text=True)


def test_an_unknown_order_is_newest_first():
    assert queries.parse_order("cheapest") == queries.Order("newest")
    assert queries.parse_order(None).is_default
    assert queries.parse_order("reward-low").key == "reward"


def test_the_order_is_kept_by_filters_pages_and_the_search(worker_client, manager, worker):
    for n in range(55):
        make_task(manager, title=f"Task {n:02d}", prices=(1000 + n % 11 * 100, 2000))
    page = worker_client.get("/?sort=fee-low&filter=open").get_data(as_text=True)
    assert re.search(r'href="/\?page=2&amp;filter=open&amp;sort=fee-low"', page)
    assert re.search(r'href="/\?filter=all&amp;sort=fee-low"', page)
    assert '<option value="fee-low" selected>' in page
    assert "Older →" not in page and "Next →" in page, "not a list in time order"
    second = titles(worker_client, "/?sort=fee-low&filter=open&page=2")
    assert len(second) == 5 and all(title.startswith("Task") for title in second)


@pytest.mark.parametrize("many", [False, True], ids=["few hits sorted", "many: index walked"])
def test_a_search_in_another_order(worker_client, manager, worker, monkeypatch, many):
    if many:  # every search has "many" matches: the order's index is walked
        monkeypatch.setattr(queries, "SORTED_SEARCH_HITS", 0)
    make_task(manager, title="Feed the parrot", prices=(2000, 2000), assignee=worker)
    make_task(manager, title="Clean the cage", prices=(1000, 4000), assignee=worker)
    make_task(manager, title="Feed the fish", prices=(1000, 3000), assignee=worker)
    make_task(manager, title="Feed the cat", jira_id="POP-9", prices=(1500, 2500), assignee=worker)
    assert titles(worker_client, "/?q=feed&sort=reward-high") == [
        "Feed the fish", "Feed the cat", "Feed the parrot"
    ]  # fmt: skip
    assert titles(worker_client, "/?q=feed&sort=fee-low") == [
        "Feed the fish", "Feed the cat", "Feed the parrot"
    ]  # fmt: skip
    assert titles(worker_client, "/?q=POP-9&sort=fee-high") == ["Feed the cat"]
    assert titles(worker_client, "/?q=fe&sort=oldest&filter=open") == [
        "Feed the parrot", "Feed the fish", "Feed the cat"
    ]  # fmt: skip


def test_created_by_me(app, worker_client, worker, manager):
    other = make_popug("worker", username="other")
    make_task(worker, title="Mine to track", assignee=other)
    make_task(manager, title="The boss", assignee=worker)
    make_task(other, title="Another", assignee=worker)
    assert titles(worker_client, "/?filter=created") == ["Mine to track"]
    assert titles(worker_client, "/?filter=mine") == ["Another", "The boss"]
    page = worker_client.get("/").get_data(as_text=True)
    assert 'href="/?filter=created"' in page and ">Created by me</a>" in page
    assert titles(worker_client, "/?filter=created&q=track") == ["Mine to track"]
    assert titles(worker_client, "/?filter=created&q=boss") == []


def test_created_by_me_when_none_says_so(worker_client):
    page = worker_client.get("/?filter=created").get_data(as_text=True)
    assert "You have not created a task yet." in page


def test_russian_labels(app, worker_client, priced):
    worker_client.post("/language", data={"locale": "ru"})
    text = worker_client.get("/?sort=reward-high").get_data(as_text=True)
    assert '<option value="reward-high" selected>Сначала с большей наградой</option>' in text
    assert ">Созданные мной</a>" in text and ">Порядок</label>" in text
