"""My account reads one popug's entries through that popug's index on PostgreSQL, even when
the planner's statistics have not yet met the day (every new business day, until
autovacuum next analyzes the ledger)."""

from datetime import date

import pytest

from app.blueprints.accounting import queries
from app.extensions import db
from tests.factories import make_popug
from tests.support.plans import explained

pytestmark = pytest.mark.postgres
NEW_DAY = date(2026, 3, 2)


def test_my_account_uses_the_account_index_on_a_day_the_statistics_do_not_know(app):
    popugs = [make_popug("worker") for _ in range(40)]
    db.session.commit()
    connection = db.session.connection()
    entry = (
        "INSERT INTO ledger_entries (account_id, kind, amount, business_day, created_at) "
        "SELECT a.id, 'assign_fee', -100, {day}, TIMESTAMP '2026-01-01 12:00' "
        "FROM accounts a, generate_series(1, {n}) AS g"
    )
    # Thirty analyzed days of history, then a busy day that ANALYZE has not seen.
    connection.exec_driver_sql(entry.format(day="DATE '2026-01-01' + mod(g, 30)", n=500))
    connection.exec_driver_sql("ANALYZE ledger_entries")
    connection.exec_driver_sql(entry.format(day=f"DATE '{NEW_DAY.isoformat()}'", n=300))
    db.session.commit()

    account = queries.account_of(popugs[0].id)
    plans = explained(lambda: queries.account_summary(popugs[0].id, NEW_DAY, date(2026, 1, 5)))
    plans += explained(lambda: queries.audit_log(account.id, NEW_DAY, 2, 50))
    assert len(plans) == 3  # summary, the log's count and page
    for plan in plans:
        assert "ix_ledger_entries_account_day" in plan, plan
        assert "ix_ledger_entries_day_kind_amount" not in plan, plan
        assert "Seq Scan on ledger_entries" not in plan, plan

    # And the figures are right.
    summary = queries.account_summary(popugs[0].id, NEW_DAY, NEW_DAY)
    assert summary.earnings_today == summary.earnings_on_day == -300 * 100
    assert queries.audit_log(account.id, NEW_DAY, 1, 50).total == 300
    assert len(queries.audit_log(account.id, NEW_DAY, 6, 50).items) == 50
    assert queries.audit_log(account.id, NEW_DAY, 7, 50).items == []
