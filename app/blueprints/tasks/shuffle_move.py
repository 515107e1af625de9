"""The shuffle's money path: move every open task to a random eligible popug and charge each
move through accounting, set-based, with each database's statements side by side behind one
function, `move_open_tasks` — PostgreSQL in one statement (`_move_on_postgresql`), SQLite in
a few under its single write lock (`_move_on_sqlite`). Both draw each task's popug in the
database and leave the same rows: every open task on an eligible popug, charged its fee once.
Nothing here commits.
"""

from sqlalchemy import (
    ARRAY,
    Column,
    Integer,
    MetaData,
    Table,
    cast,
    func,
    insert,
    literal,
    select,
    type_coerce,
    update,
)
from sqlalchemy.dialects.postgresql import aggregate_order_by

from app.blueprints.accounting import bulk_fees
from app.db import is_postgres
from app.extensions import db

from .models import OPEN, TASKS


def move_open_tasks(pool, pool_size: int, shuffle_id: int) -> tuple[int, int, dict]:
    """Move every open task to a popug of `pool` (a subquery of eligible popug ids, `pool_size`
    of them when counted) drawn at random per task, and charge each move to the shuffle
    `shuffle_id`. Returns (tasks moved, eligible popugs, accounting's counts)."""
    if is_postgres():
        return _move_on_postgresql(pool, pool_size, shuffle_id)
    return _move_on_sqlite(pool, shuffle_id)


def _random_slot(count):
    """A random integer in [0, count) per row, computed by the database. `count` may be a
    scalar subquery: then it is evaluated in the same statement (snapshot) as the rows."""
    if is_postgres():
        return cast(func.floor(func.random() * count), Integer)
    return (func.random() % count + count) % count  # SQLite: random() is a signed 64-bit int


# --- PostgreSQL -------------------------------------------------------------------------

# What accounting charges for each moved task: (task_id, popug_id, fee).
_ASSIGNMENT = (
    TASKS.c.id.label("task_id"),
    TASKS.c.assignee_id.label("popug_id"),
    TASKS.c.fee.label("fee"),
)


def _move_on_postgresql(pool, pool_size: int, shuffle_id: int) -> tuple[int, int, dict]:
    """One statement: move every open task (the eligible ids as one array, an InitPlan
    computed once, indexed by a random draw per row) and charge exactly the rows it moved.
    Its single snapshot is why creating a task need not wait for a shuffle."""
    ids = type_coerce(
        select(func.array_agg(aggregate_order_by(pool.c.id, pool.c.id))).scalar_subquery(),
        ARRAY(Integer),
    )
    # Ids and their number come from the statement's own snapshot: a popug deactivated or
    # re-roled by a transaction that committed after the caller counted cannot leave a task
    # without a popug.
    new_assignee = ids[_random_slot(func.cardinality(ids)) + 1]
    charged = bulk_fees.charge_assign_fees_in_bulk(
        update(TASKS)
        .where(TASKS.c.status == OPEN)
        .values(assignee_id=new_assignee)
        .returning(*_ASSIGNMENT),
        shuffle_id=shuffle_id,
    )
    return charged["assignments"], pool_size, charged


# --- SQLite -----------------------------------------------------------------------------

# The eligible popugs of one shuffle, numbered 0..n-1 and keyed by that number, so that each
# open task's random draw finds its popug by primary key. (A CTE or subquery has no index:
# SQLite joins one by scanning it once per draw, n × m row visits for m open tasks.)
_SLOTS = Table(
    "shuffle_slots",
    MetaData(),
    Column("slot", Integer, primary_key=True, autoincrement=False),
    Column("popug_id", Integer, nullable=False),
    prefixes=["TEMPORARY"],
)


# The open tasks' assignee index. SQLite drops it for the shuffle's UPDATE and builds it
# again after (one sort of the moved tasks, cheaper than moving a million entries to random
# places); accounting then reads the moved tasks from it in popug order, in which it sums
# each popug's fees and writes their lines, and from the table in task order. The
# transaction holds the write lock while readers keep their snapshot, index included.
# (PostgreSQL could only drop an index by locking readers out: there it stays.)
_OPEN_ASSIGNEE_INDEX = next(i for i in TASKS.indexes if i.name == "ix_tasks_open_assignee_fee")
_MOVED = select(TASKS.c.id.label("task_id"), TASKS.c.assignee_id.label("popug_id"), TASKS.c.fee)


def _move_on_sqlite(pool, shuffle_id: int) -> tuple[int, int, dict]:
    """Number the eligible popugs in a temporary table keyed by slot, move each open
    task, in task order, to the popug of a slot drawn for it, and charge the moves. The
    slots and the moves are in the same transaction, which holds SQLite's write lock, so
    every draw finds a popug and the open tasks are exactly the moved ones.
    Returns (tasks moved, eligible popugs, accounting's counts)."""
    connection = db.session.connection()
    _SLOTS.create(connection)
    pool_size = db.session.execute(
        insert(_SLOTS).from_select(
            ["slot", "popug_id"],
            select(func.row_number().over(order_by=pool.c.id) - 1, pool.c.id),
        ),
        execution_options={"preserve_rowcount": True},
    ).rowcount
    # The draw names the task's id, so SQLite evaluates the subquery per task (not once).
    slot = _random_slot(pool_size) + 0 * TASKS.c.id
    drawn = select(_SLOTS.c.popug_id).where(_SLOTS.c.slot == slot).scalar_subquery()
    # 'open' written into the statement: then SQLite knows the status of each row of the
    # index's predicate and reads id, popug and fee from the index alone (with a parameter
    # it would also read every row, a million random reads).
    open_tasks = TASKS.c.status == literal(OPEN, literal_execute=True)
    _OPEN_ASSIGNEE_INDEX.drop(connection)
    moved = db.session.execute(
        update(TASKS)
        .where(open_tasks)
        .values(assignee_id=drawn)
        .execution_options(synchronize_session=False)
    ).rowcount
    _OPEN_ASSIGNEE_INDEX.create(connection)
    charged = bulk_fees.charge_assign_fees_in_bulk(_MOVED.where(open_tasks), shuffle_id=shuffle_id)
    _SLOTS.drop(connection)  # SQLite keeps temporary tables for the connection's lifetime
    return moved, pool_size, charged
