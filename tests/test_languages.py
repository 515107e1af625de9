"""aTES in English and Russian: who gets which language, a page of each blueprint in both,
plurals, money and dates on the pages, the top bar's switch, and the payout e-mail."""

import re
import uuid
from datetime import date

import pytest

from app.blueprints.accounting import closing
from app.blueprints.auth.models import Popug
from app.extensions import db
from tests.accounting.helpers import complete, freeze, make_task_for, outbox
from tests.factories import BEAK, make_popug, shuffle_now
from tests.helpers import signed_in_client

RU = {"Accept-Language": "ru-RU,ru;q=0.9,en;q=0.8"}


def text(response) -> str:
    return response.get_data(as_text=True)


def html_lang(response) -> str:
    return re.search(r'<html lang="([^"]+)">', text(response)).group(1)


def client_in(app, popug, locale: str | None):
    popug.locale = locale
    db.session.commit()
    return signed_in_client(app, popug)


# --- who gets which language --------------------------------------------------------------


@pytest.mark.parametrize(
    ("accept", "lang", "heading"),
    [
        (None, "en", "Sign in to aTES"),
        ("ru", "ru", "Вход в aTES"),
        ("ru-RU,ru;q=0.9,en-US;q=0.8", "ru", "Вход в aTES"),
        ("en-GB,en;q=0.9,ru;q=0.5", "en", "Sign in to aTES"),
        ("de-DE,de;q=0.9", "en", "Sign in to aTES"),
        ("de;q=0.9,ru;q=0.8", "ru", "Вход в aTES"),
        ("ru;q=0", "en", "Sign in to aTES"),
        ("not a language header;;;", "en", "Sign in to aTES"),
    ],
)
def test_before_sign_in_the_browser_chooses(client, accept, lang, heading):
    response = client.get("/sign-in", headers={"Accept-Language": accept} if accept else {})
    assert response.status_code == 200
    assert html_lang(response) == lang
    assert heading in text(response)


def test_the_sign_in_form_answers_in_the_browsers_language(client):
    make_popug("worker", username="kesha")
    wrong = client.post("/sign-in", data={"username": "kesha", "beak_shape": "not it"}, headers=RU)
    assert wrong.status_code == 401
    assert "Неизвестное имя пользователя или неверная форма клюва." in text(wrong)
    empty = client.post("/sign-in", data={"username": "", "beak_shape": ""}, headers=RU)
    assert "Обязательное поле." in text(empty)  # WTForms' own message, in Russian too


def test_signed_in_the_popugs_choice_wins_over_the_browser(app):
    worker = make_popug("worker", username="kesha")
    russian = client_in(app, worker, "ru")
    assert html_lang(russian.get("/")) == "ru"
    english = client_in(app, worker, "en")
    page = english.get("/", headers=RU)
    assert html_lang(page) == "en" and "Create task" in text(page)


def test_signed_in_without_a_choice_the_browser_still_chooses(app):
    worker = make_popug("worker", username="kesha")
    client = client_in(app, worker, None)
    assert html_lang(client.get("/", headers=RU)) == "ru"
    assert html_lang(client.get("/")) == "en"


# --- a page of each blueprint in both languages -------------------------------------------


PAGES = {
    # blueprint: (role, path, English words, Russian words)
    "auth": ("admin", "/popugs", ["Create popug", "Beak shape"], ["Создать попуга", "Форма клюва"]),
    "tasks": (
        "worker",
        "/",
        ["Create task", "Search", "Title"],
        ["Создать задачу", "Поиск", "Название"],
    ),
    "accounting": (
        "accountant",
        "/accounting",
        ["Close the day", "All balances", "Per-day statistics"],
        ["Закрыть день", "Все балансы", "Статистика по дням"],
    ),
    "analytics": (
        "admin",
        "/analytics",
        ["Most expensive task", "Daily management earnings"],
        ["Самая дорогая задача", "Доход менеджмента по дням"],
    ),
}


@pytest.mark.parametrize("blueprint", sorted(PAGES))
@pytest.mark.parametrize("locale", ["en", "ru"])
def test_a_page_of_each_blueprint_in_both_languages(app, blueprint, locale):
    role, path, english, russian = PAGES[blueprint]
    popug = make_popug(role, username=f"{role}-{blueprint}")
    response = client_in(app, popug, locale).get(path)
    assert response.status_code == 200
    body = text(response)
    assert html_lang(response) == locale
    shown, absent = (english, russian) if locale == "en" else (russian, english)
    assert all(words in body for words in shown)
    assert not any(words in body for words in absent)


