"""Read-only reports over tasks, for analytics: bounded results, a constant number of queries.

The most expensive task of a day is the completed task with the highest reward among those
completed in that day; ties go to the earlier completion, then to the lower id.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from functools import lru_cache

from sqlalchemy import Integer, bindparam, column, func, select, text

from app.db import UTCDateTime
from app.extensions import db

from .models import TASK_TEXTS, TASKS


@dataclass(frozen=True)
class TopTask:
    """A day's most expensive completed task."""

    task_id: int
    jira_id: str | None
    title: str
    reward: int
    completed_at: datetime
    public_id: str = ""  # for the link to its page

    def beats(self, other: "TopTask | None") -> bool:
        """Higher reward wins; on equal rewards the earlier completion, then the lower id."""
        if other is None:
            return True
        return (-self.reward, self.completed_at, self.task_id) < (
            -other.reward,
            other.completed_at,
            other.task_id,
        )


def most_expensive_by_day(days: Sequence[tuple[date, datetime, datetime]]) -> dict[date, TopTask]:
    """{day: its most expensive completed task} for consecutive days given as (day, start,
    end), [start, end) in UTC (see clock.day_bounds). Days without a completed task are
    absent.

    One statement, a loose index scan over ix_tasks_reward_completed_at (reward,
    completed_at, id) of done tasks: the distinct rewards, highest first (one index seek
    each), then for every day probe them from the top until one has a task completed in
    that day (one seek per probe; almost always the first hits), then fetch that reward's
    earliest completion in the day (one seek). Days before the first or after the last
    completion are skipped. The work grows with days x distinct rewards (whole dollars
    20..40: 21), never with the number of tasks, and nothing depends on the database's idea
    of time zones.
    """
    if not days:
        return {}
    # Consecutive days share their edges: N + 1 timestamps describe N days.
    edges = [starts for _, starts, _ in days] + [days[-1][2]]
    if any(ends != edges[n + 1] for n, (_, _, ends) in enumerate(days)):
        raise ValueError("days must be consecutive: each day ends where the next starts")
    params = {f"edge_{n}": edge for n, edge in enumerate(edges)}
    rows = db.session.execute(_winners(len(days)), params)
    return {
        days[index][0]: TopTask(task_id, jira_id, title, int(reward), completed_at, public_id)
        for index, task_id, jira_id, title, reward, completed_at, public_id in rows
    }


def _day_bounds(count: int):
    """SELECT day_index, starts, ends FROM (VALUES (0, :edge_0, :edge_1), (1, :edge_1,
    :edge_2), …) for `count` days (column1..3 are the VALUES column names on SQLite and
    PostgreSQL). Text rather than sqlalchemy.values(), whose literal rows would make the
    statement uncacheable."""
    rows = ", ".join(f"({n}, :edge_{n}, :edge_{n + 1})" for n in range(count))
    return (
        text(
            "SELECT day_rows.column1 AS day_index, day_rows.column2 AS starts, "
            f"day_rows.column3 AS ends FROM (VALUES {rows}) AS day_rows"
        )
        .bindparams(*[bindparam(f"edge_{n}", type_=UTCDateTime) for n in range(count + 1)])
        .columns(
            column("day_index", Integer), column("starts", UTCDateTime), column("ends", UTCDateTime)
        )
    )


@lru_cache(maxsize=64)
def _winners(count: int):
    """The statement for `count` days, built once per length: building it is most of the
    cost otherwise (the SQL itself takes about a millisecond for a month of days)."""
    tasks = TASKS
    lower = tasks.alias("lower_task")
    probe_task = tasks.alias("probe_task")
    earliest = tasks.alias("earliest")

    # Distinct rewards of done tasks, highest first, by repeated "the next lower reward"
    # seeks. Each query over completed_at says it is not NULL, as the (partial) indexes do.
    rewards = (
        select(func.max(tasks.c.reward).label("reward"))
        .where(tasks.c.completed_at.is_not(None))
        .cte("rewards", recursive=True)
    )
    rewards = rewards.union_all(
        select(
            select(func.max(lower.c.reward))
            .where(lower.c.reward < rewards.c.reward, lower.c.completed_at.is_not(None))
            .scalar_subquery()
        ).where(rewards.c.reward.is_not(None))
    )
    ranked = (
        select(
            func.row_number().over(order_by=rewards.c.reward.desc()).label("rank"),
            rewards.c.reward,
        )
        .where(rewards.c.reward.is_not(None))
        .cte("ranked")
    )
    bounds = _day_bounds(count).cte("bounds")

    def completed_in(reward, starts, ends):
        # EXISTS (SELECT id …), not SELECT *: SQLite then answers from the index alone.
        return (
            select(probe_task.c.id)
            .where(
                probe_task.c.reward == reward,
                probe_task.c.completed_at >= starts,
                probe_task.c.completed_at < ends,
            )
            .exists()
        )

    # Days wholly before the first or after the last completion are empty: not probed
    # (two seeks on ix_tasks_completed_at; a range ending today reaches weeks ahead).
    done = tasks.c.completed_at.is_not(None)
    first_done = select(func.min(tasks.c.completed_at)).where(done).scalar_subquery()
    last_done = select(func.max(tasks.c.completed_at)).where(done).scalar_subquery()
    first = ranked.alias("first_reward")
    probe = (
        select(
            bounds.c.day_index,
            bounds.c.starts,
            bounds.c.ends,
            first.c.rank,
            first.c.reward,
            completed_in(first.c.reward, bounds.c.starts, bounds.c.ends).label("hit"),
        )
        .join(first, first.c.rank == 1)
        .where(bounds.c.ends > first_done, bounds.c.starts <= last_done)
    )
    probe = probe.cte("probe", recursive=True)
    below = ranked.alias("next_reward")
    probe = probe.union_all(
        select(
            probe.c.day_index,
            probe.c.starts,
            probe.c.ends,
            below.c.rank,
            below.c.reward,
            completed_in(below.c.reward, probe.c.starts, probe.c.ends).label("hit"),
        )
        .join(below, below.c.rank == probe.c.rank + 1)
        .where(~probe.c.hit)
    )
    winner_id = (
        select(earliest.c.id)
        .where(
            earliest.c.reward == probe.c.reward,
            earliest.c.completed_at >= probe.c.starts,
            earliest.c.completed_at < probe.c.ends,
        )
        .order_by(earliest.c.completed_at, earliest.c.id)
        .limit(1)
        .scalar_subquery()
    )
    return (
        select(
            probe.c.day_index,
            tasks.c.id,
            TASK_TEXTS.c.jira_id,
            TASK_TEXTS.c.title,
            tasks.c.reward,
            tasks.c.completed_at,
            TASK_TEXTS.c.public_id,
        )
        .select_from(probe)
        .join(tasks, tasks.c.id == winner_id)
        .join(TASK_TEXTS, TASK_TEXTS.c.task_id == tasks.c.id)
        .where(probe.c.hit)
    )
