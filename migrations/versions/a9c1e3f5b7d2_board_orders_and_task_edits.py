"""board orders and task edits

The Tasks board orders by fee or reward and filters "Created by me": `task_texts` gets
copies of each task's prices (fixed at creation; an index on `tasks` would take a new entry
for every task a shuffle moves, one here none) filled from `tasks`, and indexes on (fee,
task), (reward, task) and (creator, task). A creator's edits of a task's texts are kept in
`task_edits` for its History.

On SQLite the columns become NOT NULL by copying the table (batch mode), which drops the
triggers that keep the titles' FTS index: they are created again and the index rebuilt.

Revision ID: a9c1e3f5b7d2
Revises: e2a4c6d8f0b3
Create Date: 2026-12-05 16:20:00

"""

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "a9c1e3f5b7d2"
down_revision = "e2a4c6d8f0b3"
branch_labels = None
depends_on = None

# As in app/blueprints/tasks/models.py at this revision.
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


def _sqlite() -> bool:
    return op.get_bind().dialect.name == "sqlite"


def _triggers_again() -> None:
    if _sqlite():
        for trigger in ("insert", "delete", "update"):
            op.execute(f"DROP TRIGGER IF EXISTS task_title_words_{trigger}")
        for statement in SQLITE_TITLE_WORDS_TRIGGERS:
            op.execute(statement)
        op.execute("INSERT INTO task_title_words(task_title_words) VALUES ('rebuild')")


def upgrade():
    op.add_column("task_texts", sa.Column("fee", sa.BigInteger(), nullable=True))
    op.add_column("task_texts", sa.Column("reward", sa.BigInteger(), nullable=True))
    if _sqlite():
        op.execute(
            "UPDATE task_texts SET (fee, reward) = "
            "(SELECT fee, reward FROM tasks WHERE tasks.id = task_texts.task_id)"
        )
    else:
        op.execute(
            "UPDATE task_texts SET fee = tasks.fee, reward = tasks.reward "
            "FROM tasks WHERE tasks.id = task_texts.task_id"
        )
    with op.batch_alter_table("task_texts", schema=None) as batch_op:
        batch_op.alter_column("fee", existing_type=sa.BigInteger(), nullable=False)
        batch_op.alter_column("reward", existing_type=sa.BigInteger(), nullable=False)
    _triggers_again()
    op.create_index("ix_task_texts_fee", "task_texts", ["fee", "task_id"], unique=False)
    op.create_index("ix_task_texts_reward", "task_texts", ["reward", "task_id"], unique=False)
    op.create_index(
        "ix_task_texts_creator", "task_texts", ["creator_id", "task_id"], unique=False
    )
    op.create_table(
        "task_edits",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("task_id", sa.Integer(), nullable=False),
        sa.Column("editor_id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("changes", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(["editor_id"], ["popugs.id"], name=op.f("fk_task_edits_editor_id_popugs")),
        sa.ForeignKeyConstraint(["task_id"], ["tasks.id"], name=op.f("fk_task_edits_task_id_tasks")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_task_edits")),
    )
    op.create_index("ix_task_edits_task_at", "task_edits", ["task_id", "at", "id"], unique=False)


def downgrade():
    op.drop_index("ix_task_edits_task_at", table_name="task_edits")
    op.drop_table("task_edits")
    op.drop_index("ix_task_texts_creator", table_name="task_texts")
    op.drop_index("ix_task_texts_reward", table_name="task_texts")
    op.drop_index("ix_task_texts_fee", table_name="task_texts")
    with op.batch_alter_table("task_texts", schema=None) as batch_op:
        batch_op.drop_column("reward")
        batch_op.drop_column("fee")
    _triggers_again()