def test_the_navigation_and_top_bar_in_russian(app):
    admin = make_popug("admin", username="root")
    body = text(client_in(app, admin, "ru").get("/"))
    for label in ("Задачи", "Мой счёт", "Бухгалтерия", "Аналитика", "Попуги", "Выйти"):
        assert f">{label}<" in body
    assert '<span class="badge badge-role">администратор</span>' in body


def test_htmx_fragments_and_flashes_in_russian(app):
    worker = make_popug("worker", username="kesha")
    client = client_in(app, worker, "ru")
    refused = client.post("/tasks", data={"title": ""}, headers={"HX-Request": "true"})
    assert refused.status_code == 422
    assert "Дайте задаче название." in text(refused)  # a service message, shown translated
    created = client.post(
        "/tasks", data={"title": "Покормить попуга"}, headers={"HX-Request": "true"}
    )
    assert "Задача создана и назначена попугу kesha." in text(created)


def test_form_messages_in_russian_have_no_english_in_them(app):
    admin = make_popug("admin", username="root")
    client = client_in(app, admin, "ru")
    refused = text(
        client.post(
            "/popugs",
            data={"username": "kiwi", "email": "no-at-sign", "role": "worker", "beak_shape": "b"},
        )
    )
    assert "Введите правильный адрес e-mail, например kesha@uberpopug.inc." in refused
    assert "@-sign" not in refused
    worker = client_in(app, make_popug("worker", username="kesha"), "ru")
    long = text(worker.post("/tasks", data={"title": "Покормить", "description": "d" * 5001}))
    assert "5\xa0000" in long and "5,000" not in long


def test_error_pages_in_russian(app):
    worker = make_popug("worker", username="kesha")
    client = client_in(app, worker, "ru")
    missing = client.get(f"/tasks/{uuid.uuid4()}")
    assert missing.status_code == 404
    assert "404 · Не найдено" in text(missing) and "Такой задачи нет." in text(missing)
    forbidden = client.get("/analytics")
    assert forbidden.status_code == 403 and "Нет доступа" in text(forbidden)
    fragment = client.get("/no-such-page", headers={"HX-Request": "true"})
    assert fragment.status_code == 404
    assert "Запрошенный адрес на сервере не найден." in text(fragment)


# --- plurals, money and dates on the pages ------------------------------------------------


@pytest.mark.parametrize(
    ("count", "russian"),
    [
        (1, "Перераспределена 1 открытая задача"),
        (2, "Перераспределены 2 открытые задачи"),
        (5, "Перераспределено 5 открытых задач"),
    ],
)
def test_the_shuffle_result_in_both_languages(app, count, russian):
    worker = make_popug("worker", username="kesha")
    manager = make_popug("manager", username="boss")
    for _ in range(count):
        make_task_for(worker, fee=1000, reward=2000)
    shuffle = shuffle_now(actor=manager)
    db.session.commit()
    english = client_in(app, manager, "en").get(f"/shuffles/{shuffle.public_id}")
    assert f"Reassigned {count} open tasks among 1 popugs." in text(english)
    page = client_in(app, manager, "ru").get(f"/shuffles/{shuffle.public_id}")
    assert f"{russian} между попугами (всего попугов: 1)." in text(page)


def test_my_account_money_and_dates_per_locale(app):
    worker = make_popug("worker", username="kesha")
    freeze("2026-03-03 09:05")
    task = make_task_for(worker, fee=123400, reward=2000)
    complete(task, worker)
    english = text(client_in(app, worker, "en").get("/account"))
    assert "Earnings today (2026-03-03)" in english
    assert "−$1,234.00" in english and "+$20.00" in english and "2026-03-03 09:05" in english
    russian = text(client_in(app, worker, "ru").get("/account"))
    assert "Заработок сегодня (03.03.2026)" in russian
    assert "-1\xa0234,00\xa0$" in russian and "+20,00\xa0$" in russian
    assert "03.03.2026, 09:05" in russian
    assert 'value="2026-03-03"' in russian  # the date picker keeps ISO values


