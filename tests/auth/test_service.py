"""auth.service: creating popugs, roles, the last-admin rule, deactivation, sign-in checks."""

import uuid

import pytest
from argon2 import PasswordHasher, extract_parameters
from argon2.exceptions import VerifyMismatchError
from sqlalchemy import select

from app.blueprints.accounting import posting
from app.blueprints.accounting.models import Account
from app.blueprints.auth import service
from app.blueprints.auth.models import Popug
from app.errors import NotAllowed, NotFound, ServiceError
from tests.factories import BEAK, make_popug
from tests.helpers import count

GOOD = {
    "username": "kesha",
    "email": "kesha@uberpopug.inc",
    "role": "worker",
    "beak_shape": "curved like a banana",
}


def create(actor=None, **changes):
    return service.create_popug(**{**GOOD, **changes}, actor=actor)


# --- creating a popug -------------------------------------------------------------------


def test_create_popug_hashes_the_beak_with_argon2id(db):
    popug = create()
    db.session.commit()

    assert popug.beak_hash.startswith("$argon2id$")
    assert GOOD["beak_shape"] not in popug.beak_hash
    assert PasswordHasher().verify(popug.beak_hash, GOOD["beak_shape"]) is True
    with pytest.raises(VerifyMismatchError):
        PasswordHasher().verify(popug.beak_hash, "curved like a bananas")


def test_two_popugs_with_the_same_beak_get_different_hashes(db):
    first = create()
    second = create(username="gosha", email="gosha@uberpopug.inc")
    assert first.beak_hash != second.beak_hash  # salted


def test_public_id_is_a_uuid4_string(db):
    popug = create()
    db.session.commit()

    parsed = uuid.UUID(popug.public_id)
    assert parsed.version == 4
    assert str(parsed) == popug.public_id
    assert popug.public_id != str(popug.id)


def test_create_popug_opens_a_money_account_with_balance_zero(db):
    popug = create()
    db.session.commit()

    account = db.session.scalar(select(Account).where(Account.popug_id == popug.id))
    assert account is not None
    assert account.balance == 0
    assert account.owner_public_id == popug.public_id
    assert (account.username, account.email) == ("kesha", "kesha@uberpopug.inc")
    assert posting.balance_of(popug.id) == 0
    assert count(Account) == 1


def test_create_popug_stores_active_popug_with_utc_timestamp(db):
    popug = create(role="accountant")
    db.session.commit()
    db.session.expire_all()
    popug = db.session.get(Popug, popug.id)

    assert popug.active is True
    assert popug.role == "accountant"
    assert popug.created_at.utcoffset().total_seconds() == 0


def test_username_is_lowercased_and_trimmed(db):
    popug = create(username="  KeSha_01 ", email="  KeSha@UberPopug.INC ")
    assert popug.username == "kesha_01"
    assert popug.email == "kesha@uberpopug.inc"


@pytest.mark.parametrize("other", ["KESHA", "Kesha", " kesha "])
def test_username_is_unique_ignoring_case(db, other):
    create()
    db.session.commit()
    with pytest.raises(ServiceError) as error:
        create(username=other, email="other@uberpopug.inc")
    assert error.value.field == "username"
    assert error.value.message == "This username is taken."


@pytest.mark.parametrize("other", ["KESHA@uberpopug.inc", "kesha@UBERPOPUG.INC"])
def test_email_is_unique_ignoring_case(db, other):
    create()
    db.session.commit()
    with pytest.raises(ServiceError) as error:
        create(username="other", email=other)
    assert error.value.field == "email"
    assert error.value.message == "A popug with this e-mail already exists."


@pytest.mark.parametrize("username", ["abc", "a" * 32, "a-b_c-0", "007", "---"])
def test_valid_usernames(db, username):
    assert create(username=username).username == username


@pytest.mark.parametrize(
    "username",
    ["", "ab", "a" * 33, "kes ha", "kesha!", "kesha.b", "кеша", "kes\nha", "kesha@x", "a/b"],
)
def test_invalid_usernames(db, username):
    with pytest.raises(ServiceError) as error:
        create(username=username)
    assert error.value.field == "username"
    assert "3 to 32 characters" in error.value.message
    assert count(Popug) == 0


