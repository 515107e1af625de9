"""a shuffle's ledger entries by index

`ix_ledger_entries_shuffle_id` (shuffle_id, id), partial (shuffles' entries only): what a
shuffle charged each popug, read for their notifications without scanning the ledger or
the shuffle's lines. A shuffle adds one key per popug it charged.

Revision ID: c8e0a2b4d6f9
Revises: b6d2f8a4c0e1
Create Date: 2026-12-05 13:30:00

"""

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "c8e0a2b4d6f9"
down_revision = "b6d2f8a4c0e1"
branch_labels = None
depends_on = None

SHUFFLES_ONLY = "shuffle_id IS NOT NULL"


def upgrade():
    op.create_index(
        "ix_ledger_entries_shuffle_id",
        "ledger_entries",
        ["shuffle_id", "id"],
        postgresql_where=sa.text(SHUFFLES_ONLY),
        sqlite_where=sa.text(SHUFFLES_ONLY),
    )


def downgrade():
    op.drop_index("ix_ledger_entries_shuffle_id", table_name="ledger_entries")