def test_analytics_labels_and_chart_in_russian(app):
    admin = make_popug("admin", username="root")
    worker = make_popug("worker", username="kesha")
    freeze("2026-03-03 09:05")
    complete(make_task_for(worker, fee=1000, reward=2800), worker)
    page = text(client_in(app, admin, "ru").get("/analytics?from=2026-03-01&to=2026-03-31"))
    assert "03.03 — самая дорогая задача — 28,00\xa0$" in page
    assert "30 дней без выполненных задач не показаны." in page
    assert "март 2026\u202fг. — самая дорогая задача — 28,00\xa0$" in page
    assert "<title>03.03: 28,00\xa0$</title>" in page  # a bar's tooltip
    assert "Последние 30 дней" in page and "Последние 7 дней" in page
    english = text(client_in(app, admin, "en").get("/analytics?from=2026-03-01&to=2026-03-31"))
    assert "03-03 — most expensive task — $28.00" in english and "March 2026" in english
    assert "2026-03-01 – 2026-03-31 (31 days)" in english
    assert "<title>03-03: $28.00</title>" in english
    assert "01.03.2026 – 31.03.2026 (31 день)" in page


# --- the top bar's switch -----------------------------------------------------------------


def test_the_top_bar_offers_the_other_language(app):
    worker = make_popug("worker", username="kesha")
    english = text(client_in(app, worker, "en").get("/my-tasks?page=2"))
    form = re.search(r'<form action="/language" method="post".*?</form>', english, re.S).group(0)
    assert 'name="next" value="/my-tasks?page=2"' in form
    assert 'name="locale" value="ru" lang="ru">Русский</button>' in form
    russian = text(client_in(app, worker, "ru").get("/"))
    assert 'name="locale" value="en" lang="en">English</button>' in russian
    assert "/language" not in text(signed_in_client(app, worker).get("/sign-in"))


def test_a_page_answering_a_post_switches_back_to_the_board(app):
    """A form with errors is shown at its POST-only address: the switch returns to the
    board from there, not to a 405."""
    worker = make_popug("worker", username="kesha")
    client = client_in(app, worker, "en")
    page = text(client.post("/tasks", data={"title": ""}))
    form = re.search(r'<form action="/language" method="post".*?</form>', page, re.S).group(0)
    assert 'name="next"' not in form
    response = client.post("/language", data={"locale": "ru"})
    assert response.status_code == 303 and response.headers["Location"] == "/"


def test_switching_keeps_the_choice_and_returns_to_the_page(app):
    worker = make_popug("worker", username="kesha")
    client = client_in(app, worker, None)
    response = client.post("/language", data={"locale": "ru", "next": "/my-tasks?page=2"})
    assert response.status_code == 303
    assert response.headers["Location"] == "/my-tasks?page=2"
    assert db.session.get(Popug, worker.id).locale == "ru"
    assert html_lang(client.get("/my-tasks")) == "ru"
    client.post("/language", data={"locale": "en", "next": "/"})
    db.session.expire_all()
    assert db.session.get(Popug, worker.id).locale == "en"
    assert html_lang(client.get("/", headers=RU)) == "en"


@pytest.mark.parametrize("value", ["de", "", "RU", "ru\x00", "x" * 500, "en-US"])
def test_an_unknown_language_is_refused_without_a_500(app, value):
    worker = make_popug("worker", username="kesha")
    client = client_in(app, worker, "en")
    response = client.post("/language", data={"locale": value, "next": "/my-tasks"})
    assert response.status_code == 303 and response.headers["Location"] == "/my-tasks"
    db.session.expire_all()
    assert db.session.get(Popug, worker.id).locale == "en"
    assert "Choose English or Russian." in text(client.get("/my-tasks"))


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/", None, "/\\evil"])
def test_the_switch_returns_only_to_local_pages(app, target):
    worker = make_popug("worker", username="kesha")
    data = {"locale": "ru"} | ({"next": target} if target else {})
    response = client_in(app, worker, "en").post("/language", data=data)
    assert response.status_code == 303 and response.headers["Location"] == "/"


@pytest.mark.parametrize("target", ["/\r\nX:1", "/my-tasks\n", "/\x0b", "/a\u2028b"])
def test_a_control_character_in_next_returns_to_the_board(app, target):
    """The choice is kept and the answer is a redirect, never a 500 after the commit."""
    worker = make_popug("worker", username="kesha")
    response = client_in(app, worker, "en").post("/language", data={"locale": "ru", "next": target})
    assert response.status_code == 303 and response.headers["Location"] == "/"
    db.session.expire_all()
    assert db.session.get(Popug, worker.id).locale == "ru"


