"""The shuffle's browser journey: a manager shuffles the open tasks; every figure on the board, in
the popugs' balances and on their My tasks pages moves exactly as the shuffle says."""

import signal
from collections import Counter, defaultdict

import pytest
from playwright.sync_api import expect

from tests.e2e.ui import ELIGIBLE_ROLES, Visitor, unique

pytestmark = pytest.mark.e2e
WORKER_TIMEOUT_MS = 20_000


def eligible_popugs(admin: Visitor) -> list[str]:
    """Active workers and accountants, as the admin's Popugs page lists them."""
    admin.open_nav("Popugs")
    assert not admin.page.locator("nav.pagination").count(), "more than one page of popugs"
    names = []
    for row in admin.page.locator("tbody tr").all():
        username = row.locator("td").first.inner_text().strip()
        role = row.get_by_label(f"Role of {username}").input_value()
        active = row.locator("td").nth(3).inner_text().strip() == "active"
        if active and role in ELIGIBLE_ROLES:
            names.append(username)
    return names


def my_tasks_pages(visit, names: list[str]) -> dict[str, Visitor]:
    """Each popug signed in at their own browser, looking at My tasks."""
    pages = {}
    for name in names:
        pages[name] = visit(js=False, as_popug=name, start="/my-tasks")
    return pages


def wallets(pages: dict[str, Visitor], *, reload: bool = False) -> dict[str, tuple[int, int]]:
    """Each popug's (balance, number of open tasks) as their My tasks page shows them."""
    seen = {}
    for name, visitor in pages.items():
        if reload:
            visitor.goto("/my-tasks")
        heading = visitor.page.get_by_role("heading", name="Open").inner_text()
        seen[name] = (visitor.balance(), int(heading.split("(")[1].rstrip(")")))
    return seen


@pytest.mark.parametrize("js", [True, False], ids=["js", "no-js"])
def test_manager_shuffles_and_money_follows_the_tasks(visit, logins, js):
    admin = visit(js=False, as_popug="admin")
    eligible = eligible_popugs(admin)
    assert eligible, "the demo organisation has workers"
    missing = [name for name in eligible if name not in logins]
    assert not missing, f"popugs whose beak shapes this session does not know: {missing}"

    manager = visit(js=js, as_popug="manager")
    page = manager.page
    for n in range(3):  # there is always something to shuffle
        manager.create_task(unique(f"Sort seeds {n}"))

    before_board = manager.open_tasks_on_board()
    open_count = len(before_board)
    assert open_count >= 3
    # Money moves by the same server code either way: the JavaScript run follows every
    # eligible popug's balance; the run without JavaScript follows one popug's My tasks.
    popugs = my_tasks_pages(visit, eligible if js else [])
    before = wallets(popugs)
    if js:
        assert sum(tasks for _, tasks in before.values()) == open_count

    manager.goto("/")
    asked = manager.press_and_confirm("Shuffle open tasks")
    if js:
        assert "Reassign every open task to a random popug?" in asked, asked
    else:  # the confirmation page says what will happen
        assert f"Open tasks\n{open_count}" in asked, asked
        assert f"Popugs who can get them\n{len(eligible)}" in asked, asked
    result = f"Reassigned {open_count} open tasks among {len(eligible)} popugs."
    # The job worker runs it; the page follows (htmx polling, or a refresh without JavaScript).
    expect(page.locator(".lead")).to_contain_text(result, timeout=WORKER_TIMEOUT_MS)
    expect(page.locator(".facts")).to_contain_text("manager")

    after_board = manager.open_tasks_on_board()
    assert len(after_board) == open_count
    # The same open tasks (titles are unique per test; fees and rewards never change) ...
    assert sorted((t.title, t.fee, t.reward) for t in after_board) == sorted(
        (t.title, t.fee, t.reward) for t in before_board
    )
    # ... each now with an eligible assignee ...
    assert {t.assignee for t in after_board} <= set(eligible)
    # ... who paid its fee, to the cent, and finds it under My tasks.
    fees = defaultdict(int)
    for task in after_board:
        fees[task.assignee] += task.fee
    counts = Counter(task.assignee for task in after_board)
    if not js:
        someone = after_board[0]
        popugs = my_tasks_pages(visit, [someone.assignee])
        mine = popugs[someone.assignee].page.locator("tbody tr", has_text=someone.title)
        expect(mine.get_by_role("button", name="Mark done")).to_have_count(1)
    after = wallets(popugs, reload=True)
    for name, (balance, open_tasks) in after.items():
        assert open_tasks == counts[name], name
        if name in before:
            assert balance == before[name][0] - fees[name], name


@pytest.mark.parametrize("js", [True, False], ids=["js", "no-js"])
def test_shuffle_page_follows_the_shuffle_from_queued_to_done(visit, server, js):
    """While the job worker is held (SIGSTOP), the press answers at once with the shuffle's
    page, which says it is queued, and a worker's My tasks says a shuffle is under way; once
    the worker goes on, the same page turns to the result by itself."""
    manager = visit(js=js, as_popug="manager")
    manager.create_task(unique("Wait for the worker"))
    worker = visit(js=False, as_popug="kesha", start="/my-tasks")
    expect(worker.page.locator("#shuffle-notice")).to_have_count(0)
    server.worker.send_signal(signal.SIGSTOP)
    try:
        manager.goto("/")
        manager.press_and_confirm("Shuffle open tasks")
        manager.page.wait_for_url("**/shuffles/*")
        state = manager.page.locator("#shuffle-state")
        expect(state).to_contain_text("Queued")
        expect(state).to_contain_text("Waiting its turn to start")
        worker.goto("/my-tasks")
        expect(worker.page.locator("#shuffle-notice")).to_contain_text(
            "A shuffle of the open tasks is about to start"
        )
    finally:
        server.worker.send_signal(signal.SIGCONT)
    expect(state).to_contain_text("Reassigned", timeout=WORKER_TIMEOUT_MS)
    expect(state.locator(".badge")).to_have_text("Done")
    worker.goto("/my-tasks")
    expect(worker.page.locator("#shuffle-notice")).to_have_count(0)