@pytest.mark.parametrize(
    "email", ["", "kesha", "kesha@", "@uberpopug.inc", "kesha@@uberpopug.inc", "ke sha@x.inc"]
)
def test_invalid_emails(db, email):
    with pytest.raises(ServiceError) as error:
        create(email=email)
    assert error.value.field == "email"
    assert error.value.message.startswith("Enter a valid e-mail address")
    assert count(Popug) == 0


@pytest.mark.parametrize("role", ["admin", "manager", "accountant", "worker"])
def test_each_role_can_be_created(db, role):
    assert create(role=role).role == role


@pytest.mark.parametrize("role", ["", "owner", "Admin", "workers", None])
def test_invalid_roles(db, role):
    with pytest.raises(ServiceError) as error:
        create(role=role)
    assert error.value.field == "role"
    assert error.value.message == "Choose one of: admin, manager, accountant, worker."


@pytest.mark.parametrize("length", [8, 9, 199, 200])
def test_beak_shape_length_accepted(db, length):
    beak = "b" * length
    popug = create(beak_shape=beak)
    assert PasswordHasher().verify(popug.beak_hash, beak)


@pytest.mark.parametrize("length", [0, 1, 7, 201, 1000])
def test_beak_shape_length_refused(db, length):
    with pytest.raises(ServiceError) as error:
        create(beak_shape="z" * length)
    assert error.value.field == "beak_shape"
    assert error.value.message == "Describe the beak in 8 to 200 characters."
    assert count(Popug) == 0


def test_only_an_active_admin_creates_popugs(db):
    worker = make_popug(role="worker")
    with pytest.raises(NotAllowed):
        create(actor=worker)
    retired = make_popug(role="admin", active=False)
    with pytest.raises(NotAllowed):
        create(actor=retired)
    admin = make_popug(role="admin")
    assert create(actor=admin).username == "kesha"


def test_create_popug_is_atomic_when_opening_the_account_fails(db, monkeypatch):
    def broken_open_account(*args, **kwargs):
        raise RuntimeError("accounting is down")

    monkeypatch.setattr(posting, "open_account", broken_open_account)
    with pytest.raises(RuntimeError, match="accounting is down"):
        create()
    db.session.rollback()

    assert count(Popug) == 0
    assert count(Account) == 0
    # Once accounting works again the same popug can be created.
    monkeypatch.undo()
    create()
    db.session.commit()
    assert (count(Popug), count(Account)) == (1, 1)


def test_create_popug_is_atomic_when_the_account_insert_fails(db):
    """A real database failure in the account step (a clashing owner id) leaves nothing."""
    first = create()
    db.session.commit()
    original = posting.open_account

    def open_with_clashing_owner(popug_id, owner_public_id, username, email):
        return original(popug_id, first.public_id, username, email)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(posting, "open_account", open_with_clashing_owner)
        with pytest.raises(Exception) as error:
            create(username="gosha", email="gosha@uberpopug.inc")
    assert "unique" in str(error.value).lower() or "duplicate" in str(error.value).lower()
    db.session.rollback()
    assert db.session.scalars(select(Popug.username)).all() == ["kesha"]
    assert count(Account) == 1


# --- roles and the last-admin rule ---------------------------------------------------------


def test_change_role(db):
    admin = make_popug(role="admin")
    worker = make_popug(role="worker")
    changed = service.change_role(worker.public_id, "manager", actor=admin)
    db.session.commit()
    assert changed.popug.role == "manager" and changed.tasks_handed_over == 0
    db.session.expire_all()
    assert db.session.get(Popug, worker.id).role == "manager"


def test_change_role_refuses_unknown_role_and_popug_and_non_admins(db):
    admin = make_popug(role="admin")
    worker = make_popug(role="worker")
    with pytest.raises(ServiceError) as error:
        service.change_role(worker.public_id, "overlord", actor=admin)
    assert error.value.field == "role"
    with pytest.raises(NotFound):
        service.change_role(str(uuid.uuid4()), "manager", actor=admin)
    with pytest.raises(NotAllowed):
        service.change_role(worker.public_id, "admin", actor=worker)
    db.session.rollback()
    assert db.session.get(Popug, worker.id).role == "worker"


def test_last_active_admin_cannot_be_demoted(db):
    admin = make_popug(role="admin")
    for role in ("manager", "accountant", "worker"):
        with pytest.raises(ServiceError, match="The last active admin cannot be demoted."):
            service.change_role(admin.public_id, role, actor=admin)
    db.session.rollback()
    assert db.session.get(Popug, admin.id).role == "admin"
    # Keeping the role is not a demotion.
    assert service.change_role(admin.public_id, "admin", actor=admin).popug.role == "admin"


