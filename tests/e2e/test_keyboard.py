"""The shuffle's confirmation by keyboard alone, with and without JavaScript (closing the
day is in test_accounting.py: it needs a server of its own)."""

import re

import pytest
from playwright.sync_api import expect

from tests.e2e.keyboard import focused, tab_to
from tests.e2e.ui import unique

pytestmark = pytest.mark.e2e

SHUFFLE = "Shuffle open tasks"


def test_shuffle_confirmation_by_keyboard_with_javascript(visit):
    manager = visit(js=True, as_popug="manager")
    page = manager.page
    manager.create_task(unique("Count the feathers"))
    open_count = len(manager.open_tasks_on_board())
    manager.goto("/?filter=open")

    tab_to(page, SHUFFLE)
    page.keyboard.press("Enter")
    dialog = page.get_by_role("dialog")
    expect(dialog).to_be_visible()
    expect(dialog.get_by_role("heading")).to_have_text(f"{SHUFFLE}?")
    assert focused(page) == {"text": "Cancel", "tag": "button", "inDialog": True, "ring": True}

    # Escape cancels: nothing is sent, and the focus is back on the button.
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    assert focused(page)["text"] == SHUFFLE
    expect(manager.flash()).to_be_empty()
    assert page.url.endswith("/?filter=open")

    # Enter opens it again; Tab moves from Cancel to the action, Enter confirms.
    page.keyboard.press("Enter")
    expect(dialog).to_be_visible()
    page.keyboard.press("Tab")
    assert focused(page) == {"text": SHUFFLE, "tag": "button", "inDialog": True, "ring": True}
    page.keyboard.press("Enter")
    page.wait_for_url("**/shuffles/*")
    expect(page.locator(".lead")).to_contain_text(
        f"Reassigned {open_count} open tasks", timeout=20_000
    )


def test_shuffle_confirmation_by_keyboard_without_javascript(visit):
    manager = visit(js=False, as_popug="manager")
    page = manager.page
    manager.create_task(unique("Count the seeds"))
    open_count = len(manager.open_tasks_on_board())
    manager.goto("/?filter=open")

    tab_to(page, SHUFFLE)
    page.keyboard.press("Enter")
    page.wait_for_url("**/tasks/shuffle*")
    expect(page.locator("#shuffle-preview")).to_contain_text(
        re.compile(rf"Open tasks\s*{open_count}\b")
    )

    tab_to(page, SHUFFLE)
    page.keyboard.press("Enter")
    page.wait_for_url("**/shuffles/*")
    expect(page.locator(".lead")).to_contain_text(
        f"Reassigned {open_count} open tasks", timeout=20_000
    )
