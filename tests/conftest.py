"""Fixtures: one app per test session, a clean database per test, clients per role."""

import pytest
from flask import g, has_app_context
from flask.testing import FlaskClient
from flask_babel import refresh

from app import clock, create_app
from app.config import TestConfig
from app.extensions import db as _db
from app.extensions import limiter
from tests import factories
from tests.helpers import empty_database, signed_in_client


class IsolatedClient(FlaskClient):
    """A test client whose requests do not see the previous request's signed-in popug or
    language, nor leave theirs to the test.

    The fixtures keep one app context pushed for the whole test (so tests can call services),
    and Flask-Login caches the user, Flask-Babel the language, on `g`, which lives in that
    shared app context (in production each request has an app context of its own).
    """

    def open(self, *args, **kwargs):
        if not has_app_context():
            return super().open(*args, **kwargs)
        g.pop("_login_user", None)
        refresh()
        try:
            return super().open(*args, **kwargs)
        finally:
            refresh()


@pytest.fixture(scope="session")
def app():
    app = create_app(TestConfig)
    app.test_client_class = IsolatedClient
    with app.app_context():
        _db.drop_all()
        _db.create_all()
    yield app
    with app.app_context():
        _db.session.remove()
        _db.engine.dispose()


@pytest.fixture(autouse=True)
def _isolated(app):
    """Every test starts from an empty database, a fresh rate limiter and the real clock."""
    with app.app_context():
        empty_database()
    limiter.reset()
    clock.freeze(None)
    with app.app_context():
        yield
        _db.session.remove()
    clock.freeze(None)


@pytest.fixture
def db(app):
    return _db


class CsrfConfig(TestConfig):
    WTF_CSRF_ENABLED = True


@pytest.fixture
def csrf_app(app):
    """A second app on the suite's database URL with CSRF protection on (TestConfig turns
    it off). With SQLite in memory it has a database of its own, so the schema is created
    here (on PostgreSQL the tables already exist and create_all does nothing)."""
    second = create_app(CsrfConfig)
    second.test_client_class = IsolatedClient
    with second.app_context():
        _db.create_all()
    yield second
    with second.app_context():
        _db.session.remove()
        _db.engine.dispose()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def admin(app):
    return factories.make_popug(role="admin", username="root-admin")


@pytest.fixture
def worker(app):
    return factories.make_popug(role="worker", username="worker-one")


@pytest.fixture
def accountant(app):
    return factories.make_popug(role="accountant", username="counter")


@pytest.fixture
def manager(app):
    return factories.make_popug(role="manager", username="boss")


@pytest.fixture
def admin_client(app, admin):
    return signed_in_client(app, admin)


@pytest.fixture
def worker_client(app, worker):
    return signed_in_client(app, worker)


@pytest.fixture
def accountant_client(app, accountant):
    return signed_in_client(app, accountant)


@pytest.fixture
def manager_client(app, manager):
    return signed_in_client(app, manager)


def pytest_collection_modifyitems(config, items):
    on_postgres = TestConfig.SQLALCHEMY_DATABASE_URI.startswith("postgresql")
    skip = pytest.mark.skip(reason="needs PostgreSQL: set TEST_DATABASE_URL")
    for item in items:
        if "postgres" in item.keywords and not on_postgres:
            item.add_marker(skip)
