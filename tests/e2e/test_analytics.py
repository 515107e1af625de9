"""Analytics' browser journey: a task is finished today; the admin opens Analytics, finds
today's most expensive task and narrows the range to the last 7 days (a bookmarkable URL)."""

from datetime import date, timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.ui import format_money, parse_money, read_task_row, unique

pytestmark = pytest.mark.e2e

DEFAULT_DAYS = 30


def finish_a_task(visit, js: bool) -> tuple[str, int]:
    """A manager creates a task and its assignee marks it done; returns (title, reward)."""
    manager = visit(js=js, as_popug="manager")
    title = unique("Weigh the mangoes")
    manager.create_task(title)
    task = read_task_row(manager.board_rows().first)
    assert task.title == title

    assignee = visit(js=js, as_popug=task.assignee)
    assignee.open_nav("My tasks")
    page = assignee.page
    mine = page.locator("section", has=page.get_by_role("heading", name="Open")).locator(
        "tbody tr", has_text=title
    )
    mine.get_by_role("button", name="Mark done").click()
    expect(assignee.flash()).to_contain_text(f"paid you {format_money(task.reward)}")
    return title, task.reward


def expect_days(page: Page, count: int) -> None:
    """The range's earnings rows and earnings bars number `count`; the per-day table lists
    the days with a completed task (one rewards bar each) and a line counts the others."""
    expect(page.locator("#earnings-table tbody tr")).to_have_count(count)
    expect(page.locator("svg#earnings-chart rect")).to_have_count(count)
    rewards = page.locator("svg#rewards-chart rect").count()
    expect(page.locator("#top-days tbody tr")).to_have_count(rewards)
    expect(page.locator("#top-days tbody tr.empty-period")).to_have_count(0)
    quiet = count - rewards
    if quiet:
        expect(page.locator("#quiet-days")).to_contain_text(f"{quiet} day")
    else:
        expect(page.locator("#quiet-days")).to_have_count(0)


def check_today(page: Page, title: str, reward: int) -> None:
    """Today (the range's last day) has a most expensive task that pays at least `reward`;
    if it is the task just finished, its bar shows exactly that reward."""
    today = page.locator("#top-days tbody tr").last
    expect(today).not_to_have_class("empty-period")
    top_title = today.locator("td").nth(1).inner_text().strip()
    assert top_title, "today's most expensive task has a title"
    bar = page.locator("svg#rewards-chart rect").last.locator("title")
    label, amount = bar.text_content().split(": ", 1)
    line = today.locator("th").inner_text().strip()
    assert line.startswith(f"{label} \u2014 most expensive task"), (line, label)
    top_reward = parse_money(amount)
    assert top_reward >= reward, (top_title, top_reward, title, reward)
    if top_title == title:
        assert top_reward == reward


@pytest.mark.parametrize("js", [True, False], ids=["js", "no-js"])
def test_admin_sees_todays_top_task_and_narrows_the_range(visit, js):
    title, reward = finish_a_task(visit, js)

    admin = visit(js=js, as_popug="admin")
    page = admin.page
    admin.open_nav("Analytics")
    today = date.fromisoformat(page.locator("#to").input_value())
    assert (
        page.locator("#from").input_value()
        == (today - timedelta(days=DEFAULT_DAYS - 1)).isoformat()
    )
    expect_days(page, DEFAULT_DAYS)
    check_today(page, title, reward)
    expect(page.locator("#top-weeks tbody tr").first).to_be_visible()
    expect(page.locator("#top-months tbody tr").first).to_be_visible()

    if js:
        page.evaluate("window.e2eNoReload = true")  # gone if the page reloads
    start = (today - timedelta(days=6)).isoformat()
    page.locator("#from").fill(start)
    page.locator("#to").fill(today.isoformat())
    page.locator("#analytics-results").get_by_role("button", name="Show").click()
    page.wait_for_url("**/analytics?*")
    query = parse_qs(urlsplit(page.url).query)
    assert query["from"] == [start] and query["to"] == [today.isoformat()], page.url
    expect_days(page, 7)
    check_today(page, title, reward)
    expect(page.get_by_role("link", name="Last 7 days")).to_have_attribute("aria-current", "true")
    if js:
        assert page.evaluate("window.e2eNoReload") is True, "the dashboard reloaded"

    # A preset link widens it again; the URL keeps that range too.
    page.get_by_role("navigation", name="Quick ranges").get_by_role(
        "link", name="Last 90 days"
    ).click()
    page.wait_for_url(f"**/analytics?from={(today - timedelta(days=89)).isoformat()}*")
    expect_days(page, 90)
    check_today(page, title, reward)

    # The bookmarked 7-day URL shows the same 7 days in a fresh page.
    admin.goto(f"/analytics?from={start}&to={today.isoformat()}")
    expect_days(page, 7)
    expect(page.locator("#from")).to_have_value(start)
