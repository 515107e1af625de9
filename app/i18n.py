"""English and Russian: which language a request speaks, and how dates and numbers read in it.

The language is the signed-in popug's own choice (`popugs.locale`), else the best match of
the browser's Accept-Language, else English. Texts are gettext messages (Flask-Babel, the
catalogues in app/translations/); services write theirs in English, marked with `N_`, and
the routes, templates and error handlers that show them translate them (`ServiceError`
keeps its message's parameters apart for that).

English keeps the formats aTES always had (ISO dates, `2026-03-03 09:05`, `$1,234.56`);
every other language formats with Babel's data for it (CLDR).
"""

import os
from datetime import date, datetime
from pathlib import Path

from babel.dates import format_date, format_datetime, format_skeleton
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_decimal
from flask import has_request_context, request, session
from flask_babel import Babel, get_locale
from flask_login import current_user

from app import clock

LOCALES = ("en", "ru")
DEFAULT_LOCALE = "en"
# The session key of the language chosen before signing in (the sign-in page's switch).
CHOSEN_LOCALE = "locale"
# Each language's name in itself, for the top bar's switch.
LOCALE_NAMES = {"en": "English", "ru": "Русский"}

babel = Babel()


def N_(message: str) -> str:  # noqa: N802 - gettext's naming
    """Mark a message for the catalogues without translating it here: it is stored or
    raised in English and translated where it is shown."""
    return message


# Stored codes as people read them (`code|label("role")` in templates).
LABELS = {
    "role": {
        "admin": N_("admin"),
        "manager": N_("manager"),
        "accountant": N_("accountant"),
        "worker": N_("worker"),
    },
    # The same codes as choices in the popug forms.
    "role_choice": {
        "admin": N_("Admin"),
        "manager": N_("Manager"),
        "accountant": N_("Accountant"),
        "worker": N_("Worker"),
    },
    "status": {"open": N_("open"), "done": N_("done")},
    "entry": {"assign_fee": N_("Assign fee"), "reward": N_("Reward"), "payout": N_("Payout")},
    "filter": {
        "all": N_("All"),
        "open": N_("Open"),
        "done": N_("Done"),
        "mine": N_("Mine"),
        "created": N_("Created by me"),
    },
    "sort": {
        "newest": N_("Newest first"),
        "oldest": N_("Oldest first"),
        "fee-high": N_("Highest fee"),
        "fee-low": N_("Lowest fee"),
        "reward-high": N_("Highest reward"),
        "reward-low": N_("Lowest reward"),
    },
    "shuffle": {
        "queued": N_("queued"),
        "running": N_("running"),
        "done": N_("done"),
        "failed": N_("failed"),
    },
    "field": {"title": N_("Title"), "jira_id": N_("Jira ID"), "description": N_("Description")},
    "mail": {"pending": N_("Pending"), "sent": N_("Sent"), "logged": N_("Logged")},
    # How a popug is e-mailed their notifications (notifications.models.EmailChoice).
    "email": {"right_away": N_("Right away"), "daily": N_("Once a day"), "never": N_("Never")},
}


def label(code: str, kind: str) -> str:
    from flask_babel import gettext

    text = LABELS[kind].get(code)
    return gettext(text) if text is not None else code


def lazy_label(code: str, kind: str):
    """`label`, translated when it is shown (a form's choices are built at import)."""
    from flask_babel import lazy_gettext

    return lazy_gettext(LABELS[kind][code])


def Nn_(singular: str, plural: str) -> tuple[str, str]:  # noqa: N802 - gettext's naming
    """Mark a message with plural forms (chosen by its `num`), translated where shown."""
    return singular, plural


def request_locale() -> str:
    """The popug's choice, else the choice made before signing in, else the browser's best
    match, else English."""
    if not has_request_context():
        return DEFAULT_LOCALE
    chosen = getattr(current_user, "locale", None) if current_user else None
    if chosen in LOCALES:
        return chosen
    if session.get(CHOSEN_LOCALE) in LOCALES:
        return session[CHOSEN_LOCALE]
    return browser_locale()


def browser_locale() -> str:
    """The language the browser asks for, of those aTES speaks, else English."""
    return request.accept_languages.best_match(LOCALES) or DEFAULT_LOCALE


def locale_code() -> str:
    locale = get_locale()
    return locale.language if locale is not None else DEFAULT_LOCALE


def is_english() -> bool:
    return locale_code() == "en"


def format_day(day: date) -> str:
    """A business day: 2026-03-03 in English, the locale's short date elsewhere."""
    if is_english():
        return day.isoformat()
    return format_date(day, "short", locale=get_locale())


def format_day_month(day: date, *, with_year: bool = False) -> str:
    """A chart's day label: in English the ISO date's month and day, 03-03 (the whole
    2026-03-03 across years, as `format_day`); the locale's day-and-month (and year)
    elsewhere (03.03, 03.03.2026)."""
    if is_english():
        return day.isoformat() if with_year else day.strftime("%m-%d")
    return format_skeleton("ddMMy" if with_year else "ddMM", day, locale=get_locale())


def format_month(first: date) -> str:
    """March 2026; март 2026 г. (Babel's year-and-month in every language)."""
    return format_skeleton("yMMMM", first, locale=get_locale() or DEFAULT_LOCALE)


def format_local_time(at: datetime) -> str:
    """A moment in ATES_TIMEZONE, to the minute: 2026-03-03 09:05 in English."""
    local = clock.local(at)
    if is_english():
        return local.strftime("%Y-%m-%d %H:%M")
    return format_datetime(local, "short", locale=get_locale())


def format_number(number: int) -> str:
    """A count: as Python writes it in English (1234), grouped by the locale elsewhere."""
    if is_english():
        return str(number)
    return format_decimal(number, locale=get_locale())


TRANSLATIONS = Path(__file__).resolve().parent / "translations"


def compile_catalogues(translations: Path = TRANSLATIONS) -> list[Path]:
    """Build each messages.mo that is missing or older than its .po (fuzzy entries left
    out), so that wherever the app starts — `make run`, the tests, a deployment that only
    installed the requirements — it speaks every language. Returns the catalogues built."""
    built = []
    for po in sorted(translations.glob("*/LC_MESSAGES/messages.po")):
        mo = po.with_suffix(".mo")
        if mo.exists() and mo.stat().st_mtime >= po.stat().st_mtime:
            continue
        with po.open("rb") as source:
            catalog = read_po(source, locale=po.parent.parent.name)
        partial = mo.with_suffix(f".mo.{os.getpid()}")
        with partial.open("wb") as target:
            write_mo(target, catalog, use_fuzzy=False)
        partial.replace(mo)  # atomic: a process started meanwhile reads a whole file
        built.append(mo)
    return built


def init_i18n(app) -> None:
    from app.money import format_money

    try:
        compile_catalogues()
    except OSError:  # a read-only install must ship its .mo files
        app.logger.exception("The translation catalogues could not be compiled")
    babel.init_app(app, locale_selector=request_locale)
    app.jinja_env.globals.update(locale_code=locale_code, LOCALE_NAMES=LOCALE_NAMES)
    app.jinja_env.filters.update(
        label=label,
        money=format_money,
        day=format_day,
        local_time=format_local_time,
        number=format_number,
    )
