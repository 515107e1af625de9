"""auth.service: an admin changes a popug's e-mail or sets a new beak shape; the Popugs
list's search. (The pages: tests/auth/test_credentials_routes.py.)"""

from contextlib import contextmanager

import pytest
from sqlalchemy import select

from app import audit, signals
from app.blueprints.accounting.models import Account
from app.blueprints.auth import service
from app.blueprints.auth.models import Popug
from app.errors import NotAllowed, NotFound, ServiceError
from app.extensions import db
from tests.factories import BEAK, make_popug, make_token

NEW_BEAK = "hooked, with a notch on the left"


@contextmanager
def told():
    """The credentials_changed events told inside the block: [kwargs, …]."""
    heard: list[dict] = []

    def receiver(_sender, **kwargs):
        heard.append(kwargs)

    signals.credentials_changed.connect(receiver)
    try:
        yield heard
    finally:
        signals.credentials_changed.disconnect(receiver)


def events_about(popug) -> list[tuple[str, str, str]]:
    rows = db.session.scalars(
        select(audit.AuditEvent)
        .where(audit.AuditEvent.subject_id == popug.id)
        .order_by(audit.AuditEvent.id)
    )
    return [(e.actor_username, e.action, e.description) for e in rows]


@pytest.fixture
def kesha(app):
    return make_popug(role="worker", username="kesha")


# --- e-mail -------------------------------------------------------------------------------


def test_change_email_stores_it_lower_case_in_auth_and_accounting(db, admin, kesha):
    with told() as heard:
        change = service.change_email(kesha.public_id, " Kesha.New@UberPopug.inc ", actor=admin)
    db.session.commit()
    assert change.popug.id == kesha.id and change.fields == ("email",)
    db.session.expire_all()
    assert db.session.get(Popug, kesha.id).email == "kesha.new@uberpopug.inc"
    account_email = db.session.scalar(select(Account.email).where(Account.popug_id == kesha.id))
    assert account_email == "kesha.new@uberpopug.inc"  # payout e-mails go to the new one
    assert heard == [
        {
            "popug_id": kesha.id,
            "actor_id": admin.id,
            "fields": ("email",),
            "previous_email": "kesha@uberpopug.inc",
        }
    ]
    assert events_about(kesha)[-1] == (
        "root-admin",
        "popug.email",
        "kesha: kesha@uberpopug.inc → kesha.new@uberpopug.inc",
    )


@pytest.mark.parametrize("email", ["", "   ", "kesha", "kesha@", "@uberpopug.inc", "a b@x.inc"])
def test_change_email_refuses_what_creating_a_popug_refuses(db, admin, kesha, email):
    with told() as heard, pytest.raises(ServiceError) as refused:
        service.change_email(kesha.public_id, email, actor=admin)
    assert refused.value.field == "email"
    assert "valid e-mail address" in refused.value.message
    db.session.rollback()
    assert heard == []
    assert db.session.get(Popug, kesha.id).email == "kesha@uberpopug.inc"


@pytest.mark.parametrize("taken", ["worker-one@uberpopug.inc", "WORKER-ONE@uberpopug.INC"])
def test_change_email_refuses_another_popugs_address_ignoring_case(db, admin, kesha, worker, taken):
    with told() as heard, pytest.raises(ServiceError) as refused:
        service.change_email(kesha.public_id, taken, actor=admin)
    assert refused.value.message == "A popug with this e-mail already exists."
    assert refused.value.field == "email"
    assert heard == []


def test_change_email_refuses_the_address_they_already_have(db, admin, kesha):
    with told() as heard, pytest.raises(ServiceError) as refused:
        service.change_email(kesha.public_id, "KESHA@uberpopug.inc", actor=admin)
    assert refused.value.field == "email"
    assert heard == []
    assert [e[1] for e in events_about(kesha)] == ["popug.create"]


def test_an_admin_may_change_their_own_email(db, admin):
    service.change_email(admin.public_id, "root@uberpopug.inc", actor=admin)
    db.session.commit()
    assert db.session.get(Popug, admin.id).email == "root@uberpopug.inc"


def test_only_active_admins_change_emails(db, admin, kesha):
    manager = make_popug(role="manager")
    retired = make_popug(role="admin", active=False)
    for actor in (kesha, manager, retired):
        with told() as heard, pytest.raises(NotAllowed):
            service.change_email(kesha.public_id, "x@uberpopug.inc", actor=actor)
        assert heard == []
    with pytest.raises(NotFound):
        service.change_email("no-such-popug", "x@uberpopug.inc", actor=admin)


# --- beak shape ---------------------------------------------------------------------------


