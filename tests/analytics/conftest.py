"""Analytics fixtures: a settable time zone, pinned task prices, and builders that make
tasks happen at chosen moments through the real services."""

from collections import deque
from datetime import datetime

import pytest
from sqlalchemy import text

from app import clock
from app.blueprints.tasks import service as task_service
from app.extensions import db
from tests.conftest import signed_in_client


@pytest.fixture
def set_timezone(app):
    """set_timezone("Asia/Tokyo"): business days in that zone until the test ends."""
    before = app.config["ATES_TIMEZONE"]

    def set_(name: str) -> None:
        app.config["ATES_TIMEZONE"] = name

    yield set_
    app.config["ATES_TIMEZONE"] = before


class Prices:
    """Task prices are random by design; exact figures need chosen ones. Queued (fee, reward)
    pairs are used by the next create_task calls, in order; an empty queue is a test bug."""

    def __init__(self):
        self.queue: deque[tuple[int, int]] = deque()

    def next(self, fee: int, reward: int) -> None:
        self.queue.append((fee, reward))

    def draw(self, rng=None) -> tuple[int, int]:
        if not self.queue:
            raise AssertionError("no price queued for this task")
        return self.queue.popleft()


@pytest.fixture
def prices(monkeypatch):
    pinned = Prices()
    monkeypatch.setattr(task_service, "draw_prices", pinned.draw)
    return pinned


class Builder:
    """Creates and completes tasks at given moments (aware datetimes) with given prices."""

    def __init__(self, prices: Prices, creator):
        self.prices = prices
        self.creator = creator

    def create(self, at: datetime, *, reward: int, fee: int = 1000, title=None, jira_id=None):
        clock.freeze(at)
        self.prices.next(fee, reward)
        task = task_service.create_task(
            title=title or f"Task paying {reward}",
            jira_id=jira_id,
            description="",
            actor=self.creator,
        )
        db.session.commit()
        return task

    def complete(self, task, at: datetime, assignee):
        clock.freeze(at)
        done = task_service.complete_task(task.public_id, actor=assignee)
        db.session.commit()
        return done

    def done(self, created: datetime, completed: datetime, assignee, **kwargs):
        """A task created at `created` and completed by `assignee` at `completed`."""
        return self.complete(self.create(created, **kwargs), completed, assignee)


@pytest.fixture
def build(prices, admin):
    return Builder(prices, admin)


@pytest.fixture
def admin_page(app, admin):
    """GET the dashboard as the admin: admin_page("from=…&to=…") -> response."""
    client = signed_in_client(app, admin)

    def get(query: str = "", **headers):
        return client.get(f"/analytics?{query}" if query else "/analytics", headers=headers)

    return get


def reset_database() -> None:
    """Empty every table (for each hypothesis example; the autouse fixture does it per test)."""
    db.session.remove()
    tables = db.metadata.sorted_tables
    with db.engine.begin() as conn:
        if db.engine.dialect.name == "postgresql":
            names = ", ".join(table.name for table in tables)
            conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
        else:
            for table in reversed(tables):
                conn.execute(table.delete())
