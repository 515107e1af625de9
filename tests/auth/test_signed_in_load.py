"""The signed-in popug and the top bar's balance come in one statement; a POST reads the
balance again, since it may have moved it."""

import re

from flask_login import login_user

from app.blueprints.accounting import posting
from app.money import format_cents
from app.web import my_balance
from tests.factories import make_task
from tests.helpers import statements

BALANCE = re.compile(r'id="my-balance"[^>]*>\s*<span[^>]*>([^<]*)</span>')


def statements_of(client, url: str) -> tuple[list[str], str]:
    with statements() as run:
        body = client.get(url).get_data(as_text=True)
    return run, body


def test_one_statement_loads_the_popug_and_its_balance(worker_client, worker, manager):
    make_task(manager)  # lands on worker-one, the only eligible popug: a fee
    expected = posting.balance_of(worker.id)
    assert expected < 0
    statements, body = statements_of(worker_client, "/no-such-page")  # a page with no content
    assert len(statements) == 1, statements
    assert "FROM popugs" in statements[0] and "accounts.balance" in statements[0]
    assert BALANCE.search(body).group(1) == format_cents(expected)


def test_the_balance_follows_the_ledger_between_requests(worker_client, worker, manager):
    assert BALANCE.search(statements_of(worker_client, "/")[1]).group(1) == format_cents(0)
    make_task(manager)
    shown = BALANCE.search(statements_of(worker_client, "/")[1]).group(1)
    assert shown == format_cents(posting.balance_of(worker.id)) != format_cents(0)


def test_a_post_reads_the_balance_again(app, worker):
    worker.loaded_balance = 12_345  # as loaded at the start of the request
    with app.test_request_context("/tasks", method="POST"):
        login_user(worker)
        assert my_balance() == posting.balance_of(worker.id) == 0
    with app.test_request_context("/", method="GET"):
        login_user(worker)
        assert my_balance() == 12_345
