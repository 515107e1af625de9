"""a popug's language

`popugs.locale`: the language a popug chose in the top bar ("en" or "ru"); empty for every
popug until they choose (their browser's language, and English e-mails, until then).

Revision ID: a9c2e4f6b8d0
Revises: a3d5f7b9c1e2
Create Date: 2026-12-01 16:30:00

"""

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "a9c2e4f6b8d0"
down_revision = "a3d5f7b9c1e2"
branch_labels = None
depends_on = None


def upgrade():
    op.add_column("popugs", sa.Column("locale", sa.String(length=8), nullable=True))


def downgrade():
    # A plain DROP COLUMN on both databases (SQLite 3.35+): batch mode would copy `popugs`
    # into a new table, which SQLite's foreign keys from tasks and accounts forbid.
    op.execute("ALTER TABLE popugs DROP COLUMN locale")
