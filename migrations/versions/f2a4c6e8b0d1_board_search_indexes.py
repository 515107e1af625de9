"""board search indexes

The board's Search finds tasks by Jira ID and by words of their titles, through indexes on
`task_texts` only (a shuffle never writes it): `ix_task_texts_jira_id`; on PostgreSQL a GIN
index of the titles' tsvector ('simple' configuration); on SQLite an FTS5 table
`task_title_words` over task_texts, kept by triggers, filled here from the existing titles.

Revision ID: f2a4c6e8b0d1
Revises: e8f1b3c5d7a9
Create Date: 2026-12-01 15:40:00

"""

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "f2a4c6e8b0d1"
down_revision = "e8f1b3c5d7a9"
branch_labels = None
depends_on = None

# As in app/blueprints/tasks/models.py at this revision.
SQLITE_TITLE_WORDS = [
    "CREATE VIRTUAL TABLE task_title_words USING fts5(title, content='task_texts', "
    "content_rowid='task_id', tokenize='unicode61 remove_diacritics 0', prefix='2 3 4 5 6')",
    "CREATE TRIGGER task_title_words_insert AFTER INSERT ON task_texts BEGIN "
    "INSERT INTO task_title_words(rowid, title) VALUES (new.task_id, new.title); END",
    "CREATE TRIGGER task_title_words_delete AFTER DELETE ON task_texts BEGIN "
    "INSERT INTO task_title_words(task_title_words, rowid, title) "
    "VALUES ('delete', old.task_id, old.title); END",
    "CREATE TRIGGER task_title_words_update AFTER UPDATE OF title ON task_texts BEGIN "
    "INSERT INTO task_title_words(task_title_words, rowid, title) "
    "VALUES ('delete', old.task_id, old.title); "
    "INSERT INTO task_title_words(rowid, title) VALUES (new.task_id, new.title); END",
]


def upgrade():
    op.create_index(op.f("ix_task_texts_jira_id"), "task_texts", ["jira_id"], unique=False)
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "CREATE INDEX ix_task_texts_title_words ON task_texts "
            "USING gin (to_tsvector('simple', title))"
        )
    else:
        for statement in SQLITE_TITLE_WORDS:
            op.execute(statement)
        op.execute("INSERT INTO task_title_words(task_title_words) VALUES ('rebuild')")


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP INDEX ix_task_texts_title_words")
    else:
        for trigger in ("insert", "delete", "update"):
            op.execute(f"DROP TRIGGER task_title_words_{trigger}")
        op.execute("DROP TABLE task_title_words")
    op.drop_index(op.f("ix_task_texts_jira_id"), table_name="task_texts")
