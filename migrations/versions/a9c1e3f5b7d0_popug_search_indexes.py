"""popug search indexes

The Popugs list's search finds popugs by the beginning of their username or e-mail (a
LIKE 'x%'). On PostgreSQL the unique indexes serve that only under the C collation, so
these pattern indexes serve it under any; SQLite searches a range of the unique indexes.

Revision ID: a9c1e3f5b7d0
Revises: b8d2f4a6c0e1
Create Date: 2026-12-05 16:20:00

"""

from alembic import op


# revision identifiers, used by Alembic.
revision = "a9c1e3f5b7d0"
down_revision = "b8d2f4a6c0e1"
branch_labels = None
depends_on = None

COLUMNS = ("username", "email")


def upgrade():
    if op.get_bind().dialect.name != "postgresql":
        return
    for column in COLUMNS:
        op.create_index(
            f"ix_popugs_{column}_pattern",
            "popugs",
            [column],
            unique=False,
            postgresql_ops={column: "varchar_pattern_ops"},
        )


def downgrade():
    if op.get_bind().dialect.name != "postgresql":
        return
    for column in COLUMNS:
        op.drop_index(f"ix_popugs_{column}_pattern", table_name="popugs")
