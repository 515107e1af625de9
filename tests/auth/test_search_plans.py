"""The Popugs list's search reads the popugs it finds through indexes on PostgreSQL, not by
reading every popug (there may be 10,000), whatever the database's collation."""

import pytest

from app.blueprints.auth import service
from app.extensions import db
from tests.support.plans import explained

pytestmark = pytest.mark.postgres
POPUGS = 10_000


def test_the_search_reads_popugs_through_indexes(app):
    connection = db.session.connection()
    connection.exec_driver_sql(
        "INSERT INTO popugs (public_id, username, email, role, beak_hash, active, "
        "session_epoch, created_at) "
        "SELECT gen_random_uuid()::text, 'popug-' || g, 'mail-' || g || '@uberpopug.inc', "
        "'worker', 'x', true, 0, now() FROM generate_series(1, %(n)s) AS g",
        {"n": POPUGS},
    )
    connection.exec_driver_sql("ANALYZE popugs")
    db.session.commit()

    for search in ("popug-12", "mail-12", "popug-1234", "p"):
        found = service.list_popugs(1, 50, search=search)
        assert found.items and all(
            p.username.startswith(search) or p.email.startswith(search) for p in found.items
        )
    plans = explained(lambda: service.list_popugs(1, 50, search="popug-12"))
    plans += explained(lambda: service.list_popugs(1, 50, search="mail-12"))
    assert len(plans) == 4  # the count and the page, for each search
    for plan in plans:
        assert "Seq Scan on popugs" not in plan, plan
        assert "Index" in plan, plan
    assert service.list_popugs(1, 50, search="popug-12").total == 111  # 12, 120-129, 1200-…
