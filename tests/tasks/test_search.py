"""Search on the Tasks board: by a whole Jira ID or by words of the title, with
the filters and paging, through indexes a shuffle never writes."""

import re

import pytest

from app.blueprints.tasks import queries, service
from app.extensions import db
from tests.factories import make_popug, make_task
from tests.helpers import HTMX, signed_in_client


@pytest.fixture
def tasks(db):
    manager = make_popug(role="manager", username="boss")
    kesha = make_popug(role="worker", username="kesha")
    made = {
        "feed": make_task(manager, title="Feed the parrot", jira_id="UBERPOP-42"),
        "cage": make_task(manager, title="Parrot cage cleaning"),
        "beak": make_task(manager, title="Polish the beak", jira_id="UBERPOP-420"),
        "quote": make_task(manager, title='Don\'t say "100%" in_the report'),
        "accent": make_task(manager, title="Café für Papageien"),
    }
    service.complete_task(made["cage"].public_id, actor=kesha)
    db.session.commit()
    return {"kesha": kesha, **made}


def found(client, **args) -> list[str]:
    html = client.get("/", query_string=args).text
    return re.findall(r'<tr id="task-([0-9a-f-]{36})"', html)


def ids(*tasks) -> list[str]:
    return [task.public_id for task in tasks]


def test_words_of_the_title_find_tasks_newest_first(app, tasks):
    client = signed_in_client(app, tasks["kesha"])
    assert found(client, q="parrot") == ids(tasks["cage"], tasks["feed"])
    assert found(client, q="PARROT") == ids(tasks["cage"], tasks["feed"])
    assert found(client, q="par") == ids(tasks["cage"], tasks["feed"])  # as one types
    assert found(client, q="feed parrot") == ids(tasks["feed"])  # every word
    assert found(client, q="parrot feed") == ids(tasks["feed"])
    assert found(client, q="  the   beak ") == ids(tasks["beak"])
    assert found(client, q="CAFÉ") == ids(tasks["accent"])  # letters beyond ASCII too
    assert found(client, q="papageien für") == ids(tasks["accent"])
    assert found(client, q="rrot") == []  # words begin where the title's words begin


def test_only_the_last_word_is_a_prefix_and_only_from_two_letters(app, tasks):
    client = signed_in_client(app, tasks["kesha"])
    assert found(client, q="par the") == []  # an earlier word is a whole word
    assert found(client, q="parrot the") == ids(tasks["feed"])
    assert found(client, q="feed t") == []  # one letter: a whole word, not a prefix
    assert found(client, q="feed th") == ids(tasks["feed"])
    made = make_task(tasks["kesha"], title="A b c task")
    db.session.commit()
    assert found(client, q="a b c") == ids(made)  # one-letter words of a title still match


def test_the_board_pages_no_deeper_than_its_cap(app, tasks, monkeypatch):
    monkeypatch.setattr(queries, "BOARD_PAGES", 2)
    monkeypatch.setitem(app.config, "TASKS_PER_PAGE", 1)
    client = signed_in_client(app, tasks["kesha"])
    deep = client.get("/?page=100000").text  # the last page the board shows
    assert re.findall(r'<tr id="task-([0-9a-f-]{36})"', deep) == ids(tasks["quote"])
    assert 'rel="next"' not in deep
    assert "The board lists the newest 2 tasks of a search or filter" in deep
    russian = client.get("/?page=3", headers={"Accept-Language": "ru"}).text
    assert "Доска показывает" in russian
    assert "The board lists" not in client.get("/?page=1").text


def test_a_whole_jira_id_finds_its_task_in_any_case(app, tasks):
    client = signed_in_client(app, tasks["kesha"])
    assert found(client, q="UBERPOP-42") == ids(tasks["feed"])
    assert found(client, q="uberpop-42") == ids(tasks["feed"])
    assert found(client, q="UBERPOP-420") == ids(tasks["beak"])
    assert found(client, q="UBERPOP-4") == []  # the whole ID, not a part