def test_set_beak_shape_changes_what_signs_in_and_keeps_only_a_hash(db, admin, kesha):
    old_hash = kesha.beak_hash
    with told() as heard:
        change = service.set_beak_shape(kesha.public_id, NEW_BEAK, actor=admin)
    db.session.commit()
    assert change.fields == ("beak_shape",)
    assert service.authenticate("kesha", BEAK) is None
    assert service.authenticate("kesha", NEW_BEAK).id == kesha.id
    stored = db.session.get(Popug, kesha.id).beak_hash
    assert stored != old_hash and stored.startswith("$argon2id$") and NEW_BEAK not in stored
    assert heard == [
        {
            "popug_id": kesha.id,
            "actor_id": admin.id,
            "fields": ("beak_shape",),
            "previous_email": None,
        }
    ]
    assert events_about(kesha)[-1] == ("root-admin", "popug.beak_shape", "kesha")
    details = " ".join(e[2] for e in events_about(kesha))
    assert NEW_BEAK not in details and BEAK not in details


def test_set_beak_shape_ends_the_popugs_sessions_but_keeps_their_tokens(db, admin, kesha):
    session_id = kesha.get_id()
    secret = make_token(kesha)
    assert service.load_signed_in(session_id) is not None
    service.set_beak_shape(kesha.public_id, NEW_BEAK, actor=admin)
    db.session.commit()
    assert service.load_signed_in(session_id) is None
    assert service.load_signed_in(db.session.get(Popug, kesha.id).get_id()) is not None
    assert service.authenticate_token(secret) is not None


@pytest.mark.parametrize("beak", ["", "short", "x" * 201])
def test_set_beak_shape_refuses_what_creating_a_popug_refuses(db, admin, kesha, beak):
    session_id = kesha.get_id()
    with told() as heard, pytest.raises(ServiceError) as refused:
        service.set_beak_shape(kesha.public_id, beak, actor=admin)
    assert refused.value.field == "beak_shape"
    db.session.rollback()
    assert heard == []
    assert service.authenticate("kesha", BEAK).id == kesha.id
    assert service.load_signed_in(session_id) is not None


def test_set_beak_shape_refuses_their_current_one(db, admin, kesha):
    with told() as heard, pytest.raises(ServiceError) as refused:
        service.set_beak_shape(kesha.public_id, BEAK, actor=admin)
    assert refused.value.field == "beak_shape"
    assert "already their beak shape" in refused.value.message
    assert heard == []
    assert [e[1] for e in events_about(kesha)] == ["popug.create"]


def test_only_active_admins_set_beak_shapes(db, admin, kesha):
    for actor in (kesha, make_popug(role="accountant"), make_popug(role="admin", active=False)):
        with told() as heard, pytest.raises(NotAllowed):
            service.set_beak_shape(kesha.public_id, NEW_BEAK, actor=actor)
        assert heard == []
    assert service.authenticate("kesha", BEAK) is not None


def test_an_admin_who_sets_their_own_beak_shape_signs_in_with_it(db, admin):
    service.set_beak_shape(admin.public_id, NEW_BEAK, actor=admin)
    db.session.commit()
    assert service.authenticate("root-admin", NEW_BEAK).role == "admin"


# --- the Popugs list's search -------------------------------------------------------------


def names(pager) -> list[str]:
    return [popug.username for popug in pager.items]


def test_search_matches_the_beginning_of_a_username_or_an_email(db):
    for username in ("kesha", "keshka", "gosha", "kiwi"):
        make_popug(username=username)
    service.change_email(
        db.session.scalar(select(Popug.public_id).where(Popug.username == "gosha")),
        "kesha.friend@uberpopug.inc",
        actor=make_popug(role="admin", username="boss-admin"),
    )
    db.session.commit()
    assert names(service.list_popugs(1, 50, search="kesh")) == ["gosha", "kesha", "keshka"]
    assert names(service.list_popugs(1, 50, search="kesha@")) == ["kesha"]
    assert names(service.list_popugs(1, 50, search="ki")) == ["kiwi"]
    assert names(service.list_popugs(1, 50, search="esha")) == []  # not the middle
    assert len(service.list_popugs(1, 50).items) == 5


@pytest.mark.parametrize("search", ["%", "_", "k%", "k_sha", "\\", "[k]*", "'", "ке", "\U0010ffff"])
def test_search_reads_wildcards_as_plain_characters(db, search):
    make_popug(username="kesha")
    assert names(service.list_popugs(1, 50, search=search)) == []


def test_search_pages_its_matches(db):
    for n in range(7):
        make_popug(username=f"kesha-{n}")
    make_popug(username="gosha")
    first, second = (service.list_popugs(page, 5, search="kesha") for page in (1, 2))
    assert first.total == 7 and names(first) == [f"kesha-{n}" for n in range(5)]
    assert names(second) == ["kesha-5", "kesha-6"]


@pytest.mark.parametrize(
    ("typed", "searched"),
    [(None, ""), ("", ""), ("  KeSha ", "kesha"), ("a\x00b", "ab"), ("x" * 300, "x" * 254)],
)
def test_a_search_is_trimmed_lower_case_and_bounded(typed, searched):
    assert service.parse_popug_search(typed) == searched
