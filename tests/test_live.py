"""Pages that say "Updated — show" (app/live.py, static/js/live.js): each page carries the
version of what it shows, and its check answers a bodiless 304 while that version holds,
200 with the new one in its ETag once something the page shows has changed."""

import re

import pytest

from app import clock
from app.blueprints.accounting import closing
from app.blueprints.accounting import queries as accounting_queries
from app.blueprints.tasks import service as tasks
from app.blueprints.tasks import shuffles, versions
from app.extensions import db
from tests.factories import make_popug, make_task, shuffle_now
from tests.helpers import signed_in_client, statements
from tests.support.plans import explained

BACKGROUND = {"X-Background": "1"}
LIVE = re.compile(r'<div id="live-notice"[^>]*>', re.S)


def _notice(page: str) -> str:
    return LIVE.search(page).group(0)


def loaded(client, path: str) -> tuple[str, str]:
    """(the page's check URL, its version) as the page carries them."""
    response = client.get(path)
    assert response.status_code == 200, path
    tag = _notice(response.text)
    check = re.search(r'data-live-check="([^"]+)"', tag).group(1)
    return check, re.search(r'data-live-version="([0-9a-f]+)"', tag).group(1)


def ask(client, check: str, version: str):
    return client.get(check, headers={**BACKGROUND, "If-None-Match": f'"{version}"'})


def unchanged(client, check, version) -> bool:
    response = ask(client, check, version)
    if response.status_code == 304:
        assert response.data == b"" and response.headers["ETag"] == f'"{version}"'
        return True
    assert response.status_code == 200 and response.data == b""
    assert response.headers["ETag"] != f'"{version}"'
    return False


def now_on_page(client, path: str, check: str, version: str) -> None:
    """The check's new version is the one the page, loaded again, carries."""
    etag = ask(client, check, version).headers["ETag"].strip('"')
    assert loaded(client, path) == (check, etag)


@pytest.fixture
def popugs(app):
    return {
        "kesha": make_popug("worker", "kesha"),
        "gosha": make_popug("worker", "gosha"),
        "boss": make_popug("manager", "boss"),
        "counter": make_popug("accountant", "counter"),
    }


# --- the Tasks board --------------------------------------------------------------------------


def test_the_board_changes_when_someone_else_creates_completes_or_shuffles(app, popugs):
    kesha, boss = popugs["kesha"], popugs["boss"]
    client = signed_in_client(app, kesha)
    check, version = loaded(client, "/")
    assert check == "/board/version"
    assert unchanged(client, check, version)
    assert unchanged(client, check, version)  # asking again changes nothing

    task = make_task(boss, "Clean the cage", assignee=popugs["gosha"])
    assert not unchanged(client, check, version)
    now_on_page(client, "/", check, version)
    _, version = loaded(client, "/")

    tasks.complete_task(task.public_id, actor=popugs["gosha"])
    db.session.commit()
    assert not unchanged(client, check, version)
    # The version is the board's, whatever its filter and search.
    _, version = loaded(client, "/?filter=done&q=cage")
    assert unchanged(client, check, version)

    make_task(boss, "Feed the fish", assignee=kesha)
    _, version = loaded(client, "/")
    shuffles.request_shuffle(actor=boss, form_token=None)  # queued: the board says so
    db.session.commit()
    assert not unchanged(client, check, version)
    _, version = loaded(client, "/")
    claimed = shuffles.claim_next_shuffle()
    db.session.commit()
    assert not unchanged(client, check, version)  # running
    db.session.commit()
    _, version = loaded(client, "/")
    shuffles.run_shuffle(claimed.id)
    db.session.commit()
    assert not unchanged(client, check, version)


def test_the_notice_is_hidden_until_the_script_shows_it(app, popugs):
    """Without JavaScript nothing changes: the page is right when loaded."""
    client = signed_in_client(app, popugs["kesha"])
    for path in ("/", "/my-tasks", "/account"):
        tag = _notice(client.get(path).text)
        assert " hidden" in tag and 'role="status"' in tag, path


# --- My tasks ---------------------------------------------------------------------------------


def test_my_tasks_change_with_my_tasks_only(app, popugs):
    kesha, gosha, boss = popugs["kesha"], popugs["gosha"], popugs["boss"]
    client = signed_in_client(app, kesha)
    check, version = loaded(client, "/my-tasks")
    assert check == "/my-tasks/version"

    make_task(boss, "Not mine", assignee=gosha)  # lands on someone else
    assert unchanged(client, check, version)

    make_task(boss, "Mine", assignee=kesha)  # created by someone else, lands on Kesha
    assert not unchanged(client, check, version)
    now_on_page(client, "/my-tasks", check, version)
    _, version = loaded(client, "/my-tasks")

    shuffle_now(actor=boss)
    db.session.commit()
    assert not unchanged(client, check, version)


