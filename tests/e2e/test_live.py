"""Pages that follow what others do, without a reload: a task created by one popug lands on
another, whose open My tasks shows it and whose unread count rises; the Tasks board of a
third says "Updated — show" and shows it when asked; the same after a shuffle, in Russian.

Pages check every 15 s while visible and at once when shown again: the tests show the tab
again (a visibilitychange event) rather than wait."""

import re

import pytest
from playwright.sync_api import expect

from tests.e2e.ui import Visitor, unique

pytestmark = pytest.mark.e2e

ELIGIBLE = ("worker", "accountant")
COUNT = "#notification-count .badge-count"
WORKER_TIMEOUT_MS = 20_000


def _assignee(flash_text: str) -> str:
    return re.search(r"assigned to (\S+?)\.", flash_text).group(1)


def _unread(visitor: Visitor) -> int:
    badge = visitor.page.locator(COUNT)
    return int(re.match(r"\d+", badge.inner_text()).group(0)) if badge.count() else 0


def _stay(visitor: Visitor) -> None:
    """Mark the page: a reload would forget the mark (asserted by `_stayed`)."""
    visitor.page.evaluate("window.e2eNoReload = true")


def _stayed(visitor: Visitor) -> bool:
    return visitor.page.evaluate("window.e2eNoReload === true")


def _shown_again(visitor: Visitor, check: str) -> None:
    """The tab is shown again: its page asks its check at once (and the top bar its count)."""
    with visitor.page.expect_response(lambda r: r.url.endswith(check)):
        visitor.page.evaluate("document.dispatchEvent(new Event('visibilitychange'))")


def _land_on(manager: Visitor, watchers: dict[str, Visitor], what: str) -> tuple[Visitor, str]:
    """The manager creates tasks until one lands on a watcher: (that watcher, its title)."""
    for _ in range(20):  # other tests' popugs may take tasks too
        title = unique(what)
        manager.create_task(title)
        them = watchers.get(_assignee(manager.flash().inner_text()))
        if them is not None:
            return them, title
    raise AssertionError("no task landed on a demo popug in 20 tries")


def test_a_task_that_lands_on_a_popug_shows_on_their_open_pages(visit, demo_roles):
    names = [name for name, role in demo_roles.items() if role in ELIGIBLE]
    watchers = {name: visit(as_popug=name, start="/my-tasks") for name in names}
    unread = {name: _unread(watcher) for name, watcher in watchers.items()}
    board = visit(as_popug="admin")  # someone else reading the board
    for visitor in (*watchers.values(), board):
        _stay(visitor)
    notice = board.page.locator("#live-notice")
    expect(notice).to_be_hidden()

    manager = visit(as_popug=next(n for n, r in demo_roles.items() if r == "manager"))
    them, title = _land_on(manager, watchers, "Water the ferns")

    # Their My tasks puts the task in place (they typed nothing), and the count rises.
    _shown_again(them, "/my-tasks/version")
    expect(them.page.locator("#my-tasks tbody tr", has_text=title)).to_have_count(1)
    expect(them.page.locator(COUNT)).to_have_text(
        re.compile(rf"^{unread[_assignee(manager.flash().inner_text())] + 1}\b")
    )
    expect(them.page.locator("#live-notice")).to_be_hidden()
    assert _stayed(them)

    # The board, which changes with everyone's work, says so and shows it when asked.
    _shown_again(board, "/board/version")
    expect(notice).to_be_visible()
    expect(notice).to_have_text("Updated — show")
    notice.get_by_role("link", name="show").click()
    expect(board.board_rows().first.locator("td").nth(1)).to_have_text(title)
    expect(notice).to_be_hidden()
    assert _stayed(board)

    # The creator's own board already shows it: their check answers 304.
    with manager.page.expect_response(lambda r: r.url.endswith("/board/version")) as answer:
        manager.page.evaluate("document.dispatchEvent(new Event('visibilitychange'))")
    assert answer.value.status == 304
    expect(manager.page.locator("#live-notice")).to_be_hidden()


def test_a_shuffle_shows_on_open_pages_in_russian_too(visit, demo_roles):
    manager = visit(as_popug="manager")
    manager.create_task(unique("Shuffle me"))
    worker_name = next(n for n, r in demo_roles.items() if r == "worker")
    worker = visit(as_popug=worker_name, start="/my-tasks")
    reader = visit(as_popug="admin", locale="ru-RU")  # the board, in Russian
    expect(reader.page.locator("h1")).to_have_text("Задачи")
    for visitor in (worker, reader):
        _stay(visitor)
    worker.page.evaluate("document.getElementById('my-tasks').dataset.loaded = 'before'")

    manager.goto("/")
    manager.press_and_confirm("Shuffle open tasks")
    expect(manager.page.locator("#shuffle-state")).to_contain_text(
        "Reassigned", timeout=WORKER_TIMEOUT_MS
    )

    # My tasks: its list was put in place, as a reload shows it.
    _shown_again(worker, "/my-tasks/version")
    expect(worker.page.locator("#my-tasks[data-loaded]")).to_have_count(0)
    shown = worker.page.locator("#my-tasks").inner_text()
    assert _stayed(worker)
    worker.goto("/my-tasks")
    assert worker.page.locator("#my-tasks").inner_text() == shown

    # The board says it, in Russian.
    _shown_again(reader, "/board/version")
    notice = reader.page.locator("#live-notice")
    expect(notice).to_have_text("Обновлено — показать")
    notice.get_by_role("link", name="показать").click()
    expect(notice).to_be_hidden()
    assert _stayed(reader)


def test_a_page_the_reader_typed_into_says_so_and_keeps_what_was_typed(visit, demo_roles):
    """My account updates itself, but not under a day the reader is typing: it says
    "Updated — show", and showing keeps the typed day."""
    names = [name for name, role in demo_roles.items() if role in ELIGIBLE]
    watchers = {name: visit(as_popug=name, start="/account") for name in names}
    for watcher in watchers.values():
        watcher.page.get_by_label("Day").fill("2026-01-02")
        _stay(watcher)
    manager = visit(as_popug=next(n for n, r in demo_roles.items() if r == "manager"))
    them, title = _land_on(manager, watchers, "Sweep the perch")
    balance = them.page.locator("#account-balance").inner_text()

    _shown_again(them, "/account/version")
    notice = them.page.locator("#live-notice")
    expect(notice).to_have_text("Updated — show")
    expect(them.page.locator("#account-balance")).to_have_text(balance)  # not under the reader
    notice.get_by_role("link", name="show").click()
    expect(notice).to_be_hidden()
    expect(them.page.locator("#account-balance")).not_to_have_text(balance)
    expect(them.page.locator("#audit-entries")).to_contain_text(title)
    assert them.page.get_by_label("Day").input_value() == "2026-01-02"
    assert _stayed(them)
