"""Counting sign-in guesses, so that guessing is slow but no one can lock a colleague out.

Every guess is counted before it is verified, atomically, in the limiter's storage (one
increment per counter, committed at once), so N guesses sent at the same moment cost N; a
guess that signs in gives its counts back, so only failures use the limits up.

Which counters a guess counts against depends on where it comes from
(docs/security-sign-in.md):

- from a browser that has signed in as that popug before (it holds a signed "known
  browser" cookie naming the popug): that browser's own counter for the username only,
  SIGN_IN_LIMIT_PER_USERNAME. Guesses sent from anywhere else never hold it back.
- from anywhere else: its address (SIGN_IN_LIMIT_PER_ADDRESS, all usernames together), the
  username from that address (SIGN_IN_LIMIT_PER_USERNAME), and the username from every
  address together (SIGN_IN_LIMIT_PER_USERNAME_TOTAL, looser: it bounds guessing spread over
  many addresses, and one address alone cannot reach it).
"""

import secrets

from flask import current_app, request
from flask_limiter.util import get_remote_address
from itsdangerous import BadSignature, TimestampSigner, URLSafeTimedSerializer
from limits import RateLimitItem, parse
from limits.errors import StorageError

from app import clock
from app.extensions import limiter

# How many popugs one browser remembers (a shared desk computer), most recent first.
KNOWN_POPUGS_PER_BROWSER = 5

Limits = list[tuple[RateLimitItem, tuple[str, ...]]]


class _ClockSigner(TimestampSigner):
    """Signs with aTES's "now", so a cookie's age is measured on the one clock."""

    def get_timestamp(self) -> int:
        return int(clock.now().timestamp())


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(
        current_app.config["SECRET_KEY"], salt="ates.known-browser", signer=_ClockSigner
    )


def _max_age() -> int:
    return current_app.config["KNOWN_BROWSER_DAYS"] * 24 * 3600


def _known_browser() -> dict | None:
    """The request's known-browser cookie, {"browser": token, "popugs": [public ids]}, if
    aTES signed it within KNOWN_BROWSER_DAYS; else None (missing, forged, expired)."""
    value = request.cookies.get(current_app.config["KNOWN_BROWSER_COOKIE_NAME"])
    if not value:
        return None
    try:
        known = _serializer().loads(value, max_age=_max_age())
    except BadSignature:  # SignatureExpired is one
        return None
    if (
        not isinstance(known, dict)
        or not isinstance(known.get("browser"), str)
        or not isinstance(known.get("popugs"), list)
    ):
        return None
    return known


def limits_for(username: str, public_id: str | None) -> Limits:
    """The counters a guess at `username` (whose popug's public id is `public_id`, None for
    an unknown username) counts against, from this request's browser and address."""
    config = current_app.config
    per_username = parse(config["SIGN_IN_LIMIT_PER_USERNAME"])
    name = username[:64]
    known = _known_browser()
    if public_id is not None and known is not None and public_id in known["popugs"]:
        return [(per_username, ("sign-in-browser", name, known["browser"][:32]))]
    address = get_remote_address()
    return [
        (parse(config["SIGN_IN_LIMIT_PER_ADDRESS"]), ("sign-in-address", address)),
        (per_username, ("sign-in-username-address", name, address)),
        (parse(config["SIGN_IN_LIMIT_PER_USERNAME_TOTAL"]), ("sign-in-username", name)),
    ]


def count(limits: Limits) -> bool:
    """Count a guess against `limits`; False when one is used up (the counters after it are
    not touched): the guess is not verified at all."""
    return all(limiter.limiter.hit(item, *keys) for item, keys in limits)


def refund(limits: Limits) -> None:
    """Give a guess that signed in its counts back. (If the counters went out of reach
    meanwhile the guess stays counted: the popug is signed in all the same.)"""
    try:
        for item, keys in limits:
            key = item.key_for(*keys)
            if limiter.storage.get(key) > 0:  # not a window that has just expired
                limiter.storage.incr(key, item.get_expiry(), amount=-1)
    except StorageError as error:
        current_app.logger.warning("Sign-in counts not refunded: %r", error.storage_error)


def remember_browser(response, public_id: str) -> None:
    """After a sign-in: the browser is known to this popug from now on (KNOWN_BROWSER_DAYS
    from this sign-in), keeping its own token and the other popugs it knows."""
    config = current_app.config
    known = _known_browser() or {"browser": secrets.token_urlsafe(16), "popugs": []}
    popugs = [public_id] + [other for other in known["popugs"] if other != public_id]
    value = _serializer().dumps(
        {"browser": known["browser"], "popugs": popugs[:KNOWN_POPUGS_PER_BROWSER]}
    )
    response.set_cookie(
        config["KNOWN_BROWSER_COOKIE_NAME"],
        value,
        max_age=_max_age(),
        path="/",
        secure=config["SESSION_COOKIE_SECURE"],
        httponly=True,
        samesite="Lax",
    )
