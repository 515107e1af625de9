"""Notifications in the browser: a task created by one popug lands on another, whose open
page counts it without a reload; they open Notifications, follow the link to the task and
mark everything read. Without JavaScript the count is right on every page load."""

import re

import pytest
from playwright.sync_api import expect

from tests.e2e.ui import unique

pytestmark = pytest.mark.e2e

ELIGIBLE = ("worker", "accountant")
COUNT = "#notification-count .badge-count"


def _assignee(flash_text: str) -> str:
    return re.search(r"assigned to (\S+?)\.", flash_text).group(1)


@pytest.mark.parametrize("js", [True, False], ids=["js", "no-js"])
def test_the_assignee_is_told_and_reads_it(visit, demo_roles, js):
    # Every popug a task may land on has a page open before it is created.
    watchers = {
        name: visit(js=js, as_popug=name, start="/my-tasks")
        for name, role in demo_roles.items()
        if role in ELIGIBLE
    }
    for watcher in watchers.values():  # start from nothing unread
        watcher.goto("/notifications")
        if watcher.page.get_by_role("button", name="Mark all as read").count():
            watcher.page.get_by_role("button", name="Mark all as read").click()
        expect(watcher.page.locator(COUNT)).to_have_count(0)
        watcher.goto("/my-tasks")

    manager = visit(js=js, as_popug=next(n for n, r in demo_roles.items() if r == "manager"))
    for _ in range(20):  # other tests' popugs may take tasks too: until one lands on a watcher
        title = unique("Refill the bath")
        manager.create_task(title)
        them = watchers.get(_assignee(manager.flash().inner_text()))
        if them is not None:
            break
    assert them is not None, "no task landed on a demo popug in 20 tries"
    page = them.page
    if js:  # the open page counts it without a reload (the top bar polls every 15 s)
        expect(page.locator(COUNT)).to_have_text(re.compile(r"^1\b"), timeout=25_000)
        page.evaluate("window.e2eNoReload = true")
    else:
        them.goto("/my-tasks")
        expect(page.locator(COUNT)).to_have_text(re.compile(r"^1\b"))

    page.locator("#notifications-link").click()
    expect(page.get_by_role("heading", name="Notifications", level=1)).to_be_visible()
    item = page.locator("li.notification").filter(has_text=title)
    expect(item).to_contain_text("was assigned to you")
    item.get_by_role("link", name=re.compile(title)).click()
    expect(page.get_by_role("heading", level=1)).to_have_text(re.compile(title))
    them.goto("/notifications")
    page.get_by_role("button", name="Mark all as read").click()
    expect(page.locator(COUNT)).to_have_count(0)
