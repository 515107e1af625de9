"""a shuffle charges each popug once, with a line per task

A shuffle of a million open tasks wrote a million ledger entries, each through the ledger's
three indexes and a foreign-key check, and rewrote a million tasks, each with a foreign-key
check of its new assignee. Now a shuffle writes one assign-fee entry per popug it gave
tasks to (their fees summed) and, in `ledger_lines`, one narrow line per task with its fee,
indexed only by its primary key (entry, task) in the order it is written. And the two
foreign keys checked per row go: `ledger_entries.account_id` and `tasks.assignee_id` are
always taken from `accounts` and `popugs` by the statement that writes them, neither table
ever loses a row, and `accounting verify` checks both.

Entries written by earlier shuffles (one per task, naming it) stay as they are: the ledger
is append-only, and both shapes explain every fee per task.

Revision ID: f7a3c5e9b2d4
Revises: e4f6b8a2c1d3
Create Date: 2026-12-01 12:20:00

"""

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "f7a3c5e9b2d4"
down_revision = "e4f6b8a2c1d3"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "ledger_lines",
        sa.Column(
            "entry_id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=False,
            nullable=False,
        ),
        sa.Column("task_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("entry_id", "task_id", name=op.f("pk_ledger_lines")),
        sqlite_with_rowid=False,
    )
    with op.batch_alter_table("ledger_entries") as batch:
        batch.drop_constraint(op.f("fk_ledger_entries_account_id_accounts"), type_="foreignkey")
    with op.batch_alter_table("task_texts") as batch:  # SQLite rebuilds `tasks` below
        batch.drop_constraint(op.f("fk_task_texts_task_id_tasks"), type_="foreignkey")
    with op.batch_alter_table("tasks") as batch:
        batch.drop_constraint(op.f("fk_tasks_assignee_id_popugs"), type_="foreignkey")
    with op.batch_alter_table("task_texts") as batch:
        batch.create_foreign_key(op.f("fk_task_texts_task_id_tasks"), "tasks", ["task_id"], ["id"])


def downgrade():
    with op.batch_alter_table("task_texts") as batch:
        batch.drop_constraint(op.f("fk_task_texts_task_id_tasks"), type_="foreignkey")
    with op.batch_alter_table("tasks") as batch:
        batch.create_foreign_key(
            op.f("fk_tasks_assignee_id_popugs"), "popugs", ["assignee_id"], ["id"]
        )
    with op.batch_alter_table("task_texts") as batch:
        batch.create_foreign_key(op.f("fk_task_texts_task_id_tasks"), "tasks", ["task_id"], ["id"])
    with op.batch_alter_table("ledger_entries") as batch:
        batch.create_foreign_key(
            op.f("fk_ledger_entries_account_id_accounts"), "accounts", ["account_id"], ["id"]
        )
    # Lines have no place in the old schema: each becomes an entry of its own that names
    # its task (the shape shuffles wrote before), and the summed entries go.
    op.execute(
        "INSERT INTO ledger_entries (account_id, kind, amount, task_id, shuffle_id, "
        "business_day, created_at) SELECT e.account_id, e.kind, l.amount, l.task_id, "
        "e.shuffle_id, e.business_day, e.created_at FROM ledger_lines l "
        "JOIN ledger_entries e ON e.id = l.entry_id ORDER BY l.entry_id, l.task_id"
    )
    op.execute(
        "DELETE FROM ledger_entries WHERE task_id IS NULL AND kind = 'assign_fee' "
        "AND id IN (SELECT entry_id FROM ledger_lines)"
    )
    op.drop_table("ledger_lines")
