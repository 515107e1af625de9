""" "Now" and the business day, in one place, so tests can move time without sleeping."""

from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

from flask import current_app

_frozen: datetime | None = None


def now() -> datetime:
    """The current time, timezone-aware in UTC."""
    return _frozen if _frozen is not None else datetime.now(UTC)


def freeze(at: datetime | None) -> None:
    """Fix "now" at `at` (aware), or release it with None. For tests and demos only."""
    global _frozen
    if at is not None and at.tzinfo is None:
        raise ValueError("freeze() needs an aware datetime")
    _frozen = at.astimezone(UTC) if at is not None else None


def timezone() -> ZoneInfo:
    return _zone(current_app.config["ATES_TIMEZONE"])


@lru_cache(maxsize=16)
def _zone(key: str) -> ZoneInfo:
    # A ZoneInfo is immutable; keyed by the name, so a test that changes ATES_TIMEZONE
    # gets the new zone. (Every date cell of a page asks for it.)
    return ZoneInfo(key)


def business_day(at: datetime | None = None) -> date:
    """The calendar day in ATES_TIMEZONE that `at` (default: now) falls in."""
    return (at or now()).astimezone(timezone()).date()


def day_bounds(day: date) -> tuple[datetime, datetime]:
    """[start, end) of a business day, as UTC datetimes (DST-safe)."""
    tz = timezone()
    start = datetime.combine(day, time.min, tzinfo=tz)
    end = datetime.combine(day + timedelta(days=1), time.min, tzinfo=tz)
    return start.astimezone(UTC), end.astimezone(UTC)


def local(at: datetime) -> datetime:
    """`at` in ATES_TIMEZONE, for display."""
    return at.astimezone(timezone())
