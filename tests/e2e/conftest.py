"""Browser tests: a real aTES server process (gunicorn, fresh SQLite file, demo popugs) and
Debian's Chromium driven by Playwright's sync API.

The server and its database live for the whole session and are shared by every e2e test,
so tests use unique names and compute expected figures from what they observe themselves.
Without Chromium the tests are skipped, except under CI=true, where that is a failure;
the same for Java and the Nu Html Checker (`make test` installs it from package.json).
"""

import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from playwright.sync_api import expect, sync_playwright

from scripts import devserver
from tests.e2e.ui import Visitor, unique

ROOT = Path(__file__).resolve().parents[2]
VNU_JAR = ROOT / "node_modules" / "vnu-jar" / "build" / "dist" / "vnu.jar"

# Shared CI machines can be slow; a page that does not settle in 10 s is a failure.
expect.set_options(timeout=10_000)
PHONE = {"width": 360, "height": 740}
DESKTOP = {"width": 1440, "height": 900}


@pytest.fixture(autouse=True)
def _isolated():
    """Overrides the suite's per-test database cleaning: the browser talks to its own
    server and database, not to the in-process test app."""
    yield


def _unavailable(reason: str):
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{reason} (these tests must run in CI)", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def server(tmp_path_factory) -> Iterator[devserver.DevServer]:
    running = devserver.start(tmp_path_factory.mktemp("ates-e2e"))
    yield running
    running.stop()


@pytest.fixture(scope="session")
def browser():
    if devserver.chromium_path() is None:
        _unavailable("Chromium is not installed (apt-get install -y chromium)")
    with sync_playwright() as playwright:
        chromium = devserver.launch_chromium(playwright)
        yield chromium
        chromium.close()


@pytest.fixture(scope="session")
def vnu() -> list[str]:
    """The command that runs the Nu Html Checker (npm's vnu-jar, pinned in package.json)."""
    java = shutil.which("java")
    if java is None:
        _unavailable("Java is not installed: the Nu Html Checker needs it")
    if not VNU_JAR.is_file():
        _unavailable(f"The Nu Html Checker is not installed ({VNU_JAR}): run make node_modules")
    return [java, "-jar", str(VNU_JAR)]


@pytest.fixture(scope="session")
def logins(server) -> dict[str, str]:
    """username -> beak shape of every popug the session knows: the demo popugs (as
    `demo seed` printed them) and those that tests create (they add themselves)."""
    return dict(server.demo_logins)


@pytest.fixture(scope="session")
def demo_roles(server) -> dict[str, str]:
    return dict(server.demo_roles)


@pytest.fixture(scope="session")
def signed_in_states() -> dict[str, dict]:
    """username -> the browser storage state (session cookie) of a completed sign-in."""
    return {}


@pytest.fixture
def visit(browser, server, logins, signed_in_states) -> Iterator[Callable[..., Visitor]]:
    """visit(js=True, as_popug=None, start="/", **context_options) -> a Visitor in a fresh
    browser context (`locale="ru-RU"`: a Russian browser, see Visitor.lang).

    With `as_popug` the visitor is signed in as that popug, looking at `start`: through the
    sign-in form the first time in the session, afterwards by reusing that sign-in's cookie
    (signing in again if the server ended that session).

    After the test, every page must have been free of JavaScript errors, CSP violations
    and 5xx answers.
    """
    visitors: list[Visitor] = []

    def open_visitor(
        js: bool = True, as_popug: str | None = None, start: str = "/", **options
    ) -> Visitor:
        options.setdefault("viewport", DESKTOP)
        if as_popug in signed_in_states:
            options["storage_state"] = signed_in_states[as_popug]
        context = browser.new_context(base_url=server.url, java_script_enabled=js, **options)
        context.set_default_timeout(10_000)
        visitor = Visitor(context=context, page=context.new_page(), js=js)
        # A Russian browser (locale="ru-RU": its Accept-Language) gets the pages in Russian.
        visitor.lang = "ru" if options.get("locale", "").startswith("ru") else "en"
        visitor.watch()
        visitors.append(visitor)
        if as_popug is not None:
            if as_popug in signed_in_states:
                visitor.goto(start)
            if visitor.signed_in_as() != as_popug:
                visitor.sign_in(as_popug, logins[as_popug])
                signed_in_states[as_popug] = context.storage_state()
                if start != "/":
                    visitor.goto(start)
        return visitor

    yield open_visitor
    problems = [problem for visitor in visitors for problem in visitor.problems]
    for visitor in visitors:
        visitor.context.close()
    if problems:
        errors = [line for line in server.log().splitlines() if "ERROR" in line][-10:]
        problems += ["server log errors:", *errors] if errors else []
    assert not problems, "problems in the browser:\n" + "\n".join(problems)


@pytest.fixture
def context(visit) -> Visitor:
    """A fresh JavaScript-enabled browser context with one page."""
    return visit(js=True)


@pytest.fixture
def nojs_context(visit) -> Visitor:
    """A fresh browser context with JavaScript disabled: plain forms and redirects."""
    return visit(js=False)


@pytest.fixture(scope="session")
def shuffle_record_path(browser, server, logins) -> str:
    """The path of a shuffle record page (a manager creates a task and shuffles once)."""
    context = browser.new_context(base_url=server.url, java_script_enabled=False)
    visitor = Visitor(context=context, page=context.new_page(), js=False)
    visitor.watch()
    try:
        visitor.sign_in("manager", logins["manager"])
        visitor.create_task(unique("Record a shuffle"))
        visitor.press_and_confirm("Shuffle open tasks")
        visitor.page.wait_for_url("**/shuffles/*")
        assert not visitor.problems, visitor.problems
        return visitor.page.url.removeprefix(server.url)
    finally:
        context.close()