def test_search_combines_with_the_filters(app, tasks):
    client = signed_in_client(app, tasks["kesha"])
    assert found(client, q="parrot", filter="open") == ids(tasks["feed"])
    assert found(client, q="parrot", filter="done") == ids(tasks["cage"])
    assert found(client, q="parrot", filter="mine") == ids(tasks["cage"], tasks["feed"])
    boss = signed_in_client(app, db.session.get(type(tasks["kesha"]), tasks["feed"].creator_id))
    assert found(boss, q="parrot", filter="mine") == []


def test_search_pages_and_keeps_the_query_in_every_link(app, tasks, monkeypatch):
    monkeypatch.setitem(app.config, "TASKS_PER_PAGE", 1)
    client = signed_in_client(app, tasks["kesha"])
    first = client.get("/", query_string={"q": "parrot"}).text
    assert re.findall(r'<tr id="task-([0-9a-f-]{36})"', first) == ids(tasks["cage"])
    assert re.search(r'href="/\?page=2&amp;filter=all&amp;q=parrot" rel="next"', first)
    assert 'href="/?filter=open&amp;q=parrot"' in first  # the filters keep it too
    assert 'id="search-q" name="q" value="parrot"' in first
    second = client.get("/?page=2&filter=all&q=parrot").text
    assert re.findall(r'<tr id="task-([0-9a-f-]{36})"', second) == ids(tasks["feed"])
    assert 'rel="next"' not in second


def test_the_search_field_and_an_empty_result(app, tasks):
    client = signed_in_client(app, tasks["kesha"])
    board = client.get("/").text
    assert '<label for="search-q">Search</label>' in board
    nothing = client.get("/", query_string={"q": "zebra"}).text
    assert "No tasks match “zebra”." in nothing
    assert "No open tasks match “zebra”." in client.get("/?filter=open&q=zebra").text
    assert "None of your tasks match “zebra”." in client.get("/?filter=mine&q=zebra").text


def test_htmx_typing_gets_only_the_results(app, tasks):
    client = signed_in_client(app, tasks["kesha"])
    response = client.get(
        "/", query_string={"q": "beak"}, headers=HTMX | {"HX-Target": "board-results"}
    )
    assert response.status_code == 200
    body = response.text
    assert "<html" not in body and 'id="search-q"' not in body  # the field stays as typed
    assert re.findall(r'<tr id="task-([0-9a-f-]{36})"', body) == ids(tasks["beak"])
    whole = client.get("/", query_string={"q": "beak", "filter": "open"}, headers=HTMX).text
    assert 'id="search-q"' in whole  # a filter link swaps the whole board, field included


@pytest.mark.parametrize(
    "query",
    [
        "%",
        "_",
        "%%",
        "'",
        '"',
        "''",
        "\\",
        "*",
        ":*",
        "-",
        "&",
        "|",
        "!",
        "(",
        ")",
        "NEAR(parrot)",
        "parrot OR beak",
        "AND",
        "NOT parrot",
        '"parrot',
        "parrot*",
        "100%",
        "in_the",
        "don't",
        "a" * 10_000,
        "parrot " * 50,
        "🦜",
        "ß",
        "<script>",
        "title:parrot",
        "^parrot",
        "{parrot}",
        "UBERPOP-42 parrot",
    ],
)
def test_hostile_searches_are_plain_text(app, tasks, query):
    client = signed_in_client(app, tasks["kesha"])
    response = client.get("/", query_string={"q": query})
    assert response.status_code == 200
    assert "<script>" not in response.text
    rows = re.findall(r'<tr id="task-([0-9a-f-]{36})"', response.text)
    words = queries.parse_search(query).words
    if not words and not queries.parse_search(query).jira_id:
        assert len(rows) == 5  # nothing to search for: the whole board
    assert "100%" not in query or rows == ids(tasks["quote"])


def test_the_search_is_parsed_into_words_and_a_jira_id():
    assert queries.parse_search("  Feed   the PARROT ") == queries.Search(
        "Feed the PARROT", ("feed", "the", "parrot"), None
    )
    assert queries.parse_search("uberpop-7").jira_id == "UBERPOP-7"
    assert queries.parse_search("a" * 500).text == "a" * queries.SEARCH_MAX
    assert len(queries.parse_search("w " * 50).words) == queries.SEARCH_WORDS
    assert not queries.parse_search("%_*'\"")
