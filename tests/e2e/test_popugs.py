"""The popugs' browser journey: the admin creates a worker, and the worker sees a worker's aTES."""

import pytest
from playwright.sync_api import expect

from tests.e2e.ui import (
    E2E_BEAK,
    NAV_BY_ROLE,
    Visitor,
    demo_user,
    parse_money,
    read_task_row,
    unique,
)

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
    assert browser.nav_labels() == ["Tasks", "My tasks", "My account", "Notifications"]
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
        expect(browser.nav_link(label)).to_have_attribute("aria-current", "page")


def create_popug(admin: Visitor, logins: dict[str, str], role: str) -> str:
    """The admin fills in "Create popug" for a new popug of `role`; returns its username."""
    page = admin.page
    username = unique(role[0]).lower()
    logins[username] = E2E_BEAK
    form = page.locator("#popug-form")
    form.get_by_label("Username").fill(username)
    form.get_by_label("E-mail").fill(f"{username}@uberpopug.inc")
    form.get_by_label("Role").select_option(value=role)
    form.get_by_label("Beak shape").fill(E2E_BEAK)
    form.get_by_role("button", name="Create popug").click()
    expect(admin.flash()).to_contain_text(f"Popug {username} created as {role}.")
    expect(popug_row(page, username).get_by_label(f"Role of {username}")).to_have_value(role)
    return username


def popug_row(page, username: str):
    return page.locator("tbody tr", has=page.get_by_role("cell", name=username, exact=True))


def analytics_today(admin: Visitor) -> tuple[int, int]:
    """(management earnings today in cents, popugs in the red) from the Analytics cards."""
    admin.open_nav("Analytics")
    page = admin.page
    earnings = parse_money(page.locator("#card-earnings-today .value").inner_text())
    return earnings, int(page.locator("#card-in-red .value").inner_text())


def balance_on_overview(admin: Visitor, username: str) -> int:
    admin.goto("/accounting?sort=username")
    rows = admin.page.locator("#balances-table tbody tr").all()
    cells = [row.locator("td") for row in rows]
    found = [c.nth(2).inner_text() for c in cells if c.first.inner_text().strip() == username]
    assert len(found) == 1, f"{username} on the balances page: {found}"
    return parse_money(found[0])


@pytest.mark.parametrize("js", [True, False], ids=["js", "no-js"])
def test_admin_staffs_a_team_and_reads_analytics(visit, logins, js):
    """The admin's journey: create a manager, an accountant and three workers, change a
    role, deactivate one, then read Analytics and check today's figures move, to the cent,
    by what a new task does."""
    admin = visit(js=js, as_popug="admin")
    page = admin.page
    admin.open_nav("Popugs")
    manager = create_popug(admin, logins, "manager")
    accountant = create_popug(admin, logins, "accountant")
    workers = [create_popug(admin, logins, "worker") for _ in range(3)]

    # Promote the third worker to accountant.
    promoted = workers[2]
    row = popug_row(page, promoted)
    row.get_by_label(f"Role of {promoted}").select_option(value="accountant")
    row.get_by_role("button", name="Change role").click()
    expect(admin.flash()).to_contain_text(f"{promoted} is now accountant.")
    expect(popug_row(page, promoted).get_by_label(f"Role of {promoted}")).to_have_value(
        "accountant"
    )

    # Deactivate the second worker: a confirmation page says what it hands over.
    leaver = workers[1]
    popug_row(page, leaver).get_by_role("link", name="Deactivate").click()
    expect(page.locator("#handover-preview")).to_contain_text("Open tasks handed over")
    page.get_by_role("button", name="Deactivate").click()
    expect(admin.flash()).to_contain_text(f"{leaver} is deactivated.")
    expect(popug_row(page, leaver)).to_contain_text("deactivated")
    expect(popug_row(page, leaver).get_by_role("button", name="Reactivate")).to_have_count(1)

    # Each new popug sees the aTES of their role; the deactivated one cannot sign in.
    expected = {manager: "manager", accountant: "accountant", workers[0]: "worker"}
    expected[promoted] = "accountant"
    for username, role in expected.items():
        them = visit(js=js, as_popug=username)
        assert them.nav_labels() == NAV_BY_ROLE[role], username
        expect(them.page.locator(".whoami .badge-role")).to_have_text(role)
    leaver_browser = visit(js=js)
    leaver_browser.allowed_statuses.add(401)  # the refused sign-in
    leaver_browser.goto("/sign-in")
    leaver_browser.page.get_by_label("Username").fill(leaver)
    leaver_browser.page.get_by_label("Beak shape").fill(E2E_BEAK)
    leaver_browser.page.get_by_role("button", name="Sign in").click()
    expect(leaver_browser.page.locator("body")).to_contain_text(
        "Unknown username or wrong beak shape."
    )
    assert leaver_browser.signed_in_as() is None

    # Analytics: a task the admin creates now is today's income, to the cent.
    earnings, in_red = analytics_today(admin)
    admin.open_nav("Tasks")
    admin.create_task(unique("Polish the perch"))
    task = read_task_row(admin.board_rows().first)
    assert task.assignee != leaver, "a deactivated popug got a task"
    after = balance_on_overview(admin, task.assignee)
    before = after + task.fee
    assert analytics_today(admin) == (
        earnings + task.fee,
        in_red + (1 if before >= 0 > after else 0),
    )


