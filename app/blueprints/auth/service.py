"""Auth's public face: popugs, roles, beak-shape hashing and sign-in checks.

Functions take plain arguments and an explicit `actor`, flush but never commit, and raise
ServiceError subclasses with messages fit for the user.
"""

import re
from dataclasses import dataclass
from functools import lru_cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from email_validator import EmailNotValidError, validate_email
from flask import current_app
from sqlalchemy import and_, bindparam, func, or_, select
from sqlalchemy.exc import IntegrityError

from app import audit, signals
from app.access import ACCESS, ASSIGNABLE_ROLES, ROLES
from app.blueprints.accounting import posting
from app.blueprints.accounting import queries as accounting_queries
from app.db import advisory_lock
from app.errors import NotAllowed, ServiceError, found, validated
from app.extensions import db
from app.i18n import LOCALES, N_
from app.paging import counted_page
from app.signals import ask

from .models import Popug
from .tokens import (  # noqa: F401
    EXPIRY_DAYS,
    NewToken,
    TokenUse,
    create_token,
    record_use,
    revoke_token,
    tokens_of,
)
from .tokens import authenticate as authenticate_token  # noqa: F401

USERNAME_RE = re.compile(r"^[a-z0-9_-]{3,32}$")
BEAK_MIN, BEAK_MAX = 8, 200
ADMINS_LOCK = "popug-admins"


def _hasher() -> PasswordHasher:
    cfg = current_app.config
    return PasswordHasher(
        time_cost=cfg["ARGON2_TIME_COST"],
        memory_cost=cfg["ARGON2_MEMORY_COST"],
        parallelism=cfg["ARGON2_PARALLELISM"],
    )


def hash_beak(beak_shape: str) -> str:
    return _hasher().hash(beak_shape)


def normalise_username(username: str) -> str:
    return (username or "").strip().lower()


def validate_username(username: str) -> str:
    username = normalise_username(username)
    if not USERNAME_RE.match(username):
        raise ServiceError(
            N_("Use 3 to 32 characters: lower-case letters, digits, '_' or '-'."), field="username"
        )
    return username


def validate_popug_email(email: str) -> str:
    try:
        result = validate_email((email or "").strip(), check_deliverability=False)
    except EmailNotValidError:
        # Not the validator's reason: it is English only.
        raise ServiceError(
            N_("Enter a valid e-mail address, such as %(example)s."),
            field="email",
            example="kesha@uberpopug.inc",
        ) from None
    return result.normalized.lower()


def validate_role(role: str) -> str:
    if role not in ROLES:
        raise ServiceError(N_("Choose one of: %(roles)s."), field="role", roles=", ".join(ROLES))
    return role


def validate_beak_shape(beak_shape: str) -> str:
    if not beak_shape or not BEAK_MIN <= len(beak_shape) <= BEAK_MAX:
        raise ServiceError(
            N_("Describe the beak in %(min)s to %(max)s characters."),
            field="beak_shape",
            min=BEAK_MIN,
            max=BEAK_MAX,
        )
    return beak_shape


def create_popug(
    *, username: str, email: str, role: str, beak_shape: str, actor: Popug | None
) -> Popug:
    """Create a popug and, in the same transaction, open its money account.

    `actor` is the admin doing it, or None for the command line and the demo seed; the
    audit trail records it either way.
    The beak shape is hashed with argon2id and never kept in clear. Usernames and
    e-mails are unique ignoring case. If opening the account fails, the caller's
    rollback leaves no popug behind.
    """
    if actor is not None:
        _require_admin(actor)
    username, email, role, beak_shape = validated(
        (validate_username, username),
        (validate_popug_email, email),
        (validate_role, role),
        (validate_beak_shape, beak_shape),
    )
    if db.session.scalar(select(Popug.id).where(Popug.username == username)):
        raise ServiceError(N_("This username is taken."), field="username")
    if db.session.scalar(select(Popug.id).where(Popug.email == email)):
        raise ServiceError(N_("A popug with this e-mail already exists."), field="email")
    popug = Popug(username=username, email=email, role=role, beak_hash=hash_beak(beak_shape))
    db.session.add(popug)
    try:
        db.session.flush()
    except IntegrityError:  # a concurrent create won the race for the same name or e-mail
        raise ServiceError(N_("This username or e-mail is taken."), field="username") from None
    posting.open_account(popug.id, popug.public_id, popug.username, popug.email)
    audit.record(
        actor, "popug.create", {"username": popug.username, "role": popug.role}, subject=popug
    )
    return popug


