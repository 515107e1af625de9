"""Personal API tokens: created and shown once, stored hashed, revoked by their owner or an
admin, refused when expired or when their owner is deactivated, and in the audit trail."""

import hashlib
import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from app import clock
from app.audit import AuditEvent
from app.blueprints.auth import service as auth
from app.blueprints.auth.models import ApiToken
from app.errors import NotAllowed, NotFound, ServiceError
from tests.factories import make_token
from tests.helpers import bearer, signed_in_client

SECRET = re.compile(r"ates_[A-Za-z0-9_-]{43}")


def _me(client, secret):
    return client.get("/api/v1/me", headers=bearer(secret))


def test_a_token_is_stored_as_the_hash_of_its_secret_only(app, db, worker):
    new = auth.create_token(name="nightly", days=30, actor=worker)
    db.session.commit()
    assert SECRET.fullmatch(new.secret)
    stored = db.session.scalar(select(ApiToken))
    assert stored.secret_hash == hashlib.sha256(new.secret.encode()).hexdigest()
    assert stored.prefix == new.secret[:12]
    row = " ".join(map(str, db.session.execute(select(ApiToken.__table__)).one()))
    assert new.secret not in row


def test_two_tokens_never_share_a_secret(app, worker):
    assert make_token(worker) != make_token(worker)


@pytest.mark.parametrize(
    ("name", "days"), [("", 30), ("   ", 30), ("x" * 65, 30), ("tab\there", 30), ("ok", 7)]
)
def test_a_token_needs_a_name_and_an_offered_expiry(app, worker, name, days):
    with pytest.raises(ServiceError):
        auth.create_token(name=name, days=days, actor=worker)


def test_the_token_acts_as_its_owner(app, client, worker):
    response = _me(client, make_token(worker))
    assert response.status_code == 200
    assert response.get_json()["username"] == worker.username
    assert response.get_json()["role"] == "worker"


def test_a_token_follows_its_owners_current_role(app, db, client, worker, admin):
    secret = make_token(worker)
    auth.change_role(worker.public_id, "manager", actor=admin)
    db.session.commit()
    assert _me(client, secret).get_json()["role"] == "manager"


def test_a_revoked_token_stops_working(app, db, client, worker):
    secret = make_token(worker)
    token = db.session.scalar(select(ApiToken))
    auth.revoke_token(token.public_id, actor=worker)
    db.session.commit()
    response = _me(client, secret)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_a_token_expires_on_the_clock(app, client, worker):
    secret = make_token(worker, days=30)
    clock.freeze(clock.now() + timedelta(days=30) - timedelta(seconds=1))
    assert _me(client, secret).status_code == 200
    clock.freeze(clock.now() + timedelta(seconds=1))
    assert _me(client, secret).status_code == 401


def test_a_deactivated_owners_token_stops_working_and_works_again_when_reactivated(
    app, db, client, worker, admin
):
    secret = make_token(worker)
    auth.set_active(worker.public_id, False, actor=admin)
    db.session.commit()
    assert _me(client, secret).status_code == 401
    auth.set_active(worker.public_id, True, actor=admin)
    db.session.commit()
    assert _me(client, secret).status_code == 200


def test_the_last_use_is_recorded(app, db, client, worker):
    secret = make_token(worker)
    token = db.session.scalar(select(ApiToken))
    assert token.last_used_at is None
    at = clock.now()
    clock.freeze(at)
    assert _me(client, secret).status_code == 200
    db.session.expire_all()
    assert db.session.get(ApiToken, token.id).last_used_at == at


def test_only_the_owner_or_an_admin_revokes(app, db, worker, accountant, admin):
    make_token(worker)
    token = db.session.scalar(select(ApiToken))
    with pytest.raises(NotAllowed):
        auth.revoke_token(token.public_id, actor=accountant)
    for unknown in ("00000000-0000-4000-8000-000000000000", "1", ""):
        with pytest.raises(NotFound):
            auth.revoke_token(unknown, actor=admin)
    assert auth.revoke_token(token.public_id, actor=admin).revoked_at is not None