def test_my_tasks_change_when_a_shuffle_is_pressed_and_when_it_has_run(app, popugs):
    """A shuffle may take Kesha's tasks away without a word on Kesha's account: My tasks
    says it is under way, then shows what it did."""
    kesha, boss = popugs["kesha"], popugs["boss"]
    make_task(boss, "Mine", assignee=kesha)
    client = signed_in_client(app, kesha)
    check, version = loaded(client, "/my-tasks")
    shuffles.request_shuffle(actor=boss, form_token=None)
    db.session.commit()
    assert not unchanged(client, check, version)
    _, version = loaded(client, "/my-tasks")
    assert "shuffle" in client.get("/my-tasks").text.lower()
    shuffles.run_shuffle(shuffles.claim_next_shuffle().id)
    db.session.commit()
    assert not unchanged(client, check, version)


# --- a task's page ----------------------------------------------------------------------------


def test_a_tasks_page_changes_with_the_task(app, popugs):
    kesha, gosha, boss = popugs["kesha"], popugs["gosha"], popugs["boss"]
    task = make_task(boss, "Polish the beak", assignee=kesha)
    client = signed_in_client(app, gosha)
    path = f"/tasks/{task.public_id}"
    check, version = loaded(client, path)
    assert check == f"{path}/version"

    make_task(boss, "Another", assignee=gosha)  # another task: not on this page
    assert unchanged(client, check, version)

    shuffle_now(actor=boss)  # moved it (its History has a line more)
    db.session.commit()
    assert not unchanged(client, check, version)
    _, version = loaded(client, path)

    assignee = next(p for p in popugs.values() if tasks_of(p, task))
    tasks.complete_task(task.public_id, actor=assignee)
    db.session.commit()
    assert not unchanged(client, check, version)
    _, version = loaded(client, path)

    shuffle_now(actor=boss)  # a done task no longer moves
    db.session.commit()
    assert unchanged(client, check, version)


def test_an_edit_of_a_task_changes_the_board_my_tasks_and_its_page(app, popugs):
    from app.blueprints.tasks import editing

    kesha, boss = popugs["kesha"], popugs["boss"]
    task = make_task(boss, "Polish the beak", assignee=kesha)
    client = signed_in_client(app, kesha)
    pages = {path: loaded(client, path) for path in ("/", "/my-tasks", f"/tasks/{task.public_id}")}
    editing.edit_task(
        task.public_id, title="Polish the beak twice", jira_id=None, description="", actor=boss
    )
    db.session.commit()
    for path, (check, version) in pages.items():
        assert not unchanged(client, check, version), path
        now_on_page(client, path, check, version)


def tasks_of(popug, task) -> bool:
    from app.blueprints.tasks import queries

    return queries.row_of(task.public_id).assignee_id == popug.id


def test_the_check_of_no_such_task_is_404(app, popugs):
    client = signed_in_client(app, popugs["kesha"])
    assert ask(client, "/tasks/no-such-task/version", "0").status_code == 404


# --- My account and a popug's account ---------------------------------------------------------


def test_my_account_changes_with_my_money_and_closed_days(app, popugs):
    kesha, gosha, boss = popugs["kesha"], popugs["gosha"], popugs["boss"]
    client = signed_in_client(app, kesha)
    check, version = loaded(client, "/account")
    assert check == "/account/version"

    make_task(boss, "Not mine", assignee=gosha)
    assert unchanged(client, check, version)
    task = make_task(boss, "Mine", assignee=kesha)  # its fee
    assert not unchanged(client, check, version)
    now_on_page(client, "/account", check, version)
    _, version = loaded(client, "/account")

    tasks.complete_task(task.public_id, actor=kesha)  # its reward (in another tab)
    db.session.commit()
    assert not unchanged(client, check, version)
    _, version = loaded(client, "/account")

    closing.close_day(clock.business_day(), actor=None)
    db.session.commit()
    assert not unchanged(client, check, version)


def test_a_popugs_account_page_has_its_own_check(app, popugs):
    kesha, boss = popugs["kesha"], popugs["boss"]
    client = signed_in_client(app, popugs["counter"])
    path = f"/accounting/popugs/{kesha.public_id}"
    check, version = loaded(client, path)
    assert check == f"{path}/version"
    make_task(boss, "For Gosha", assignee=popugs["gosha"])
    assert unchanged(client, check, version)
    make_task(boss, "For Kesha", assignee=kesha)
    assert not unchanged(client, check, version)
    now_on_page(client, path, check, version)


# --- the accounting overview ------------------------------------------------------------------


def test_the_overview_changes_with_any_money_and_new_popugs(app, popugs):
    client = signed_in_client(app, popugs["counter"])
    check, version = loaded(client, "/accounting")
    assert check == "/accounting/version"
    assert unchanged(client, check, version)
    make_task(popugs["boss"], "Anything", assignee=popugs["gosha"])
    assert not unchanged(client, check, version)
    now_on_page(client, "/accounting", check, version)
    _, version = loaded(client, "/accounting")
    make_popug("worker", "newcomer")  # a new line in All balances
    assert not unchanged(client, check, version)


