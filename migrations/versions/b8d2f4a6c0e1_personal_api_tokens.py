"""personal API tokens

A popug's tokens for the JSON API: a public id (addresses name it), the SHA-256 of each
secret (unique: a request finds its token by it), a short prefix to recognise it, its
expiry, last use and revocation.

Revision ID: b8d2f4a6c0e1
Revises: c3e5a7b9d1f2
Create Date: 2026-12-05 13:20:00

"""

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "b8d2f4a6c0e1"
down_revision = "c3e5a7b9d1f2"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "api_tokens",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("public_id", sa.String(length=36), nullable=False),
        sa.Column("popug_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("prefix", sa.String(length=16), nullable=False),
        sa.Column("secret_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["popug_id"], ["popugs.id"], name=op.f("fk_api_tokens_popug_id_popugs")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_tokens")),
        sa.UniqueConstraint("public_id", name=op.f("uq_api_tokens_public_id")),
        sa.UniqueConstraint("secret_hash", name=op.f("uq_api_tokens_secret_hash")),
    )
    op.create_index(op.f("ix_api_tokens_popug_id"), "api_tokens", ["popug_id"], unique=False)


def downgrade():
    op.drop_index(op.f("ix_api_tokens_popug_id"), table_name="api_tokens")
    op.drop_table("api_tokens")
