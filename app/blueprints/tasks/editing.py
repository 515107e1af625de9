"""A creator's edits of a task's texts: title, Jira ID and description, never its prices."""

from dataclasses import dataclass

from sqlalchemy import select, update

from app import clock
from app.errors import NotAllowed, found
from app.extensions import db
from app.i18n import N_

from .models import TASK_TEXTS, TaskEdit

EDITABLE = ("title", "jira_id", "description")
NOT_THE_CREATOR = N_("Only the popug who created a task may edit it.")


@dataclass(frozen=True)
class TaskEdited:
    """What an edit changed: the codes of the changed fields (none: nothing was saved)."""

    public_id: str
    fields: tuple[str, ...]


def task_to_edit(public_id: str, *, actor):
    """The task `actor` may edit, as its page shows it (tasks.queries.task_view): NotFound
    when there is none, NotAllowed unless `actor` created it."""
    from .queries import task_view

    task = found(task_view(public_id), N_("No such task."))
    if task.creator_id != actor.id:
        raise NotAllowed(NOT_THE_CREATOR)
    return task


def edit_task(public_id: str, *, title, jira_id, description, actor) -> TaskEdited:
    """Change a task's title, Jira ID and description, checked as at creation. Only its
    creator may, and nothing else of it changes (its prices were fixed at creation). The
    changed fields, with the old and new title and Jira ID, are recorded in task_edits for
    its History, in the caller's transaction; an edit that changes nothing records nothing.
    The task's texts are locked while read, so two edits at once record each change once."""
    from .service import get_task, validate_task_input

    task = get_task(public_id)
    task_id = task.id
    current = db.session.execute(
        select(
            TASK_TEXTS.c.creator_id,
            TASK_TEXTS.c.title,
            TASK_TEXTS.c.jira_id,
            TASK_TEXTS.c.description,
        )
        .where(TASK_TEXTS.c.task_id == task_id)
        .with_for_update()
    ).one()
    if current.creator_id != actor.id:
        raise NotAllowed(NOT_THE_CREATOR)
    data = validate_task_input(title, jira_id, description)
    wanted = {"title": data.title, "jira_id": data.jira_id, "description": data.description}
    changed = {name: value for name, value in wanted.items() if getattr(current, name) != value}
    if not changed:
        return TaskEdited(public_id, ())
    db.session.execute(
        update(TASK_TEXTS)
        .where(TASK_TEXTS.c.task_id == task_id)
        .values(**changed)
        .execution_options(synchronize_session=False)
    )
    changes = {
        name: True if name == "description" else [getattr(current, name), value]
        for name, value in changed.items()
    }
    db.session.add(TaskEdit(task_id=task_id, editor_id=actor.id, at=clock.now(), changes=changes))
    db.session.flush()
    db.session.expire(task)  # its texts were changed by a statement
    return TaskEdited(public_id, tuple(name for name in EDITABLE if name in changed))
