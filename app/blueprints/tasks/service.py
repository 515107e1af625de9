"""Tasks' public face: create, complete and shuffle tasks; every money move goes through
accounting's posting inside the caller's transaction (nothing here commits). The shuffle
lives in shuffles.py, which callers import directly.
"""

import random
import unicodedata
from dataclasses import dataclass

from sqlalchemy import bindparam, func, select, update
from sqlalchemy.exc import IntegrityError

from app import audit, clock, signals
from app.blueprints.accounting import posting
from app.blueprints.auth import service as auth
from app.db import advisory_lock, try_advisory_lock
from app.errors import NotAllowed, ServiceError, found
from app.extensions import db
from app.i18n import N_, Nn_

from .editing import NOT_THE_CREATOR, TaskEdited, edit_task, task_to_edit  # noqa: F401
from .models import (
    DONE,
    FORM_TOKEN_HOLDS,
    JIRA_RE,
    OPEN,
    TASK_TEXTS,
    TASKS,
    Shuffle,
    Task,
    check_form_token,
)
from .shuffles import NOBODY_ELIGIBLE, TASKS_LOCK

TITLE_MAX = 200
JIRA_MAX = 32
DESCRIPTION_MAX = 5000
FEE_DOLLARS = (10, 20)
REWARD_DOLLARS = (20, 40)
SHUFFLE_RUNNING = N_(
    "Open tasks are being shuffled right now, so this task is probably no longer yours. "
    "No reward was paid; look at your tasks again in a moment."
)


class AlreadySubmitted(ServiceError):
    """The same one-time form token was used before; `task_id` is what it created."""

    def __init__(self, task_id: int):
        super().__init__(N_("This form was already submitted."))
        self.task_id = task_id


@dataclass(frozen=True)
class TaskInput:
    title: str
    jira_id: str | None
    description: str


def validate_task_input(
    title: str | None, jira_id: str | None, description: str | None
) -> TaskInput:
    """Trim and check the create-task fields; raises ServiceError naming the field."""
    title = (title or "").strip()
    if _has_control_characters(title):
        raise ServiceError(N_("Remove the control characters from the title."), field="title")
    if not title:
        raise ServiceError(N_("Give the task a title."), field="title")
    if len(title) > TITLE_MAX:
        raise ServiceError(
            N_("Keep the title to %(max)s characters."), field="title", max=TITLE_MAX
        )
    if "[" in title or "]" in title:
        raise ServiceError(
            N_("The title must not contain [ or ]: put the Jira ID in its own field."),
            field="title",
        )
    jira_id = (jira_id or "").strip().upper() or None
    if jira_id is not None:
        if len(jira_id) > JIRA_MAX or not JIRA_RE.match(jira_id):
            raise ServiceError(
                N_("Use a Jira ID like UBERPOP-42: letters and digits, a dash, a number."),
                field="jira_id",
            )
    description = (description or "").strip()
    if _has_control_characters(description, allowed="\t\r\n"):
        raise ServiceError(
            N_("Remove the control characters from the description."), field="description"
        )
    if len(description) > DESCRIPTION_MAX:
        raise ServiceError(
            N_("Keep the description to %(max)s characters."),
            field="description",
            max=DESCRIPTION_MAX,
        )
    return TaskInput(title, jira_id, description)


def _has_control_characters(text: str, allowed: str = "") -> bool:
    return any(unicodedata.category(char) == "Cc" and char not in allowed for char in text)


def draw_prices(rng: random.Random | None = None) -> tuple[int, int]:
    """(assign fee, reward) in cents: whole dollars in 10..20 and 20..40."""
    rng = rng or random
    return rng.randint(*FEE_DOLLARS) * 100, rng.randint(*REWARD_DOLLARS) * 100


def random_assignee() -> int | None:
    """A random eligible popug's id, chosen by the database. On PostgreSQL its row is
    locked (FOR SHARE) until commit, so a concurrent deactivation or role change of that
    popug waits for this task and then hands it over with the popug's others; a popug
    whose change committed first is passed over (its row, locked, no longer qualifies, and
    the lock sits below the LIMIT: the next drawn row is taken)."""
    return db.session.scalar(
        auth.eligible_assignees().order_by(func.random()).limit(1).with_for_update(read=True)
    )


NOBODY_TO_HAND_OVER_TO_FORMS = Nn_(
    "Nobody else can take this popug's %(num)s open tasks: there is no other active worker "
    "or accountant. Add or activate one first.",
    "Nobody else can take this popug's %(num)s open tasks: there is no other active worker "
    "or accountant. Add or activate one first.",
)


