"""a task's history by index

A task's page lists its money history: the ledger entries naming the task (creation fee,
hand-overs, reward, per-task fees of older shuffles) through a partial index on
`ledger_entries.task_id`, which a shuffle's summed entries (no task) never enter; and the
lines of shuffles' entries through an index on `ledger_lines.task_id`.

Revision ID: e8f1b3c5d7a9
Revises: d7e9a2b4c6f8
Create Date: 2026-12-01 15:20:00

"""

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "e8f1b3c5d7a9"
down_revision = "d7e9a2b4c6f8"
branch_labels = None
depends_on = None


def upgrade():
    op.create_index(
        op.f("ix_ledger_entries_task_id"),
        "ledger_entries",
        ["task_id", "id"],
        unique=False,
        postgresql_where=sa.text("task_id IS NOT NULL"),
        sqlite_where=sa.text("task_id IS NOT NULL"),
    )
    op.create_index(
        op.f("ix_ledger_lines_task_id"), "ledger_lines", ["task_id", "entry_id"], unique=False
    )


def downgrade():
    op.drop_index(op.f("ix_ledger_lines_task_id"), table_name="ledger_lines")
    op.drop_index(op.f("ix_ledger_entries_task_id"), table_name="ledger_entries")
