"""`flask db upgrade` on an empty database builds exactly the schema the models describe."""

import logging
import uuid
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import flask_migrate
import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.engine import make_url

from app import create_app
from app.config import TestConfig
from app.db import UNMODELLED_TABLES, built_on, include_in_migrations
from app.extensions import db

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"
# migrations/env.py (Flask-Migrate's template) tries the Flask-SQLAlchemy 2 call first and
# falls back to `db.engine`; the first try only warns.
pytestmark = pytest.mark.filterwarnings("ignore:'get_engine' is deprecated:DeprecationWarning")
ON_POSTGRES = TestConfig.SQLALCHEMY_DATABASE_URI.startswith("postgresql")


@contextmanager
def _upgraded_from(directory: Path, revision: str, rows: list[str]) -> Iterator:
    """An app on a new database migrated to `revision`, holding `rows` (SQL INSERTs), then
    upgraded to the head; inside its app context. Disposed of afterwards."""
    with _empty_database(directory) as url:
        config = type("OldData", (TestConfig,), {"SQLALCHEMY_DATABASE_URI": url})
        app = create_app(config)
        with app.app_context():
            flask_migrate.upgrade(directory=str(MIGRATIONS), revision=revision)
            with db.engine.begin() as conn:
                for statement in rows:
                    conn.execute(text(statement))
            flask_migrate.upgrade(directory=str(MIGRATIONS))
            try:
                yield app
            finally:
                db.session.remove()
                db.engine.dispose()


@pytest.fixture(scope="module")
def keep_logging():
    """migrations/env.py runs logging.config.fileConfig, which replaces the root handlers
    and disables every existing logger; put logging back so later tests still see logs."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    loggers = {
        name: (logger.disabled, logger.level, logger.handlers[:], logger.propagate)
        for name, logger in logging.Logger.manager.loggerDict.items()
        if isinstance(logger, logging.Logger)
    }
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
    for name, logger in logging.Logger.manager.loggerDict.items():
        if not isinstance(logger, logging.Logger):
            continue
        if name in loggers:
            logger.disabled, logger.level, logger.handlers[:], logger.propagate = loggers[name]
        else:
            logger.disabled = False


@contextmanager
def _empty_database(directory: Path) -> Iterator[str]:
    """A brand-new empty database: a SQLite file, or a fresh PostgreSQL database."""
    if not ON_POSTGRES:
        yield f"sqlite:///{directory / 'migrated.sqlite3'}"
        return
    server = make_url(TestConfig.SQLALCHEMY_DATABASE_URI)
    name = f"ates_migrations_{uuid.uuid4().hex[:12]}"
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield server.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(scope="module")
def empty_database_url(tmp_path_factory):
    """Created once per module: CREATE and DROP DATABASE are slow on a busy server."""
    with _empty_database(tmp_path_factory.mktemp("migrations")) as url:
        yield url


@pytest.fixture(scope="module")
def migrated(app, empty_database_url, keep_logging):
    """An app on the new database after `flask db upgrade`. Tests push its app context."""
    config = type("MigrationConfig", (TestConfig,), {"SQLALCHEMY_DATABASE_URI": empty_database_url})
    migrated = create_app(config)
    with migrated.app_context():
        flask_migrate.upgrade(directory=str(MIGRATIONS))
        db.session.remove()
    yield migrated
    with migrated.app_context():
        db.engine.dispose()


def _schema_differences(connection) -> list:
    context = MigrationContext.configure(
        connection,
        opts={
            "compare_type": True,
            "compare_server_default": True,
            "target_metadata": db.metadata,
            "include_object": include_in_migrations,
        },
    )
    with warnings.catch_warnings():  # SQLite cannot reflect the (PostgreSQL-only) expression
        warnings.filterwarnings("ignore", "autogenerate skipping metadata-specified expression")
        return compare_metadata(context, db.metadata)


def test_upgrade_builds_the_models_schema(migrated):
    with migrated.app_context(), db.engine.connect() as connection:
        differences = _schema_differences(connection)
    assert differences == [], "\n".join(map(str, differences))


def test_upgrade_creates_every_model_table_and_the_version_table(migrated):
    with migrated.app_context():
        tables = set(inspect(db.engine).get_table_names())
    assert set(db.metadata.tables) <= tables
    unmodelled = {name for name in tables if name.startswith(UNMODELLED_TABLES)}
    assert tables - set(db.metadata.tables) - unmodelled == {"alembic_version"}


def test_upgrade_builds_the_search_indexes(migrated):
    """The board's Search indexes, which the comparison above cannot see."""
    with migrated.app_context(), db.engine.connect() as connection:
        if connection.dialect.name == "postgresql":
            names = {index["name"] for index in inspect(connection).get_indexes("task_texts")}
            assert "ix_task_texts_title_words" in names
        else:
            assert "task_title_words" in inspect(connection).get_table_names()