def hand_over_open_tasks(popug_id: int) -> int:
    """Move each open task of a popug who can no longer take tasks to a random eligible
    popug (never them: their change is flushed), charging the new assignee the task's fee
    with an entry naming the task, as any assignment does (two statements for the tasks,
    two for their fees, however many there are). In the caller's transaction,
    after the shuffles before it (TASKS_LOCK): a shuffle that ran meanwhile may have given
    them tasks, and those move too. Refused when there are tasks and nobody to take them.
    Returns how many tasks moved."""
    advisory_lock(TASKS_LOCK)
    tasks = db.session.execute(
        select(TASKS.c.id, TASKS.c.fee)
        .where(TASKS.c.assignee_id == popug_id, TASKS.c.status == OPEN)
        .order_by(TASKS.c.id)
        .with_for_update()
    ).all()
    if not tasks:
        return 0
    pool = db.session.scalars(auth.eligible_assignees()).all()
    if not pool:
        raise ServiceError(*NOBODY_TO_HAND_OVER_TO_FORMS, num=len(tasks))
    rng = random.SystemRandom()
    moves = [(task_id, rng.choice(pool), fee) for task_id, fee in tasks]
    db.session.execute(
        update(TASKS)
        .where(TASKS.c.id == bindparam("task"))
        .values(assignee_id=bindparam("popug"))
        .execution_options(synchronize_session=False),
        [{"task": task_id, "popug": new_popug} for task_id, new_popug, _ in moves],
    )
    charged = posting.charge_handed_over_fees(moves, handed_over_from=popug_id)
    received: dict[int, tuple[int, int]] = {}
    for _, new_popug, fee in moves:
        count, fees = received.get(new_popug, (0, 0))
        received[new_popug] = (count + 1, fees + fee)
    signals.tell(
        signals.tasks_handed_over,
        from_popug_id=popug_id,
        received=[(popug, count, fees) for popug, (count, fees) in sorted(received.items())],
    )
    return charged


NOBODY_FOR_STUCK_TASKS = Nn_(
    "Nobody can take the %(num)s open task that sits on a popug who cannot take tasks: there "
    "is no active worker or accountant. Add or activate one first; nothing was moved.",
    "Nobody can take the %(num)s open tasks that sit on popugs who cannot take tasks: there "
    "is no active worker or accountant. Add or activate one first; nothing was moved.",
)


@dataclass(frozen=True)
class StuckHandOver:
    tasks: int  # open tasks moved
    popugs: int  # popugs they were moved from


def hand_over_stuck_tasks(*, actor=None) -> StuckHandOver:
    """Hand over every open task that sits on a popug who cannot take tasks (deactivated,
    or a manager or admin: left there by a change made before such changes handed tasks
    over, or by one made outside aTES), as that change would have: hand_over_open_tasks for
    each such popug, each task to a random eligible popug charged its fee, all in the
    caller's transaction. Refused, moving nothing, when nobody can take them. `actor`
    None is the command line."""
    advisory_lock(TASKS_LOCK)  # as hand_over_open_tasks: after the shuffles before it
    stuck = db.session.execute(
        select(TASKS.c.assignee_id, func.count())
        .where(TASKS.c.status == OPEN, TASKS.c.assignee_id.not_in(auth.eligible_assignees()))
        .group_by(TASKS.c.assignee_id)
        .order_by(TASKS.c.assignee_id)
    ).all()
    if not stuck:
        return StuckHandOver(tasks=0, popugs=0)
    if db.session.scalar(auth.eligible_assignees().limit(1)) is None:
        raise ServiceError(*NOBODY_FOR_STUCK_TASKS, num=sum(count for _, count in stuck))
    moved = sum(hand_over_open_tasks(popug_id) for popug_id, _ in stuck)
    audit.record(
        actor,
        "tasks.hand_over_stuck",
        {"num": moved, "popugs": len(stuck)},
    )
    return StuckHandOver(tasks=moved, popugs=len(stuck))


