"""the entries' task index covers verify

`accounting verify` joins every task to the ledger entries naming it (fees, rewards) and
reads their kind, amount, account and origin: the partial index on `ledger_entries.task_id`
holds those columns too, so the join reads the index alone, in task order.

Revision ID: c3e5a7b9d1f2
Revises: c8e0a2b4d6f9
Create Date: 2026-12-05 13:00:00

"""

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "c3e5a7b9d1f2"
down_revision = "c8e0a2b4d6f9"
branch_labels = None
depends_on = None

_PARTIAL = {
    "postgresql_where": sa.text("task_id IS NOT NULL"),
    "sqlite_where": sa.text("task_id IS NOT NULL"),
}


def upgrade():
    op.drop_index(op.f("ix_ledger_entries_task_id"), table_name="ledger_entries")
    op.create_index(
        op.f("ix_ledger_entries_task_id"),
        "ledger_entries",
        ["task_id", "id", "kind", "amount", "account_id", "shuffle_id", "handed_over_from"],
        unique=False,
        **_PARTIAL,
    )


def downgrade():
    op.drop_index(op.f("ix_ledger_entries_task_id"), table_name="ledger_entries")
    op.create_index(
        op.f("ix_ledger_entries_task_id"),
        "ledger_entries",
        ["task_id", "id"],
        unique=False,
        **_PARTIAL,
    )
