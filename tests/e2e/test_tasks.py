"""The tasks' browser journey: a worker creates a task; its assignee finds it and marks it done."""

import random
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import expect

from tests.e2e.ui import format_money, read_task_row, unique

pytestmark = pytest.mark.e2e

FEE_RANGE = range(10_00, 20_00 + 1, 100)  # whole dollars, $10.00-$20.00
REWARD_RANGE = range(20_00, 40_00 + 1, 100)  # whole dollars, $20.00-$40.00


@pytest.mark.parametrize("js", [True, False], ids=["js", "no-js"])
def test_worker_creates_a_task_and_its_assignee_marks_it_done(visit, logins, js):
    creator = visit(js=js)
    page = creator.page
    creator.sign_in("kesha", logins["kesha"])
    if js:
        page.evaluate("window.e2eNoReload = true")  # gone if the page reloads

    title = unique("Polish the perch")
    jira_id = f"uberpop-{random.randint(10_000, 99_999)}"  # typed lower case on purpose
    creator.create_task(title, jira_id=jira_id, description="Made by a browser test.")

    row = creator.board_rows().first
    task = read_task_row(row)
    assert task.title == title
    assert task.status == "open"
    assert task.fee in FEE_RANGE, task
    assert task.reward in REWARD_RANGE, task
    expect(row.locator("td").first).to_have_text(jira_id.upper())
    expect(creator.flash()).to_contain_text(f"Task created and assigned to {task.assignee}.")
    assert task.assignee in logins, f"{task.assignee} is not a popug this session knows"
    expect(page.locator("#task-form").get_by_label("Title")).to_have_value("")
    if js:
        assert page.evaluate("window.e2eNoReload") is True, "the board reloaded"
    else:
        assert urlsplit(page.url).path == "/", "post/redirect/get back to the board"

    assignee = visit(js=js)
    page = assignee.page
    assignee.sign_in(task.assignee, logins[task.assignee])
    balance_before = assignee.balance()
    assignee.open_nav("My tasks")
    if js:
        page.evaluate("window.e2eNoReload = true")
    mine = page.locator("section", has=page.get_by_role("heading", name="Open")).locator(
        "tbody tr", has_text=title
    )
    expect(mine).to_have_count(1)
    assert read_task_row(mine, assignee=task.assignee) == task

    mine.get_by_role("button", name="Mark done").click()
    expect(assignee.flash()).to_contain_text(f"paid you {format_money(task.reward)}")
    expect(page.locator("#my-balance")).to_have_text(format_money(balance_before + task.reward))
    # With or without JavaScript the page is as a reload shows it: the task moved from
    # Open to Recently done (with JavaScript, without a reload).
    done = page.locator("section", has=page.get_by_role("heading", name="Recently done"))
    done_row = done.locator("tbody tr", has_text=title)
    expect(done_row).to_have_count(1)
    assert read_task_row(done_row, assignee=task.assignee).status == "done"
    expect(
        page.locator("section", has=page.get_by_role("heading", name="Open")).locator(
            "tbody tr", has_text=title
        )
    ).to_have_count(0)
    if js:
        assert page.evaluate("window.e2eNoReload") is True, "My tasks reloaded"
    assert assignee.balance() == balance_before + task.reward

    # Marking it done again is impossible: the board shows it done, without a button.
    assignee.goto("/?filter=done")
    done_on_board = assignee.board_rows().filter(has_text=title)
    expect(done_on_board.locator(".badge-done")).to_have_text("done")
    expect(done_on_board.get_by_role("button", name="Mark done")).to_have_count(0)
    assert assignee.balance() == balance_before + task.reward

    # My account lists the fee and the reward of the task (only the words and amounts are
    # checked: the page's layout is tested with the page).
    assignee.open_nav("My account")
    log = page.locator("main")
    expect(log).to_contain_text(title)
    expect(log).to_contain_text(format_money(task.fee))
    expect(log).to_contain_text(format_money(task.reward))