def test_switching_before_signing_in_keeps_the_choice_in_the_session_only(client):
    response = client.post("/language", data={"locale": "ru"})
    assert response.status_code == 303 and response.headers["Location"] == "/"
    assert db.session.scalars(db.select(Popug.locale).where(Popug.locale.is_not(None))).all() == []
    assert html_lang(client.get("/sign-in")) == "ru"


def test_the_switch_is_refused_without_its_csrf_token(csrf_app):
    with csrf_app.app_context():
        worker = make_popug("worker", username=f"csrf-{uuid.uuid4().hex[:8]}")
        client = signed_in_client(csrf_app, worker)
        refused = client.post("/language", data={"locale": "ru", "next": "/"})
        assert refused.status_code == 400
        page = text(client.get("/"))
        token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
        switched = client.post("/language", data={"locale": "ru", "csrf_token": token})
        assert switched.status_code == 303
        db.session.expire_all()
        assert db.session.get(Popug, worker.id).locale == "ru"


# --- the payout e-mail ----------------------------------------------------------------------


def test_the_payout_email_goes_out_in_each_recipients_language(app):
    kesha = make_popug("worker", username="kesha")
    gosha = make_popug("worker", username="gosha")
    popka = make_popug("worker", username="popka")
    kesha.locale, gosha.locale = "ru", "en"
    db.session.commit()
    freeze("2026-03-02 09:00")
    for popug, reward in ((kesha, 312500), (gosha, 3000), (popka, 2500)):
        complete(make_task_for(popug, fee=1000, reward=reward), popug)
    freeze("2026-03-02 23:00")
    closing.close_day(date(2026, 3, 2))
    db.session.commit()
    mails = {message.recipient.split("@")[0]: message for message in outbox()}
    russian = mails["kesha"]
    assert russian.subject == "Выплата aTES за 02.03.2026: 3\xa0115,00\xa0$"
    assert russian.body.startswith("Здравствуйте, kesha!\n\nРабочий день 02.03.2026 закрыт")
    assert "  Задач выполнено: 1\n" in russian.body
    assert "  Награды:         3\xa0125,00\xa0$\n" in russian.body
    assert "  Плата:           -10,00\xa0$\n" in russian.body
    assert "  Заработок:       +3\xa0115,00\xa0$\n" in russian.body
    assert "равен 0,00\xa0$." in russian.body
    for english in (mails["gosha"], mails["popka"]):  # chosen English, or no choice yet
        assert english.subject.startswith("aTES payout for 2026-03-02: $")
        assert "  Tasks done: 1\n  Rewards:    $" in english.body


# --- the sign-in page's switch -------------------------------------------------------------


def test_the_sign_in_page_has_the_language_switch_and_signing_in_keeps_the_choice(client):
    """Before signing in, a popug on an English browser switches to Russian on the sign-in
    page; the choice holds for the session and becomes the popug's own on signing in."""
    worker = make_popug("worker", username="kesha")
    page = text(client.get("/sign-in", headers={"Accept-Language": "en"}))
    form = re.search(r'<form action="/language" method="post".*?</form>', page, re.S).group(0)
    assert 'name="next" value="/sign-in"' in form
    assert 'name="locale" value="ru" lang="ru">Русский</button>' in form

    response = client.post("/language", data={"locale": "ru", "next": "/sign-in"})
    assert response.status_code == 303 and response.headers["Location"] == "/sign-in"
    russian = client.get("/sign-in", headers={"Accept-Language": "en"})
    assert html_lang(russian) == "ru" and "Вход в aTES" in text(russian)
    assert 'name="locale" value="en" lang="en">English</button>' in text(russian)

    client.post("/sign-in", data={"username": "kesha", "beak_shape": BEAK})
    assert db.session.get(Popug, worker.id).locale == "ru"
    assert html_lang(client.get("/my-tasks", headers={"Accept-Language": "en"})) == "ru"


def test_the_sign_in_pages_switch_refuses_other_languages(client):
    response = client.post("/language", data={"locale": "de", "next": "/sign-in"})
    assert response.status_code == 303
    assert html_lang(client.get("/sign-in")) == "en"
