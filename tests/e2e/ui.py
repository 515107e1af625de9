"""What a popug does in the browser, in the product's words (its visible labels).

A Visitor is one person at one browser: its own context (cookies), one page, and a record
of everything that went wrong in the page (JavaScript errors, CSP violations, 5xx answers).
"""

import itertools
import re
import uuid
from dataclasses import dataclass, field

from playwright.sync_api import BrowserContext, Locator, Page, expect

MINUS = "\u2212"
MONEY = re.compile(r"([+\u2212-]?)\$([\d,]+)\.(\d{2})")

# What each role's main navigation shows, in order: each role sees the areas it may use.
NAV_BY_ROLE = {
    "worker": ["Tasks", "My tasks", "My account", "Notifications"],
    "accountant": ["Tasks", "My tasks", "My account", "Accounting", "Notifications"],
    "manager": ["Tasks", "My account", "Notifications"],
    "admin": ["Tasks", "My account", "Accounting", "Analytics", "Popugs", "Notifications"],
}
# The same words in Russian (the catalogue's translations), for the journeys in Russian.
RUSSIAN = {
    "Tasks": "Задачи",
    "My tasks": "Мои задачи",
    "My account": "Мой счёт",
    "Accounting": "Бухгалтерия",
    "Analytics": "Аналитика",
    "Popugs": "Попуги",
    "Notifications": "Уведомления",
    "Main": "Главное меню",
    "Username": "Имя пользователя",
    "Beak shape": "Форма клюва",
    "Sign in": "Войти",
    "Shuffle": "Перетасовка",
}
ELIGIBLE_ROLES = {"worker", "accountant"}  # who gets tasks
E2E_BEAK = "a beak drawn by playwright"


def unique(prefix: str) -> str:
    """A name no other test in the session uses (the e2e database is shared)."""
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def parse_money(text: str) -> int:
    """'−$1,234.56' -> -123456 cents; exactly one amount must be in `text`."""
    found = MONEY.findall(text)
    assert len(found) == 1, f"expected one money amount in {text!r}"
    sign, dollars, cents = found[0]
    value = int(dollars.replace(",", "")) * 100 + int(cents)
    return -value if sign in (MINUS, "-") else value


def format_money(cents: int) -> str:
    sign = MINUS if cents < 0 else ""
    dollars, rest = divmod(abs(cents), 100)
    return f"{sign}${dollars:,}.{rest:02d}"


@dataclass
class TaskRow:
    title: str
    assignee: str
    status: str
    fee: int
    reward: int


def read_task_row(row: Locator, *, assignee: str | None = None) -> TaskRow:
    """Columns: Jira ID, Title, Completed (button or time), Assignee, Status, Fee, Reward,
    Created. My tasks has no Assignee column: pass `assignee`, the popug looking."""
    cells = row.locator("td")
    shift = 0 if assignee is None else -1
    if assignee is None:
        names = cells.nth(3).inner_text().split()
        assignee = names[0] if names else ""
    return TaskRow(
        title=cells.nth(1).inner_text().strip(),
        assignee=assignee,
        status=cells.nth(4 + shift).inner_text().strip(),
        fee=parse_money(cells.nth(5 + shift).inner_text()),
        reward=parse_money(cells.nth(6 + shift).inner_text()),
    )


