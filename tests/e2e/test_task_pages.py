"""Browser journeys: a task's own page (its facts, description, Mark done and History), an
accountant opening a popug's account from All balances, and Search on the Tasks board, with
and without JavaScript."""

import random
import re
import uuid
from urllib.parse import parse_qs, urlsplit

import pytest
from playwright.sync_api import Locator, Page, expect

from tests.e2e.ui import Visitor, format_money, read_task_row, unique

pytestmark = pytest.mark.e2e

DESCRIPTION = "Line one\nLine <two>"  # a line break to keep and markup to show as text
WORKER_TIMEOUT_MS = 20_000


def squash(text: str) -> str:
    return " ".join(text.split())


def fact(page: Page, name: str) -> Locator:
    """The <dd> of the task page's fact named `name`."""
    term = page.locator("#task-facts dt").filter(has_text=re.compile(f"^{re.escape(name)}$"))
    expect(term).to_have_count(1)
    return term.locator("xpath=following-sibling::dd[1]")


def history(page: Page) -> list[str]:
    """The History's lines, each as "what amount" (the time left out), oldest first."""
    return [
        squash(f"{line.locator('.history-what').inner_text()} {line.locator('.num').inner_text()}")
        for line in page.locator("#task-history > li").all()
    ]


def public_id_of(row: Locator) -> str:
    row_id = row.get_attribute("id") or ""
    assert row_id.startswith("task-"), row_id
    return row_id.removeprefix("task-")


def query_of(page: Page) -> dict[str, list[str]]:
    return parse_qs(urlsplit(page.url).query)


def board_titles(visitor: Visitor) -> Locator:
    return visitor.board_rows().locator(".title-cell")


@pytest.mark.parametrize("js", [True, False], ids=["js", "no-js"])
def test_assignee_opens_the_task_page_and_marks_it_done_there(visit, js):
    creator = visit(js=js, as_popug="kesha")
    title = unique("Groom the feathers")
    jira_id = f"perch-{random.randint(10_000, 99_999)}"
    creator.create_task(title, jira_id=jira_id, description=DESCRIPTION)
    row = creator.board_rows().first
    task = read_task_row(row)
    assert task.title == title
    public_id = public_id_of(row)
    task_path = f"/tasks/{public_id}"
    expect(row.locator(".title-cell a")).to_have_attribute("href", task_path)

    assignee = visit(js=js, as_popug=task.assignee)
    page = assignee.page
    balance_before = assignee.balance()
    assignee.open_nav("My tasks")
    mine = page.locator("section", has=page.get_by_role("heading", name="Open")).locator(
        "tbody tr", has_text=title
    )
    expect(mine).to_have_count(1)
    mine.locator(".title-cell a").click()
    page.wait_for_url(f"**{task_path}")

    expect(page.locator("h1.task-title")).to_have_text(title)
    expect(fact(page, "Jira ID")).to_have_text(jira_id.upper())
    expect(fact(page, "Status")).to_have_text("open")
    expect(fact(page, "Assignee")).to_have_text(re.compile(rf"^{task.assignee}\s+you$"))
    expect(fact(page, "Creator")).to_have_text("kesha")
    expect(fact(page, "Fee")).to_have_text(format_money(task.fee))
    expect(fact(page, "Reward")).to_have_text(format_money(task.reward))
    expect(fact(page, "Created")).not_to_be_empty()
    expect(fact(page, "Completed")).to_have_text("not yet")

    # The description keeps its line break and shows its markup as text.
    description = page.locator("#task-description")
    assert DESCRIPTION in description.inner_text()
    expect(description.locator("two")).to_have_count(0)
    assert description.evaluate("e => getComputedStyle(e).whiteSpace") == "pre-wrap"

    expect(page.get_by_role("heading", name="History")).to_be_visible()
    created = f"Created by kesha and assigned to {task.assignee}, who was charged the fee"
    fee_text = fact(page, "Fee").inner_text()
    assert history(page) == [f"{created} {format_money(-task.fee)}"]
    assert format_money(-task.fee) == f"\u2212{fee_text}"

    # Mark done on the task page: a plain form, back to the same page.
    page.get_by_role("button", name="Mark done").click()
    expect(assignee.flash()).to_contain_text(f"paid you {format_money(task.reward)}")
    assert urlsplit(page.url).path == task_path
    assert not urlsplit(page.url).query, page.url
    expect(page.locator("h1.task-title")).to_have_text(title)
    expect(fact(page, "Status")).to_have_text("done")
    expect(fact(page, "Completed")).not_to_have_text("not yet")
    expect(page.get_by_role("button", name="Mark done")).to_have_count(0)
    expect(page.locator("#my-balance")).to_have_text(format_money(balance_before + task.reward))
    assert history(page) == [
        f"{created} {format_money(-task.fee)}",
        f"Completed by {task.assignee}, who was paid the reward +{format_money(task.reward)}",
    ]

    # My account's audit log links the fee's and the reward's task title to the same page.
    assignee.open_nav("My account")
    links = page.locator("#audit-entries .title-cell a", has_text=title)
    expect(links).to_have_count(2)
    assert {link.get_attribute("href") for link in links.all()} == {task_path}
    links.first.click()
    page.wait_for_url(f"**{task_path}")
    expect(page.locator("h1.task-title")).to_have_text(title)


