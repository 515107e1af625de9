"""notification e-mails

Each popug's choice of notification e-mails (`notification_email_choices`: right away, once
a day or never; no row is the default, once a day, so existing popugs need none), the daily
digests queued (`notification_digests`, unique per popug and day: queued once), the kinds
of an admin's change of a popug's e-mail or beak shape, and the outbox's messages whose
words are written when they are sent (`topic`, `ref`; `subject` and `body` empty until
then).

Revision ID: 9e4c2a7f1b63
Revises: a9c1e3f5b7d0
Create Date: 2026-12-05 16:30:00

"""

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "9e4c2a7f1b63"
down_revision = "a9c1e3f5b7d0"
branch_labels = None
depends_on = None

KINDS_BEFORE = "'task_assigned', 'shuffled', 'handed_over', 'paid_out', 'role_changed'"
KINDS_AFTER = KINDS_BEFORE + ", 'email_changed', 'beak_changed'"


def _kinds(kinds: str) -> None:
    with op.batch_alter_table("notifications", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_notifications_kind"), type_="check")
        batch_op.create_check_constraint(op.f("ck_notifications_kind"), f"kind IN ({kinds})")


def upgrade():
    op.create_table(
        "notification_email_choices",
        sa.Column("popug_id", sa.Integer(), nullable=False),
        sa.Column("choice", sa.String(length=16), nullable=False),
        sa.CheckConstraint(
            "choice IN ('right_away', 'daily', 'never')",
            name=op.f("ck_notification_email_choices_choice"),
        ),
        sa.ForeignKeyConstraint(
            ["popug_id"],
            ["popugs.id"],
            name=op.f("fk_notification_email_choices_popug_id_popugs"),
        ),
        sa.PrimaryKeyConstraint("popug_id", name=op.f("pk_notification_email_choices")),
    )
    op.create_table(
        "notification_digests",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            nullable=False,
        ),
        sa.Column("popug_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["popug_id"], ["popugs.id"], name=op.f("fk_notification_digests_popug_id_popugs")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notification_digests")),
        sa.UniqueConstraint("popug_id", "day", name="uq_notification_digests_popug_day"),
    )
    _kinds(KINDS_AFTER)
    with op.batch_alter_table("mail_outbox", schema=None) as batch_op:
        batch_op.add_column(sa.Column("topic", sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column("ref", sa.BigInteger(), nullable=True))
        batch_op.alter_column("subject", existing_type=sa.String(length=200), nullable=True)
        batch_op.alter_column("body", existing_type=sa.Text(), nullable=True)


def downgrade():
    op.execute("DELETE FROM mail_outbox WHERE body IS NULL")
    with op.batch_alter_table("mail_outbox", schema=None) as batch_op:
        batch_op.alter_column("body", existing_type=sa.Text(), nullable=False)
        batch_op.alter_column("subject", existing_type=sa.String(length=200), nullable=False)
        batch_op.drop_column("ref")
        batch_op.drop_column("topic")
    op.execute("DELETE FROM notifications WHERE kind IN ('email_changed', 'beak_changed')")
    _kinds(KINDS_BEFORE)
    op.drop_table("notification_digests")
    op.drop_table("notification_email_choices")
