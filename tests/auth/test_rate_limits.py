"""Sign-in limits that hold under concurrency: each guess is counted
before it is verified, atomically, in a storage every web worker shares — the database by
default, or Redis — and on the username the sign-in actually checks."""

import os
import socket
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlencode

import pytest
from flask import current_app
from limits.storage import storage_from_string
from limits.strategies import FixedWindowRateLimiter

from app import rate_limits
from app.extensions import db, limiter
from app.rate_limits import DatabaseStorage
from tests.factories import make_popug
from tests.reliability.helpers import app_on
from tests.support.apps import bench_app
from tests.support.deployment import start_deployment, stop
from tests.support.http import Client
from tests.support.seeding import Population, seed

from .test_routes import sign_in

GUESSES = 12
LIMIT = 5  # SIGN_IN_LIMIT_PER_USERNAME's default, "5 per minute"


@pytest.fixture
def storage_url(app, tmp_path):
    """The suite's database when it is a server or a file, else a file of this test's (an
    in-memory SQLite database is one connection, and the storage needs its own)."""
    url = app.config["SQLALCHEMY_DATABASE_URI"]
    if url.startswith("sqlite") and ":memory:" in url:
        url = f"sqlite:///{tmp_path / 'limits.sqlite3'}"
        with app_on(url):
            db.create_all()
    return url


@pytest.fixture
def storage(storage_url):
    with app_on(storage_url):
        store = DatabaseStorage("database://")
        store.reset()
        yield store
        store.reset()


def test_the_database_storage_counts_expires_and_refunds(storage, monkeypatch):
    now = [1_000_000.0]
    monkeypatch.setattr(rate_limits.time, "time", lambda: now[0])
    assert [storage.incr("k", 60) for _ in range(3)] == [1, 2, 3]
    assert storage.get("k") == 3 and storage.get("other") == 0
    assert storage.get_expiry("k") == now[0] + 60
    assert storage.incr("k", 60, amount=-1) == 2  # a refund
    now[0] += 61  # the window is over: the next hit starts a new one
    assert storage.get("k") == 0
    assert storage.incr("k", 60) == 1
    assert storage.incr("k", 60, amount=-5) == 0  # a refund never leaves credit behind
    assert storage.incr("k", 60) == 1
    storage.clear("k")
    assert storage.get("k") == 0
    assert storage.check()
    assert storage.incr("sign-in/ke\x00sha", 60) == 1  # PostgreSQL text holds no NUL
    assert storage.get("sign-in/ke\x00sha") == 1


def test_the_database_storage_forgets_expired_counters(storage, monkeypatch):
    now = [2_000_000.0]
    monkeypatch.setattr(rate_limits.time, "time", lambda: now[0])
    for n in range(5):
        storage.incr(f"old-{n}", 60)
    now[0] += 120
    storage.incr("new", 60)
    with db.engine.connect() as connection:
        keys = connection.execute(db.select(rate_limits.RATE_LIMITS.c.key)).scalars().all()
    assert keys == ["new"]


def test_concurrent_hits_on_one_counter_each_count(storage):
    """Threads hitting one key at the same moment get every count from 1 to N once."""
    start = threading.Barrier(GUESSES)
    app = current_app._get_current_object()

    def hit(_):
        with app.app_context():
            start.wait()
            return storage.incr("sign-in-username/kesha", 60)

    with ThreadPoolExecutor(GUESSES) as pool:
        counts = sorted(pool.map(hit, range(GUESSES)))
    assert counts == list(range(1, GUESSES + 1))


def test_the_limit_keys_on_the_username_that_was_checked(app, client):
    """A repeated field cannot spread one popug's guesses over other buckets: the form
    checks the first username, and that is the one counted."""
    make_popug(role="worker", username="kesha")
    here = {"REMOTE_ADDR": "192.0.2.1"}
    for n in range(LIMIT):
        response = client.post(
            "/sign-in",
            data=urlencode(
                [("username", "kesha"), ("username", f"decoy-{n}"), ("beak_shape", "wrong!")]
            ),
            content_type="application/x-www-form-urlencoded",
            environ_base=here,
        )
        assert response.status_code == 401, n
    blocked = sign_in(client, "kesha", environ_base=here)
    assert blocked.status_code == 429
    assert "Too many sign-in attempts" in blocked.text


def _redis_up() -> bool:
    try:
        socket.create_connection(("127.0.0.1", 6379), timeout=1).close()
    except OSError:
        return False
    return True


STORAGES = {
    "database": "database://",
    "redis": "redis://127.0.0.1:6379/15",  # a Redis database of this test's: emptied
}


def _empty_redis() -> None:
    import redis

    redis.Redis.from_url(STORAGES["redis"]).flushdb()


