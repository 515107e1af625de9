"""A tour of the app with JavaScript on: not one console error or Content Security Policy
violation on any page, nor while a manager creates a task and an admin creates a popug.

The visit fixture already fails a test on console errors and CSP reports; here each page
also listens for `securitypolicyviolation` itself (an inline style htmx or a template
adds is blocked by `style-src 'self'` and reported there even where the console says
nothing), and the test reads that record after every page.
"""

import pytest
from playwright.sync_api import expect

from tests.e2e.ui import E2E_BEAK, Visitor, demo_user, tour, unique

pytestmark = pytest.mark.e2e

ROLES = ["anonymous", "worker", "accountant", "manager", "admin"]
LISTEN = """
window.__violations = [];
document.addEventListener('securitypolicyviolation', (event) => {
  window.__violations.push(`${event.violatedDirective} blocked ${event.blockedURI || 'inline'}`
                           + ` at ${event.sourceFile}:${event.lineNumber} ${event.sample}`);
});
"""


def watched(visitor: Visitor) -> Visitor:
    visitor.context.add_init_script(LISTEN)
    visitor.page.reload()  # the page already open gets the listener too
    return visitor


def violations(visitor: Visitor) -> list[str]:
    return visitor.page.evaluate("window.__violations || []")


def errors(visitor: Visitor, where: str) -> list[str]:
    """What went wrong on the page so far: console errors (the visitor's record) and the
    page's own record of CSP violations."""
    return [*visitor.problems, *(f"{where}: {v}" for v in violations(visitor))]


@pytest.mark.parametrize("role", ROLES)
def test_every_page_of_the_tour_is_free_of_console_errors(
    visit, demo_roles, shuffle_record_path, role
):
    visitor = watched(visit(js=True, as_popug=demo_user(demo_roles, role)))
    found = []
    for where in tour(visitor, role, shuffle_record_path):
        found += errors(visitor, where)
    assert found == []


@pytest.mark.parametrize("locale", ["en-GB", "ru-RU"])
def test_creating_a_task_and_a_popug_is_free_of_console_errors(visit, demo_roles, logins, locale):
    manager = watched(visit(js=True, locale=locale, as_popug=demo_user(demo_roles, "manager")))
    form = manager.page.locator("#task-form")
    for _ in range(2):  # the second after the first was swapped in
        title = unique("Console check")
        form.locator("input[name=title]").fill(title)
        form.locator("button[type=submit]").click()
        expect(manager.board_rows().first.locator("td").nth(1)).to_have_text(title)
    assert errors(manager, "creating a task") == []

    admin = watched(visit(js=True, locale=locale, as_popug=demo_user(demo_roles, "admin")))
    admin.goto("/popugs")
    admin.page.reload()
    for _ in range(2):
        username = unique("c").lower()
        logins[username] = E2E_BEAK
        form = admin.page.locator("#popug-form")
        form.locator("input[name=username]").fill(username)
        form.locator("input[name=email]").fill(f"{username}@uberpopug.inc")
        form.locator("input[name=beak_shape]").fill(E2E_BEAK)
        form.locator("button[type=submit]").click()
        expect(admin.page.get_by_role("cell", name=username, exact=True)).to_have_count(1)
    assert errors(admin, "creating a popug") == []