def test_accountant_opens_a_popug_account_from_all_balances(visit):
    accountant = visit(js=True, as_popug="accountant")
    page = accountant.page
    accountant.open_nav("Accounting")
    table = page.locator("#balances-table")
    rows = [
        row
        for row in table.locator("tbody tr").all()
        if row.locator("td").first.inner_text().strip() == "kesha"
    ]
    assert len(rows) == 1, f"{len(rows)} rows for kesha in All balances"
    balance = rows[0].locator("td").nth(2).inner_text().strip()
    table.get_by_role("link", name="kesha", exact=True).click()
    page.wait_for_url("**/accounting/popugs/*")
    account_url = page.url
    expect(page.get_by_role("heading", level=1)).to_have_text("kesha\u2019s account")
    expect(page.locator("#account-balance")).to_have_text(balance)
    log = page.locator("section#audit-log")
    expect(log.get_by_role("heading", name=re.compile(r"^Statement of "))).to_be_visible()

    # kesha sees the same balance on My account, but may not open that page.
    kesha = visit(js=False, as_popug="kesha", start="/account")
    expect(kesha.page.locator("#account-balance")).to_have_text(balance)
    kesha.allowed_statuses.add(403)
    response = kesha.page.goto(account_url)
    assert response is not None and response.status == 403, response and response.status


def search_word() -> str:
    return re.sub(r"[^a-z0-9]", "", unique("zq"))


def searcher(visitor: Visitor):
    """search(text): types `text` in the board's Search field (htmx: as one types, after
    its debounce) or fills it and presses the form's Search button (a plain GET).
    searched(text): the URL names the search and the field still holds it (and, with
    htmx, keeps focus)."""
    page, js = visitor.page, visitor.js
    field = page.get_by_label("Search")
    expect(field).to_have_attribute("id", "search-q")
    expect(field).to_have_attribute("name", "q")

    def search(text: str) -> None:
        if js:
            field.click()
            field.press("Control+a")
            field.press_sequentially(text, delay=20)
        else:
            field.fill(text)
            page.locator("form[role=search]").get_by_role("button", name="Search").click()
            page.wait_for_url(re.compile(r"[?&]q="))

    def searched(text: str) -> None:
        if js:  # htmx pushes the URL once the results are swapped in
            page.wait_for_function(
                "q => new URLSearchParams(location.search).get('q') === q", arg=text
            )
            assert page.evaluate("document.activeElement.id") == "search-q", "focus lost"
        assert query_of(page).get("q") == [text], page.url
        expect(field).to_have_value(text)

    return search, searched


def mark_the_page(page: Page) -> None:
    """Marks that a reload or a swap of the whole board would lose."""
    page.evaluate("window.e2eNoReload = true")
    page.evaluate("document.getElementById('board-title').dataset.e2eKept = 'yes'")


def assert_only_results_swapped(page: Page) -> None:
    assert page.evaluate("window.e2eNoReload") is True, "the board reloaded"
    kept = page.evaluate("document.getElementById('board-title').dataset.e2eKept")
    assert kept == "yes", "more than #board-results was swapped"


