"""schemathesis against a live aTES: the Procfile's gunicorn and job worker on a database of
the test's own (SQLite, or PostgreSQL under TEST_DATABASE_URL), reading the description the
server itself serves at /api/v1/openapi.json.

For each role, with a token of a popug in that role: every operation gets generated valid
requests (and invalid ones, from the first role that may use it), then schemathesis's state
machine follows the description's OpenAPI links (a created task is read and completed, a
pressed shuffle is read, a created popug is changed...). Every answer must be no server
error and match the description (status code, content type, headers, body). Afterwards
`flask accounting verify` must be clean on that database and the web processes must have
logged no traceback.

A request that matches the schema may still be refused with 422 by a rule (an unknown
cursor, a day out of range, nobody to take a task), so schemathesis's "valid data is
accepted" check is left out, as in test_fuzz.py.

The examples are bounded (STATELESS and SCENARIOS below) and derandomized, so each run
sends much the same requests (docs/api.md has its duration)."""

import time

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Flaky
from schemathesis.generation import GenerationMode
from schemathesis.specs.openapi.checks import positive_data_acceptance

from app.blueprints.api.core import OPERATIONS
from app.blueprints.api.openapi import _path
from app.extensions import db
from tests.api.live import Live, live_app
from tests.factories import make_popug, make_task, make_token

ROLES = ("worker", "accountant", "manager", "admin")  # the admin, who changes popugs, last
EXCLUDED = [positive_data_acceptance]
# Stateful scenarios per role: most for the roles whose links lead furthest (a manager's
# and an admin's shuffles, an admin's popugs).
SCENARIOS = {"worker": 10, "accountant": 10, "manager": 20, "admin": 25}
# Examples per operation and role (and per generation mode).
STATELESS = settings(
    max_examples=3,
    deadline=None,
    derandomize=True,
    database=None,
    phases=[Phase.explicit, Phase.generate],  # no shrinking against a live server
    suppress_health_check=list(HealthCheck),
)
STATEFUL = settings(STATELESS, stateful_step_count=6)


def _seed() -> dict[str, str]:
    """A popug of each role with a token, two more who take tasks, and open tasks."""
    tokens = {}
    for role in ROLES:
        popug = make_popug(role=role, username=f"fuzz-{role}")
        tokens[role] = make_token(popug, name="fuzz")
    others = [make_popug(role="worker"), make_popug(role="accountant")]
    for n in range(6):
        make_task(others[n % 2], title=f"Open task {n}", jira_id=f"FUZZ-{n}")
    db.session.commit()
    return tokens


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    logs = tmp_path_factory.mktemp("live-fuzz")
    # A generous read bound: a loaded shared machine must not turn a read into a 503.
    with live_app(
        logs, _seed, API_LIMIT_PER_TOKEN="100000 per minute", ATES_READ_TIMEOUT_SECONDS="10"
    ) as app:
        yield app


@pytest.fixture(scope="module")
def schema(live: Live):
    loaded = schemathesis.openapi.from_url(f"{live.base}/api/v1/openapi.json")
    # Follow the links the description declares, not ones guessed from the responses.
    loaded.config.phases.stateful.inference.algorithms = []
    return loaded


def _first_allowed(label: str) -> str:
    """The first of ROLES that may use the operation labelled "GET /tasks/{public_id}"."""
    method, path = label.split(" ", 1)
    declared = next(op for op in OPERATIONS if (op.method, _path(op.rule)) == (method, path))
    return next(role for role in ROLES if role in declared.roles)


FOLLOWED: set[str] = set()  # the links the state machines followed, over all roles


@pytest.mark.parametrize("role", ROLES)
def test_every_operation_answers_as_described(live: Live, schema, role):
    headers = {"Authorization": f"Bearer {live.seeded[role]}"}
    started = time.perf_counter()
    failures = []
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) == len(OPERATIONS)  # every operation the API declares
    for operation in operations:
        modes = [GenerationMode.POSITIVE]
        if role == _first_allowed(operation.label):
            # Invalid requests once per operation, by a role that gets past the 403.
            modes.append(GenerationMode.NEGATIVE)
        for mode in modes:

            @given(case=operation.as_strategy(generation_mode=mode))
            @STATELESS
            def run(case):
                case.call_and_validate(headers=headers, excluded_checks=EXCLUDED)

            try:
                run()
            except Exception as failure:  # noqa: BLE001 (each operation's failure is reported)
                failures.append(f"{operation.label} ({mode}): {failure}")
    stateless_s = time.perf_counter() - started

    class Scenarios(schema.as_state_machine()):
        def get_call_kwargs(self, case):
            return {"headers": headers}

        def step(self, input):
            if input.transition is not None:
                FOLLOWED.add(input.transition.id)
            return super().step(input)

        def validate_response(self, response, case, additional_checks=None, **kwargs):
            try:
                case.validate_response(
                    response,
                    excluded_checks=EXCLUDED,
                    headers=headers,
                    transport_kwargs=kwargs or None,
                    recorder=self.recorder,
                )
            except Exception as failure:
                failures.append(f"stateful, {case.operation.label}: {failure}")
                raise

    try:
        Scenarios.run(settings=settings(STATEFUL, max_examples=SCENARIOS[role]))
    except Flaky:
        # Hypothesis replays a scenario and the server's state has moved on (a task done,
        # a popug changed), so the replay draws differently. As schemathesis's own runner
        # does, this is no failure by itself: the checks' failures are recorded above.
        pass
    except Exception as failure:  # noqa: BLE001
        failures.append(f"stateful: {failure}")
    print(
        f"{role}: stateless {stateless_s:.1f} s, "
        f"stateful {time.perf_counter() - started - stateless_s:.1f} s; links: {sorted(FOLLOWED)}"
    )
    assert not failures, "\n\n".join(failures)


def test_afterwards_the_links_were_followed_and_the_books_are_clean(live: Live):
    """Runs after the roles above: the description's links were followed (not just each
    operation alone), `accounting verify` passes, and no request logged a traceback."""
    if not FOLLOWED:
        pytest.skip("the fuzzing above did not run in this session")
    for link in ("GetTask", "CompleteTask", "GetShuffle", "ChangePopug"):
        assert any(link in followed for followed in FOLLOWED), (link, sorted(FOLLOWED))
    assert live.server_errors() == ""
    live.verify()