@pytest.mark.parametrize("js", [True, False], ids=["js", "no-js"])
def test_admin_changes_an_email_sets_a_beak_shape_and_searches(visit, logins, js):
    """The admin finds a worker by the beginning of their name, changes their e-mail, and
    sets a new beak shape, shown once: the worker's open session ends, the old beak shape
    no longer signs in, the new one does."""
    admin = visit(js=js, as_popug="admin")
    page = admin.page
    admin.open_nav("Popugs")
    username = create_popug(admin, logins, "worker")
    worker = visit(js=js, as_popug=username)

    # Search: the beginning of the username finds them; nonsense finds nobody, and says so.
    search = page.get_by_role("search")
    search.get_by_label("Search").fill(username[:6].upper())
    search.get_by_role("button", name="Search").click()
    expect(popug_row(page, username)).to_have_count(1)
    expect(page.get_by_label("Search")).to_have_value(username[:6])
    page.get_by_role("search").get_by_label("Search").fill(f"zz{username}")
    page.get_by_role("search").get_by_role("button", name="Search").click()
    expect(page.locator("main")).to_contain_text(f"No popug matches “zz{username}”.")
    page.get_by_role("search").get_by_label("Search").fill(f"{username}@uberpopug")
    page.get_by_role("search").get_by_role("button", name="Search").click()
    popug_row(page, username).get_by_role("link", name=username).click()
    expect(page.get_by_role("heading", level=1)).to_have_text(username)

    # A new e-mail: a wrong one is refused next to the field, the right one taken.
    form = page.locator("#email-form")
    form.get_by_label("New e-mail").fill("not an address")
    admin.allowed_statuses.add(422)
    form.get_by_role("button", name="Change e-mail").click()
    expect(page.locator("#email-error")).to_contain_text("Enter a valid e-mail address")
    new_email = f"{username}.renamed@uberpopug.inc"
    page.locator("#email-form").get_by_label("New e-mail").fill(new_email)
    page.locator("#email-form").get_by_role("button", name="Change e-mail").click()
    expect(admin.flash()).to_contain_text(f"{username}'s e-mail is now {new_email}.")
    expect(page.locator("dl.facts")).to_contain_text(new_email)
    expect(page.locator("#popug-events")).to_contain_text("Changed e-mail")

    # A new beak shape: asked first, then shown once.
    page.get_by_role("link", name="Set a new beak shape").click()
    expect(page.locator("main")).to_contain_text("every session of theirs ends now")
    new_beak = f"reset by the admin {username}"
    page.get_by_label("New beak shape").fill(new_beak)
    page.get_by_role("button", name="Set the new beak shape").click()
    expect(page.locator("#new-beak-shape")).to_have_text(new_beak)
    logins[username] = new_beak
    page.get_by_role("link", name=f"Back to {username}").click()
    expect(page.locator("#popug-events")).to_contain_text("Set a new beak shape")
    expect(page.locator("body")).not_to_contain_text(new_beak)

    # The worker's open session has ended; only the new beak shape signs in.
    worker.goto("/my-tasks")
    expect(worker.page.get_by_role("button", name="Sign in")).to_be_visible()
    worker.allowed_statuses.add(401)
    worker.page.get_by_label("Username").fill(username)
    worker.page.get_by_label("Beak shape").fill(E2E_BEAK)
    worker.page.get_by_role("button", name="Sign in").click()
    expect(worker.page.locator("body")).to_contain_text("Unknown username or wrong beak shape.")
    worker.sign_in(username, new_beak)
