"""schemathesis, in process: requests generated from /api/v1/openapi.json (valid and
invalid ones) with an admin's and a worker's token get no server error and answers that
match the description (status, content type, schema, the 401 without a token).

A request that matches the schema may still be refused with 422 by a rule (an unknown
cursor, a day out of range, nobody to take a task), so schemathesis's "valid data is
accepted" check is left out; every other check runs."""

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.specs.openapi.checks import positive_data_acceptance

from app.blueprints.api.openapi import document
from app.extensions import db
from tests.factories import make_popug, make_task, make_token
from tests.helpers import bearer

FUZZ = settings(
    max_examples=15, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True
)


# The document the app serves at /api/v1/openapi.json (test_api.py checks it is served).
schema = schemathesis.openapi.from_dict(document())


def _token_of(role: str) -> dict:
    """The headers of a token of a popug in `role`, with a worker holding an open task."""
    worker = make_popug(role="worker", username="fuzz-worker")
    make_task(worker, title="Something to shuffle")
    popug = worker if role == "worker" else make_popug(role=role, username=f"fuzz-{role}")
    db.session.commit()
    return bearer(make_token(popug))


@pytest.fixture
def admin_headers(app):
    return _token_of("admin")


@pytest.fixture
def worker_headers(app):
    return _token_of("worker")


@schema.parametrize()
@FUZZ
def test_as_an_admin(app, case, admin_headers):
    _call(app, case, admin_headers)


@schema.parametrize()
@FUZZ
def test_as_a_worker(app, case, worker_headers):
    _call(app, case, worker_headers)


def _call(app, case, headers):
    """Send the case (and the probes schemathesis adds, e.g. without the token) to the test
    app in process, and check the answer against the description."""
    case.operation.schema.app = case.operation.app = app
    case.call_and_validate(headers=headers, excluded_checks=[positive_data_acceptance])