def test_creating_and_revoking_are_in_the_audit_trail(app, db, worker, admin):
    secret = make_token(worker, name="ci")
    token = db.session.scalar(select(ApiToken))
    auth.revoke_token(token.public_id, actor=admin)
    db.session.commit()
    events = db.session.scalars(select(AuditEvent).order_by(AuditEvent.id)).all()
    created, revoked = [e for e in events if e.action.startswith("token.")]
    assert (created.action, created.actor_username, created.subject_id) == (
        "token.create",
        worker.username,
        worker.id,
    )
    assert (revoked.action, revoked.actor_username, revoked.subject_id) == (
        "token.revoke",
        admin.username,
        worker.id,
    )
    assert secret not in created.description and secret[:12] in created.description
    assert secret not in str(created.params)


# --- the pages --------------------------------------------------------------------------------


def test_the_tokens_page_creates_a_token_and_shows_it_once(app, db, worker):
    client = signed_in_client(app, worker)
    page = client.get("/account/tokens").get_data(as_text=True)
    assert "API tokens" in page and "Create token" in page
    response = client.post("/account/tokens", data={"name": "nightly", "days": "90"})
    assert response.status_code == 201
    shown = SECRET.findall(response.get_data(as_text=True))
    assert len(shown) == 1
    assert 'data-copy="#new-token"' in response.get_data(as_text=True)
    again = client.get("/account/tokens").get_data(as_text=True)
    assert shown[0] not in again
    assert "nightly" in again and shown[0][:12] in again
    assert _me(app.test_client(), shown[0]).status_code == 200


def test_the_tokens_page_refuses_a_bad_expiry(app, worker):
    client = signed_in_client(app, worker)
    response = client.post("/account/tokens", data={"name": "x", "days": "7"})
    assert response.status_code == 422
    assert not SECRET.findall(response.get_data(as_text=True))


def test_my_account_links_to_the_tokens_page(app, worker):
    page = signed_in_client(app, worker).get("/account").get_data(as_text=True)
    assert 'href="/account/tokens"' in page


def test_the_owner_revokes_from_the_tokens_page(app, db, client, worker):
    secret = make_token(worker, name="old")
    token = db.session.scalar(select(ApiToken))
    response = signed_in_client(app, worker).post(f"/tokens/{token.public_id}/revoke")
    assert response.status_code == 303
    assert response.headers["Location"].endswith("/account/tokens")
    assert _me(client, secret).status_code == 401


def test_another_popug_cannot_revoke_a_token(app, db, client, worker, accountant):
    secret = make_token(worker)
    token = db.session.scalar(select(ApiToken))
    response = signed_in_client(app, accountant).post(f"/tokens/{token.public_id}/revoke")
    assert response.status_code == 403
    assert _me(client, secret).status_code == 200


def test_an_admin_sees_and_revokes_a_popugs_tokens_on_their_page(app, db, client, worker, admin):
    secret = make_token(worker, name="worker-script")
    token = db.session.scalar(select(ApiToken))
    admin_client = signed_in_client(app, admin)
    page = admin_client.get(f"/popugs/{worker.public_id}").get_data(as_text=True)
    assert "worker-script" in page and f"/tokens/{token.public_id}/revoke" in page
    response = admin_client.post(f"/tokens/{token.public_id}/revoke")
    assert response.headers["Location"].endswith(f"/popugs/{worker.public_id}")
    assert _me(client, secret).status_code == 401


def test_the_tokens_page_speaks_russian(app, worker):
    client = signed_in_client(app, worker)
    page = client.get("/account/tokens", headers={"Accept-Language": "ru"})
    text = page.get_data(as_text=True)
    assert "API tokens" not in text.split("<main", 1)[-1]
