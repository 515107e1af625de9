"""The catalogues and the per-language formats (app/i18n.py, app/money.py).

Every message of the code and the templates is extracted here as `make messages-extract`
does (babel.cfg, and the keywords and skipped folders written in the Makefile), and the
Russian catalogue must translate each one, completely, with the same placeholders.
"""

import fnmatch
import os
import re
import shlex
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.frontend import parse_keywords, parse_mapping_cfg
from babel.messages.pofile import read_po
from flask_babel import force_locale, gettext, ngettext
from werkzeug import exceptions

from app import errors
from app.i18n import LOCALES, format_day, format_day_month, format_local_time, format_month
from app.money import format_money

ROOT = Path(__file__).absolute().parents[1]
RUSSIAN = ROOT / "app" / "translations" / "ru" / "LC_MESSAGES" / "messages.po"
PLACEHOLDER = re.compile(r"%(?:\((\w+)\))?([sd%])")


def _makefile_value(name: str) -> str:
    line = next(
        line for line in (ROOT / "Makefile").read_text().splitlines() if line.startswith(name)
    )
    return line.split(":=", 1)[1].split("#", 1)[0].strip()


def _ignored_dirs() -> list[str]:
    """The --ignore-dirs patterns of the Makefile's messages-extract."""
    words = shlex.split(
        re.search(r"--ignore-dirs (\"[^\"]*\"|\S+)", (ROOT / "Makefile").read_text()).group(1)
    )
    return words[0].split()


def extracted_messages() -> dict[tuple[str | None, str], str | tuple]:
    """{(context, msgid): msgid or (singular, plural)} of everything `make messages-extract`
    writes into messages.pot."""
    with (ROOT / "babel.cfg").open() as cfg:
        method_map, options_map = parse_mapping_cfg(cfg)
    keywords = dict(DEFAULT_KEYWORDS)
    keywords.update(parse_keywords(shlex.split(_makefile_value("BABEL_KEYWORDS"))[1::2]))
    ignored = _ignored_dirs()

    def directory_filter(path: str) -> bool:
        return not any(fnmatch.fnmatch(Path(path).name, pattern) for pattern in ignored)

    found = {}
    for _, _, message, _, context in extract_from_dir(
        str(ROOT),
        method_map,
        options_map,
        keywords=keywords,
        directory_filter=directory_filter,
    ):
        key = message[0] if isinstance(message, tuple) else message
        if key:
            found[(context, key)] = message
    return found


def placeholders(text: str) -> set[str]:
    return {name or kind for name, kind in PLACEHOLDER.findall(text)}


def catalogue_problems(catalog: Catalog, messages) -> list[str]:
    """What is wrong with a catalogue for these extracted messages: missing, fuzzy, empty,
    plural where the code has none or the other way round, other placeholders than the
    English, a wrong number of plural forms, a double quote of its own (it would end the HTML
    attribute the message is in), and translations of messages no longer used."""
    problems = []
    if catalog.num_plurals != 3 and catalog.locale.language == "ru":
        problems.append(f"Russian has 3 plural forms, the catalogue says {catalog.num_plurals}")
    for (context, key), message in sorted(messages.items(), key=str):
        entry = catalog.get(key, context=context)
        name = f"{context + ': ' if context else ''}{key!r}"
        if entry is None:
            problems.append(f"missing: {name}")
            continue
        if entry.fuzzy:
            problems.append(f"fuzzy: {name}")
        english = message if isinstance(message, tuple) else (message,)
        translated = entry.string if isinstance(entry.string, tuple) else (entry.string,)
        if isinstance(message, tuple) != isinstance(entry.id, tuple):
            problems.append(f"plural forms differ from the code's: {name}")
            continue
        if isinstance(message, tuple) and len(translated) != catalog.num_plurals:
            problems.append(f"{len(translated)} plural forms, not {catalog.num_plurals}: {name}")
        if not all(translated):
            problems.append(f"empty translation: {name}")
            continue
        wanted = set().union(*(placeholders(text) for text in english))
        for text in translated:
            if placeholders(text) != wanted:
                found = sorted(placeholders(text))
                problems.append(f"placeholders {found} not {sorted(wanted)}: {name}")
            # Templates put messages into attributes unescaped (they are markup): a " of its
            # own would end the attribute. Russian quotes are «».
            if text.count('"') > english[0].count('"'):
                problems.append(f'a " the English does not have: {name}')
    used = set(messages)
    for entry in catalog:
        key = entry.id[0] if isinstance(entry.id, tuple) else entry.id
        if key and (entry.context, key) not in used:
            problems.append(f"not in the code any more: {key!r}")
    return problems


