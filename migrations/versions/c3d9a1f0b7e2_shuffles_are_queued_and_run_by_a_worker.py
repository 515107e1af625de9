"""shuffles are queued and run by a worker

A press of "Shuffle open tasks" now records a queued shuffle and returns; the job worker
runs it. A shuffle gets a state (queued, running, done, failed), when it was pressed,
how many times a worker began it, when it finished and, if it failed, why. Every shuffle
recorded before this ran inside its request and is done: it was requested and started at
its `started_at` and finished `duration_ms` later.

Revision ID: c3d9a1f0b7e2
Revises: 5b1f0c2e9d47
Create Date: 2026-12-01 11:00:00

"""

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "c3d9a1f0b7e2"
down_revision = "5b1f0c2e9d47"
branch_labels = None
depends_on = None

WAITING = {
    "postgresql_where": sa.text("finished_at IS NULL"),
    "sqlite_where": sa.text("finished_at IS NULL"),
}


def upgrade():
    with op.batch_alter_table("shuffles") as batch:
        batch.add_column(sa.Column("status", sa.String(8), nullable=False, server_default="done"))
        batch.add_column(sa.Column("requested_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("attempts", sa.Integer(), nullable=False, server_default="1"))
        batch.add_column(sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("error", sa.String(500), nullable=True))
        batch.alter_column("started_at", existing_type=sa.DateTime(timezone=True), nullable=True)
    shuffles = sa.table(
        "shuffles",
        sa.column("started_at", sa.DateTime(timezone=True)),
        sa.column("requested_at", sa.DateTime(timezone=True)),
    )
    op.execute(shuffles.update().values(requested_at=shuffles.c.started_at))
    # finished_at = started_at + duration_ms, in each dialect's own date arithmetic
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "UPDATE shuffles SET finished_at = started_at + duration_ms * interval '1 millisecond'"
        )
    else:
        op.execute(
            "UPDATE shuffles SET finished_at = strftime('%Y-%m-%d %H:%M:%f', started_at, "
            "(duration_ms / 1000.0) || ' seconds')"
        )
    with op.batch_alter_table("shuffles") as batch:
        batch.alter_column("requested_at", existing_type=sa.DateTime(timezone=True), nullable=False)
        batch.alter_column("status", server_default=None, existing_type=sa.String(8))
        batch.alter_column("attempts", server_default=None, existing_type=sa.Integer())
        batch.create_check_constraint(
            op.f("ck_shuffles_status"), sa.text("status IN ('queued', 'running', 'done', 'failed')")
        )
    op.create_index("ix_shuffles_waiting", "shuffles", ["id"], **WAITING)


def downgrade():
    op.drop_index("ix_shuffles_waiting", table_name="shuffles")
    # Shuffles that never ran have no place in the old schema.
    op.execute("DELETE FROM shuffles WHERE status <> 'done'")
    with op.batch_alter_table("shuffles") as batch:
        batch.drop_constraint(op.f("ck_shuffles_status"), type_="check")
        batch.drop_column("error")
        batch.drop_column("finished_at")
        batch.drop_column("attempts")
        batch.drop_column("requested_at")
        batch.drop_column("status")
        batch.alter_column("started_at", existing_type=sa.DateTime(timezone=True), nullable=False)
