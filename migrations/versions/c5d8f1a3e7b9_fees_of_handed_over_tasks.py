"""fees of handed-over tasks

A popug deactivated, or made manager or admin, hands their open tasks over to others, each
charged the task's fee by an entry that names the task and, in `handed_over_from`, the popug
it came from (no foreign key: accounting keeps other services' ids as plain numbers).

Revision ID: c5d8f1a3e7b9
Revises: b1c4e7a9d2f6
Create Date: 2026-12-01 14:40:00

"""

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "c5d8f1a3e7b9"
down_revision = "b1c4e7a9d2f6"
branch_labels = None
depends_on = None


def upgrade():
    op.add_column("ledger_entries", sa.Column("handed_over_from", sa.Integer(), nullable=True))


def downgrade():
    with op.batch_alter_table("ledger_entries") as batch_op:
        batch_op.drop_column("handed_over_from")
