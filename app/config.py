"""Configuration classes, read from the environment (the README lists every variable)."""

import os
import secrets
from pathlib import Path

INSTANCE_DIR = Path(__file__).resolve().parent.parent / "instance"
DEFAULT_SECRET_KEYS = {"", "change-me", "dev", "secret"}


def database_url(url: str | None, default: str) -> str:
    """Normalise a DATABASE_URL so PostgreSQL always goes through psycopg 3."""
    url = url or default
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def _development_secret_key() -> str:
    """Generate a secret key once and keep it under instance/, so sessions survive restarts."""
    INSTANCE_DIR.mkdir(exist_ok=True)
    path = INSTANCE_DIR / "secret_key"
    if not path.exists():
        path.write_text(secrets.token_hex(32))
        path.chmod(0o600)
    return path.read_text().strip()


def _bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    return default if value is None else value.strip().lower() in {"1", "true", "yes", "on"}


class Config:
    ATES_ENV = "development"  # which of CONFIGS this is (demo data only outside production)
    SQLALCHEMY_DATABASE_URI = database_url(
        os.environ.get("DATABASE_URL"), f"sqlite:///{INSTANCE_DIR / 'ates.sqlite3'}"
    )
    SQLALCHEMY_ENGINE_OPTIONS = {"pool_pre_ping": True}
    SECRET_KEY = os.environ.get("SECRET_KEY", "")
    ATES_TIMEZONE = os.environ.get("ATES_TIMEZONE", "UTC")

    # argon2id cost of beak-shape hashes; lowered in tests only.
    ARGON2_TIME_COST = int(os.environ.get("ARGON2_TIME_COST", 3))
    ARGON2_MEMORY_COST = int(os.environ.get("ARGON2_MEMORY_COST", 65536))
    ARGON2_PARALLELISM = int(os.environ.get("ARGON2_PARALLELISM", 2))

    # Sign-in counters: the app's own database by default (app/rate_limits.py), or Redis.
    RATELIMIT_STORAGE_URI = os.environ.get("RATELIMIT_STORAGE_URI", "database://")
    RATELIMIT_HEADERS_ENABLED = False
    # Any storage's failure (Redis or the database unreachable) raises limits' StorageError,
    # answered with a 503 (app/errors.py): sign-in never goes on uncounted.
    RATELIMIT_STORAGE_OPTIONS = {"wrap_exceptions": True}
    # What each counts is said in app/blueprints/auth/guesses.py: a username's guesses from
    # one address (or one browser that signed in as it before), an address's guesses at any
    # username, and a username's guesses from every address together.
    SIGN_IN_LIMIT_PER_USERNAME = os.environ.get("SIGN_IN_LIMIT_PER_USERNAME", "5 per minute")
    SIGN_IN_LIMIT_PER_ADDRESS = os.environ.get("SIGN_IN_LIMIT_PER_ADDRESS", "20 per minute")
    SIGN_IN_LIMIT_PER_USERNAME_TOTAL = os.environ.get(
        "SIGN_IN_LIMIT_PER_USERNAME_TOTAL", "30 per minute"
    )
    # A browser that signed in as a popug stays known to it this long after its last
    # sign-in: its guesses at that username are counted apart from everyone else's.
    KNOWN_BROWSER_DAYS = int(os.environ.get("KNOWN_BROWSER_DAYS", 90))
    KNOWN_BROWSER_COOKIE_NAME = "known_browser"
    # Requests each API token may make, counted in the same storage.
    API_LIMIT_PER_TOKEN = os.environ.get("API_LIMIT_PER_TOKEN", "300 per minute")

    MAIL_SERVER = os.environ.get("MAIL_SERVER", "")
    MAIL_PORT = int(os.environ.get("MAIL_PORT", 25))
    MAIL_USERNAME = os.environ.get("MAIL_USERNAME", "")
    MAIL_PASSWORD = os.environ.get("MAIL_PASSWORD", "")
    MAIL_USE_TLS = _bool("MAIL_USE_TLS")
    MAIL_DEFAULT_SENDER = os.environ.get("MAIL_DEFAULT_SENDER", "ates@uberpopug.inc")
    MAIL_TIMEOUT = int(os.environ.get("MAIL_TIMEOUT", 10))
    # Number of trusted reverse proxies in front of the app (X-Forwarded-For/-Proto), so
    # rate limits and the audit trail see the client's address, not the proxy's.
    PROXY_FIX_X_FOR = int(os.environ.get("PROXY_FIX_X_FOR", 0))

    # A signed-in session ends after this long without a request, and this long after
    # sign-in whatever happens (app/blueprints/auth/sessions.py).
    SESSION_IDLE_MINUTES = int(os.environ.get("SESSION_IDLE_MINUTES", 60))
    SESSION_LIFETIME_HOURS = int(os.environ.get("SESSION_LIFETIME_HOURS", 12))
    PERMANENT_SESSION_LIFETIME = SESSION_LIFETIME_HOURS * 3600
    # Strict-Transport-Security's max-age; 0 sends no such header (development over HTTP).
    HSTS_SECONDS = 0

    MAX_CONTENT_LENGTH = 1024 * 1024
    WTF_CSRF_TIME_LIMIT = None
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    REMEMBER_COOKIE_HTTPONLY = True
    # How often the job worker looks for a queued shuffle (and a standby worker for the
    # runner lock), and how often a shuffle's page refreshes itself while it waits or runs.
    # The app's own log (payout e-mails written to it when no MAIL_SERVER is set, among
    # others): INFO shows them in `make run`'s output and the processes' logs.
    LOG_LEVEL = os.environ.get("ATES_LOG_LEVEL", "INFO")
    # The job worker also sends the e-mail outbox and removes old notifications, at most
    # this often.
    CHORES_EVERY_SECONDS = float(os.environ.get("ATES_CHORES_EVERY_SECONDS", 30))
    NOTIFICATIONS_KEEP_DAYS = int(os.environ.get("ATES_NOTIFICATIONS_KEEP_DAYS", 90))
    JOBS_POLL_SECONDS = float(os.environ.get("JOBS_POLL_SECONDS", 0.5))
    # The longest any read of a request may take (a page, a fragment, the page after an
    # action): past it the page answers 503 instead of holding a worker.
    READ_TIMEOUT_SECONDS = float(os.environ.get("ATES_READ_TIMEOUT_SECONDS", 2))
    TASKS_PER_PAGE = 50
    POPUGS_PER_PAGE = 50

    @classmethod
    def prepare(cls, config: dict) -> None:
        """Complete or refuse the loaded configuration; overridden per environment."""


