import re
from datetime import datetime, timedelta
from enum import StrEnum
from uuid import uuid4

from sqlalchemy import (
    DDL,
    JSON,
    BigInteger,
    CheckConstraint,
    Column,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    event,
    func,
    literal_column,
    text,
)
from sqlalchemy.orm import Mapped, column_property, mapped_column

from app import clock
from app.db import UTCDateTime, partial_index_where
from app.errors import FORM_EXPIRED, ServiceError
from app.extensions import db


class TaskStatus(StrEnum):
    OPEN = "open"
    DONE = "done"


OPEN, DONE = TaskStatus.OPEN, TaskStatus.DONE
# A Jira ID as tasks are given one (stored upper-case): "UBERPOP-42".
JIRA_RE = re.compile(r"^[A-Z][A-Z0-9]*-[0-9]+$")
FORM_TOKEN_MAX = 64  # the form_token columns' length; the tokens aTES issues are 32 long
# A one-time form token (a page's, or the API's Idempotency-Key) holds this long: sent again
# within it, it finds what it made; after it, it is free to make something new, and the job
# worker forgets it (service.forget_form_tokens).
FORM_TOKEN_HOLDS = timedelta(hours=24)


def check_form_token(form_token: str | None) -> None:
    """A one-time form token aTES cannot have issued (longer than its column, or with a NUL
    that PostgreSQL text cannot hold) is refused with a message, not a failing query. (Here
    because both a task's creation and a shuffle's press check one.)"""
    if form_token and (len(form_token) > FORM_TOKEN_MAX or "\x00" in form_token):
        raise ServiceError(FORM_EXPIRED)


# A partial index over the tasks that have been completed.
_DONE_ONLY = partial_index_where("completed_at IS NOT NULL")


# A task is kept in two tables joined one to one. `tasks` holds what a shuffle reads and
# rewrites (status, assignee, prices, completion): rows as narrow as a task's state allows,
# so that a shuffle rewriting every open task rewrites as few pages as it can.
# `task_texts` holds what is written once, when the task is created, and read by people
# (public id, title, Jira ID, description, creator, creation time, form token): a shuffle
# never touches it. A new assignee is never a HOT update on PostgreSQL, so each moved task
# writes a new row version and an entry into every index of its table that covers open
# tasks: the primary key and the open tasks' assignee index. (The board pages by id,
# newest first, and filters open or done tasks on the way.)
_OPEN_ONLY = partial_index_where("status = 'open'")
TASKS = db.Table(
    "tasks",
    Column("id", Integer, primary_key=True),
    Column("status", String(8), nullable=False, default=OPEN),
    # Always an existing popug (drawn from `popugs` by the statement that writes it; popugs
    # are never deleted). No foreign key: a per-row check on every moved task slows a shuffle
    # (docs/performance.md, "Figures behind rules").
    Column("assignee_id", Integer, nullable=False),
    Column("fee", BigInteger, nullable=False),
    Column("reward", BigInteger, nullable=False),
    Column("completed_at", UTCDateTime),
    CheckConstraint("status IN ('open', 'done')", name="status"),
    CheckConstraint("fee > 0 AND reward > 0", name="prices"),
    # A popug's open tasks (My tasks, the board's "Mine"): the one index a shuffle changes
    # besides the primary key. PostgreSQL's holds the popug alone (one deduplicated key per
    # popug: each moved task's entry costs the least). SQLite rebuilds its own inside the
    # shuffle and then reads each popug's moved tasks and fees from it, in popug order, the
    # order of their ledger lines: so it holds the fee too. A popug's done tasks, the other
    # half of "Mine", are in an index of done tasks that a shuffle never writes.
    Index("ix_tasks_open_assignee", "assignee_id", **_OPEN_ONLY).ddl_if(dialect="postgresql"),
    Index("ix_tasks_open_assignee_fee", "assignee_id", "fee", **_OPEN_ONLY).ddl_if(
        dialect="sqlite"
    ),
    Index(
        "ix_tasks_done_assignee",
        "assignee_id",
        "completed_at",
        "id",
        **partial_index_where("status = 'done'"),
    ),
    # Analytics: days' first and last completions, and the highest reward completed in a
    # day by a few index seeks per day.
    Index("ix_tasks_completed_at", "completed_at", **_DONE_ONLY),
    Index("ix_tasks_reward_completed_at", "reward", "completed_at", "id", **_DONE_ONLY),
)
TASK_TEXTS = db.Table(
    "task_texts",
    Column("task_id", ForeignKey("tasks.id"), primary_key=True, autoincrement=False),
    Column("public_id", String(36), nullable=False, unique=True, default=lambda: str(uuid4())),
    Column("title", String(200), nullable=False),
    Column("jira_id", String(32)),
    Column("description", Text, nullable=False, default=""),
    Column("creator_id", ForeignKey("popugs.id"), nullable=False),
    Column("created_at", UTCDateTime, nullable=False, default=clock.now),
    # One-time token of the form that created it: a resubmitted form finds this task.
    Column("form_token", String(FORM_TOKEN_MAX), unique=True),
    # Copies of the prices, which never change after creation, for the board's order by
    # fee or reward: an index on `tasks` would take a new entry for every task a shuffle
    # moves (PostgreSQL rewrites a moved row through every index of its table), one here
    # none. `accounting verify` checks that they equal the prices in `tasks`.
    Column("fee", BigInteger, nullable=False),
    Column("reward", BigInteger, nullable=False),
    # Search on the board. Both indexes are on texts, which a shuffle never writes: a
    # Jira ID (stored upper-case) by equality, and the words of titles — PostgreSQL a GIN
    # index of their tsvector; SQLite the FTS5 table below.
    Index("ix_task_texts_jira_id", "jira_id"),
    # The board's orders (each read either way) and its "Created by me".
    Index("ix_task_texts_fee", "fee", "task_id"),
    Index("ix_task_texts_reward", "reward", "task_id"),
    Index("ix_task_texts_creator", "creator_id", "task_id"),
    Index(
        "ix_task_texts_title_words",
        func.to_tsvector(literal_column("'simple'"), text("title")),
        postgresql_using="gin",
    ).ddl_if(dialect="postgresql"),
)

