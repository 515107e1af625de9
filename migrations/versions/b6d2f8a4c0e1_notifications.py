"""notifications

`notifications`: what aTES did to a popug's work and money (a task assigned to them, a
shuffle's tasks, tasks handed over, a payout, a role change), stored as a kind code and its
parameters, with the time it was read. Indexed by (popug, id), and the unread ones apart
(a partial index) for the top bar's count.

Revision ID: b6d2f8a4c0e1
Revises: b1d3f5a7c9e2
Create Date: 2026-12-05 13:10:00

"""

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "b6d2f8a4c0e1"
down_revision = "b1d3f5a7c9e2"
branch_labels = None
depends_on = None

UNREAD = "read_at IS NULL"


def upgrade():
    op.create_table(
        "notifications",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            nullable=False,
        ),
        sa.Column("popug_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("task_id", sa.Integer(), nullable=True),
        sa.Column("shuffle_id", sa.Integer(), nullable=True),
        sa.Column("actor_id", sa.Integer(), nullable=True),
        sa.Column("amount", sa.BigInteger(), nullable=True),
        sa.Column("count", sa.Integer(), nullable=True),
        sa.Column("day", sa.Date(), nullable=True),
        sa.Column("role", sa.String(length=16), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("read_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "kind IN ('task_assigned', 'shuffled', 'handed_over', 'paid_out', 'role_changed')",
            name=op.f("ck_notifications_kind"),
        ),
        sa.ForeignKeyConstraint(
            ["popug_id"], ["popugs.id"], name=op.f("fk_notifications_popug_id_popugs")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notifications")),
    )
    op.create_index("ix_notifications_popug_id", "notifications", ["popug_id", "id"])
    op.create_index(
        "ix_notifications_unread",
        "notifications",
        ["popug_id", "id"],
        postgresql_where=sa.text(UNREAD),
        sqlite_where=sa.text(UNREAD),
    )


def downgrade():
    op.drop_index("ix_notifications_unread", table_name="notifications")
    op.drop_index("ix_notifications_popug_id", table_name="notifications")
    op.drop_table("notifications")
