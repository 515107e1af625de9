"""the browser's language of a popug

`popugs.browser_locale`: the language the popug's browser asked for when they last signed in
("en" or "ru"); what aTES writes to them in (payout e-mails) until they choose one in the
top bar (`popugs.locale`).

Revision ID: b1d3f5a7c9e2
Revises: b6d8f0a2c4e6
Create Date: 2026-12-05 13:20:00

"""

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "b1d3f5a7c9e2"
down_revision = "b6d8f0a2c4e6"
branch_labels = None
depends_on = None


def upgrade():
    op.add_column("popugs", sa.Column("browser_locale", sa.String(length=8), nullable=True))


def downgrade():
    # A plain DROP COLUMN (SQLite 3.35+): batch mode would copy `popugs` into a new table,
    # which SQLite's foreign keys from tasks and accounts forbid.
    op.execute("ALTER TABLE popugs DROP COLUMN browser_locale")