@pytest.mark.parametrize("js", [True, False], ids=["js", "no-js"])
def test_search_the_board(visit, js):
    word = search_word()
    feed, clean = f"Feed {word} parrot", f"Clean {word} cage"
    other = unique("Water the ferns")
    jira_id = f"Q{uuid.uuid4().hex[:6]}-{random.randint(1, 9_999)}".upper()

    visitor = visit(js=js, as_popug="kesha")
    page = visitor.page
    visitor.create_task(feed)
    visitor.create_task(other, jira_id=jira_id)
    visitor.create_task(clean)
    search, searched = searcher(visitor)
    if js:
        mark_the_page(page)

    search(word)
    expect(board_titles(visitor)).to_have_text([clean, feed])  # newest first
    searched(word)

    search(f"{word} par")  # every word must begin a word of the title, the last as typed
    expect(board_titles(visitor)).to_have_text([feed])
    searched(f"{word} par")

    nothing = f"{word} <b>nothing</b>"
    search(nothing)
    expect(visitor.board_rows()).to_have_count(0)
    empty = page.locator("#board-results .empty")
    expect(empty).to_have_text(f"No tasks match \u201c{nothing}\u201d.")
    expect(empty.locator("b")).to_have_count(0)  # shown as text, not markup
    searched(nothing)

    search(jira_id.lower())  # a whole Jira ID, whatever its case
    expect(board_titles(visitor)).to_have_text([other])
    searched(jira_id.lower())

    if js:
        assert_only_results_swapped(page)


@pytest.mark.parametrize("js", [True, False], ids=["js", "no-js"])
def test_the_filters_keep_the_search(visit, js):
    word = search_word()
    feed, clean = f"Feed {word} parrot", f"Clean {word} cage"
    visitor = visit(js=js, as_popug="kesha")
    page = visitor.page
    visitor.create_task(feed)
    visitor.create_task(clean)
    search, searched = searcher(visitor)
    if js:
        mark_the_page(page)
    search(word)
    expect(board_titles(visitor)).to_have_text([clean, feed])
    searched(word)

    filters = page.get_by_role("navigation", name="Filter tasks")
    open_link = filters.get_by_role("link", name="Open", exact=True)
    href = open_link.get_attribute("href") or ""
    assert parse_qs(urlsplit(href).query) == {"filter": ["open"], "q": [word]}, href
    open_link.click()
    expect(open_link).to_have_attribute("aria-current", "true")
    assert query_of(page) == {"filter": ["open"], "q": [word]}, page.url
    expect(board_titles(visitor)).to_have_text([clean, feed])
    expect(page.get_by_label("Search")).to_have_value(word)
    if js:
        assert page.evaluate("window.e2eNoReload") is True, "the board reloaded"


def test_shuffle_line_links_the_shuffle_for_managers_only(visit):
    manager = visit(js=False, as_popug="manager")
    page = manager.page
    title = unique("Shuffle the perches")
    manager.create_task(title)
    row = manager.board_rows().first
    task = read_task_row(row)
    task_path = f"/tasks/{public_id_of(row)}"

    manager.press_and_confirm("Shuffle open tasks")
    page.wait_for_url("**/shuffles/*")
    shuffle_path = urlsplit(page.url).path
    expect(page.locator(".lead")).to_contain_text("Reassigned", timeout=WORKER_TIMEOUT_MS)

    manager.goto(task_path)
    now = fact(page, "Assignee").inner_text().strip()
    fee = format_money(-task.fee)
    assert history(page) == [
        f"Created by manager and assigned to {task.assignee}, who was charged the fee {fee}",
        f"Shuffled from {task.assignee} to {now}, who was charged the fee {fee}",
    ]
    shuffled = page.locator("#task-history > li").nth(1).get_by_role("link", name="Shuffled")
    expect(shuffled).to_have_attribute("href", shuffle_path)

    worker = visit(js=False, as_popug=now, start=task_path)
    lines = worker.page.locator("#task-history > li")
    expect(lines.nth(1)).to_contain_text(f"Shuffled from {task.assignee} to {now}")
    expect(lines.get_by_role("link")).to_have_count(0)
