"""schemathesis against a live aTES: the Procfile's gunicorn and job worker on a database of
the test's own (SQLite, or PostgreSQL under TEST_DATABASE_URL), reading the description the
server itself serves at /api/v1/openapi.json.

For each role, with a token of a popug in that role: every operation gets generated requests
(valid and invalid ones), then schemathesis's state machine follows the description's
OpenAPI links (a created task is read and completed, a pressed shuffle is read, a created
popug is changed...). Every answer must be no server error and match the description
(status code, content type, headers, body). Afterwards `flask accounting verify` must be
clean on that database and the web processes must have logged no traceback.

A request that matches the schema may still be refused with 422 by a rule (an unknown
cursor, a day out of range, nobody to take a task), so schemathesis's "valid data is
accepted" check is left out, as in test_fuzz.py.

The examples are bounded (STATELESS and STATEFUL below) and derandomized, so a run is the
same every time and takes about a minute on a 2-core machine (docs/api.md)."""

import time

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Flaky
from schemathesis.generation import GenerationMode
from schemathesis.specs.openapi.checks import positive_data_acceptance

from app.blueprints.api.core import OPERATIONS
from app.extensions import db
from tests.api.live import Live, live_app
from tests.factories import make_popug, make_task, make_token

ROLES = ("worker", "accountant", "manager", "admin")  # the admin, who changes popugs, last
EXCLUDED = [positive_data_acceptance]
# Per operation and role, examples of each generation mode; per role, stateful scenarios.
STATELESS = settings(
    max_examples=3,
    deadline=None,
    derandomize=True,
    database=None,
    phases=[Phase.explicit, Phase.generate],  # no shrinking against a live server
    suppress_health_check=list(HealthCheck),
)
STATEFUL = settings(
    STATELESS,
    max_examples=25,
    stateful_step_count=6,
)


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


FOLLOWED: set[str] = set()  # the links the state machines followed, over all roles


@pytest.mark.parametrize("role", ROLES)
def test_every_operation_answers_as_described(live: Live, schema, role):
    headers = {"Authorization": f"Bearer {live.seeded[role]}"}
    started = time.perf_counter()
    failures = []
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) == len(OPERATIONS)  # every operation the API declares
    for operation in operations:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

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
        Scenarios.run(settings=STATEFUL)
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
    assert live.server_errors() == ""
    live.verify()


def test_the_state_machines_followed_the_links(live: Live):
    """The description's links were followed (not just each operation alone); runs after
    the roles above."""
    if not FOLLOWED:
        pytest.skip("the fuzzing above did not run in this session")
    for link in ("GetTask", "CompleteTask", "GetShuffle", "ChangePopug"):
        assert any(link in followed for followed in FOLLOWED), (link, sorted(FOLLOWED))