def test_last_active_admin_cannot_be_deactivated(db):
    admin = make_popug(role="admin")
    with pytest.raises(ServiceError, match="The last active admin cannot be deactivated."):
        service.set_active(admin.public_id, False, actor=admin)
    db.session.rollback()
    assert db.session.get(Popug, admin.id).active is True


def test_an_inactive_second_admin_does_not_count(db):
    admin = make_popug(role="admin")
    make_popug(role="admin", active=False)
    with pytest.raises(ServiceError):
        service.change_role(admin.public_id, "worker", actor=admin)
    with pytest.raises(ServiceError):
        service.set_active(admin.public_id, False, actor=admin)


def test_admin_can_be_demoted_when_another_active_admin_exists(db):
    first = make_popug(role="admin")
    second = make_popug(role="admin")
    service.change_role(first.public_id, "manager", actor=second)
    db.session.commit()
    assert first.role == "manager"
    # Now `second` is the last one.
    with pytest.raises(ServiceError):
        service.change_role(second.public_id, "worker", actor=second)


def test_admin_can_be_deactivated_when_another_active_admin_exists(db):
    first = make_popug(role="admin")
    second = make_popug(role="admin")
    service.set_active(second.public_id, False, actor=first)
    db.session.commit()
    assert second.active is False
    with pytest.raises(ServiceError):
        service.set_active(first.public_id, False, actor=first)


def test_a_deactivated_admin_can_be_demoted(db):
    admin = make_popug(role="admin")
    retired = make_popug(role="admin", active=False)
    service.change_role(retired.public_id, "worker", actor=admin)
    assert retired.role == "worker"


# --- deactivation and sessions -----------------------------------------------------------


def test_deactivation_ends_sessions_and_blocks_sign_in(db):
    admin = make_popug(role="admin")
    worker = make_popug(role="worker", username="kesha")
    session_id = worker.get_id()
    epoch = worker.session_epoch
    assert service.load_signed_in(session_id) is worker

    service.set_active(worker.public_id, False, actor=admin)
    db.session.commit()

    assert worker.active is False
    assert worker.session_epoch == epoch + 1
    assert service.load_signed_in(session_id) is None
    assert service.authenticate("kesha", BEAK) is None


def test_deactivating_twice_is_harmless(db):
    admin = make_popug(role="admin")
    worker = make_popug(role="worker")
    service.set_active(worker.public_id, False, actor=admin)
    epoch = worker.session_epoch
    service.set_active(worker.public_id, False, actor=admin)
    assert (worker.active, worker.session_epoch) == (False, epoch)


def test_reactivation(db):
    admin = make_popug(role="admin")
    worker = make_popug(role="worker", username="kesha")
    old_session = worker.get_id()
    service.set_active(worker.public_id, False, actor=admin)
    service.set_active(worker.public_id, True, actor=admin)
    db.session.commit()

    assert worker.active is True
    assert service.authenticate("kesha", BEAK) is worker
    assert service.load_signed_in(worker.get_id()) is worker
    # A session from before the deactivation stays dead.
    assert service.load_signed_in(old_session) is None


def test_only_active_admins_change_activity(db):
    worker = make_popug(role="worker")
    other = make_popug(role="worker")
    with pytest.raises(NotAllowed):
        service.set_active(other.public_id, False, actor=worker)
    with pytest.raises(NotFound):
        service.set_active(str(uuid.uuid4()), False, actor=make_popug(role="admin"))


def test_end_sessions_invalidates_the_session_id(db):
    worker = make_popug(role="worker")
    session_id = worker.get_id()
    service.end_sessions(worker)
    assert service.load_signed_in(session_id) is None
    assert service.load_signed_in(worker.get_id()) is worker


@pytest.mark.parametrize("session_id", ["", ".", "nonsense", None])
def test_load_signed_in_rejects_garbage(db, session_id):
    make_popug(role="worker")
    assert service.load_signed_in(session_id) is None


def test_load_signed_in_rejects_a_wrong_epoch(db):
    worker = make_popug(role="worker")
    assert service.load_signed_in(f"{worker.public_id}.{worker.session_epoch + 1}") is None
    assert service.load_signed_in(f"{worker.public_id}.x") is None


