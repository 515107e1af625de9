from datetime import datetime
from uuid import uuid4

from flask_login import UserMixin
from sqlalchemy import Boolean, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from app import clock
from app.db import UTCDateTime
from app.extensions import db


class Popug(UserMixin, db.Model):
    """An employee account. The beak shape itself is never stored, only its argon2id hash."""

    __tablename__ = "popugs"
    __table_args__ = (
        # The Popugs list's search by the beginning of a username or e-mail (a LIKE 'x%'):
        # PostgreSQL's plain indexes serve it only under the C collation, these under any.
        # SQLite searches by a range of the unique indexes instead.
        *(
            Index(
                f"ix_popugs_{column}_pattern",
                column,
                postgresql_ops={column: "varchar_pattern_ops"},
            ).ddl_if(dialect="postgresql")
            for column in ("username", "email")
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    public_id: Mapped[str] = mapped_column(String(36), unique=True, default=lambda: str(uuid4()))
    username: Mapped[str] = mapped_column(String(32), unique=True)  # stored lower-case
    email: Mapped[str] = mapped_column(String(254), unique=True)  # stored lower-case
    role: Mapped[str] = mapped_column(String(16))
    beak_hash: Mapped[str] = mapped_column(String(255))
    active: Mapped[bool] = mapped_column(Boolean, default=True, index=True)
    # Bumped on sign-out and deactivation: every session cookie issued before stops working.
    session_epoch: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now)
    # The language the popug chose in the top bar (app/i18n.py LOCALES); None: not chosen,
    # so their browser's. Their payout e-mails go out in it (English when None).
    locale: Mapped[str | None] = mapped_column(String(8))  # chosen in the top bar
    # What their browser asked for at their last sign-in: their language until they choose.
    browser_locale: Mapped[str | None] = mapped_column(String(8))

    def get_id(self) -> str:
        return f"{self.public_id}.{self.session_epoch}"

    @property
    def is_active(self) -> bool:
        return self.active

    def __repr__(self) -> str:
        return f"<Popug {self.username} {self.role}>"


class ApiToken(db.Model):
    """A popug's personal API token. Only the SHA-256 of its secret is kept (the secret is
    long and random, so a fast hash is enough); `prefix`, its first characters, lets the
    owner recognise it in the list."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    public_id: Mapped[str] = mapped_column(String(36), unique=True, default=lambda: str(uuid4()))
    popug_id: Mapped[int] = mapped_column(ForeignKey("popugs.id"), index=True)
    name: Mapped[str] = mapped_column(String(64))
    prefix: Mapped[str] = mapped_column(String(16))
    secret_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    def is_live(self, now: datetime) -> bool:
        return self.revoked_at is None and now < self.expires_at
