"""sign-in counters in the database

The sign-in rate limits count in `rate_limits` (app/rate_limits.py) unless
RATELIMIT_STORAGE_URI names another storage: one row per counter, shared by every web
worker, kept across restarts.

Revision ID: b1c4e7a9d2f6
Revises: f7a3c5e9b2d4
Create Date: 2026-12-01 14:10:00

"""

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "b1c4e7a9d2f6"
down_revision = "f7a3c5e9b2d4"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "rate_limits",
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("hits", sa.Integer(), nullable=False),
        sa.Column("expires_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_rate_limits")),
    )
    op.create_index(op.f("ix_rate_limits_expires_at"), "rate_limits", ["expires_at"])


def downgrade():
    op.drop_index(op.f("ix_rate_limits_expires_at"), table_name="rate_limits")
    op.drop_table("rate_limits")