def create_task(
    *,
    title: str,
    jira_id: str | None,
    description: str | None,
    actor,
    form_token: str | None = None,
) -> Task:
    """Create a task with fixed prices, assign it to a random eligible popug and charge
    that popug the assign fee, all in the caller's transaction.

    A repeated `form_token` raises AlreadySubmitted instead of creating a second task: the
    task's unique form token refuses it (no query looks for it first: a resubmitted form is
    rare, a new task is not).
    """
    data = validate_task_input(title, jira_id, description)
    check_form_token(form_token)
    assignee_id = random_assignee()
    if assignee_id is None:
        raise ServiceError(NOBODY_ELIGIBLE)
    fee, reward = draw_prices()
    values = dict(
        title=data.title,
        jira_id=data.jira_id,
        description=data.description,
        status=OPEN,
        assignee_id=assignee_id,
        creator_id=actor.id,
        fee=fee,
        reward=reward,
        form_token=form_token or None,
        created_at=clock.now(),
    )
    try:
        task = _insert_task(values)
    except IntegrityError:  # the same form, submitted before (or concurrently: it won)
        made = _task_of_form(form_token)
        if made is None:
            raise
        if made.created_at >= clock.now() - FORM_TOKEN_HOLDS:
            raise AlreadySubmitted(made.task_id) from None
        # Its day is over and the job worker has not forgotten it yet: free for this task.
        db.session.execute(
            update(TASK_TEXTS).where(TASK_TEXTS.c.task_id == made.task_id).values(form_token=None)
        )
        task = _insert_task(values)
    posting.charge_assign_fee(assignee_id, fee, task_id=task.id)
    signals.tell(
        signals.task_created,
        task_id=task.id,
        creator_id=actor.id,
        assignee_id=assignee_id,
        fee=fee,
    )
    return task


def _insert_task(values: dict) -> Task:
    """A new task, inserted in a savepoint (a form token already taken rolls back only it)."""
    task = Task(**values)
    with db.session.begin_nested():
        db.session.add(task)
    return task


def _task_of_form(form_token: str):
    """(task_id, created_at) of the task a form token made, or None."""
    return db.session.execute(
        select(TASK_TEXTS.c.task_id, TASK_TEXTS.c.created_at).where(
            TASK_TEXTS.c.form_token == form_token
        )
    ).first()


FORGET_BATCH = 10_000


def forget_form_tokens() -> int:
    """Forget up to FORGET_BATCH form tokens past FORM_TOKEN_HOLDS, of tasks and of shuffles
    (so the kept tokens stay a day's worth, whatever the age of the data); how many. The
    job worker calls it until it returns less than FORGET_BATCH, committing in between."""
    cutoff = clock.now() - FORM_TOKEN_HOLDS
    forgotten = 0
    for table, key, made_at in (
        (TASK_TEXTS, TASK_TEXTS.c.task_id, TASK_TEXTS.c.created_at),
        (Shuffle.__table__, Shuffle.id, Shuffle.requested_at),
    ):
        # `> ''` is IS NOT NULL (tokens are never empty) in a form SQLite reads from the
        # form_token index, so only the kept day's worth of tokens is looked at.
        old = (
            select(key)
            .where(table.c.form_token > "", made_at < cutoff)
            .limit(FORGET_BATCH - forgotten)
            .scalar_subquery()
        )
        forgotten += db.session.execute(
            update(table).where(key.in_(old)).values(form_token=None)
        ).rowcount
        if forgotten >= FORGET_BATCH:
            break
    return forgotten


def get_task(public_id: str) -> Task:
    task = db.session.scalar(select(Task).where(Task.public_id == public_id))
    return found(task, N_("No such task."))


def get_task_by_id(task_id: int) -> Task:
    return found(db.session.get(Task, task_id), N_("No such task."))


def complete_task(public_id: str, *, actor) -> Task:
    """Mark a task done and pay its reward to the assignee, exactly once.

    A conditional UPDATE (still open, still assigned to the actor) decides; two
    concurrent clicks or a click racing a shuffle produce one outcome, never two rewards.

    On PostgreSQL a shuffle in progress holds the row of every open task it has moved
    until it commits, seconds for a large one, and then the task is almost surely someone
    else's. So completing takes TASKS_LOCK shared without waiting, and while a shuffle
    holds it says so at once instead of hanging until the shuffle ends; a shuffle that
    starts meanwhile waits for this transaction (milliseconds).
    """
    task = get_task(public_id)
    if not try_advisory_lock(TASKS_LOCK, shared=True):
        raise ServiceError(SHUFFLE_RUNNING)
    completed_at = clock.now()
    reward = db.session.execute(
        update(TASKS)
        .where(TASKS.c.id == task.id, TASKS.c.status == OPEN, TASKS.c.assignee_id == actor.id)
        .values(status=DONE, completed_at=completed_at)
        .returning(TASKS.c.reward)
        .execution_options(synchronize_session=False)
    ).scalar_one_or_none()
    if reward is None:
        db.session.refresh(task)
        if task.assignee_id != actor.id:
            raise NotAllowed(
                N_(
                    "This task is not assigned to you (it may have just been reassigned); "
                    "no reward was paid."
                )
            )
        raise ServiceError(N_("This task is already done; its reward was paid once."))
    posting.pay_reward(actor.id, reward, task_id=task.id)
    db.session.refresh(task)
    return task