@pytest.fixture(scope="module")
def messages():
    return extracted_messages()


def test_extraction_finds_the_code_the_templates_and_the_marked_service_messages(messages):
    keys = {key for _, key in messages}
    assert "Shuffle open tasks" in keys  # a template and a form
    assert "Give the task a title." in keys  # a service message, marked with N_
    assert "← Newer" in keys  # templates/_macros, a folder named with _
    assert messages[(None, "Shuffle: %(num)s task")] == (
        "Shuffle: %(num)s task",
        "Shuffle: %(num)s tasks",
    )
    assert (
        None,
        "Nobody else can take this popug's %(num)s open tasks: there is no other "
        "active worker or accountant. Add or activate one first.",
    ) in messages  # Nn_
    assert ("task table column", "Completed") in messages  # pgettext
    assert len(messages) > 300


def test_the_russian_catalogue_translates_every_message(messages):
    with RUSSIAN.open("rb") as po:
        catalog = read_po(po, locale="ru")
    assert catalogue_problems(catalog, messages) == []


def test_the_catalogue_check_finds_what_is_wrong(messages):
    """The checker itself, on a catalogue with one of each fault."""
    catalog = Catalog(locale="ru")
    catalog.add("Tasks", "Задачи", flags=["fuzzy"])
    catalog.add("Board", "")
    catalog.add("Task created and assigned to %(assignee)s.", "Задача создана.")
    catalog.add(
        ("Shuffle: %(num)s task", "Shuffle: %(num)s tasks"),
        ("Перетасовка: %(num)s задача", "Перетасовка: задачи"),
    )
    catalog.add("Feed the parrot", "Покормить попуга")
    catalog.add("Search", 'Искать "это"')
    problems = catalogue_problems(catalog, messages)
    assert "fuzzy: 'Tasks'" in problems
    assert "empty translation: 'Board'" in problems
    assert any(p.startswith("placeholders [] not ['assignee']") for p in problems)
    assert "2 plural forms, not 3: 'Shuffle: %(num)s task'" in problems
    assert "placeholders [] not ['num']: 'Shuffle: %(num)s task'" in problems
    assert "missing: 'My account'" in problems
    assert "not in the code any more: 'Feed the parrot'" in problems
    assert "a \" the English does not have: 'Search'" in problems


def test_error_pages_know_werkzeugs_own_descriptions():
    """The default descriptions of the errors aTES answers with are in the catalogue word
    for word, so a Werkzeug that rewords one is noticed here."""
    codes = (400, 403, 404, 405, 413, 415, 429, 500, 503)
    descriptions = tuple(exceptions.default_exceptions[code].description for code in codes)
    assert errors.WERKZEUG_DESCRIPTIONS == descriptions


@pytest.mark.parametrize(
    ("count", "form"),
    [(0, "задач"), (1, "задача"), (2, "задачи"), (5, "задач"), (11, "задач"), (21, "задача")],
)
def test_russian_plurals_of_tasks(app, count, form):
    with app.test_request_context(), force_locale("ru"):
        summary = ngettext("Shuffle: %(num)s task", "Shuffle: %(num)s tasks", count)
        shuffled = ngettext(
            "Reassigned %(num)s open tasks among %(popugs)s popugs.",
            "Reassigned %(num)s open tasks among %(popugs)s popugs.",
            count,
            popugs=3,
        )
    assert summary == f"Перетасовка: {count} {form}"
    adjective = {"задача": "открытая", "задачи": "открытые", "задач": "открытых"}[form]
    assert f" {count} {adjective} {form} между попугами (всего попугов: 3)." in shuffled


@pytest.mark.parametrize(
    ("count", "english", "russian"),
    [
        (1, "Shuffle: 1 task", "Перетасовка: 1 задача"),
        (2, "Shuffle: 2 tasks", "Перетасовка: 2 задачи"),
        (7, "Last 7 days", "Последние 7 дней"),
        (21, "Last 21 days", "Последний 21 день"),
        (22, "Last 22 days", "Последние 22 дня"),
    ],
)
def test_plurals_in_both_languages(app, count, english, russian):
    messages = {
        "Shuffle": ("Shuffle: %(num)s task", "Shuffle: %(num)s tasks"),
        "Last": ("Last %(num)s days", "Last %(num)s days"),
    }[english.split()[0].rstrip(":")]
    with app.test_request_context():
        with force_locale("en"):
            assert ngettext(*messages, count) == english
        with force_locale("ru"):
            assert ngettext(*messages, count) == russian


