"""axe-core (vendored in tests/e2e/assets) on every page each role can reach: no serious or
critical violations."""

from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.e2e.ui import Visitor, demo_user, tour

pytestmark = pytest.mark.e2e

AXE = Path(__file__).parent / "assets" / "axe.min.js"
BLOCKING = {"serious", "critical"}
ROLES = ["anonymous", "worker", "accountant", "manager", "admin"]


def axe_violations(visitor: Visitor, where: str) -> list[str]:
    """Serious and critical axe-core violations on the current page, readably."""
    page = visitor.page
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.add_script_tag(path=str(AXE))
    violations = page.evaluate(
        "async () => (await axe.run(document, {resultTypes: ['violations']})).violations"
    )
    found = []
    for violation in violations:
        if violation["impact"] not in BLOCKING:
            continue
        found.append(
            f"{where}: [{violation['impact']}] {violation['id']}: {violation['help']}"
            f" ({violation['helpUrl']})"
        )
        for node in violation["nodes"][:5]:
            found.append(f"    at {' '.join(node['target'])}: {node['html'][:160]}")
            summary = node.get("failureSummary", "").replace("\n", " / ")
            found.append(f"       {summary[:300]}")
    return found


@pytest.mark.parametrize("role", ROLES)
def test_every_page_passes_axe(visit, demo_roles, shuffle_record_path, role):
    # axe is injected as a script, which the strict CSP (script-src 'self') would block.
    visitor = visit(js=True, bypass_csp=True, as_popug=demo_user(demo_roles, role))
    found = []
    for where in tour(visitor, role, shuffle_record_path):
        found += axe_violations(visitor, f"{role} on {where}")
    assert not found, "axe-core found serious or critical violations:\n" + "\n".join(found)


def test_form_errors_pass_axe(visit, logins):
    """Error states: a failed sign-in, and a task form sent without a title."""
    visitor = visit(js=True, bypass_csp=True)
    visitor.allowed_statuses.update({401, 422})
    page = visitor.page
    visitor.goto("/sign-in")
    page.get_by_label("Username").fill("kesha")
    page.get_by_label("Beak shape").fill("not the right beak")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_contain_text("Unknown username or wrong beak shape.")
    found = axe_violations(visitor, "failed sign-in")

    visitor.sign_in("kesha", logins["kesha"])
    page.locator("#task-form").get_by_role("button", name="Create task").click()
    expect(page.locator("#task-form .error")).not_to_have_count(0)
    found += axe_violations(visitor, "task form with errors")
    assert not found, "axe-core found serious or critical violations:\n" + "\n".join(found)


def test_confirmations_pass_axe(visit):
    """The in-page confirmation dialog while it is open, and the confirmation pages that
    stand in for it without JavaScript."""
    manager = visit(js=True, bypass_csp=True, as_popug="manager")
    page = manager.page
    page.get_by_role("button", name="Shuffle open tasks").click()
    expect(page.get_by_role("dialog")).to_be_visible()
    found = axe_violations(manager, "shuffle dialog")
    page.keyboard.press("Escape")
    expect(page.get_by_role("dialog")).to_be_hidden()
    manager.goto("/tasks/shuffle")
    found += axe_violations(manager, "shuffle confirmation page")

    accountant = visit(js=True, bypass_csp=True, as_popug="accountant", start="/accounting")
    accountant.page.get_by_role("button", name="Close the day").click()
    expect(accountant.page.get_by_role("dialog")).to_be_visible()
    found += axe_violations(accountant, "close-the-day dialog")
    accountant.goto("/accounting/close-day")
    found += axe_violations(accountant, "close-the-day confirmation page")
    assert not found, "axe-core found serious or critical violations:\n" + "\n".join(found)


# --- the same in Russian: a Russian browser, every page, errors and dialogs --------------


@pytest.mark.parametrize("role", ROLES)
def test_every_page_passes_axe_in_russian(visit, demo_roles, shuffle_record_path, role):
    visitor = visit(js=True, bypass_csp=True, locale="ru-RU", as_popug=demo_user(demo_roles, role))
    found = []
    for where in tour(visitor, role, shuffle_record_path):
        expect(visitor.page.locator("html")).to_have_attribute("lang", "ru")
        found += axe_violations(visitor, f"{role} on {where}, in Russian")
    assert not found, "axe-core found serious or critical violations:\n" + "\n".join(found)


def test_form_errors_and_dialogs_pass_axe_in_russian(visit, logins):
    visitor = visit(js=True, bypass_csp=True, locale="ru-RU")
    visitor.allowed_statuses.update({401, 422})
    page = visitor.page
    visitor.goto("/sign-in")
    page.get_by_label("Имя пользователя").fill("kesha")
    page.get_by_label("Форма клюва").fill("not the right beak")
    page.get_by_role("button", name="Войти").click()
    expect(page.get_by_role("alert")).to_contain_text("Неизвестное имя пользователя")
    found = axe_violations(visitor, "failed sign-in, in Russian")

    visitor.sign_in("kesha", logins["kesha"])
    page.locator("#task-form").get_by_role("button", name="Создать задачу").click()
    expect(page.locator("#task-form .error")).to_contain_text("Дайте задаче название.")
    found += axe_violations(visitor, "task form with errors, in Russian")

    manager = visit(js=True, bypass_csp=True, locale="ru-RU", as_popug="manager")
    manager.page.get_by_role("button", name="Перетасовать открытые задачи").click()
    dialog = manager.page.get_by_role("dialog")
    expect(dialog).to_be_visible()
    expect(dialog.get_by_role("heading")).to_have_text("Перетасовать открытые задачи?")
    found += axe_violations(manager, "shuffle dialog, in Russian")
    manager.page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    assert not found, "axe-core found serious or critical violations:\n" + "\n".join(found)
