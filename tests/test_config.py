"""Configuration: secret keys per environment, production refusals, environment selection."""

import logging
import stat

import pytest

import app.config as ates_config
from app import create_app
from app.config import DevelopmentConfig, ProductionConfig, TestConfig

GOOD_KEY = "0f3c9a7e5b1d4c2a8e6f0b9d7c5a3e1f"


@pytest.fixture
def instance_dir(tmp_path, monkeypatch):
    """Development keys go to a temporary instance/ folder, never the real one."""
    folder = tmp_path / "instance"
    monkeypatch.setattr(ates_config, "INSTANCE_DIR", folder)
    return folder


def test_development_generates_and_keeps_a_secret_key(instance_dir):
    first = {"SECRET_KEY": ""}
    DevelopmentConfig.prepare(first)
    key = first["SECRET_KEY"]
    assert len(key) == 64 and int(key, 16) >= 0  # 32 random bytes, hex
    path = instance_dir / "secret_key"
    assert path.read_text().strip() == key
    assert stat.S_IMODE(path.stat().st_mode) == 0o600

    second = {"SECRET_KEY": ""}
    DevelopmentConfig.prepare(second)
    assert second["SECRET_KEY"] == key  # sessions survive a restart


def test_development_generates_different_keys_per_instance(tmp_path, monkeypatch):
    keys = []
    for name in ("one", "two"):
        monkeypatch.setattr(ates_config, "INSTANCE_DIR", tmp_path / name)
        config = {"SECRET_KEY": ""}
        DevelopmentConfig.prepare(config)
        keys.append(config["SECRET_KEY"])
    assert keys[0] != keys[1]


def test_development_keeps_a_key_from_the_environment(instance_dir):
    config = {"SECRET_KEY": "from-the-environment-0123456789"}
    DevelopmentConfig.prepare(config)
    assert config["SECRET_KEY"] == "from-the-environment-0123456789"
    assert not (instance_dir / "secret_key").exists()


@pytest.mark.parametrize("key", [None, "", "change-me", "dev", "secret", "short-key"])
def test_production_refuses_a_missing_default_or_short_secret_key(key):
    with pytest.raises(RuntimeError, match="SECRET_KEY"):
        ProductionConfig.prepare({"SECRET_KEY": key})


def test_production_refuses_when_the_secret_key_is_absent():
    with pytest.raises(RuntimeError, match="SECRET_KEY"):
        ProductionConfig.prepare({})


def test_production_refuses_debug():
    with pytest.raises(RuntimeError, match="debug"):
        ProductionConfig.prepare({"SECRET_KEY": GOOD_KEY, "DEBUG": True})


def test_production_accepts_a_long_random_key():
    config = {"SECRET_KEY": GOOD_KEY, "DEBUG": False}
    ProductionConfig.prepare(config)
    assert config["SECRET_KEY"] == GOOD_KEY


@pytest.mark.parametrize("uri", ["memory://", "memory://?x=1"])
def test_production_refuses_per_worker_rate_limit_counts(uri):
    with pytest.raises(RuntimeError, match="RATELIMIT_STORAGE_URI=memory://"):
        ProductionConfig.prepare({"SECRET_KEY": GOOD_KEY, "RATELIMIT_STORAGE_URI": uri})


def test_create_app_refuses_production_with_memory_rate_limits(app):
    with pytest.raises(RuntimeError, match="memory://"):
        create_app(_production(SECRET_KEY=GOOD_KEY, RATELIMIT_STORAGE_URI="memory://"))


@pytest.mark.parametrize("uri", ["database://", "redis://127.0.0.1:6379"])
def test_production_takes_a_shared_rate_limit_storage(uri):
    ProductionConfig.prepare({"SECRET_KEY": GOOD_KEY, "RATELIMIT_STORAGE_URI": uri})


def test_the_rate_limits_count_in_the_database_by_default():
    assert ProductionConfig.RATELIMIT_STORAGE_URI == DevelopmentConfig.RATELIMIT_STORAGE_URI
    assert ProductionConfig.RATELIMIT_STORAGE_URI == "database://"


def test_production_cookies_are_secure():
    assert ProductionConfig.SESSION_COOKIE_SECURE is True
    assert ProductionConfig.REMEMBER_COOKIE_SECURE is True
    assert ProductionConfig.SESSION_COOKIE_HTTPONLY is True
    assert ProductionConfig.SESSION_COOKIE_SAMESITE == "Lax"


def _production(**attrs):
    attrs.setdefault("SQLALCHEMY_DATABASE_URI", TestConfig.SQLALCHEMY_DATABASE_URI)
    return type("Production", (ProductionConfig,), attrs)


def test_create_app_refuses_production_without_a_secret_key(app):
    with pytest.raises(RuntimeError, match="SECRET_KEY"):
        create_app(_production(SECRET_KEY=""))


def test_create_app_refuses_production_with_flask_debug(app, monkeypatch):
    # `flask run --debug` sets FLASK_DEBUG before the app is created.
    monkeypatch.setenv("FLASK_DEBUG", "1")
    with pytest.raises(RuntimeError, match="debug"):
        create_app(_production(SECRET_KEY=GOOD_KEY))


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        (None, DevelopmentConfig),
        ("development", DevelopmentConfig),
        ("production", ProductionConfig),
        (" Production ", ProductionConfig),
        ("testing", TestConfig),
    ],
)
def test_config_from_env(monkeypatch, name, expected):
    if name is None:
        monkeypatch.delenv("ATES_ENV", raising=False)
    else:
        monkeypatch.setenv("ATES_ENV", name)
    assert ates_config.config_from_env() is expected


def test_config_from_env_refuses_unknown_names(monkeypatch):
    monkeypatch.setenv("ATES_ENV", "staging")
    with pytest.raises(RuntimeError, match="ATES_ENV"):
        ates_config.config_from_env()


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (None, "sqlite:///default.sqlite3"),
        ("", "sqlite:///default.sqlite3"),
        ("postgres://u@h/db", "postgresql+psycopg://u@h/db"),
        ("postgresql://u:p@h:5432/db", "postgresql+psycopg://u:p@h:5432/db"),
        ("postgresql+psycopg://u@h/db", "postgresql+psycopg://u@h/db"),
        ("sqlite:////tmp/x.sqlite3", "sqlite:////tmp/x.sqlite3"),
    ],
)
def test_database_url_normalisation(url, expected):
    assert ates_config.database_url(url, "sqlite:///default.sqlite3") == expected


def test_the_app_logs_at_info(app):
    """`make run`'s output shows the e-mails written to the log instead of sent (INFO;
    Python's default, WARNING, hid them)."""
    assert app.config["LOG_LEVEL"] == DevelopmentConfig.LOG_LEVEL == "INFO"
    assert logging.getLogger(app.import_name).isEnabledFor(logging.INFO)
