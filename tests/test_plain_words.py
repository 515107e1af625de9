"""Issue 25's friction list: the words and controls of the pages popugs use, in English
and Russian — no operational jargon on popug-facing pages, a 403 page that says what the
page is for, money buttons without a fake price, columns that say what they are."""

import html
import re
from pathlib import Path

import pytest

from app.extensions import db
from tests.factories import make_popug, make_task
from tests.helpers import signed_in_client

CSS = Path(__file__).resolve().parents[1] / "app" / "static" / "css" / "ates.css"


def page_in(app, popug, locale: str, path: str):
    popug.locale = locale
    db.session.commit()
    return signed_in_client(app, popug).get(path)


@pytest.mark.parametrize(
    ("role", "path", "english", "russian"),
    [
        (
            "worker",
            "/analytics",
            "Analytics shows the company's earnings and most expensive tasks. Only admins "
            "may use it. You are signed in as worker.",
            "Аналитика показывает заработок компании и самые дорогие задачи. Ею пользуются "
            "только администраторы. Вы вошли как работник.",
        ),
        (
            "worker",
            "/popugs",
            "The popugs pages create popugs, change their roles and show the audit trail. "
            "Only admins may use them.",
            "На страницах попугов создают попугов, меняют их роли и смотрят журнал аудита.",
        ),
        (
            "manager",
            "/accounting",
            "Accounting shows the company's money and closes the business days. Accountants "
            "and admins may use it. You are signed in as manager.",
            "Ею пользуются бухгалтеры и администраторы. Вы вошли как менеджер.",
        ),
        (
            "manager",
            "/my-tasks",
            "Tasks are assigned to workers and accountants only.",
            "Задачи назначаются только работникам и бухгалтерам.",
        ),
        (
            "worker",
            "/tasks/shuffle",
            "Shuffling reassigns every open task. Managers and admins may shuffle.",
            "Её запускают менеджеры и администраторы.",
        ),
    ],
)
def test_the_403_page_says_what_the_page_is_for_and_who_may_use_it(
    app, role, path, english, russian
):
    popug = make_popug(role, username=f"who-{role}")
    response = page_in(app, popug, "en", path)
    assert response.status_code == 403
    assert english in html.unescape(response.text)
    assert "You don't have the permission" not in html.unescape(response.text)
    response = page_in(app, popug, "ru", path)
    assert response.status_code == 403
    assert russian in html.unescape(response.text)


def test_my_account_calls_the_money_log_a_statement(app, worker):
    english = page_in(app, worker, "en", "/account").text
    assert "Statement of " in english and "Audit log" not in english
    russian = page_in(app, worker, "ru", "/account").text
    assert "Выписка за " in russian and "Журнал операций" not in russian


def test_a_queued_shuffle_waits_its_turn_without_naming_the_job_worker(
    app, admin, manager, manager_client, worker
):
    make_task(admin)
    response = manager_client.post("/tasks/shuffle", data={"form_token": "words"})
    path = response.headers["Location"]
    english = page_in(app, manager, "en", path).text
    assert "Waiting its turn to start (" in english
    russian = page_in(app, manager, "ru", path).text
    assert "Ждёт своей очереди (уже " in russian
    for page in (english, russian):
        assert "job worker" not in page and "обработчик" not in page


def test_accounting_pages_do_not_name_the_mail_setting(app, accountant):
    for path in ("/accounting", "/accounting/payouts"):
        english = page_in(app, accountant, "en", path).text
        russian = page_in(app, accountant, "ru", path).text
        assert "MAIL_SERVER" not in english and "MAIL_SERVER" not in russian
    english = page_in(app, accountant, "en", "/accounting").text
    assert "No mail server is configured" in english


def test_money_buttons_show_a_coin_not_a_price():
    css = CSS.read_text()
    rule = re.search(r"\.btn-money::before \{([^}]*)\}", css).group(1)
    assert 'content: ""' in rule and "border-radius: 50%" in rule
    assert not re.search(r'content:\s*"\$', css)


def test_the_completion_column_says_what_it_is_and_my_tasks_has_no_assignee_column(
    app, admin, worker
):
    make_task(admin)  # lands on the only worker
    board = page_in(app, worker, "en", "/").text
    headers = re.findall(r'<th scope="col"[^>]*>([^<]*)</th>', board)
    assert "Completed" in headers and "Done" not in headers and "Assignee" in headers
    columns = (("en", "Assignee", "Completed"), ("ru", "Исполнитель", "Выполнена"))
    for locale, assignee, completed in columns:
        mine = page_in(app, worker, locale, "/my-tasks").text
        headers = re.findall(r'<th scope="col"[^>]*>([^<]*)</th>', mine)
        assert completed in headers and assignee not in headers
        assert 'data-label="' + assignee not in mine
        assert "badge-me" not in mine  # no "(you)" beside every row
    # Each cell names its column, for the phone's cards.
    assert 'data-label="Completed"' in board and 'data-label="Fee"' in board


def test_the_create_forms_fold_on_phones_and_open_on_errors(app, manager, admin):
    board = page_in(app, manager, "en", "/").text
    assert re.search(r'<details class="create-details">\s*<summary><h2 id="new-task">', board)
    client = signed_in_client(app, manager)
    refused = client.post("/tasks", data={"title": ""}).text
    assert '<details class="create-details" open>' in refused
    popugs = page_in(app, admin, "en", "/popugs").text
    assert re.search(r'<details class="create-details">\s*<summary><h2 id="new-popug">', popugs)
    assert 'class="table table-cards"' in popugs and 'class="email-cell"' in popugs
