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
from functools import lru_cache
from pathlib import Path

from babel.dates import format_date, format_datetime, format_skeleton
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_decimal
from babel.support import Translations
from flask import current_app, has_request_context, request, session
from flask.globals import _cv_app
from flask_babel import Babel, get_locale, get_translations
from flask_babel.speaklater import LazyString
from flask_login import current_user
from wtforms.i18n import messages_path
from wtforms.meta import DefaultMeta

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


class Speech:
    """The request's language, as everything that writes text asks for it: the Babel
    locale, its code, whether it is English, and the catalogue.

    Built once per request (`speech()`): Flask-Babel looks its context up through `g` for
    every locale and every message (three context-local lookups each), which a page of
    50 rows did about 450 times."""

    __slots__ = ("locale", "code", "english", "translations", "labels")

    def __init__(self, locale, translations):
        self.locale = locale
        self.code = locale.language if locale is not None else DEFAULT_LOCALE
        self.english = self.code == "en"
        self.translations = translations
        self.labels: dict[tuple[str, str], str] = {}


_SPEECH = "ates_speech"


def speech() -> Speech:
    """The request's Speech (outside a request: the default language's).

    Kept beside Flask-Babel's own cached locale and valid while that locale is: its
    `refresh()` (a popug who just chose another language) drops the locale, and the next
    call builds a new Speech. Read through the application context's ContextVar, not
    through the `g` proxy."""
    app_context = _cv_app.get(None)
    babel_context = app_context.g.__dict__.get("_flask_babel") if app_context else None
    if babel_context is not None:
        cached = babel_context.__dict__.get(_SPEECH)
        if cached is not None and babel_context.__dict__.get("babel_locale") is cached.locale:
            return cached
    spoken = Speech(get_locale(), get_translations())
    if app_context is not None:
        babel_context = app_context.g.__dict__.get("_flask_babel")
        if babel_context is not None:
            setattr(babel_context, _SPEECH, spoken)
    return spoken


def _translated(message: str, **variables) -> str:
    text = speech().translations.ugettext(message)
    return text % variables if variables else text


def lazy_gettext(message: str, **variables) -> LazyString:
    """Flask-Babel's `lazy_gettext` (form labels: `_l`), translated through `speech()`."""
    return LazyString(_translated, message, **variables)


@lru_cache(maxsize=8)
def _form_catalogue(code: str) -> Translations:
    return Translations.load(messages_path(), [code], domain="wtforms")


class _FormMessages:
    """WTForms' own messages ("Not a valid date value.") in the request's language, each
    language's catalogue read once per process: Flask-WTF reads it from disk again in
    every request that builds a form (0.3–0.5 ms)."""

    def gettext(self, string: str) -> str:
        return _form_catalogue(speech().code).ugettext(string)

    def ngettext(self, singular: str, plural: str, n: int) -> str:
        return _form_catalogue(speech().code).ungettext(singular, plural, n)


FORM_MESSAGES = _FormMessages()


def _form_translations(meta, form):
    """FlaskForm.Meta.get_translations, with the catalogues kept (see _FormMessages)."""
    if not current_app.config.get("WTF_I18N_ENABLED", True):
        return DefaultMeta.get_translations(meta, form)
    return FORM_MESSAGES


def label(code: str, kind: str) -> str:
    spoken = speech()
    key = (kind, code)
    text = spoken.labels.get(key)
    if text is None:
        message = LABELS[kind].get(code)
        text = spoken.labels[key] = (
            spoken.translations.ugettext(message) if message is not None else code
        )
    return text


def lazy_label(code: str, kind: str):
    """`label`, translated when it is shown (a form's choices are built at import)."""
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
    return speech().code


def is_english() -> bool:
    return speech().english


def format_day(day: date) -> str:
    """A business day: 2026-03-03 in English, the locale's short date elsewhere."""
    spoken = speech()
    if spoken.english:
        return day.isoformat()
    return format_date(day, "short", locale=spoken.locale)


def format_day_month(day: date, *, with_year: bool = False) -> str:
    """A chart's day label: in English the ISO date's month and day, 03-03 (the whole
    2026-03-03 across years, as `format_day`); the locale's day-and-month (and year)
    elsewhere (03.03, 03.03.2026)."""
    spoken = speech()
    if spoken.english:
        return day.isoformat() if with_year else day.strftime("%m-%d")
    return format_skeleton("ddMMy" if with_year else "ddMM", day, locale=spoken.locale)


def format_month(first: date) -> str:
    """March 2026; март 2026 г. (Babel's year-and-month in every language)."""
    return format_skeleton("yMMMM", first, locale=speech().locale or DEFAULT_LOCALE)


def format_local_time(at: datetime) -> str:
    """A moment in ATES_TIMEZONE, to the minute: 2026-03-03 09:05 in English."""
    local = clock.local(at)
    spoken = speech()
    if spoken.english:
        return local.strftime("%Y-%m-%d %H:%M")
    return format_datetime(local, "short", locale=spoken.locale)


def format_number(number: int) -> str:
    """A count: as Python writes it in English (1234), grouped by the locale elsewhere."""
    spoken = speech()
    if spoken.english:
        return str(number)
    return format_decimal(number, locale=spoken.locale)


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
    from flask_wtf import FlaskForm

    FlaskForm.Meta.get_translations = _form_translations
    # The templates' `_`, `ngettext`, `pgettext`: Flask-Babel's catalogue, looked up once
    # per request (speech()) instead of once per message.
    app.jinja_env.install_gettext_callables(
        gettext=lambda message: speech().translations.ugettext(message),
        ngettext=lambda s, p, n: speech().translations.ungettext(s, p, n),
        pgettext=lambda c, message: speech().translations.upgettext(c, message),
        npgettext=lambda c, s, p, n: speech().translations.unpgettext(c, s, p, n),
        newstyle=True,
    )
    # `_` straight to it (Jinja's alias resolves `gettext` anew for every message).
    app.jinja_env.globals["_"] = app.jinja_env.globals["gettext"]
    app.jinja_env.globals.update(locale_code=locale_code, LOCALE_NAMES=LOCALE_NAMES)
    app.jinja_env.filters.update(
        label=label,
        money=format_money,
        day=format_day,
        local_time=format_local_time,
        number=format_number,
    )