@pytest.mark.parametrize("storage_name", STORAGES)
def test_concurrent_wrong_guesses_against_gunicorn_each_count(tmp_path: Path, storage_name):
    """The production deployment (gunicorn, several workers), 12 wrong beak shapes for one
    username sent at the same moment: 5 are verified and refused (401), 7 are refused
    unverified (429), and then even the right beak shape waits for the next minute."""
    if storage_name == "redis" and not _redis_up():
        if os.environ.get("CI"):
            pytest.fail("Redis is not running on 127.0.0.1:6379")
        pytest.skip("Redis is not running on 127.0.0.1:6379")
    url = f"sqlite:///{tmp_path / 'limits.sqlite3'}"
    app = bench_app(url)
    with app.app_context():
        db.create_all()
        seed(db.engine, Population(20, 10, 0))
        db.engine.dispose()
    target = "popug-5"
    if storage_name == "redis":
        _empty_redis()
    processes, port = start_deployment(url, tmp_path, RATELIMIT_STORAGE_URI=STORAGES[storage_name])
    try:
        lock = threading.Lock()
        clients = [Client(port, [], lock) for _ in range(GUESSES)]
        for client in clients:
            assert client.request(None, "GET", "/sign-in")[0] == 200
        start = threading.Barrier(GUESSES)

        def guess(client):
            start.wait()
            form = {"csrf_token": client.csrf, "username": target, "beak_shape": "not it"}
            return client.request(None, "POST", "/sign-in", form)[0]

        with ThreadPoolExecutor(GUESSES) as pool:
            statuses = sorted(pool.map(guess, clients))
        assert statuses == [401] * LIMIT + [429] * (GUESSES - LIMIT)
        late = Client(port, [], lock)
        assert not late.sign_in(target)
        assert late.request(None, "GET", "/sign-in")[0] == 200
    finally:
        stop(processes)
        if storage_name == "redis":
            _empty_redis()
    assert "Traceback" not in (tmp_path / "web.log").read_text()


# --- counters out of reach -------------------------------------------------------------------

UNREACHABLE = "redis://127.0.0.1:1"  # nothing listens on port 1
PAUSED = "Signing in is paused: the attempt counters are not reachable right now."


@pytest.fixture
def unreachable_counters(app, monkeypatch):
    """The limiter's counters in a Redis nobody listens on, with the storage options the app
    gives Flask-Limiter."""
    storage = storage_from_string(UNREACHABLE, **app.config["RATELIMIT_STORAGE_OPTIONS"])
    monkeypatch.setattr(limiter, "_storage", storage)
    monkeypatch.setattr(limiter, "_limiter", FixedWindowRateLimiter(storage))


def test_every_storage_wraps_its_errors(app):
    """Flask-Limiter builds the storage with the app's options: a failure of any storage is
    one exception, limits' StorageError."""
    assert limiter.storage.wrap_exceptions


def test_sign_in_with_its_counters_out_of_reach_is_a_503(app, client, unreachable_counters):
    """Not a 500, and not a sign-in that goes on uncounted: a page that says to wait."""
    make_popug(role="worker", username="kesha")
    assert client.get("/sign-in").status_code == 200  # the form itself needs no counter
    response = sign_in(client, "kesha")
    assert response.status_code == 503
    assert PAUSED in response.text
    assert client.get("/my-tasks").status_code == 302  # not signed in
    htmx = sign_in(client, "kesha", headers={"HX-Request": "true"})
    assert htmx.status_code == 503 and htmx.headers["HX-Retarget"] == "#flashes"


def test_the_503_speaks_russian(app, client, unreachable_counters):
    make_popug(role="worker", username="kesha")
    response = sign_in(client, "kesha", headers={"Accept-Language": "ru"})
    assert response.status_code == 503
    assert "Вход приостановлен" in response.text


def test_gunicorn_with_redis_out_of_reach_answers_503(tmp_path: Path):
    """The deployment itself, RATELIMIT_STORAGE_URI pointing at a Redis that is not there."""
    url = f"sqlite:///{tmp_path / 'limits.sqlite3'}"
    app = bench_app(url)
    with app.app_context():
        db.create_all()
        seed(db.engine, Population(20, 10, 0))
        db.engine.dispose()
    processes, port = start_deployment(url, tmp_path, RATELIMIT_STORAGE_URI=UNREACHABLE)
    try:
        client = Client(port, [], threading.Lock())
        assert client.request(None, "GET", "/sign-in")[0] == 200
        form = {"csrf_token": client.csrf, "username": "popug-5", "beak_shape": "not it"}
        status, text = client.request(None, "POST", "/sign-in", form)
        assert status == 503 and PAUSED in text
    finally:
        stop(processes)
    assert "Traceback" not in (tmp_path / "web.log").read_text()