def test_the_database_is_at_the_single_head(migrated):
    script_heads = ScriptDirectory(str(MIGRATIONS)).get_heads()
    with migrated.app_context(), db.engine.connect() as connection:
        current = MigrationContext.configure(connection).get_current_heads()
    assert len(script_heads) == 1
    assert tuple(current) == tuple(script_heads)


def test_the_comparison_notices_a_missing_index(migrated):
    """The control: compare_metadata does report a schema that differs from the models.
    The index is dropped inside a transaction that is rolled back (DDL is transactional
    on both databases), so the other tests see the migrated schema."""
    with migrated.app_context(), db.engine.connect() as connection:
        transaction = connection.begin()
        before = {repr(d) for d in _schema_differences(connection)}
        connection.execute(text("DROP INDEX ix_popugs_active"))
        new = [d for d in _schema_differences(connection) if repr(d) not in before]
        transaction.rollback()
        assert "ix_popugs_active" in {i["name"] for i in inspect(connection).get_indexes("popugs")}
    assert [(d[0], d[1].name) for d in new] == [("add_index", "ix_popugs_active")]


def _where(index_options: dict, dialect: str) -> str | None:
    """An index's WHERE clause as comparable text: no parentheses, case, extra spaces or
    PostgreSQL's casts of text columns and literals."""
    where = index_options.get(f"{dialect}_where")
    if where is None:
        return None
    where = str(where).replace("::text", "").replace("(", " ").replace(")", " ")
    return " ".join(where.lower().split())


def test_partial_indexes_are_partial_in_the_migrated_database(migrated):
    """compare_metadata does not compare index predicates: a migration that built a full
    index where the models say partial (or the other way) would pass unnoticed."""
    with migrated.app_context():
        dialect = db.engine.dialect.name
        inspector = inspect(db.engine)
        for table in db.metadata.tables.values():
            migrated_where = {
                index["name"]: _where(index.get("dialect_options", {}), dialect)
                for index in inspector.get_indexes(table.name)
            }
            for index in filter(lambda index: built_on(index, dialect), table.indexes):
                model_where = _where(index.dialect_kwargs, dialect)
                assert migrated_where.get(index.name) == model_where, index.name


# The schema before shuffles became jobs (shuffles ran inside the request; a task in one table).
BEFORE_ISSUE_14 = "5b1f0c2e9d47"
OLD_ROWS = [
    "INSERT INTO popugs (id, public_id, username, email, role, beak_hash, active, "
    "session_epoch, created_at) VALUES (1, 'p-1', 'boss', 'boss@uberpopug.inc', 'manager', "
    "'x', true, 0, '2024-03-03 09:00:00'), (2, 'p-2', 'kesha', 'kesha@uberpopug.inc', "
    "'worker', 'x', true, 0, '2024-03-03 09:00:00')",
    "INSERT INTO tasks (id, public_id, title, jira_id, description, status, assignee_id, "
    "creator_id, fee, reward, form_token, created_at, completed_at) VALUES "
    "(1, 't-1', 'Feed the parrot', 'UBERPOP-1', 'Seeds\nand water', 'open', 2, 1, 1000, "
    "2000, 'tok-1', '2024-03-03 10:00:00', NULL), (2, 't-2', 'Clean the cage', NULL, '', "
    "'done', 2, 1, 1500, 3000, NULL, '2024-03-03 10:01:00', '2024-03-03 11:00:00')",
    "INSERT INTO shuffles (id, public_id, actor_id, form_token, started_at, duration_ms, "
    "tasks_count, popugs_count) VALUES (1, 's-1', 1, 'tok-s', '2024-03-03 10:30:00', 1500, "
    "1, 1)",
    "INSERT INTO audit_events (id, at, actor_username, action, details, address) VALUES "
    "(1, '2024-03-03 09:00:00', 'system', 'popug.create', 'kesha as worker', 'command line'), "
    "(2, '2024-03-03 09:01:00', 'boss', 'popug.role', 'kesha: worker → accountant', 'x'), "
    "(3, '2024-03-03 10:30:00', 'boss', 'tasks.shuffle', '1 open tasks among 1 popugs', 'x')",
]


