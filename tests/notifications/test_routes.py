"""The Notifications page, the top bar's count and its conditional poll, marking read with
and without htmx, and only ever one's own."""

import re

from sqlalchemy import select

from app import clock
from app.blueprints.notifications import queries, service
from app.blueprints.notifications.models import Notification
from app.extensions import db
from tests.factories import make_popug, make_task, shuffle_now
from tests.helpers import HTMX, signed_in_client


def unread_of(popug) -> list[int]:
    db.session.expire_all()
    return list(
        db.session.scalars(
            select(Notification.id)
            .where(Notification.popug_id == popug.id, Notification.read_at.is_(None))
            .order_by(Notification.id)
        )
    )


def count_badge(html: str) -> str | None:
    """The number in the top bar's count, or None without one."""
    found = re.search(r'id="notification-count".*?</span>', html, re.S)
    assert found, "no count element"
    number = re.search(r'badge-count">([^<]+)<', found.group(0))
    return number.group(1) if number else None


def test_every_page_links_to_notifications_with_the_unread_count(app, worker, manager):
    client = signed_in_client(app, worker)
    html = client.get("/").get_data(as_text=True)
    assert ">Notifications<" in html and count_badge(html) is None
    make_task(manager, title="Sweep the cage")
    make_task(manager, title="Polish the perch")
    html = client.get("/account").get_data(as_text=True)
    assert count_badge(html) == "2"
    assert 'data-hx-headers=\'{"X-Background": "1"}\'' in html
    assert 'data-hx-trigger="every 15s' in html


def test_the_top_bar_counts_only_the_popugs_own_notifications(app, worker, manager):
    other = make_popug(role="accountant", username="other")
    make_task(manager, title="Theirs", assignee=other)
    make_task(manager, title="Theirs too", assignee=other)
    make_task(manager, title="Mine", assignee=worker)
    db.session.commit()
    assert count_badge(signed_in_client(app, worker).get("/").get_data(as_text=True)) == "1"
    assert count_badge(signed_in_client(app, other).get("/").get_data(as_text=True)) == "2"


def test_the_count_is_capped(app, worker, manager, monkeypatch):
    monkeypatch.setattr(queries, "UNREAD_SHOWN", 2)
    for _ in range(3):
        make_task(manager)
    html = signed_in_client(app, worker).get("/").get_data(as_text=True)
    assert queries.unread_count(worker.id) == 3
    assert count_badge(html) == "2+"


def test_the_page_lists_ones_own_newest_first_and_marks_nothing_read(app, worker, manager):
    other = make_popug(role="accountant", username="other")
    make_task(manager, title="Older errand", assignee=worker, prices=(1200, 2400))
    make_task(manager, title="Newer errand", assignee=worker, prices=(1300, 2600))
    make_task(manager, title="Someone else's errand", assignee=other)
    client = signed_in_client(app, worker)
    html = client.get("/notifications").get_data(as_text=True)
    assert "<h1>Notifications</h1>" in html
    assert html.index("Newer errand") < html.index("Older errand")
    assert "Someone else" not in html
    assert "boss created “" in html and "its fee of $13.00 was charged to you" in html
    assert html.count("notification-unread") == 2
    assert "Mark all as read" in html
    assert len(unread_of(worker)) == 2  # opening the page marked nothing


def test_the_page_links_the_task_and_my_accounts_day(app, worker, manager):
    task = make_task(manager, title="Feed the parrot", assignee=worker)
    html = signed_in_client(app, worker).get("/notifications").get_data(as_text=True)
    assert f'href="/tasks/{task.public_id}"' in html
    assert re.search(r'href="/account\?day=\d{4}-\d\d-\d\d#audit-log"', html)


def test_empty_page(app, worker):
    html = signed_in_client(app, worker).get("/notifications").get_data(as_text=True)
    assert "Nothing yet." in html and "Mark all as read" not in html


def test_a_shuffle_shows_once_with_its_count_and_links(app, manager):
    worker = make_popug(role="worker", username="only-worker")
    for n in range(4):
        make_task(manager, title=f"Task {n}")
    shuffle = shuffle_now(actor=manager)
    db.session.commit()
    html = signed_in_client(app, worker).get("/notifications").get_data(as_text=True)
    assert html.count("A shuffle gave you 4 tasks") == 1
    assert "Your tasks from this shuffle" in html
    assert shuffle.public_id not in html  # workers may not open a shuffle's page


def test_mark_read_without_javascript(app, worker, manager):
    make_task(manager)
    make_task(manager)
    first, second = unread_of(worker)
    client = signed_in_client(app, worker)
    response = client.post(f"/notifications/{first}/read?page=1")
    assert response.status_code == 303
    assert response.headers["Location"].endswith("/notifications?page=1")
    assert unread_of(worker) == [second]


