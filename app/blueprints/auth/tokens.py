"""Personal API tokens: created by their owner (the secret shown once), listed, revoked by
their owner or an admin, and checked on every API request. Reached through auth.service.

A token's secret is `ates_` and 43 URL-safe characters (256 random bits); only its SHA-256
is stored, so finding a token is one indexed lookup of the hash (a timing difference tells
nothing about a secret nobody can guess).
"""

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update

from app import audit, clock
from app.errors import NotAllowed, ServiceError, found
from app.extensions import db
from app.i18n import N_

from .models import ApiToken, Popug

SECRET_PREFIX = "ates_"
PREFIX_SHOWN = 12  # characters of the secret kept to recognise it: "ates_" and 7 more
EXPIRY_DAYS = (30, 90, 365)
NAME_MAX = 64
# Recording every use would write on every read; a token's last use is kept to the minute.
LAST_USED_EVERY = timedelta(minutes=1)
NO_SUCH_TOKEN = N_("No such API token.")


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8", "surrogatepass")).hexdigest()


@dataclass(frozen=True)
class NewToken:
    """A token just created and its secret, which is never available again."""

    token: ApiToken
    secret: str


def create_token(*, name: str, days: int, actor: Popug) -> NewToken:
    """A new token for `actor`, valid for one of EXPIRY_DAYS days; recorded in the audit
    trail. The secret is returned here and nowhere else."""
    name = (name or "").strip()
    if not name:
        raise ServiceError(N_("Give the token a name."), field="name")
    if len(name) > NAME_MAX or any(ord(char) < 32 for char in name):
        raise ServiceError(
            N_("Keep the name to %(max)s characters, without control characters."),
            field="name",
            max=NAME_MAX,
        )
    if days not in EXPIRY_DAYS:
        raise ServiceError(
            N_("Choose an expiry of %(choices)s days."),
            field="days",
            choices=", ".join(map(str, EXPIRY_DAYS)),
        )
    secret = SECRET_PREFIX + secrets.token_urlsafe(32)
    now = clock.now()
    token = ApiToken(
        popug_id=actor.id,
        name=name,
        prefix=secret[:PREFIX_SHOWN],
        secret_hash=hash_secret(secret),
        created_at=now,
        expires_at=now + timedelta(days=days),
    )
    db.session.add(token)
    db.session.flush()
    audit.record(
        actor, "token.create", {"name": name, "prefix": token.prefix, "num": days}, subject=actor
    )
    return NewToken(token, secret)


def tokens_of(popug_id: int) -> list[ApiToken]:
    """A popug's tokens, newest first, revoked and expired ones included."""
    return list(
        db.session.scalars(
            select(ApiToken).where(ApiToken.popug_id == popug_id).order_by(ApiToken.id.desc())
        )
    )


def revoke_token(public_id: str, *, actor: Popug) -> ApiToken:
    """Revoke a token: its owner or an admin may; revoking twice changes nothing more."""
    token = db.session.scalar(select(ApiToken).where(ApiToken.public_id == public_id))
    token = found(token, NO_SUCH_TOKEN)
    if token.popug_id != actor.id and actor.role != "admin":
        raise NotAllowed(N_("Only the token's owner or an admin may revoke it."))
    if token.revoked_at is None:
        token.revoked_at = clock.now()
        db.session.flush()
        owner = db.session.get(Popug, token.popug_id)
        audit.record(
            actor,
            "token.revoke",
            {"name": token.name, "prefix": token.prefix, "owner": owner.username},
            subject=owner,
        )
    return token


@dataclass(frozen=True)
class TokenUse:
    """Who a valid token acts as, and whether its last use is worth recording."""

    token_id: int
    popug_id: int
    stale: bool


def authenticate(secret: str) -> TokenUse | None:
    """The token with this secret, if not revoked, not expired, and its owner active."""
    if not secret.startswith(SECRET_PREFIX) or len(secret) > 200:
        return None
    row = db.session.execute(
        select(ApiToken, Popug.active)
        .join(Popug, Popug.id == ApiToken.popug_id)
        .where(ApiToken.secret_hash == hash_secret(secret))
    ).first()
    now = clock.now()
    if row is None or not row.active or not row.ApiToken.is_live(now):
        return None
    token = row.ApiToken
    stale = token.last_used_at is None or now - token.last_used_at >= LAST_USED_EVERY
    return TokenUse(token.id, token.popug_id, stale)


def record_use(token_id: int, at: datetime | None = None) -> None:
    """Note that a token was used now (flushed, in the caller's transaction)."""
    db.session.execute(
        update(ApiToken)
        .where(ApiToken.id == token_id)
        .values(last_used_at=at or clock.now())
        .execution_options(synchronize_session=False)
    )