def test_the_migrations_move_the_data_of_the_previous_schema(tmp_path, keep_logging):
    """A database holding tasks and a shuffle from that schema upgrades to the head with
    every text and time where the models read it, and downgrades back without loss."""
    with _upgraded_from(tmp_path, BEFORE_ISSUE_14, OLD_ROWS):
        with db.engine.connect() as conn:
            texts = conn.execute(
                text(
                    "SELECT t.id, x.public_id, x.title, x.jira_id, x.description, "
                    "x.form_token, t.status, x.creator_id, x.created_at FROM tasks t "
                    "JOIN task_texts x ON x.task_id = t.id ORDER BY t.id"
                )
            ).all()
            shuffle = conn.execute(
                text("SELECT status, requested_at, started_at, finished_at, attempts FROM shuffles")
            ).one()
        assert [tuple(row)[:8] for row in texts] == [
            (1, "t-1", "Feed the parrot", "UBERPOP-1", "Seeds\nand water", "tok-1", "open", 1),
            (2, "t-2", "Clean the cage", None, "", None, "done", 1),
        ]
        assert [str(row.created_at)[:19] for row in texts] == [
            "2024-03-03 10:00:00",
            "2024-03-03 10:01:00",
        ]
        status, requested, started, finished, attempts = shuffle
        assert (status, attempts) == ("done", 1)
        assert str(requested).startswith("2024-03-03 10:30:00")
        assert str(started).startswith("2024-03-03 10:30:00")
        assert str(finished).startswith("2024-03-03 10:30:01.5")
        with db.engine.connect() as conn:
            subjects = conn.execute(
                text("SELECT id, subject_id FROM audit_events ORDER BY id")
            ).all()
        assert [tuple(row) for row in subjects] == [(1, 2), (2, 2), (3, None)]
        with db.engine.connect() as conn:
            assert _schema_differences(conn) == []

        flask_migrate.downgrade(directory=str(MIGRATIONS), revision=BEFORE_ISSUE_14)
        with db.engine.connect() as conn:
            back = conn.execute(
                text(
                    "SELECT id, public_id, title, jira_id, form_token, creator_id, "
                    "created_at FROM tasks ORDER BY id"
                )
            ).all()
        assert [tuple(row)[:6] for row in back] == [
            (1, "t-1", "Feed the parrot", "UBERPOP-1", "tok-1", 1),
            (2, "t-2", "Clean the cage", None, None, 1),
        ]
        assert [str(row.created_at)[:19] for row in back] == [
            "2024-03-03 10:00:00",
            "2024-03-03 10:01:00",
        ]


# The schema before a shuffle's lines were kept by task too.
BEFORE_SHUFFLE_LINES = "f2a4c6e8b0d1"
SHUFFLED_ROWS = [
    "INSERT INTO popugs (id, public_id, username, email, role, beak_hash, active, "
    "session_epoch, created_at) VALUES (1, 'p-1', 'boss', 'boss@uberpopug.inc', 'manager', "
    "'x', true, 0, '2024-03-03 09:00:00')",
    "INSERT INTO shuffles (id, public_id, actor_id, status, requested_at, attempts, "
    "duration_ms, tasks_count, popugs_count) VALUES (1, 's-1', 1, 'done', "
    "'2024-03-03 10:30:00', 1, 5, 3, 2), (2, 's-2', 1, 'done', '2024-03-03 11:30:00', 1, 5, "
    "1, 1)",
    "INSERT INTO ledger_entries (id, account_id, kind, amount, shuffle_id, business_day, "
    "created_at) VALUES (10, 1, 'assign_fee', -3000, 1, '2024-03-03', '2024-03-03 10:30:00'), "
    "(11, 2, 'assign_fee', -1000, 1, '2024-03-03', '2024-03-03 10:30:00'), "
    "(12, 2, 'assign_fee', -1000, 2, '2024-03-03', '2024-03-03 11:30:00')",
    "INSERT INTO ledger_lines (entry_id, task_id, amount) VALUES (10, 5, -1000), "
    "(10, 7, -2000), (11, 6, -1000), (12, 6, -1000)",
]