def public_id_of(username: str) -> str | None:
    """The public id of the popug with this username (any case), or None: which popug a
    sign-in is for, before its beak shape is checked."""
    username = normalise_username(username)
    if "\x00" in username:  # no username holds NUL, and PostgreSQL text cannot
        return None
    return db.session.scalar(select(Popug.public_id).where(Popug.username == username))


def authenticate(username: str, beak_shape: str) -> Popug | None:
    """The active popug with this username and beak shape, or None.

    Unknown usernames cost the same argon2 verification as wrong beaks, so timing does
    not tell which usernames exist. Hashes made with old cost settings are upgraded.
    """
    hasher = _hasher()
    username = normalise_username(username)
    # No username contains NUL (and PostgreSQL text cannot hold one): unknown, not a query.
    popug = (
        None
        if "\x00" in username
        else db.session.scalar(select(Popug).where(Popug.username == username))
    )
    stored = popug.beak_hash if popug else _dummy_hash()
    try:
        hasher.verify(stored, beak_shape or "")
    except (VerificationError, InvalidHashError):
        return None
    if popug is None or not popug.active:
        return None
    if hasher.check_needs_rehash(popug.beak_hash):
        popug.beak_hash = hasher.hash(beak_shape)
        db.session.flush()
    return popug


def _dummy_hash() -> str:
    cache = current_app.extensions.setdefault("ates_dummy_beak_hash", {})
    cfg = current_app.config
    key = (cfg["ARGON2_TIME_COST"], cfg["ARGON2_MEMORY_COST"], cfg["ARGON2_PARALLELISM"])
    if key not in cache:
        cache[key] = hash_beak("not a real beak shape")
    return cache[key]


@lru_cache(maxsize=1)
def _signed_in_query():
    """Built once: every request runs it, and building a statement and its cache key anew
    cost about as much as running it. Other blueprints add what every page shows of the
    popug (signed_in_extras_wanted): (statement, their names)."""
    extras: dict = {}
    for answer in ask(signals.signed_in_extras_wanted, popug_id_column=Popug.id):
        extras.update(answer)
    names = tuple(sorted(extras))
    statement = select(
        Popug,
        accounting_queries.balance_of_popug(Popug.id),
        *(extras[name].label(name) for name in names),
    ).where(Popug.public_id == bindparam("public_id"))
    return statement, names


@lru_cache(maxsize=1)
def _signed_in_alone():
    """The popug without the top bar's extras (built once, as above)."""
    return select(Popug).where(Popug.public_id == bindparam("public_id"))


def load_signed_in(session_id: str, extras: bool = True) -> Popug | None:
    """The popug behind a session id "<public id>.<epoch>", if still valid and active.

    Its balance comes in the same statement (every page shows it in the top bar) and is
    kept as `loaded_balance`: the balance as of the request's first read (None without an
    account); so do other blueprints' extras, in `loaded_extras` ({name: value}). Without
    `extras` (a background request: a live check renders no top bar) the popug alone is
    read, `loaded_balance` is None and `loaded_extras` empty: whoever needs them reads
    them."""
    public_id, _, epoch = (session_id or "").partition(".")
    if extras:
        statement, names = _signed_in_query()
        row = db.session.execute(statement, {"public_id": public_id}).first()
    else:
        names = ()
        row = db.session.execute(_signed_in_alone(), {"public_id": public_id}).first()
        row = row and (row[0], None)
    if row is None:
        return None
    popug, balance, *values = row
    if not popug.active or str(popug.session_epoch) != epoch:
        return None
    popug.loaded_balance = balance
    popug.loaded_extras = dict(zip(names, values, strict=True))
    return popug