def test_mark_read_with_htmx_swaps_the_item_and_the_count(app, worker, manager):
    make_task(manager)
    make_task(manager)
    first, second = unread_of(worker)
    response = signed_in_client(app, worker).post(f"/notifications/{first}/read", headers=HTMX)
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert f'id="notification-{first}"' in html and "notification-unread" not in html
    assert 'id="notification-count" class="nav-count" data-hx-swap-oob="true"' in html
    assert count_badge(html) == "1"
    assert unread_of(worker) == [second]


def test_mark_all_read_without_javascript_and_with_htmx(app, worker, manager):
    make_task(manager)
    make_task(manager)
    client = signed_in_client(app, worker)
    newest = unread_of(worker)[-1]
    response = client.post("/notifications/read?page=1", data={"up_to": newest})
    assert response.status_code == 303 and unread_of(worker) == []

    make_task(manager)
    response = client.post("/notifications/read", headers=HTMX)
    html = response.get_data(as_text=True)
    assert 'id="notification-list"' in html and "notification-unread" not in html
    assert count_badge(html) is None
    assert unread_of(worker) == []


def test_mark_all_read_keeps_what_arrived_after_the_page(app, worker, manager):
    make_task(manager)
    seen = unread_of(worker)[-1]
    make_task(manager)  # arrives after the page was read
    signed_in_client(app, worker).post("/notifications/read", data={"up_to": seen})
    assert len(unread_of(worker)) == 1


def test_nobody_marks_anothers_notification(app, worker, manager):
    make_task(manager)
    (mine,) = unread_of(worker)
    intruder = signed_in_client(app, make_popug(role="accountant", username="intruder"))
    for headers in ({}, HTMX):
        assert intruder.post(f"/notifications/{mine}/read", headers=headers).status_code == 404
    intruder.post("/notifications/read")
    assert unread_of(worker) == [mine]


def test_marking_needs_the_csrf_token(app, worker, manager):
    app.config["WTF_CSRF_ENABLED"] = True
    try:
        make_task(manager)
        (mine,) = unread_of(worker)
        client = signed_in_client(app, worker)
        assert client.post(f"/notifications/{mine}/read").status_code == 400
        assert client.post("/notifications/read").status_code == 400
        assert unread_of(worker) == [mine]
    finally:
        app.config["WTF_CSRF_ENABLED"] = False


# --- the live count -----------------------------------------------------------------------


