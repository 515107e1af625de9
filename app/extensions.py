"""Flask extensions, created unbound so any module can import them without the app."""

from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf import CSRFProtect
from sqlalchemy import MetaData
from sqlalchemy.orm import DeclarativeBase


class Base(DeclarativeBase):
    # Named constraints keep Alembic migrations reviewable and SQLite batch mode working.
    metadata = MetaData(
        naming_convention={
            "ix": "ix_%(column_0_label)s",
            "uq": "uq_%(table_name)s_%(column_0_name)s",
            "ck": "ck_%(table_name)s_%(constraint_name)s",
            "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
            "pk": "pk_%(table_name)s",
        }
    )


db = SQLAlchemy(model_class=Base)
migrate = Migrate()
login_manager = LoginManager()
csrf = CSRFProtect()
# Sign-in counts its guesses itself (auth.routes), through the limiter's storage.
limiter = Limiter(key_func=get_remote_address, default_limits=[])


@limiter.request_filter
def _background_request() -> bool:
    """A background request (a live check, the top bar's count: app/htmx.py) skips the
    limiter's per-request look-up of the limits that apply, none of which applies to it
    (no route declares a limit; sign-in and the API count through the storage themselves)."""
    from app.htmx import is_background  # app.htmx imports this module

    return is_background()