def test_english_keeps_aTES_formats_and_russian_uses_babels(app):
    at = datetime(2026, 3, 3, 9, 5, 7, tzinfo=UTC)
    with app.test_request_context():
        with force_locale("en"):
            assert format_money(123456) == "$1,234.56"
            assert format_money(-1200) == "−$12.00"
            assert format_money(2800, signed=True) == "+$28.00"
            assert format_money(2800, whole=True) == "$28"
            assert format_day(date(2026, 3, 3)) == "2026-03-03"
            assert format_local_time(at) == "2026-03-03 09:05"
            assert format_day_month(date(2026, 3, 3)) == "03-03"
            assert format_day_month(date(2026, 3, 3), with_year=True) == "2026-03-03"
            assert format_month(date(2026, 3, 1)) == "March 2026"
        with force_locale("ru"):
            assert format_money(123456) == "1\xa0234,56\xa0$"
            assert format_money(-1200) == "-12,00\xa0$"
            assert format_money(2800, signed=True) == "+28,00\xa0$"
            assert format_money(2800, whole=True) == "28\xa0$"
            assert format_money(2850, whole=True) == "28,50\xa0$"
            assert format_day(date(2026, 3, 3)) == "03.03.2026"
            assert format_local_time(at) == "03.03.2026, 09:05"
            assert format_day_month(date(2026, 3, 3), with_year=True) == "03.03.2026"
            assert format_month(date(2026, 3, 1)) == "март 2026\u202fг."


def test_money_stays_integer_cents(app):
    with app.test_request_context(), force_locale("ru"), pytest.raises(TypeError):
        format_money(12.5)


def test_a_service_message_is_english_and_translated_where_shown(app):
    error = errors.ServiceError(
        errors.N_("Keep the title to %(max)s characters."), field="title", max=200
    )
    assert error.message == "Keep the title to 200 characters."
    with app.test_request_context():
        with force_locale("ru"):
            assert error.translated() == "Название должно быть не длиннее 200 символов."
        with force_locale("en"):
            assert error.translated() == error.message


def test_a_service_message_with_plural_forms_and_a_day(app):
    from app.blueprints.tasks import service

    error = errors.ServiceError(*service.NOBODY_TO_HAND_OVER_TO_FORMS, num=21)
    assert error.message == service.NOBODY_TO_HAND_OVER_TO_FORMS[1] % {"num": 21}
    day = errors.ServiceError(
        errors.N_("%(day)s has not begun yet: only today or earlier days can be closed."),
        day=date(2026, 3, 4),
    )
    assert day.message.startswith("2026-03-04 has not begun yet")
    with app.test_request_context(), force_locale("ru"):
        assert error.translated().startswith("21 открытую задачу этого попуга некому передать")
        assert day.translated().startswith("04.03.2026 ещё не наступил")


def test_every_language_has_a_catalogue_but_english():
    catalogues = {p.parent.parent.name for p in RUSSIAN.parents[2].glob("*/LC_MESSAGES/*.po")}
    assert catalogues == set(LOCALES) - {"en"}


def test_messages_are_plain_gettext_outside_a_request():
    """Outside any application (the command line's English) messages are the English."""
    assert gettext("Tasks") == "Tasks"


def test_the_app_compiles_missing_or_stale_catalogues(tmp_path):
    from babel.messages.mofile import read_mo

    from app.i18n import TRANSLATIONS, compile_catalogues

    po = tmp_path / "ru" / "LC_MESSAGES" / "messages.po"
    po.parent.mkdir(parents=True)
    po.write_bytes((TRANSLATIONS / "ru" / "LC_MESSAGES" / "messages.po").read_bytes())
    assert compile_catalogues(tmp_path) == [po.with_suffix(".mo")]
    with po.with_suffix(".mo").open("rb") as mo:
        assert read_mo(mo).get("Sign in").string == "Войти"
    assert compile_catalogues(tmp_path) == []  # up to date: nothing to do
    os.utime(po, (po.stat().st_mtime + 10,) * 2)
    assert compile_catalogues(tmp_path) == [po.with_suffix(".mo")]  # the .po changed