# --- authenticate ----------------------------------------------------------------------


def test_authenticate_right_beak(db):
    popug = make_popug(role="worker", username="kesha")
    assert service.authenticate("kesha", BEAK) is popug
    assert service.authenticate("KESHA", BEAK) is popug


@pytest.mark.parametrize("beak", ["", "a fine test beak ", "A fine test beak", "wrong beak"])
def test_authenticate_wrong_beak(db, beak):
    make_popug(role="worker", username="kesha")
    assert service.authenticate("kesha", beak) is None


def test_authenticate_unknown_user(db):
    make_popug(role="worker", username="kesha")
    assert service.authenticate("gosha", BEAK) is None
    assert service.authenticate("", BEAK) is None


def test_authenticate_inactive_user(db):
    make_popug(role="worker", username="kesha", active=False)
    assert service.authenticate("kesha", BEAK) is None


def test_unknown_user_costs_one_argon2_verification_like_a_wrong_beak(db, monkeypatch):
    """Similar timing: an unknown username is checked against a dummy hash of the same cost."""
    make_popug(role="worker", username="kesha")
    service._dummy_hash()  # warm the cache so only verifications are counted
    calls = []
    original = PasswordHasher.verify

    def counting_verify(self, hash_, password):
        calls.append(extract_parameters(hash_))
        return original(self, hash_, password)

    monkeypatch.setattr(PasswordHasher, "verify", counting_verify)
    assert service.authenticate("gosha", BEAK) is None
    assert service.authenticate("kesha", "wrong beak") is None
    assert len(calls) == 2
    unknown, wrong = calls
    assert (unknown.time_cost, unknown.memory_cost, unknown.parallelism) == (
        wrong.time_cost,
        wrong.memory_cost,
        wrong.parallelism,
    )


def test_dummy_hash_follows_every_cost_parameter(app, db, monkeypatch):
    """The dummy hash must be made with the current costs, including parallelism."""
    monkeypatch.setitem(app.config, "ARGON2_MEMORY_COST", 16)  # argon2 needs >= 8 × lanes
    monkeypatch.setitem(app.config, "ARGON2_PARALLELISM", 1)
    first = extract_parameters(service._dummy_hash())
    monkeypatch.setitem(app.config, "ARGON2_PARALLELISM", 2)
    second = extract_parameters(service._dummy_hash())
    assert (first.parallelism, second.parallelism) == (1, 2)


def test_authenticate_rehashes_when_the_cost_changes(app, db, monkeypatch):
    popug = make_popug(role="worker", username="kesha")
    old_hash = popug.beak_hash
    assert extract_parameters(old_hash).time_cost == app.config["ARGON2_TIME_COST"]

    monkeypatch.setitem(app.config, "ARGON2_TIME_COST", app.config["ARGON2_TIME_COST"] + 1)
    monkeypatch.setitem(app.config, "ARGON2_MEMORY_COST", app.config["ARGON2_MEMORY_COST"] * 2)
    assert service.authenticate("kesha", BEAK) is popug
    db.session.commit()
    db.session.expire_all()

    new_hash = db.session.get(Popug, popug.id).beak_hash
    assert new_hash != old_hash
    params = extract_parameters(new_hash)
    assert params.time_cost == app.config["ARGON2_TIME_COST"]
    assert params.memory_cost == app.config["ARGON2_MEMORY_COST"]
    assert PasswordHasher().verify(new_hash, BEAK)
    # Same cost again: no further rehash.
    assert service.authenticate("kesha", BEAK) is not None
    assert db.session.get(Popug, popug.id).beak_hash == new_hash


def test_wrong_beak_does_not_rehash(app, db, monkeypatch):
    popug = make_popug(role="worker", username="kesha")
    old_hash = popug.beak_hash
    monkeypatch.setitem(app.config, "ARGON2_TIME_COST", app.config["ARGON2_TIME_COST"] + 1)
    assert service.authenticate("kesha", "not the beak") is None
    assert popug.beak_hash == old_hash


def test_list_popugs_pages_by_username(db):
    for name in ("cc-c", "aa-a", "bb-b"):
        make_popug(role="worker", username=name)
    page = service.list_popugs(1, 2)
    assert [p.username for p in page.items] == ["aa-a", "bb-b"]
    assert page.total == 3
    assert [p.username for p in service.list_popugs(2, 2).items] == ["cc-c"]