@dataclass
class Visitor:
    context: BrowserContext
    page: Page
    js: bool
    problems: list[str] = field(default_factory=list)
    allowed_statuses: set[int] = field(default_factory=set)  # 4xx answers a test provokes
    lang: str = "en"  # the language the pages speak to this visitor ("ru": RUSSIAN)

    def words(self, english: str) -> str:
        """A label of the pages in the visitor's language."""
        return RUSSIAN[english] if self.lang == "ru" else english

    def watch(self) -> None:
        page = self.page
        page.on("console", self._console)
        page.on("pageerror", lambda error: self.problems.append(f"JS error: {error}"))
        page.on("response", self._response)

    def _console(self, message) -> None:
        if message.type not in ("error", "warning"):
            return
        text = message.text
        statuses = re.search(r"status of (\d{3})", text)
        if statuses and int(statuses.group(1)) in self.allowed_statuses:
            return
        if message.type == "warning" and "Content Security Policy" not in text:
            return
        self.problems.append(f"console {message.type} on {self.page.url}: {text}")

    def _response(self, response) -> None:
        if response.status >= 500:
            self.problems.append(f"{response.status} from {response.request.method} {response.url}")

    # Navigation ----------------------------------------------------------------------

    def goto(self, path: str) -> None:
        response = self.page.goto(path)
        assert response is not None and response.ok, f"GET {path}: {response and response.status}"

    def nav(self) -> Locator:
        return self.page.get_by_role("navigation", name=self.words("Main"))

    def nav_labels(self) -> list[str]:
        """The navigation's links, without the unread count beside Notifications."""
        return [
            re.sub(r"\s+\d+\+?(\s.*)?$", "", text.strip(), flags=re.S)
            for text in self.nav().get_by_role("link").all_inner_texts()
        ]

    def nav_link(self, label: str) -> Locator:
        """The navigation's link of `label` (Notifications' name may end with its count)."""
        return self.nav().get_by_role("link", name=re.compile("^" + re.escape(label) + r"(\s|$)"))

    def open_nav(self, label: str) -> None:
        self.nav_link(label).click()
        expect(self.page.get_by_role("heading", level=1)).to_contain_text(label)

    def flash(self) -> Locator:
        """The page's flash area (it may hold several messages)."""
        return self.page.locator("#flashes")

    def press_and_confirm(self, action: str) -> str:
        """Press the button named `action`, then confirm with the same-named button: in the
        page's dialog with JavaScript, on the confirmation page without. Returns what the
        popug was asked (the dialog's or the confirmation page's text)."""
        page = self.page
        page.get_by_role("button", name=action).click()
        if self.js:
            where = page.get_by_role("dialog")
            expect(where).to_be_visible()
            expect(where.get_by_role("heading")).to_have_text(f"{action}?")
        else:
            where = page.locator("main")
            expect(where.get_by_role("heading", level=1)).to_contain_text(action)
        asked = where.inner_text()
        where.get_by_role("button", name=action).click()
        return asked

    # Signing in and out --------------------------------------------------------------

    def sign_in(self, username: str, beak_shape: str) -> None:
        self.goto("/sign-in")
        self.page.get_by_label(self.words("Username")).fill(username)
        self.page.get_by_label(self.words("Beak shape")).fill(beak_shape)
        self.page.get_by_role("button", name=self.words("Sign in")).click()
        expect(self.page.locator(".whoami-name")).to_have_text(username)

    def sign_out(self) -> None:
        self.page.get_by_role("button", name="Sign out").click()
        expect(self.page.get_by_role("button", name="Sign in")).to_be_visible()
        expect(self.flash()).to_contain_text("You are signed out.")
        expect(self.nav()).to_have_count(0)

    def signed_in_as(self) -> str | None:
        name = self.page.locator(".whoami-name")
        return name.inner_text().strip() if name.count() else None

    def balance(self) -> int:
        """The signed-in popug's balance, as the top bar shows it."""
        return parse_money(self.page.locator("#my-balance").inner_text())

    # Tasks ---------------------------------------------------------------------------

    def board_rows(self) -> Locator:
        return self.page.locator("#board tbody tr")

    def create_task(self, title: str, jira_id: str = "", description: str = "") -> None:
        form = self.page.locator("#task-form")
        form.get_by_label("Title").fill(title)
        form.get_by_label("Jira ID").fill(jira_id)
        form.get_by_label("Description").fill(description)
        form.get_by_role("button", name="Create task").click()
        expect(self.board_rows().first.locator("td").nth(1)).to_have_text(title)

    def open_tasks_on_board(self) -> list[TaskRow]:
        """Every open task the board lists, across all its pages, newest first."""
        rows: list[TaskRow] = []
        for number in itertools.count(1):
            self.goto(f"/?filter=open&page={number}")
            rows += [read_task_row(row) for row in self.board_rows().all()]
            if not self.page.locator("#board a[rel=next]").count():
                return rows
        raise AssertionError("unreachable")


SHUFFLERS = {"manager", "admin"}
# Pages reached from a navigation page: (name, the selector of the first link followed, or
# a path).
FOLLOWED = {
    "Tasks": [("task page", ".title-cell a"), ("search without a match", "/?q=no+such+words")],
    "My account": [("API tokens", "/account/tokens")],
    "Accounting": [
        ("popug's account", "#balances-table tbody a"),
        ("closed days", "/accounting/payouts"),
        ("a day's payouts", "#daily-stats-table a[href^='/accounting/payouts/']"),
        ("outbox", "/accounting/outbox"),
    ],
    "Popugs": [
        ("popug page", "td a[href^='/popugs/']"),
        ("popug search without a match", "/popugs?q=no-such-popug"),
        ("audit trail", "/audit"),
    ],
}


def demo_user(demo_roles: dict[str, str], role: str) -> str | None:
    """The first demo popug with `role` ("anonymous": nobody)."""
    if role == "anonymous":
        return None
    return next(name for name, demo_role in demo_roles.items() if demo_role == role)


def tour(visitor: Visitor, role: str, shuffle_record_path: str):
    """Visit every page `role` can reach; yields each page's name once it has loaded.

    "anonymous" sees the sign-in page; `visitor` must already be signed in otherwise.
    """
    if role == "anonymous":
        visitor.goto("/sign-in")
        yield "sign-in"
        return
    for english in NAV_BY_ROLE[role]:
        label = visitor.words(english)
        visitor.open_nav(label)
        yield label
        # and the pages those link to: a task's page, a popug's account, a popug's page
        for page_label, link in FOLLOWED.get(english, ()):
            target = visitor.page.locator(link).first if not link.startswith("/") else None
            if target is None or target.count():
                visitor.goto(link if target is None else target.get_attribute("href"))
                yield page_label
                visitor.open_nav(label)
    if role in SHUFFLERS:
        visitor.goto(shuffle_record_path)
        expect(visitor.page.get_by_role("heading", level=1)).to_contain_text(
            visitor.words("Shuffle")
        )
        yield "shuffle record"
        visitor.goto("/shuffles")
        yield "past shuffles"
