"""Read-only reports over tasks, for analytics: bounded results, a constant number of queries.

The most expensive task of a day is the completed task with the highest reward among those
completed in that day; ties go to the earlier completion, then to the lower id.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import Date, column, exists, func, select, values
from sqlalchemy.orm import aliased

from app.db import UTCDateTime
from app.extensions import db

from .models import Task


@dataclass(frozen=True)
class TopTask:
    """A day's most expensive completed task."""

    task_id: int
    jira_id: str | None
    title: str
    reward: int
    completed_at: datetime

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
    """{day: its most expensive completed task} for days given as (day, start, end) with
    [start, end) in UTC (see clock.day_bounds). Days without a completed task are absent.

    One statement, a loose index scan over ix_tasks_reward_completed_at (reward,
    completed_at, id): the distinct rewards, highest first (one index seek each), then for
    every day probe them from the top until one has a task completed in that day (one seek
    per probe; almost always the first hits), then fetch that reward's earliest completion
    in the day (one seek). The work grows with days x distinct rewards, never with the
    number of tasks, and nothing depends on the database's idea of time zones.
    """
    if not days:
        return {}
    probe_task = aliased(Task, name="probe_task")
    lower = aliased(Task, name="lower_task")

    # Distinct rewards, highest first, by repeated "the next lower reward" seeks.
    rewards = select(func.max(Task.reward).label("reward")).cte("rewards", recursive=True)
    rewards = rewards.union_all(
        select(
            select(func.max(lower.reward)).where(lower.reward < rewards.c.reward).scalar_subquery()
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
    bounds = (
        values(
            column("day", Date),
            column("starts", UTCDateTime),
            column("ends", UTCDateTime),
            name="bounds",
        )
        .data([(day, starts, ends) for day, starts, ends in days])
        .cte("bounds")
    )

    def completed_in(reward, starts, ends):
        return exists().where(
            probe_task.reward == reward,
            probe_task.completed_at >= starts,
            probe_task.completed_at < ends,
        )

    first = ranked.alias("first_reward")
    probe = select(
        bounds.c.day,
        bounds.c.starts,
        bounds.c.ends,
        first.c.rank,
        first.c.reward,
        completed_in(first.c.reward, bounds.c.starts, bounds.c.ends).label("hit"),
    ).join(first, first.c.rank == 1)
    probe = probe.cte("probe", recursive=True)
    below = ranked.alias("next_reward")
    probe = probe.union_all(
        select(
            probe.c.day,
            probe.c.starts,
            probe.c.ends,
            below.c.rank,
            below.c.reward,
            completed_in(below.c.reward, probe.c.starts, probe.c.ends).label("hit"),
        )
        .join(below, below.c.rank == probe.c.rank + 1)
        .where(~probe.c.hit)
    )
    earliest = aliased(Task, name="earliest")
    winner_id = (
        select(earliest.id)
        .where(
            earliest.reward == probe.c.reward,
            earliest.completed_at >= probe.c.starts,
            earliest.completed_at < probe.c.ends,
        )
        .order_by(earliest.completed_at, earliest.id)
        .limit(1)
        .scalar_subquery()
    )
    rows = db.session.execute(
        select(
            probe.c.day,
            Task.id,
            Task.jira_id,
            Task.title,
            Task.reward,
            Task.completed_at,
        )
        .select_from(probe)
        .join(Task, Task.id == winner_id)
        .where(probe.c.hit)
    )
    return {
        day: TopTask(task_id, jira_id, title, int(reward), completed_at)
        for day, task_id, jira_id, title, reward, completed_at in rows
    }
