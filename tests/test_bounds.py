"""Hostile query strings against every page: at a seeded database, every GET endpoint of the
URL map, as anonymous and as each role, with `q`, `page`, `filter`, the date parameters and
the others pages read in hostile combinations (and now and then as an htmx fragment),
answers with a status it means — never a 500.

The values and the known-worst query strings are tests/support/hostile.py's; bench/bounds.py
times the same requests at 1,000,000 tasks; here nothing is timed.
"""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from app import clock, create_app
from app.blueprints.auth.models import Popug
from app.config import TestConfig
from app.extensions import db
from tests.factories import shuffle_now
from tests.reliability.helpers import (
    ON_POSTGRES,
    app_on,
    config_for,
    create_schema,
    scratch_database,
)
from tests.support.hostile import (
    DIR_VALUES,
    FILTER_VALUES,
    HX_TARGETS,
    NEXT_VALUES,
    PAGE_VALUES,
    Q_VALUES,
    REFUSED,
    ROLES,
    SEEN_VALUES,
    SORT_VALUES,
    STATUS_VALUES,
    Case,
    clients,
    day_values,
    fill_path,
    gather_facts,
    get_rules,
    known_worst,
    range_values,
    send,
)
from tests.support.seeding import Population, seed

# Some closed days (payouts, e-mails), done and open tasks, for path ids and date ranges.
POPULATION = Population(60, 540, 60, days=5, close_days=True)
EXAMPLES = 12  # drawn query strings per endpoint, each sent as every role
# What a page may answer: its content, a refusal, a redirect, a timed-out read. My tasks'
# poll answers 204 (nothing new) and 286 (stop polling).
STATUSES = {200, 204, 286, 302, 303, 400, 403, 404, 422, 503}
ENDPOINTS = [rule.endpoint for rule in get_rules(create_app(TestConfig))]


@pytest.fixture(scope="module")
def seeded(tmp_path_factory):
    """A seeded database of its own (the requests read it; nothing writes) with a shuffle,
    its facts (real ids and days), and an app on it with signed-in clients per role."""
    backend = "postgresql" if ON_POSTGRES else "sqlite"
    with scratch_database(backend, tmp_path_factory.mktemp("bounds")) as url:
        create_schema(url)
        seed(url, POPULATION)
        with app_on(url):
            manager = db.session.scalar(select(Popug).where(Popug.role == "manager").limit(1))
            shuffle_now(actor=manager)
            db.session.commit()
            facts = gather_facts(db.session.connection())
        app = create_app(config_for(url))
        clock.freeze(facts.now)  # sessions begin then; each test freezes the clock there again
        try:
            yield app, facts, clients(app, facts)
        finally:
            clock.freeze(None)
            with app.app_context():
                db.session.remove()
                db.engine.dispose()


def _rule(app, endpoint: str):
    return next(rule for rule in get_rules(app) if rule.endpoint == endpoint)


def _check(result, signed_in: bool, endpoint: str) -> None:
    where = result.case.label()
    assert result.error is None, f"{where} raised:\n{result.error}"
    assert result.status in STATUSES, f"{where}: {result.status}"
    if "\x00" in result.case.url(width=10**6):  # refused up front, whoever asks
        assert result.status == 400, f"{where}: {result.status} with a NUL"
    elif not signed_in and endpoint != "auth.sign_in":  # to the sign-in page, htmx too
        assert result.status in (200, 302), f"{where}: {result.status} for anonymous"
        assert (result.redirect or "").startswith("/sign-in"), f"{where}: {result.redirect}"


def _dates() -> st.SearchStrategy[str]:
    return st.dates(min_value=date(1, 1, 1), max_value=date(9999, 12, 31)).map(date.isoformat)


def _text(max_size: int = 30) -> st.SearchStrategy[str]:
    return st.text(st.characters(blacklist_categories=("Cs",)), max_size=max_size)


@st.composite
def queries(draw, facts) -> tuple[list[tuple[str, str]], dict[str, str]]:
    """A hostile query string's pairs (each family of parameters present or not), and
    sometimes the headers of an htmx request for a fragment."""

    def maybe(strategy):
        return draw(st.one_of(st.none(), strategy))

    def anything(values, extra=None):
        return st.one_of(st.sampled_from(values), extra if extra is not None else _text())

    words = st.lists(st.sampled_from(["seeded", "task", "s", "x", "9", "ta", "UBERPOP-3"]))
    pairs = []
    families = {
        "q": anything(Q_VALUES, st.one_of(_text(), words.map(" ".join))),
        "page": anything(PAGE_VALUES, st.integers(-(10**31), 10**31).map(str)),
        "filter": anything(FILTER_VALUES),
        "day": anything(day_values(facts), _dates()),
        "sort": anything(SORT_VALUES),
        "dir": anything(DIR_VALUES),
        "status": anything(STATUS_VALUES),
        "seen": anything(SEEN_VALUES, st.integers(-(10**31), 10**31).map(str)),
        "next": anything(NEXT_VALUES),
    }
    for name, strategy in families.items():
        value = maybe(strategy)
        if value is not None:
            pairs.append((name, value))
    ranges = st.one_of(
        st.sampled_from(range_values(facts)),
        st.tuples(_dates(), _dates()),
        st.tuples(_text(12), _text(12)),
    )
    for names in (("start", "end"), ("from", "to")):
        chosen = maybe(ranges)
        if chosen is not None:
            pairs += zip(names, chosen, strict=True)
    if pairs and draw(st.integers(0, 5)) == 0:  # a repeated name
        pairs.append((pairs[0][0], draw(st.sampled_from(PAGE_VALUES))))
    headers = {}
    if draw(st.booleans()):
        headers["HX-Request"] = "true"
        target = draw(st.sampled_from(HX_TARGETS))
        if target:
            headers["HX-Target"] = target
    return pairs, headers


SETTINGS = settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    phases=[Phase.explicit, Phase.reuse, Phase.generate],
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
    ],
)


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_hostile_query_strings_never_fail_a_page(seeded, endpoint):
    app, facts, by_role = seeded
    clock.freeze(facts.now)  # "today" holds data (the suite's fixtures release the clock)
    rule = _rule(app, endpoint)
    choices = {name: facts.path_values(endpoint, name) for name in rule.arguments}

    @SETTINGS
    @given(query=queries(facts), data=st.data())
    def run(query, data):
        pairs, headers = query
        values = {name: data.draw(st.sampled_from(options)) for name, options in choices.items()}
        path = fill_path(rule, values)
        for role in ROLES:
            result = send(by_role[role], Case(endpoint, role, path, pairs, headers))
            _check(result, role != "anonymous", endpoint)

    run()


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_known_worst_query_strings_never_fail_a_page(seeded, endpoint):
    """The query strings that were slow once, with a real object in the path, as every role
    that may see the page (the others are refused, as the drawn examples check)."""
    app, facts, by_role = seeded
    clock.freeze(facts.now)
    rule = _rule(app, endpoint)
    path = fill_path(rule, {n: facts.path_values(endpoint, n)[0] for n in rule.arguments})
    allowed = [
        role
        for role in ROLES
        if send(by_role[role], Case(endpoint, role, path)).status not in REFUSED
    ]
    assert allowed, f"{endpoint}: no role may see {path}"
    for pairs in known_worst(facts):
        for role in allowed:
            result = send(by_role[role], Case(endpoint, role, path, pairs))
            _check(result, role != "anonymous", endpoint)
            assert result.status not in REFUSED, f"{result.case.label()}: {result.status}"