def end_sessions(popug: Popug) -> None:
    """Invalidate every session of this popug (sign-out, deactivation)."""
    popug.session_epoch += 1
    db.session.flush()


def get_popug(public_id: str) -> Popug:
    popug = db.session.scalar(select(Popug).where(Popug.public_id == public_id))
    return found(popug, N_("No such popug."))


def get_popug_by_username(username: str) -> Popug:
    username = normalise_username(username)
    popug = None
    if "\x00" not in username:
        popug = db.session.scalar(select(Popug).where(Popug.username == username))
    return found(popug, N_("No such popug."))


def get_popug_by_id(popug_id: int) -> Popug:
    return found(db.session.get(Popug, popug_id), N_("No such popug."))


SEARCH_MAX = 254  # characters of a popugs search kept (the longest e-mail); more is cut


def parse_popug_search(value: str | None) -> str:
    """The Popugs list's search as it is matched: trimmed, lower-case (usernames and e-mails
    are stored so), at most SEARCH_MAX characters, without NUL; "" for no search."""
    return (value or "").replace("\x00", "").strip().lower()[:SEARCH_MAX]


def _starts_with(column, prefix: str):
    """`column` begins with `prefix`, as an index can answer it: on PostgreSQL a LIKE with
    its wildcards escaped (the *_pattern indexes of Popug serve it under any collation);
    on SQLite, whose LIKE ignores an index of plain text, the range [prefix, prefix + the
    highest character), exact under its binary ordering."""
    if db.engine.dialect.name == "postgresql":
        return column.startswith(prefix, autoescape=True)
    return and_(column >= prefix, column < prefix + "\U0010ffff")


def list_popugs(page: int, per_page: int, search: str = ""):
    """A page of popugs by username; with a `search`, only those whose username or e-mail
    begins with it (two index range scans, however many popugs there are)."""
    query = select(Popug).order_by(Popug.username)
    if not search:
        return counted_page(
            db.session, query, page, per_page, count=select(func.count(Popug.id)), entities=True
        )
    query = query.where(
        or_(_starts_with(Popug.username, search), _starts_with(Popug.email, search))
    )
    count = select(func.count()).select_from(query.order_by(None).subquery())
    return counted_page(db.session, query, page, per_page, count=count, entities=True)


def _require_admin(actor: Popug) -> None:
    if actor.role not in ACCESS["popugs"] or not actor.active:
        raise NotAllowed(N_("Only admins manage popugs."))


def _other_active_admins(popug: Popug) -> int:
    return db.session.scalar(
        select(func.count(Popug.id)).where(
            Popug.role == "admin", Popug.active.is_(True), Popug.id != popug.id
        )
    )


def facts_about(popug_id: int) -> dict[str, int]:
    """Figures other blueprints keep about a popug, for the admin's popug page: {label:
    number} (tasks: open and done tasks)."""
    found: dict[str, int] = {}
    for answer in ask(signals.popug_facts_wanted, popug_id=popug_id):
        found.update(answer)
    return found


@dataclass(frozen=True)
class Handover:
    """What deactivating a popug would hand over: their open tasks and the fees charged."""

    tasks: int
    fees: int


def handover_preview(popug_id: int) -> Handover:
    answers = ask(signals.handover_wanted, popug_id=popug_id)
    return Handover(sum(a[0] for a in answers), sum(a[1] for a in answers))


@dataclass(frozen=True)
class PopugChange:
    """What a change to a popug did: the popug, and how many of their open tasks went to
    others because they can no longer take tasks."""

    popug: Popug
    tasks_handed_over: int = 0