# SQLite: the titles' words in an FTS5 index over task_texts (its rowid is the task id),
# kept by triggers on task_texts (tasks are only ever inserted; a creator may edit a title).
TITLE_WORDS = "task_title_words"
_SQLITE_TITLE_WORDS = [
    f"CREATE VIRTUAL TABLE {TITLE_WORDS} USING fts5(title, content='task_texts', "
    "content_rowid='task_id', tokenize='unicode61 remove_diacritics 0', prefix='2 3 4 5 6')",
    f"CREATE TRIGGER {TITLE_WORDS}_insert AFTER INSERT ON task_texts BEGIN "
    f"INSERT INTO {TITLE_WORDS}(rowid, title) VALUES (new.task_id, new.title); END",
    f"CREATE TRIGGER {TITLE_WORDS}_delete AFTER DELETE ON task_texts BEGIN "
    f"INSERT INTO {TITLE_WORDS}({TITLE_WORDS}, rowid, title) "
    "VALUES ('delete', old.task_id, old.title); END",
    f"CREATE TRIGGER {TITLE_WORDS}_update AFTER UPDATE OF title ON task_texts BEGIN "
    f"INSERT INTO {TITLE_WORDS}({TITLE_WORDS}, rowid, title) "
    "VALUES ('delete', old.task_id, old.title); "
    f"INSERT INTO {TITLE_WORDS}(rowid, title) VALUES (new.task_id, new.title); END",
]
for _statement in _SQLITE_TITLE_WORDS:
    event.listen(TASK_TEXTS, "after_create", DDL(_statement).execute_if(dialect="sqlite"))
event.listen(
    TASK_TEXTS,
    "before_drop",
    DDL(f"DROP TABLE IF EXISTS {TITLE_WORDS}").execute_if(dialect="sqlite"),
)


class Task(db.Model):
    """A task (both of its tables). Its fee and reward are fixed at creation; it always
    has an assignee. Statements that need only `tasks` (a shuffle, completing, counts)
    use TASKS itself, so they do not join the texts."""

    __table__ = TASKS.join(TASK_TEXTS, TASKS.c.id == TASK_TEXTS.c.task_id)
    id = column_property(TASKS.c.id, TASK_TEXTS.c.task_id)
    fee = column_property(TASKS.c.fee, TASK_TEXTS.c.fee)
    reward = column_property(TASKS.c.reward, TASK_TEXTS.c.reward)


class TaskEdit(db.Model):
    """One edit of a task's texts by its creator: which fields changed, as field codes with
    the old and new value (`changes`: {"title": [old, new], "jira_id": [old, new],
    "description": true}; a description is not repeated). Shown in the task's History."""

    __tablename__ = "task_edits"
    __table_args__ = (Index("ix_task_edits_task_at", "task_id", "at", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    task_id: Mapped[int] = mapped_column(ForeignKey("tasks.id"))
    editor_id: Mapped[int] = mapped_column(ForeignKey("popugs.id"))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now)
    changes: Mapped[dict] = mapped_column(JSON)


class ShuffleStatus(StrEnum):
    """A shuffle's states: pressed and waiting for the worker, being run by it (in one
    transaction that is not yet committed), committed, or given up with a reason."""

    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


class ShuffleFailure(StrEnum):
    """Why a shuffle was given up (stored in `shuffles.error`; worded when shown)."""

    NOBODY_ELIGIBLE = "nobody_eligible"
    NO_OPEN_TASKS = "no_open_tasks"
    WORKER_STOPPED = "worker_stopped"  # SHUFFLE_ATTEMPTS beginnings, none finished
    UNEXPECTED = "unexpected"


# Shuffles still to be run (queued or running: not finished), read on every board and by
# the worker's poll.
_WAITING = partial_index_where("finished_at IS NULL")


class Shuffle(db.Model):
    """One press of "Shuffle open tasks": recorded as queued by the press, run by the job
    worker, and what it did."""

    __tablename__ = "shuffles"
    __table_args__ = (
        CheckConstraint("status IN ('queued', 'running', 'done', 'failed')", name="status"),
        Index("ix_shuffles_waiting", "id", **_WAITING),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    public_id: Mapped[str] = mapped_column(String(36), unique=True, default=lambda: str(uuid4()))
    actor_id: Mapped[int] = mapped_column(ForeignKey("popugs.id"))
    form_token: Mapped[str | None] = mapped_column(String(FORM_TOKEN_MAX), unique=True)
    status: Mapped[str] = mapped_column(String(8), default=ShuffleStatus.QUEUED)
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now)
    # When the worker last began to run it, and how many times it began (a worker killed
    # mid-shuffle leaves it running: the next worker begins it again).
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    error: Mapped[str | None] = mapped_column(String(500))
    duration_ms: Mapped[int] = mapped_column(Integer, default=0)
    tasks_count: Mapped[int] = mapped_column(Integer, default=0)
    popugs_count: Mapped[int] = mapped_column(Integer, default=0)
