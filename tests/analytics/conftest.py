"""Analytics fixtures: a settable time zone, and builders that make tasks happen at chosen
moments with chosen prices through the real services."""

from datetime import datetime

import pytest

from app import clock
from app.blueprints.tasks import service as task_service
from app.extensions import db
from tests.factories import make_task
from tests.helpers import signed_in_client


@pytest.fixture
def set_timezone(app):
    """set_timezone("Asia/Tokyo"): business days in that zone until the test ends."""
    before = app.config["ATES_TIMEZONE"]

    def set_(name: str) -> None:
        app.config["ATES_TIMEZONE"] = name

    yield set_
    app.config["ATES_TIMEZONE"] = before


class Builder:
    """Creates and completes tasks at given moments (aware datetimes) with given prices."""

    def __init__(self, creator):
        self.creator = creator

    def create(self, at: datetime, *, reward: int, fee: int = 1000, title=None, jira_id=None):
        clock.freeze(at)
        return make_task(
            self.creator, title or f"Task paying {reward}", jira_id, prices=(fee, reward)
        )

    def complete(self, task, at: datetime, assignee):
        clock.freeze(at)
        done = task_service.complete_task(task.public_id, actor=assignee)
        db.session.commit()
        return done

    def done(self, created: datetime, completed: datetime, assignee, **kwargs):
        """A task created at `created` and completed by `assignee` at `completed`."""
        return self.complete(self.create(created, **kwargs), completed, assignee)


@pytest.fixture
def build(admin):
    return Builder(admin)


@pytest.fixture
def admin_page(app, admin):
    """GET the dashboard as the admin: admin_page("from=…&to=…") -> response."""
    client = signed_in_client(app, admin)

    def get(query: str = "", **headers):
        return client.get(f"/analytics?{query}" if query else "/analytics", headers=headers)

    return get