def _takes_tasks(popug: Popug) -> bool:
    return popug.active and popug.role in ASSIGNABLE_ROLES


def _hand_over_tasks(popug: Popug, could_take_tasks: bool) -> int:
    """Move the open tasks of a popug who just stopped being able to take them (tasks
    does, told by popug_stopped_taking_tasks); how many moved."""
    if not could_take_tasks or _takes_tasks(popug):
        return 0
    db.session.flush()
    return sum(ask(signals.popug_stopped_taking_tasks, popug_id=popug.id))


def change_role(public_id: str, role: str, *, actor: Popug) -> PopugChange:
    """Change a popug's role; the last active admin cannot be demoted. A worker or
    accountant made manager or admin hands their open tasks over."""
    _require_admin(actor)
    role = validate_role(role)
    advisory_lock(ADMINS_LOCK)
    popug = get_popug(public_id)
    could_take_tasks, before = _takes_tasks(popug), popug.role
    if (
        popug.role == "admin"
        and role != "admin"
        and popug.active
        and not _other_active_admins(popug)
    ):
        raise ServiceError(N_("The last active admin cannot be demoted."), field="role")
    popug.role = role
    db.session.flush()
    change = PopugChange(popug, _hand_over_tasks(popug, could_take_tasks))
    if before != role:
        signals.tell(
            signals.role_changed, popug_id=popug.id, actor_id=actor.id, before=before, after=role
        )
    _record(
        actor,
        "popug.role",
        change,
        {"username": popug.username, "before": before, "after": popug.role},
    )
    return change


def set_active(public_id: str, active: bool, *, actor: Popug) -> PopugChange:
    """Deactivate or reactivate a popug. Deactivation ends its sessions, stops new tasks
    landing on it and hands its open tasks over; its history stays.
    The last active admin cannot be deactivated."""
    _require_admin(actor)
    advisory_lock(ADMINS_LOCK)
    popug = get_popug(public_id)
    could_take_tasks = _takes_tasks(popug)
    if not active and popug.role == "admin" and popug.active and not _other_active_admins(popug):
        raise ServiceError(N_("The last active admin cannot be deactivated."))
    if popug.active != active:
        popug.active = active
        if not active:
            end_sessions(popug)
    db.session.flush()
    change = PopugChange(popug, _hand_over_tasks(popug, could_take_tasks))
    action = "popug.activate" if active else "popug.deactivate"
    _record(actor, action, change, {"username": popug.username})
    return change


@dataclass(frozen=True)
class CredentialsChange:
    """What an admin changed of a popug's sign-in details: the popug, and which fields
    ("email", "beak_shape")."""

    popug: Popug
    fields: tuple[str, ...]


def change_email(public_id: str, email: str, *, actor: Popug) -> CredentialsChange:
    """Give a popug a new e-mail address, checked and unique (ignoring case) as when a popug
    is created; accounting's copy (where payout e-mails go) follows in the same
    transaction. An admin may change their own. The address they already have is refused,
    so every change recorded and told is a real one."""
    _require_admin(actor)
    email = validate_popug_email(email)
    popug = get_popug(public_id)
    previous = popug.email
    if email == previous:
        raise ServiceError(N_("This is already their e-mail."), field="email")
    taken = select(Popug.id).where(Popug.email == email, Popug.id != popug.id)
    if db.session.scalar(taken):
        raise ServiceError(N_("A popug with this e-mail already exists."), field="email")
    popug.email = email
    try:
        with db.session.begin_nested():  # a concurrent change won the race for the address
            db.session.flush()
    except IntegrityError:
        raise ServiceError(N_("A popug with this e-mail already exists."), field="email") from None
    posting.change_account_email(popug.id, email)
    change = CredentialsChange(popug, ("email",))
    _credentials_changed(actor, change, previous_email=previous)
    audit.record(
        actor,
        "popug.email",
        {"username": popug.username, "previous": previous, "email": email},
        subject=popug,
    )
    return change


