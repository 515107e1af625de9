"""a shuffle's lines by task, and assignee indexes a shuffle barely touches

A shuffle's ledger lines are also kept in `shuffle_lines`, keyed by (shuffle, task), which
a shuffle writes in task order; it replaces the index on `ledger_lines (task_id,
entry_id)`, into which a shuffle wrote a million entries at random places. Existing lines
are copied there.

The assignee index `tasks (assignee_id, status, id)` becomes two partial ones: the open
tasks' `(assignee_id, fee)`, the one index a shuffle changes, and the done tasks'
`(assignee_id, completed_at, id)`, which it never writes.

Revision ID: a3d5f7b9c1e2
Revises: f2a4c6e8b0d1
Create Date: 2026-12-01 17:00:00

"""

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "a3d5f7b9c1e2"
down_revision = "f2a4c6e8b0d1"
branch_labels = None
depends_on = None


def _only(condition):
    return {dialect + "_where": sa.text(condition) for dialect in ("postgresql", "sqlite")}


def upgrade():
    op.create_table(
        "shuffle_lines",
        sa.Column("shuffle_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("task_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column(
            "entry_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.PrimaryKeyConstraint("shuffle_id", "task_id", name=op.f("pk_shuffle_lines")),
        sqlite_with_rowid=False,
    )
    op.execute(
        "INSERT INTO shuffle_lines (shuffle_id, task_id, entry_id) "
        "SELECT e.shuffle_id, l.task_id, l.entry_id FROM ledger_lines l "
        "JOIN ledger_entries e ON e.id = l.entry_id ORDER BY e.shuffle_id, l.task_id"
    )
    op.drop_index(op.f("ix_ledger_lines_task_id"), table_name="ledger_lines")
    op.drop_index(op.f("ix_tasks_assignee_status_id"), table_name="tasks")
    op.create_index(
        op.f("ix_tasks_open_assignee"), "tasks", ["assignee_id", "fee"], **_only("status = 'open'")
    )
    op.create_index(
        op.f("ix_tasks_done_assignee"),
        "tasks",
        ["assignee_id", "completed_at", "id"],
        **_only("status = 'done'"),
    )


def downgrade():
    op.drop_index(op.f("ix_tasks_done_assignee"), table_name="tasks")
    op.drop_index(op.f("ix_tasks_open_assignee"), table_name="tasks")
    op.create_index(
        op.f("ix_tasks_assignee_status_id"), "tasks", ["assignee_id", "status", "id"]
    )
    op.create_index(
        op.f("ix_ledger_lines_task_id"), "ledger_lines", ["task_id", "entry_id"], unique=False
    )
    op.drop_table("shuffle_lines")
