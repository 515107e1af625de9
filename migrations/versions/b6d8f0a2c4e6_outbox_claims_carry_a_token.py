"""outbox claims carry a token

`mail_outbox.claim_token`: the random token a sender wrote with its claim (its lease); a
sender renews its lease, re-checks before each message and records a failure only while
the token is still its own, so a sender whose lease was taken over neither sends nor
reschedules. Empty for every message not claimed now.

Revision ID: b6d8f0a2c4e6
Revises: a9c2e4f6b8d0
Create Date: 2026-12-06 10:00:00

"""

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "b6d8f0a2c4e6"
down_revision = "a9c2e4f6b8d0"
branch_labels = None
depends_on = None


def upgrade():
    op.add_column("mail_outbox", sa.Column("claim_token", sa.String(length=32), nullable=True))


def downgrade():
    # A plain DROP COLUMN on both databases (SQLite 3.35+), as the language migration does.
    op.execute("ALTER TABLE mail_outbox DROP COLUMN claim_token")
