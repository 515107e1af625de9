from app import audit
from app.blueprints.auth.models import Popug
from app.blueprints.tasks.models import Shuffle
from app.extensions import db
from tests.factories import make_task, run_queued_shuffles
from tests.helpers import signed_in_client


def events(after: int = 0):
    return [
        (e.actor_username, e.action, e.description)
        for e in db.session.scalars(
            db.select(audit.AuditEvent)
            .where(audit.AuditEvent.id > after)
            .order_by(audit.AuditEvent.id)
        )
    ]


def last_event_id() -> int:
    return db.session.scalar(db.select(db.func.max(audit.AuditEvent.id))) or 0


def test_every_popug_created_is_recorded_whoever_creates_it(app, admin):
    # The fixtures and the demo seed create popugs through the same service, with no actor.
    assert events() == [("system", "popug.create", "root-admin as admin")]


def test_popug_changes_and_shuffles_are_recorded(admin_client, admin, manager_client):
    before = last_event_id()
    admin_client.post(
        "/popugs",
        data={
            "username": "newbie",
            "email": "newbie@uberpopug.inc",
            "role": "worker",
            "beak_shape": "long and thin",
        },
    )
    newbie = db.session.get(audit.AuditEvent, before + 1)
    assert newbie.address == "127.0.0.1"
    popug = db.session.scalar(db.select(Popug).where(Popug.username == "newbie"))
    admin_client.post(f"/popugs/{popug.public_id}/role", data={"role": "accountant"})
    admin_client.post(f"/popugs/{popug.public_id}/deactivate")
    admin_client.post(f"/popugs/{popug.public_id}/activate")
    make_task(admin)
    manager_client.post("/tasks/shuffle", data={"form_token": "t1"})
    run_queued_shuffles()
    assert events(after=before) == [
        ("root-admin", "popug.create", "newbie as worker"),
        ("root-admin", "popug.role", "newbie: worker → accountant"),
        ("root-admin", "popug.deactivate", "newbie"),
        ("root-admin", "popug.activate", "newbie"),
        ("boss", "tasks.shuffle", "1 open task among 1 popug"),
    ]


def test_audit_page_is_admin_only_and_escapes(admin_client, worker_client, admin):
    audit.record(admin, "popug.create", {"username": "<script>alert(1)</script>", "role": "x"})
    db.session.commit()
    page = admin_client.get("/audit")
    assert page.status_code == 200
    assert b"&lt;script&gt;alert(1)&lt;/script&gt;" in page.data
    assert b"<script>alert(1)" not in page.data
    assert worker_client.get("/audit").status_code == 403


def test_failed_actions_are_not_recorded(admin_client, admin):
    before = last_event_id()
    admin_client.post(f"/popugs/{admin.public_id}/deactivate")  # the last admin: refused
    admin_client.post(
        "/popugs",
        data={
            "username": "root-admin",
            "email": "x@uberpopug.inc",
            "role": "worker",
            "beak_shape": "long and thin",
        },
    )  # the username is taken: refused
    assert events(after=before) == []


def test_a_press_that_joins_a_queued_shuffle_is_recorded(
    app, admin, admin_client, manager, manager_client, worker
):
    make_task(admin)
    before = last_event_id()
    assert manager_client.post("/tasks/shuffle", data={"form_token": "first"}).status_code == 303
    # A repeat of the first press's form: that press again, nothing to record.
    assert manager_client.post("/tasks/shuffle", data={"form_token": "first"}).status_code == 303
    [shuffle] = db.session.scalars(db.select(Shuffle)).all()
    assert events(after=before) == []  # the first press is recorded when its shuffle runs
    assert admin_client.post("/tasks/shuffle", data={"form_token": "second"}).status_code == 303
    joined = f"shuffle {shuffle.public_id}, queued by boss"
    assert events(after=before) == [("root-admin", "press.joined", joined)]
    assert db.session.get(audit.AuditEvent, before + 1).address == "127.0.0.1"
    run_queued_shuffles()
    assert events(after=before)[-1] == ("boss", "tasks.shuffle", "1 open task among 1 popug")

    english = admin_client.get("/audit").text
    assert "Joined a queued shuffle" in english and joined in english
    admin.locale = "ru"
    db.session.commit()
    russian = signed_in_client(app, admin).get("/audit").text
    assert "Присоединение к ожидающей перетасовке" in russian
    assert f"перетасовка {shuffle.public_id}, поставил в очередь boss" in russian


def test_sources_and_details_are_stored_as_codes_and_read_in_each_language(
    app, admin, admin_client, manager_client, worker
):
    """The command line's and the job worker's events, and the details' roles, counts and
    money, are stored as codes and parameters and written in the reader's language."""
    make_task(admin)
    manager_client.post("/tasks/shuffle", data={"form_token": "codes"})
    run_queued_shuffles()
    events = db.session.scalars(db.select(audit.AuditEvent).order_by(audit.AuditEvent.id)).all()
    created, shuffled = events[0], events[-1]
    assert (created.address, created.params) == ("cli", {"username": "root-admin", "role": "admin"})
    assert (shuffled.address, shuffled.params) == ("worker", {"num": 1, "popugs": 1})
    assert created.details == shuffled.details == ""

    english = admin_client.get("/audit").text
    for text in ("command line", "job worker", "root-admin as admin", "1 open task among 1 popug"):
        assert text in english
    admin.locale = "ru"
    db.session.commit()
    russian = signed_in_client(app, admin).get("/audit").text
    for text in (
        "командная строка",
        "фоновый обработчик",
        "система",
        "root-admin, роль: администратор",
        "1 открытая задача среди 1 попуга",
    ):
        assert text in russian, text
    for text in ("command line", "job worker", " as admin", "system", "open task"):
        assert text not in russian, text


def test_parameters_that_do_not_fit_their_sentence_are_shown_raw(admin_client, admin):
    """An event whose parameters lack one its sentence needs still shows, not a 500."""
    audit.record(admin, "tasks.shuffle", {"popugs": 2})
    audit.record(admin, "billing.close_day", {"day": "not a day", "paid": 1, "num": 1})
    db.session.commit()
    page = admin_client.get("/audit")
    assert page.status_code == 200
    assert "popugs=2" in page.text and "day=not a day" in page.text