# --- cost -------------------------------------------------------------------------------------


CHECKS = ("/board/version", "/my-tasks/version", "/account/version")


def _statements_of_a_check(client, check) -> list[str]:
    with statements() as run:
        response = client.get(check, headers=BACKGROUND)
    assert response.status_code == 200
    return run


def test_a_check_is_two_statements_whatever_the_number_of_tasks(app, popugs):
    """The signed-in popug (with the top bar's extras) and the version: the same statements
    with 1 task and with 30."""
    kesha, boss = popugs["kesha"], popugs["boss"]
    client = signed_in_client(app, kesha)
    make_task(boss, "One", assignee=kesha)
    before = {check: _statements_of_a_check(client, check) for check in CHECKS}
    for n in range(30):
        make_task(boss, f"More {n}", assignee=kesha if n % 2 else popugs["gosha"])
    for check in CHECKS:
        after = _statements_of_a_check(client, check)
        assert after == before[check], check
        assert len(after) <= 3, after  # the session's popug, the version (and at most one more)


def _reads(run: list[str]) -> list[str]:
    """The statements that read something (not PostgreSQL's statement timeout)."""
    return [s for s in run if "set_config" not in s]


def test_a_check_reads_the_popug_alone_and_the_count_reads_it_with_its_extras(app, popugs):
    """A background check renders no top bar: its popug is read without the balance and the
    notifications. The count answers from those extras, read with the popug: one statement.
    A page (not background) still reads the popug with them."""
    kesha = popugs["kesha"]
    client = signed_in_client(app, kesha)
    make_task(popugs["boss"], "One", assignee=kesha)
    for check in CHECKS:
        run = _statements_of_a_check(client, check)
        popug_statement = next(s for s in run if "FROM popugs" in s)
        assert "notifications" not in popug_statement and "accounts" not in popug_statement
    with statements() as run:
        etag = client.get("/notifications/count", headers=BACKGROUND).headers["ETag"]
    read = _reads(run)
    assert len(read) == 1 and "notifications" in read[0] and "accounts" in read[0], run
    with statements() as run:
        answered = client.get("/notifications/count", headers={**BACKGROUND, "If-None-Match": etag})
    assert answered.status_code == 304 and len(_reads(run)) == 1, run
    with statements() as run:
        assert client.get("/my-tasks").status_code == 200
    popug_statement = next(s for s in run if "FROM popugs" in s)
    assert "notifications" in popug_statement and "accounts" in popug_statement


@pytest.mark.postgres
def test_versions_read_a_few_keys_through_indexes(app, popugs):
    """With 20,000 tasks and 40,000 entries, analyzed: no scan of the ledger or the tasks,
    nothing sorted; each part is a few keys read backwards through an index."""
    kesha, boss = popugs["kesha"], popugs["boss"]
    task = make_task(boss, "One", assignee=kesha)
    kesha_id, public_id = kesha.id, task.public_id
    first = task.id  # ids after it: earlier tests' tasks took lower ones of the sequence
    connection = db.session.connection()
    connection.exec_driver_sql(
        "INSERT INTO tasks (id, status, assignee_id, fee, reward) "
        f"SELECT {first} + g, 'open', {kesha_id}, 100, 200 FROM generate_series(1, 20000) g"
    )
    connection.exec_driver_sql(
        "INSERT INTO task_texts (task_id, public_id, title, description, creator_id, created_at, "
        f"fee, reward) SELECT {first} + g, 'bulk-' || g, 'Bulk', '', {boss.id}, now(), 100, 200 "
        "FROM generate_series(1, 20000) g"
    )
    connection.exec_driver_sql(
        "INSERT INTO ledger_entries (account_id, kind, amount, task_id, business_day, created_at) "
        f"SELECT a.id, 'assign_fee', -100, {first} + g, DATE '2026-01-01' + mod(g, 30), now() "
        "FROM accounts a, generate_series(1, 10000) g"
    )
    for table in ("tasks", "task_texts", "ledger_entries", "accounts"):
        connection.exec_driver_sql(f"ANALYZE {table}")
    db.session.commit()

    plans = explained(versions.board)
    plans += explained(lambda: versions.my_tasks(kesha_id))
    plans += explained(lambda: versions.task(public_id))
    plans += explained(lambda: accounting_queries.account_version(kesha_id))
    plans += explained(accounting_queries.overview_version)
    assert len(plans) == 5, "\n\n".join(plans)
    for plan in plans:
        for table in ("ledger_entries", "tasks", "task_texts"):
            assert f"Seq Scan on {table}" not in plan, plan
        assert "Sort" not in plan, plan
