"""audit events name the popug they are about

A popug's page lists the audit events about them: `subject_id` (a popug id, no foreign key),
indexed with the event id. Events recorded before are given theirs from their details, which
begin with the popug's username ("kesha as worker", "kesha: worker → manager", "kesha").

Revision ID: d7e9a2b4c6f8
Revises: c5d8f1a3e7b9
Create Date: 2026-12-01 15:00:00

"""

import re

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "d7e9a2b4c6f8"
down_revision = "c5d8f1a3e7b9"
branch_labels = None
depends_on = None

USERNAME = re.compile(r"[a-z0-9_-]+")


def upgrade():
    op.add_column("audit_events", sa.Column("subject_id", sa.Integer(), nullable=True))
    op.create_index(
        op.f("ix_audit_events_subject_id"), "audit_events", ["subject_id", "id"], unique=False
    )
    connection = op.get_bind()
    popugs = dict(connection.execute(sa.text("SELECT username, id FROM popugs")).all())
    events = connection.execute(
        sa.text("SELECT id, details FROM audit_events WHERE action LIKE 'popug.%'")
    ).all()
    for event_id, details in events:
        match = USERNAME.match(details or "")
        if match and match.group(0) in popugs:
            connection.execute(
                sa.text("UPDATE audit_events SET subject_id = :popug WHERE id = :id"),
                {"popug": popugs[match.group(0)], "id": event_id},
            )


def downgrade():
    op.drop_index(op.f("ix_audit_events_subject_id"), table_name="audit_events")
    with op.batch_alter_table("audit_events") as batch_op:
        batch_op.drop_column("subject_id")
