"""task texts kept apart from what a shuffle rewrites

A shuffle gives every open task a new assignee, and on PostgreSQL that writes a whole new
row version of the task and an entry into each index of its table. So a task's texts
(public id, title, Jira ID, description, form token) move to `task_texts`, one row per
task that a shuffle never touches, with the two unique indexes that were on `tasks`;
`tasks` keeps status, assignee, creator, prices and times: narrow rows, and only the
primary key and the assignee index to update per moved task.

On PostgreSQL the dropped columns stay in the existing row versions until they are
rewritten (the next shuffle rewrites every open task); `VACUUM FULL tasks` reclaims the
space at once.

Revision ID: e4f6b8a2c1d3
Revises: c3d9a1f0b7e2
Create Date: 2026-12-01 11:40:00

"""

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "e4f6b8a2c1d3"
down_revision = "c3d9a1f0b7e2"
branch_labels = None
depends_on = None

TEXTS = ("public_id", "title", "jira_id", "description", "form_token")


def upgrade():
    op.create_table(
        "task_texts",
        sa.Column("task_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("public_id", sa.String(length=36), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("jira_id", sa.String(length=32), nullable=True),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("form_token", sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint("task_id", name=op.f("pk_task_texts")),
        sa.UniqueConstraint("form_token", name=op.f("uq_task_texts_form_token")),
        sa.UniqueConstraint("public_id", name=op.f("uq_task_texts_public_id")),
    )
    columns = ", ".join(TEXTS)
    op.execute(
        f"INSERT INTO task_texts (task_id, {columns}) SELECT id, {columns} FROM tasks ORDER BY id"
    )
    with op.batch_alter_table("tasks") as batch:
        batch.drop_constraint(op.f("uq_tasks_form_token"), type_="unique")
        batch.drop_constraint(op.f("uq_tasks_public_id"), type_="unique")
        for name in TEXTS:
            batch.drop_column(name)
    # The key to `tasks` only now: SQLite's batch mode rebuilds `tasks` above, and a table
    # that other tables reference cannot be dropped with foreign keys on.
    with op.batch_alter_table("task_texts") as batch:
        batch.create_foreign_key(op.f("fk_task_texts_task_id_tasks"), "tasks", ["task_id"], ["id"])


def downgrade():
    with op.batch_alter_table("task_texts") as batch:
        batch.drop_constraint(op.f("fk_task_texts_task_id_tasks"), type_="foreignkey")
    with op.batch_alter_table("tasks") as batch:
        batch.add_column(sa.Column("public_id", sa.String(length=36), nullable=True))
        batch.add_column(sa.Column("title", sa.String(length=200), nullable=True))
        batch.add_column(sa.Column("jira_id", sa.String(length=32), nullable=True))
        batch.add_column(sa.Column("description", sa.Text(), nullable=True))
        batch.add_column(sa.Column("form_token", sa.String(length=64), nullable=True))
    for name in TEXTS:
        op.execute(
            f"UPDATE tasks SET {name} = (SELECT t.{name} FROM task_texts t "
            "WHERE t.task_id = tasks.id)"
        )
    with op.batch_alter_table("tasks") as batch:
        for name in ("public_id", "title", "description"):
            batch.alter_column(name, existing_type=sa.Text() if name == "description" else
                               sa.String(length=36 if name == "public_id" else 200),
                               nullable=False)
        batch.create_unique_constraint(op.f("uq_tasks_public_id"), ["public_id"])
        batch.create_unique_constraint(op.f("uq_tasks_form_token"), ["form_token"])
    op.drop_table("task_texts")
