"""Issue 2's browser journey: the admin creates a worker, and the worker sees a worker's aTES."""

import pytest
from playwright.sync_api import expect

from tests.e2e.ui import E2E_BEAK, NAV_BY_ROLE, demo_user, unique

pytestmark = pytest.mark.e2e


@pytest.mark.parametrize("js", [True, False], ids=["js", "no-js"])
def test_admin_creates_a_worker_who_then_signs_in(visit, logins, js):
    browser = visit(js=js)
    page = browser.page
    # The admin signs in with the details `flask demo seed` printed.
    browser.sign_in("admin", logins["admin"])
    assert browser.nav_labels() == NAV_BY_ROLE["admin"]

    browser.open_nav("Popugs")
    username = unique("w").lower()
    logins[username] = E2E_BEAK  # known before the form is sent, for later tests
    form = page.locator("#popug-form")
    form.get_by_label("Username").fill(username)
    form.get_by_label("E-mail").fill(f"{username}@uberpopug.inc")
    form.get_by_label("Role").select_option(label="Worker")
    form.get_by_label("Beak shape").fill(E2E_BEAK)
    form.get_by_role("button", name="Create popug").click()

    expect(browser.flash()).to_contain_text(f"Popug {username} created as worker.")
    row = page.locator("tbody tr", has=page.get_by_role("cell", name=username, exact=True))
    expect(row).to_have_count(1)
    expect(row.get_by_label(f"Role of {username}")).to_have_value("worker")
    expect(row).to_contain_text("active")
    # Nothing of the beak shape is shown again.
    expect(page.locator("body")).not_to_contain_text(E2E_BEAK)
    expect(form.get_by_label("Username")).to_have_value("")

    browser.sign_out()

    browser.sign_in(username, E2E_BEAK)
    assert browser.nav_labels() == ["Tasks", "My tasks", "My account"]
    for forbidden in ("Accounting", "Analytics", "Popugs"):
        expect(browser.nav().get_by_role("link", name=forbidden)).to_have_count(0)
    expect(page.locator(".whoami .badge-role")).to_have_text("worker")
    assert browser.balance() == 0
    # A worker has no shuffle button, and the admin's pages answer 403.
    expect(page.get_by_role("button", name="Shuffle open tasks")).to_have_count(0)
    browser.allowed_statuses.add(403)
    response = page.goto("/popugs")
    assert response is not None and response.status == 403


@pytest.mark.parametrize("role", sorted(NAV_BY_ROLE))
def test_every_role_sees_its_navigation(visit, demo_roles, role):
    browser = visit(js=True, as_popug=demo_user(demo_roles, role))
    assert browser.nav_labels() == NAV_BY_ROLE[role]
    for label in NAV_BY_ROLE[role]:
        browser.open_nav(label)
        expect(browser.nav().get_by_role("link", name=label, exact=True)).to_have_attribute(
            "aria-current", "page"
        )
