"""Two languages in the browser: a worker with a Russian browser signs in, creates a task, its
assignee marks it done and reads My account, all in Russian; the top bar's switch."""

import re
from decimal import Decimal

import pytest
from babel.numbers import format_currency
from playwright.sync_api import expect

from tests.e2e.ui import E2E_BEAK, unique

pytestmark = pytest.mark.e2e

RUSSIAN_BROWSER = {"locale": "ru-RU"}
# "1 234,56 $" (Babel's Russian, with no-break spaces): one amount, read back into cents.
RUSSIAN_MONEY = re.compile(r"([+-]?)([\d\u00a0\u202f ]+),(\d{2})\u00a0\$")


def rubles_format(cents: int) -> str:
    """An amount as the Russian pages write it (Babel's data, as the app does)."""
    return format_currency(Decimal(cents) / 100, "USD", locale="ru")


def parse_russian_money(text: str) -> int:
    found = RUSSIAN_MONEY.findall(text)
    assert len(found) == 1, f"expected one amount in {text!r}"
    sign, whole, cents = found[0]
    value = int(re.sub(r"\D", "", whole)) * 100 + int(cents)
    return -value if sign == "-" else value


@pytest.mark.parametrize("js", [True, False], ids=["js", "no-js"])
def test_a_worker_with_a_russian_browser_works_in_russian(visit, logins, js):
    creator = visit(js=js, **RUSSIAN_BROWSER)
    page = creator.page
    creator.goto("/sign-in")
    expect(page.locator("html")).to_have_attribute("lang", "ru")
    expect(page.get_by_role("heading", level=1)).to_have_text("Вход в aTES")
    creator.sign_in("kesha", logins["kesha"])
    assert creator.nav_labels() == ["Задачи", "Мои задачи", "Мой счёт", "Уведомления"]

    title = unique("Почистить жёрдочку")
    form = page.locator("#task-form")
    form.get_by_label("Название").fill(title)
    form.get_by_label("Описание").fill("Создано браузерным тестом.")
    form.get_by_role("button", name="Создать задачу").click()
    row = creator.board_rows().filter(has_text=title)
    expect(row).to_have_count(1)
    cells = row.locator("td")
    assignee = cells.nth(3).inner_text().split()[0]
    expect(creator.flash()).to_contain_text(f"Задача создана и назначена попугу {assignee}.")
    expect(cells.nth(4)).to_have_text("открыта")
    fee, reward = (
        parse_russian_money(cells.nth(5).inner_text()),
        parse_russian_money(cells.nth(6).inner_text()),
    )
    assert 10_00 <= fee <= 20_00 and 20_00 <= reward <= 40_00
    expect(cells.nth(7)).to_have_text(re.compile(r"^\d\d\.\d\d\.\d{4}, \d\d:\d\d$"))

    worker = visit(js=js, **RUSSIAN_BROWSER)
    page = worker.page
    worker.sign_in(assignee, logins[assignee])
    worker.open_nav("Мои задачи")
    open_section = page.locator("section", has=page.get_by_role("heading", name="Открытые"))
    mine = open_section.locator("tbody tr", has_text=title)
    expect(mine).to_have_count(1)
    mine.get_by_role("button", name="Отметить выполненной").click()
    expect(worker.flash()).to_contain_text(
        f"Готово! За «{title}» вам выплачено {rubles_format(reward)}."
    )
    done = page.locator("section", has=page.get_by_role("heading", name="Недавно выполненные"))
    expect(done.locator("tbody tr", has_text=title).locator(".badge-done")).to_have_text(
        "выполнена"
    )

    worker.open_nav("Мой счёт")
    main = page.locator("main")
    expect(main.get_by_role("heading", level=2)).to_contain_text("Выписка за")
    entries = page.locator("#audit-entries tbody tr", has_text=title)
    expect(entries.filter(has_text="Плата за назначение")).to_contain_text(rubles_format(-fee))
    expect(entries.filter(has_text="Награда")).to_contain_text("+" + rubles_format(reward))
    expect(page.get_by_label("День", exact=True)).to_have_value(re.compile(r"^\d{4}-\d\d-\d\d$"))


@pytest.mark.parametrize("js", [True, False], ids=["js", "no-js"])
def test_the_top_bar_switches_the_language_and_keeps_the_choice(visit, server, logins, js):
    username = unique("polyglot").lower()
    server.flask(
        "popugs",
        "create",
        "--username",
        username,
        "--email",
        f"{username}@uberpopug.inc",
        "--role",
        "worker",
        "--beak-shape",
        E2E_BEAK,
    )
    logins[username] = E2E_BEAK
    visitor = visit(js=js)  # an English browser
    page = visitor.page
    visitor.sign_in(username, E2E_BEAK)
    visitor.goto("/?filter=done")
    page.get_by_role("button", name="Русский").click()
    expect(page.locator("html")).to_have_attribute("lang", "ru")
    expect(page).to_have_url(re.compile(r"/\?filter=done$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Задачи")

    # Kept with the popug: another (English) browser signs in and gets Russian.
    elsewhere = visit(js=js)
    elsewhere.goto("/sign-in")
    elsewhere.page.get_by_label("Username").fill(username)
    elsewhere.page.get_by_label("Beak shape").fill(E2E_BEAK)
    elsewhere.page.get_by_role("button", name="Sign in").click()
    expect(elsewhere.page.locator("html")).to_have_attribute("lang", "ru")
    expect(elsewhere.nav().get_by_role("link")).to_have_count(0)  # nav is "Главное меню" now
    expect(elsewhere.page.get_by_role("navigation", name="Главное меню")).to_be_visible()

    page.get_by_role("button", name="English").click()
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.get_by_role("heading", level=1)).to_have_text("Tasks")
