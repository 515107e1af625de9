"""narrow tasks for a shuffle: a task's creator and creation time in task_texts, assignee
indexes a shuffle barely touches, a shuffle's lines by task

- `tasks.creator_id` and `tasks.created_at` move to `task_texts` (written once, at
  creation): a shuffle rewrites every open task's row, now about half as wide.
- The assignee index `tasks (assignee_id, status, id)` becomes two partial ones: the open
  tasks' (PostgreSQL `(assignee_id)`, SQLite `(assignee_id, fee)`), the one index a shuffle
  changes, and the done tasks' `(assignee_id, completed_at, id)`, which it never writes.
- A shuffle's ledger lines are also kept in `shuffle_lines`, keyed by (shuffle, task), which
  a shuffle writes in task order; it replaces the index on `ledger_lines (task_id,
  entry_id)`, into which a shuffle wrote a million entries at random places. Existing lines
  are copied there.

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

# As in app/blueprints/tasks/models.py at this revision: the triggers that keep SQLite's
# index of titles' words, which rebuilding `task_texts` drops.
SQLITE_TITLE_WORDS_TRIGGERS = [
    "CREATE TRIGGER task_title_words_insert AFTER INSERT ON task_texts BEGIN "
    "INSERT INTO task_title_words(rowid, title) VALUES (new.task_id, new.title); END",
    "CREATE TRIGGER task_title_words_delete AFTER DELETE ON task_texts BEGIN "
    "INSERT INTO task_title_words(task_title_words, rowid, title) "
    "VALUES ('delete', old.task_id, old.title); END",
    "CREATE TRIGGER task_title_words_update AFTER UPDATE OF title ON task_texts BEGIN "
    "INSERT INTO task_title_words(task_title_words, rowid, title) "
    "VALUES ('delete', old.task_id, old.title); "
    "INSERT INTO task_title_words(rowid, title) VALUES (new.task_id, new.title); END",
]


def _only(condition):
    return {dialect + "_where": sa.text(condition) for dialect in ("postgresql", "sqlite")}


def _sqlite():
    return op.get_bind().dialect.name == "sqlite"


def _move_columns(source, target, source_key, target_key):
    """Copy creator_id and created_at from `source` to `target` (joined on their task ids),
    NOT NULL and the creator a foreign key in `target`, and drop them from `source`. SQLite
    rebuilds both tables, so the key from `task_texts` to `tasks` goes meanwhile, and the
    triggers of the titles' words come back after."""
    with op.batch_alter_table("task_texts") as batch:
        batch.drop_constraint(op.f("fk_task_texts_task_id_tasks"), type_="foreignkey")
    op.add_column(target, sa.Column("creator_id", sa.Integer(), nullable=True))
    op.add_column(target, sa.Column("created_at", sa.DateTime(timezone=True), nullable=True))
    for column in ("creator_id", "created_at"):
        op.execute(
            f"UPDATE {target} SET {column} = (SELECT s.{column} FROM {source} s "
            f"WHERE s.{source_key} = {target}.{target_key})"
        )
    with op.batch_alter_table(target) as batch:
        batch.alter_column("creator_id", existing_type=sa.Integer(), nullable=False)
        batch.alter_column(
            "created_at", existing_type=sa.DateTime(timezone=True), nullable=False
        )
        batch.create_foreign_key(
            op.f(f"fk_{target}_creator_id_popugs"), "popugs", ["creator_id"], ["id"]
        )
    with op.batch_alter_table(source) as batch:
        batch.drop_constraint(op.f(f"fk_{source}_creator_id_popugs"), type_="foreignkey")
        batch.drop_column("creator_id")
        batch.drop_column("created_at")
    with op.batch_alter_table("task_texts") as batch:
        batch.create_foreign_key(op.f("fk_task_texts_task_id_tasks"), "tasks", ["task_id"], ["id"])
    if _sqlite():
        for statement in SQLITE_TITLE_WORDS_TRIGGERS:
            op.execute(statement)


def upgrade():
    op.drop_index(op.f("ix_tasks_assignee_status_id"), table_name="tasks")
    _move_columns("tasks", "task_texts", "id", "task_id")
    if _sqlite():
        op.create_index(
            op.f("ix_tasks_open_assignee_fee"),
            "tasks",
            ["assignee_id", "fee"],
            **_only("status = 'open'"),
        )
    else:
        op.create_index(
            op.f("ix_tasks_open_assignee"), "tasks", ["assignee_id"], **_only("status = 'open'")
        )
    op.create_index(
        op.f("ix_tasks_done_assignee"),
        "tasks",
        ["assignee_id", "completed_at", "id"],
        **_only("status = 'done'"),
    )
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


def downgrade():
    op.create_index(
        op.f("ix_ledger_lines_task_id"), "ledger_lines", ["task_id", "entry_id"], unique=False
    )
    op.drop_table("shuffle_lines")
    op.drop_index(op.f("ix_tasks_done_assignee"), table_name="tasks")
    if _sqlite():
        op.drop_index(op.f("ix_tasks_open_assignee_fee"), table_name="tasks")
    else:
        op.drop_index(op.f("ix_tasks_open_assignee"), table_name="tasks")
    _move_columns("task_texts", "tasks", "task_id", "id")
    op.create_index(
        op.f("ix_tasks_assignee_status_id"), "tasks", ["assignee_id", "status", "id"]
    )