def set_beak_shape(public_id: str, beak_shape: str, *, actor: Popug) -> CredentialsChange:
    """Give a popug a new beak shape, checked as when a popug is created and kept only as
    its hash. Every session of the popug ends (their API tokens stay: revoking them is
    its own action). Their current beak shape is refused: a reset must change it.
    An admin may set their own; keeping this browser signed in is the caller's choice."""
    _require_admin(actor)
    beak_shape = validate_beak_shape(beak_shape)
    popug = get_popug(public_id)
    try:
        same = _hasher().verify(popug.beak_hash, beak_shape)
    except (VerificationError, InvalidHashError):
        same = False
    if same:
        raise ServiceError(
            N_("This is already their beak shape. Choose a new one."), field="beak_shape"
        )
    popug.beak_hash = hash_beak(beak_shape)
    end_sessions(popug)
    change = CredentialsChange(popug, ("beak_shape",))
    _credentials_changed(actor, change, previous_email=None)
    audit.record(actor, "popug.beak_shape", {"username": popug.username}, subject=popug)
    return change


def _credentials_changed(actor: Popug, change: CredentialsChange, previous_email) -> None:
    signals.tell(
        signals.credentials_changed,
        popug_id=change.popug.id,
        actor_id=actor.id,
        fields=change.fields,
        previous_email=previous_email,
    )


def _record(actor, action: str, change: PopugChange, params: dict) -> None:
    """The audit trail's line for a change to a popug, with how many of their open tasks
    it handed over."""
    if change.tasks_handed_over:
        params = {**params, "handed_over": change.tasks_handed_over}
    audit.record(actor, action, params, subject=change.popug)


def eligible_assignees():
    """SELECT of the ids of popugs a task may be assigned to: active workers and accountants."""
    return select(Popug.id).where(Popug.active.is_(True), Popug.role.in_(ASSIGNABLE_ROLES))


def popug_ids():
    """SELECT of every popug's id (popugs are never deleted)."""
    return select(Popug.id)


def username_of(popug_id_column):
    """The username of the popug in `popug_id_column`, as a correlated scalar subquery: a
    page of tasks gets its assignees' names in the same statement as the tasks."""
    return select(Popug.username).where(Popug.id == popug_id_column).scalar_subquery()


def email_of(popug_id_column):
    """The e-mail address of the popug in `popug_id_column`, as a correlated scalar subquery
    (notifications queue e-mails set-based, one INSERT … SELECT)."""
    return select(Popug.email).where(Popug.id == popug_id_column).scalar_subquery()


def usernames(popug_ids) -> dict[int, str]:
    """{popug id: username} for a page's worth of ids, in one query."""
    ids = set(popug_ids)
    if not ids:
        return {}
    return dict(db.session.execute(select(Popug.id, Popug.username).where(Popug.id.in_(ids))).all())


def set_locale(popug: Popug, locale: str) -> Popug:
    """A popug's own choice of language: one of app.i18n.LOCALES, anything else refused."""
    if locale not in LOCALES:
        raise ServiceError(N_("Choose English or Russian."), field="locale")
    popug.locale = locale
    db.session.flush()
    return popug


def note_browser_locale(popug: Popug, locale: str) -> None:
    """Keep the language a popug's browser asks for at sign-in: what aTES writes to them
    in (payout e-mails) until they choose one."""
    if locale in LOCALES and popug.browser_locale != locale:
        popug.browser_locale = locale
        db.session.flush()


def locales_of(popug_ids) -> dict[int, str | None]:
    """{popug id: their chosen language, else their browser's at their last sign-in, else
    None} (accounting: the language of payout e-mails)."""
    language = func.coalesce(Popug.locale, Popug.browser_locale)
    rows = db.session.execute(select(Popug.id, language).where(Popug.id.in_(popug_ids)))
    return dict(rows.all())