def test_the_count_answers_304_while_nothing_changed(app, worker, manager):
    client = signed_in_client(app, worker)
    first = client.get("/notifications/count", headers={**HTMX, "X-Background": "1"})
    assert first.status_code == 200 and first.headers["ETag"]
    assert "no-cache" in first.headers["Cache-Control"]
    assert "no-store" not in first.headers["Cache-Control"]
    assert count_badge(first.get_data(as_text=True)) is None
    etag = first.headers["ETag"]

    again = client.get("/notifications/count", headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.get_data() == b""
    assert again.headers["ETag"] == etag

    make_task(manager)
    changed = client.get("/notifications/count", headers={"If-None-Match": etag})
    assert changed.status_code == 200 and changed.headers["ETag"] != etag
    assert count_badge(changed.get_data(as_text=True)) == "1"

    (mine,) = unread_of(worker)
    client.post(f"/notifications/{mine}/read")
    read = client.get("/notifications/count", headers={"If-None-Match": changed.headers["ETag"]})
    assert read.status_code == 200 and count_badge(read.get_data(as_text=True)) is None


def test_the_count_differs_by_language(app, worker):
    client = signed_in_client(app, worker)
    english = client.get("/notifications/count").headers["ETag"]
    client.post("/language", data={"locale": "ru"})
    russian = client.get("/notifications/count", headers={"If-None-Match": english})
    assert russian.status_code == 200 and russian.headers["ETag"] != english


# --- languages ----------------------------------------------------------------------------


def test_russian_plurals(app, worker):
    for count in (1, 3, 5, 21):
        db.session.add(
            Notification(
                popug_id=worker.id,
                kind="shuffled",
                shuffle_id=1,
                count=count,
                amount=-1000 * count,
                day=clock.business_day(),
                created_at=clock.now(),
            )
        )
    db.session.commit()
    client = signed_in_client(app, worker)
    client.post("/language", data={"locale": "ru"})
    html = client.get("/notifications").get_data(as_text=True)
    assert "<h1>Уведомления</h1>" in html
    for text in (
        "дала вам 1 задачу,",
        "дала вам 3 задачи,",
        "дала вам 5 задач,",
        "дала вам 21 задачу,",
    ):
        assert text in html, text
    assert "Отметить все прочитанными" in html


def test_ids_past_any_notification_are_refused_cleanly(app, worker, manager):
    make_task(manager)
    client = signed_in_client(app, worker)
    huge = str(2**63)
    assert client.post(f"/notifications/{huge}/read").status_code == 404
    for up_to in (huge, "-" + huge, "9" * 30, "x"):
        assert client.post("/notifications/read", data={"up_to": up_to}).status_code == 303


def test_ones_own_task_says_so_and_titles_are_escaped(app, worker):
    make_task(worker, title="Feed <b>the</b> parrot")
    html = signed_in_client(app, worker).get("/notifications").get_data(as_text=True)
    assert "You created “<a href=" in html
    assert "Feed &lt;b&gt;the&lt;/b&gt; parrot</a>”" in html and "<b>the</b>" not in html


# --- the choice of e-mails ----------------------------------------------------------------


def checked_choice(html: str) -> str | None:
    found = re.search(r'<input[^>]*name="choice"[^>]*value="(\w+)"[^>]*checked', html) or re.search(
        r'<input[^>]*checked[^>]*name="choice"[^>]*value="(\w+)"', html
    )
    return found.group(1) if found else None


def test_the_page_shows_the_choice_of_emails_once_a_day_by_default(app, worker):
    html = signed_in_client(app, worker).get("/notifications").get_data(as_text=True)
    assert 'action="/notifications/email"' in html and 'href="#email"' in html
    assert "E-mails: Once a day." in html
    for words in ("E-mail me", "Right away", "Once a day", "Never", ">Save<"):
        assert words in html
    assert checked_choice(html) == "daily"


def test_choosing_right_away_saves_it_and_shows_it(app, worker):
    client = signed_in_client(app, worker)
    answer = client.post("/notifications/email", data={"choice": "right_away"})
    assert answer.status_code == 303
    assert answer.headers["Location"].endswith("/notifications#email")
    assert service.email_choice(worker.id) == "right_away"
    html = client.get("/notifications").get_data(as_text=True)
    assert "E-mails: Right away." in html and checked_choice(html) == "right_away"
    client.post("/notifications/email", data={"choice": "never"})
    assert service.email_choice(worker.id) == "never"


def test_with_htmx_the_choice_redirects_the_page(app, worker):
    answer = signed_in_client(app, worker).post(
        "/notifications/email", data={"choice": "never"}, headers=HTMX
    )
    assert answer.status_code == 200 and answer.headers["HX-Redirect"].endswith("#email")
    assert service.email_choice(worker.id) == "never"


def test_a_choice_that_is_not_one_is_refused_next_to_the_field(app, worker):
    client = signed_in_client(app, worker)
    for data in ({"choice": "weekly"}, {}, {"choice": "x" * 10_000}):
        answer = client.post("/notifications/email", data=data)
        html = answer.get_data(as_text=True)
        assert answer.status_code == 422
        assert 'id="choice-error"' in html and "Choose right away, once a day or never." in html
    assert service.email_choice(worker.id) == "daily"


def test_the_choice_of_emails_in_russian(app, worker):
    worker.locale = "ru"
    db.session.commit()
    client = signed_in_client(app, worker)
    html = client.get("/notifications").get_data(as_text=True)
    for words in ("Присылать мне e-mail", "Сразу", "Раз в день", "Никогда", "Сохранить"):
        assert words in html
    html = client.post("/notifications/email", data={"choice": "sometimes"}).get_data(as_text=True)
    assert "Выберите: сразу, раз в день или никогда." in html


def test_the_choice_needs_the_csrf_token(app, worker):
    app.config["WTF_CSRF_ENABLED"] = True
    try:
        client = signed_in_client(app, worker)
        assert client.post("/notifications/email", data={"choice": "never"}).status_code == 400
        assert service.email_choice(worker.id) == "daily"
    finally:
        app.config["WTF_CSRF_ENABLED"] = False


def test_a_popug_sets_only_their_own_choice(app, worker, manager):
    signed_in_client(app, worker).post("/notifications/email", data={"choice": "never"})
    assert service.email_choice(worker.id) == "never"
    assert service.email_choice(manager.id) == "daily"


def test_security_changes_show_on_the_page(app, admin, worker):
    from app import signals

    signals.tell(
        signals.credentials_changed,
        popug_id=worker.id,
        actor_id=admin.id,
        fields=("email", "beak_shape"),
        previous_email="old@uberpopug.inc",
    )
    db.session.commit()
    html = signed_in_client(app, worker).get("/notifications").get_data(as_text=True)
    assert f"{admin.username} changed your e-mail address." in html
    assert f"{admin.username} reset your beak shape." in html


def test_with_htmx_a_refused_choice_swaps_the_form_in_with_its_message(app, worker):
    answer = signed_in_client(app, worker).post(
        "/notifications/email", data={"choice": "weekly"}, headers=HTMX
    )
    html = answer.get_data(as_text=True)
    assert answer.status_code == 422 and html.lstrip().startswith('<form id="email"')
    assert "Choose right away, once a day or never." in html and "<html" not in html
