"""`make screenshots`: PNGs of aTES's main pages at desktop and phone width, for the README.

    .venv/bin/python -m scripts.screenshots [--out docs/screenshots]

Starts aTES the way the browser tests do (a real server on a fresh temporary database with
the demo popugs), lets the demo popugs create and finish tasks and a manager shuffle once,
all through the browser, then saves <page>-desktop.png (1440x900) and <page>-phone.png
(360x740, full page) for each page into docs/screenshots/.
"""

import argparse
import random
import sys
import tempfile
import time
from pathlib import Path

if __package__ in (None, ""):  # run as a file: python scripts/screenshots.py
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from playwright.sync_api import Browser, Page, sync_playwright  # noqa: E402

from scripts import devserver  # noqa: E402

OUT = devserver.ROOT / "docs" / "screenshots"
VIEWPORTS = {"desktop": {"width": 1440, "height": 900}, "phone": {"width": 360, "height": 740}}
MAX_HEIGHT = {"desktop": 1800, "phone": 2400}  # long pages: their start, not all of them

# (file name, who looks at it, navigation link, then the link followed from that page)
PAGES = [
    ("board", "kesha", "Tasks", None),
    ("my-tasks", "kesha", "My tasks", None),
    ("task", "kesha", "My tasks", ".title-cell a"),
    ("my-account", "kesha", "My account", None),
    ("notifications", "kesha", "/notifications", None),  # the top bar's link, by its path
    ("accounting", "admin", "Accounting", None),
    ("popug-account", "admin", "Accounting", "#balances-table a"),
    ("analytics", "admin", "Analytics", None),
    ("popugs", "admin", "Popugs", None),
    ("popug", "admin", "Popugs", "td a[href^='/popugs/']"),
]

TASKS = [
    ("kesha", "Polish the perch in meeting room 3", "UBERPOP-101"),
    ("gosha", "Refill the sunflower seed dispensers", "UBERPOP-102"),
    ("rio", "Teach the new popugs the morning song", ""),
    ("kiwi", "Count the feathers in the lost and found", "UBERPOP-104"),
    ("koko", "Crack the nuts for the quarterly party", "UBERPOP-105"),
    ("accountant", "Reconcile the millet invoices", "FIN-7"),
    ("manager", "Plan the flock's summer migration", "UBERPOP-107"),
    ("kesha", "Fix the squeaky swing on floor 2", "UBERPOP-108"),
    ("gosha", "Write the mirror-cleaning rota", ""),
    ("rio", "Sort the bells by pitch", "UBERPOP-110"),
    ("admin", "Rotate the cage door codes", "SEC-3"),
    ("kiwi", "Test the new cuttlebone supplier", "UBERPOP-112"),
    ("koko", "Untangle the rope ladders", "UBERPOP-113"),
    ("manager", "Interview candidates for head of snacks", "UBERPOP-114"),
    ("accountant", "File the seed tax return", "FIN-8"),
    ("kesha", "Replace the bulb above the water bowl", "UBERPOP-116"),
]


def sign_in(browser: Browser, server: devserver.DevServer, username: str, **options) -> Page:
    context = browser.new_context(base_url=server.url, **options)
    page = context.new_page()
    page.goto("/sign-in")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Beak shape").fill(server.demo_logins[username])
    page.get_by_role("button", name="Sign in").click()
    page.locator(".whoami-name").wait_for()
    return page


def generate_activity(browser: Browser, server: devserver.DevServer, rng: random.Random) -> None:
    """Demo popugs create tasks, finish some, a manager shuffles, then a few more get done."""
    pages: dict[str, Page] = {}

    def as_popug(username: str) -> Page:
        if username not in pages:
            pages[username] = sign_in(browser, server, username, java_script_enabled=False)
        return pages[username]

    for username, title, jira_id in TASKS:
        page = as_popug(username)
        page.goto("/")
        form = page.locator("#task-form")
        form.get_by_label("Title").fill(title)
        form.get_by_label("Jira ID").fill(jira_id)
        form.get_by_role("button", name="Create task").click()
        page.locator("#board tbody tr", has_text=title).wait_for()

    def finish_some(count: int) -> None:
        workers = [u for u, role in server.demo_roles.items() if role in ("worker", "accountant")]
        for username in rng.sample(workers, len(workers)):
            if count == 0:
                return
            page = as_popug(username)
            page.goto("/my-tasks")
            buttons = page.get_by_role("button", name="Mark done")
            if buttons.count():
                buttons.first.click()
                page.locator("#flashes .flash").wait_for()
                count -= 1

    finish_some(4)
    manager = as_popug("manager")
    manager.goto("/")
    manager.get_by_role("button", name="Shuffle open tasks").click()
    manager.wait_for_url("**/tasks/shuffle*")  # the confirmation page (no JavaScript here)
    manager.locator("main").get_by_role("button", name="Shuffle open tasks").click()
    manager.wait_for_url("**/shuffles/*")
    # the job worker runs it; the page refreshes itself until it says it is done
    manager.get_by_text("Reassigned").wait_for()
    finish_some(2)
    for page in pages.values():
        page.context.close()


def take_screenshots(browser: Browser, server: devserver.DevServer, out: Path) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    saved = []
    for kind, viewport in VIEWPORTS.items():
        viewers: dict[str, Page] = {}
        for name, username, label, then in PAGES:
            if username not in viewers:
                viewers[username] = sign_in(browser, server, username, viewport=viewport)
            page = viewers[username]
            if label.startswith("/"):
                path = label
            else:
                link = page.get_by_role("navigation", name="Main").get_by_role(
                    "link", name=label, exact=True
                )
                path = link.get_attribute("href")
            response = page.goto(path)
            if then and response is not None and response.ok:
                path = page.locator(then).first.get_attribute("href")
                response = page.goto(path)
            if response is None or not response.ok:
                raise RuntimeError(f"{path} as {username}: {response and response.status}")
            target = out / f"{name}-{kind}.png"
            height = min(page.evaluate("document.documentElement.scrollHeight"), MAX_HEIGHT[kind])
            page.screenshot(
                path=target,
                full_page=True,
                clip={"x": 0, "y": 0, "width": viewport["width"], "height": height},
                animations="disabled",
            )
            saved.append(target)
        for page in viewers.values():
            page.context.close()
    return saved


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=OUT, help="where the PNGs go")
    parser.add_argument("--seed", type=int, default=7, help="which tasks get done")
    args = parser.parse_args(argv)
    if devserver.chromium_path() is None:
        print("Chromium is not installed (apt-get install -y chromium).", file=sys.stderr)
        return 1
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="ates-screenshots-") as tmp:
        with devserver.running(Path(tmp)) as server, sync_playwright() as playwright:
            browser = devserver.launch_chromium(playwright)
            try:
                generate_activity(browser, server, random.Random(args.seed))
                saved = take_screenshots(browser, server, args.out)
            finally:
                browser.close()
    for path in saved:
        print(path.relative_to(devserver.ROOT) if path.is_relative_to(devserver.ROOT) else path)
    print(f"{len(saved)} screenshots in {time.monotonic() - started:.1f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