class DevelopmentConfig(Config):
    @classmethod
    def prepare(cls, config: dict) -> None:
        if not config.get("SECRET_KEY"):
            config["SECRET_KEY"] = _development_secret_key()


class TestConfig(Config):
    ATES_ENV = "testing"
    TESTING = True
    SECRET_KEY = "test-secret-key-not-for-production"
    SQLALCHEMY_DATABASE_URI = database_url(
        os.environ.get("TEST_DATABASE_URL"), "sqlite:///:memory:"
    )
    WTF_CSRF_ENABLED = False
    RATELIMIT_STORAGE_URI = "memory://"
    ARGON2_TIME_COST = 1
    ARGON2_MEMORY_COST = 8
    ARGON2_PARALLELISM = 1
    MAIL_SERVER = ""
    # Every API answer is checked against the schema its operation declares.
    API_CHECK_RESPONSES = True


class ProductionConfig(Config):
    ATES_ENV = "production"
    # Only over HTTPS, only for this host and path: no subdomain can set or shadow it.
    SESSION_COOKIE_NAME = "__Host-session"
    KNOWN_BROWSER_COOKIE_NAME = "__Host-known-browser"
    SESSION_COOKIE_SECURE = True
    HSTS_SECONDS = int(os.environ.get("HSTS_SECONDS", 365 * 24 * 3600))
    REMEMBER_COOKIE_SECURE = True

    @classmethod
    def prepare(cls, config: dict) -> None:
        key = config.get("SECRET_KEY") or ""
        if key in DEFAULT_SECRET_KEYS or len(key) < 16:
            raise RuntimeError("SECRET_KEY must be set to a long random value in production.")
        if config.get("DEBUG"):
            raise RuntimeError("Refusing to run production with debug on.")
        if config.get("RATELIMIT_STORAGE_URI", "").startswith("memory://"):
            raise RuntimeError(
                "RATELIMIT_STORAGE_URI=memory:// keeps each web worker's own sign-in counts "
                "(every limit multiplied by the number of workers, forgotten on restart): "
                "use database:// (the default) or redis://host:port in production."
            )


CONFIGS = {
    "development": DevelopmentConfig,
    "production": ProductionConfig,
    "testing": TestConfig,
}


def config_from_env() -> type[Config]:
    name = os.environ.get("ATES_ENV", "development").strip().lower()
    if name not in CONFIGS:
        raise RuntimeError(f"ATES_ENV must be one of {', '.join(CONFIGS)}, not {name!r}.")
    return CONFIGS[name]
