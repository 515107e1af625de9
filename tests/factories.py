"""Test data builders (CTFd's gen_* helpers): real service calls, committed."""

import itertools

import pytest

from app.blueprints.auth import service as auth
from app.blueprints.tasks import jobs, shuffles
from app.blueprints.tasks import service as tasks
from app.extensions import db

_seq = itertools.count(1)
BEAK = "a fine test beak"


def make_popug(role: str = "worker", username: str | None = None, beak: str = BEAK, active=True):
    n = next(_seq)
    username = username or f"{role}-{n}"
    popug = auth.create_popug(
        username=username, email=f"{username}@uberpopug.inc", role=role, beak_shape=beak, actor=None
    )
    popug.active = active
    db.session.commit()
    return popug


def make_task(
    actor,
    title: str | None = None,
    jira_id: str | None = None,
    description: str = "",
    *,
    prices: tuple[int, int] | None = None,
    assignee=None,
):
    """A task created by the real service as `actor`, committed. `prices` (fee, reward in
    cents) and `assignee` pin what the service would otherwise draw at random."""
    with pytest.MonkeyPatch.context() as patch:
        if prices is not None:
            patch.setattr(tasks, "draw_prices", lambda rng=None: prices)
        if assignee is not None:
            patch.setattr(tasks, "random_assignee", lambda: assignee.id)
        task = tasks.create_task(
            title=title or f"Task {next(_seq)}",
            jira_id=jira_id,
            description=description,
            actor=actor,
        )
    db.session.commit()
    return task


def shuffle_now(*, actor, form_token: str | None = None):
    """Press "Shuffle open tasks" and run that shuffle as the job worker does, all in the
    caller's transaction (not committed). Returns the shuffle, done."""
    press = shuffles.request_shuffle(actor=actor, form_token=form_token)
    claimed = shuffles.claim_next_shuffle()
    assert claimed is not None and claimed.id == press.shuffle.id, "another shuffle was waiting"
    return shuffles.run_shuffle(claimed.id)


def run_queued_shuffles() -> list:
    """Run every queued shuffle as the job worker does, each committed; returns them."""
    ran = []
    while (shuffle := jobs.run_next_shuffle()) is not None:
        ran.append(shuffle)
    return ran


def make_token(popug, *, name: str = "script", days: int = 30) -> str:
    """An API token of `popug`, committed; returns its secret."""
    new = auth.create_token(name=name, days=days, actor=popug)
    db.session.commit()
    return new.secret