def test_a_shuffles_lines_are_copied_by_task(tmp_path, keep_logging):
    """Lines written before `shuffle_lines` existed are found there after the upgrade, and
    the downgrade gives back the index it replaced."""
    with _upgraded_from(tmp_path, BEFORE_SHUFFLE_LINES, SHUFFLED_ROWS):
        with db.engine.connect() as conn:
            by_task = conn.execute(
                text("SELECT shuffle_id, task_id, entry_id FROM shuffle_lines ORDER BY 1, 2")
            ).all()
        assert [tuple(row) for row in by_task] == [
            (1, 5, 10),
            (1, 6, 11),
            (1, 7, 10),
            (2, 6, 12),
        ]
        flask_migrate.downgrade(directory=str(MIGRATIONS), revision=BEFORE_SHUFFLE_LINES)
        indexes = {index["name"] for index in inspect(db.engine).get_indexes("ledger_lines")}
        assert "ix_ledger_lines_task_id" in indexes
        assert "shuffle_lines" not in inspect(db.engine).get_table_names()


# The schema before audit events stored codes and parameters instead of English sentences.
BEFORE_AUDIT_CODES = "b8d2f4a6c0e1"
AUDIT_ROWS = [
    "INSERT INTO audit_events (id, at, actor_username, action, details, address) VALUES "
    "(1, '2024-03-03 09:00:00', 'system', 'popug.create', 'kesha as worker', 'command line'), "
    "(2, '2024-03-03 09:01:00', 'boss', 'popug.role', 'kesha: worker → manager; 2 open tasks "
    "handed over to others, each charged its fee', '10.0.0.1'), "
    "(3, '2024-03-03 10:30:00', 'boss', 'tasks.shuffle', '1 open tasks among 1 popugs', "
    "'job worker'), "
    "(4, '2024-03-04 00:05:00', 'system', 'billing.close_day', '2024-03-03: paid $1,234.50 "
    "to 1 popug, 0 left in the red', 'command line'), "
    "(5, '2024-03-04 00:06:00', 'boss', 'popug.create', 'written by hand', '10.0.0.1')",
]


def test_audit_events_are_given_codes_and_parameters(tmp_path, keep_logging):
    """Events recorded as English sentences get their parameters and source codes (text that
    does not read as the code wrote it stays as it is); the downgrade writes them back."""
    with _upgraded_from(tmp_path, BEFORE_AUDIT_CODES, AUDIT_ROWS):
        from app.audit import AuditEvent

        events = db.session.scalars(db.select(AuditEvent).order_by(AuditEvent.id)).all()
        assert [(e.params, e.details, e.address) for e in events] == [
            ({"username": "kesha", "role": "worker"}, "", "cli"),
            (
                {"username": "kesha", "before": "worker", "after": "manager", "handed_over": 2},
                "",
                "10.0.0.1",
            ),
            ({"num": 1, "popugs": 1}, "", "worker"),
            ({"day": "2024-03-03", "paid": 123450, "num": 1, "in_red": 0}, "", "cli"),
            (None, "written by hand", "10.0.0.1"),
        ]
        assert [e.description for e in events][2:] == [
            "1 open task among 1 popug",
            "2024-03-03: paid $1,234.50 to 1 popug, 0 left in the red",
            "written by hand",
        ]
        db.session.remove()

        flask_migrate.downgrade(directory=str(MIGRATIONS), revision=BEFORE_AUDIT_CODES)
        with db.engine.connect() as conn:
            back = conn.execute(text("SELECT details, address FROM audit_events ORDER BY id")).all()
        assert [tuple(row) for row in back] == [
            ("kesha as worker", "command line"),
            (
                "kesha: worker → manager; 2 open tasks handed over to others, each charged its fee",
                "10.0.0.1",
            ),
            ("1 open tasks among 1 popugs", "job worker"),
            ("2024-03-03: paid $1,234.50 to 1 popug, 0 left in the red", "command line"),
            ("written by hand", "10.0.0.1"),
        ]
