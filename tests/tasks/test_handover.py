"""Tasks never stuck on someone who cannot do them: deactivating a popug,
or making a worker or accountant a manager or admin, hands each of their open tasks to a
random eligible popug in the same transaction, charging that popug the task's fee."""

import pytest
from sqlalchemy import select, text

from app import audit
from app.blueprints.accounting import queries as accounting_queries
from app.blueprints.accounting import verify
from app.blueprints.accounting.models import LedgerEntry
from app.blueprints.auth import service as auth
from app.blueprints.tasks import service
from app.blueprints.tasks.models import DONE, OPEN, Task
from app.errors import ServiceError
from app.extensions import db
from tests.factories import make_popug, make_task
from tests.helpers import signed_in_client

from .helpers import assert_fee_trail_consistent, assignees, balances, fee_charges


@pytest.fixture
def team(db):
    """kesha holds 4 open tasks and 1 done one (made while the only worker); then two more
    workers and an accountant join."""
    admin = make_popug(role="admin")
    manager = make_popug(role="manager")
    kesha = make_popug(role="worker", username="kesha")
    tasks = [make_task(manager, title=f"Task {n}") for n in range(5)]
    service.complete_task(tasks[0].public_id, actor=kesha)
    others = [make_popug(role="worker"), make_popug(role="worker"), make_popug(role="accountant")]
    db.session.commit()
    return {"admin": admin, "manager": manager, "kesha": kesha, "tasks": tasks, "others": others}


def open_tasks_of(popug_id: int) -> list[int]:
    return list(
        db.session.scalars(select(Task.id).where(Task.assignee_id == popug_id, Task.status == OPEN))
    )


CHANGES = {
    "deactivated": lambda team: auth.set_active(
        team["kesha"].public_id, False, actor=team["admin"]
    ),
    "made manager": lambda team: auth.change_role(
        team["kesha"].public_id, "manager", actor=team["admin"]
    ),
    "made admin": lambda team: auth.change_role(
        team["kesha"].public_id, "admin", actor=team["admin"]
    ),
}


@pytest.mark.parametrize("change", CHANGES)
def test_their_open_tasks_go_to_others_each_charged_its_fee(team, change):
    kesha, others = team["kesha"], team["others"]
    moving = open_tasks_of(kesha.id)
    assert len(moving) == 4
    before = balances()
    change = CHANGES[change](team)
    db.session.commit()
    assert change.tasks_handed_over == 4
    assert open_tasks_of(kesha.id) == []
    now = assignees()
    assert {now[task_id] for task_id in moving} <= {p.id for p in others}
    assert now[team["tasks"][0].id] == kesha.id  # the done task stays theirs
    assert db.session.get(Task, team["tasks"][0].id).status == DONE
    after = balances()
    assert after[kesha.id] == before[kesha.id]  # what they were charged stays charged
    for task_id in moving:
        charge = fee_charges(task_id=task_id)[-1]
        task = db.session.get(Task, task_id)
        assert charge.shuffle_id is None and charge.amount == -task.fee
        assert charge.account_id == accounting_queries.account_of(task.assignee_id).id
    charged = sum(db.session.get(Task, task_id).fee for task_id in moving)
    assert sum(before.values()) - sum(after.values()) == charged
    assert_fee_trail_consistent()
    assert verify.verify() == []


def test_a_role_that_still_takes_tasks_keeps_them(team):
    kesha = team["kesha"]
    change = auth.change_role(kesha.public_id, "accountant", actor=team["admin"])
    db.session.commit()
    assert change.tasks_handed_over == 0
    assert len(open_tasks_of(kesha.id)) == 4


def test_reactivating_and_changing_a_manager_move_nothing(team):
    manager, admin = team["manager"], team["admin"]
    before = (assignees(), balances())
    auth.set_active(manager.public_id, False, actor=admin)
    auth.set_active(manager.public_id, True, actor=admin)
    auth.change_role(manager.public_id, "admin", actor=admin)
    db.session.commit()
    assert (assignees(), balances()) == before


def test_nobody_else_to_take_them_refuses_the_change_and_changes_nothing(team):
    admin = team["admin"]
    for other in team["others"]:
        auth.set_active(other.public_id, False, actor=admin)  # they hold no open tasks
    db.session.commit()
    before = (assignees(), balances(), len(fee_charges()))
    for change in CHANGES.values():
        with pytest.raises(ServiceError) as refused:
            change(team)
        assert refused.value.message == service.NOBODY_TO_HAND_OVER_TO_FORMS[1] % {"num": 4}
        db.session.rollback()
        kesha = auth.get_popug(team["kesha"].public_id)
        assert (kesha.active, kesha.role) == (True, "worker")
        assert (assignees(), balances(), len(fee_charges())) == before


def test_the_admin_page_says_what_moved_and_the_audit_trail_keeps_it(app, team):
    admin_client = signed_in_client(app, team["admin"])
    response = admin_client.post(
        f"/popugs/{team['kesha'].public_id}/deactivate", follow_redirects=True
    )
    assert response.status_code == 200
    assert "kesha is deactivated. 4 open tasks handed over to others, each charged its fee." in (
        response.text
    )
    events = audit.page_of_events(1).items
    assert events[0].action == "popug.deactivate"
    assert events[0].description == (
        "kesha; 4 open tasks handed over to others, each charged its fee"
    )


def test_the_admin_page_says_why_a_change_is_refused(app, team):
    for other in team["others"]:
        auth.set_active(other.public_id, False, actor=team["admin"])
    db.session.commit()
    admin_client = signed_in_client(app, team["admin"])
    response = admin_client.post(
        f"/popugs/{team['kesha'].public_id}/role", data={"role": "manager"}, follow_redirects=True
    )
    assert "Nobody else can take this popug&#39;s 4 open tasks" in response.text
    db.session.rollback()
    assert auth.get_popug(team["kesha"].public_id).role == "worker"


# --- `flask tasks hand-over-stuck`: tasks left on such popugs before the rule ------------

HAND_OVER_STUCK = "(`flask --app wsgi tasks hand-over-stuck` hands it over)"


def raw(statement: str, **params) -> None:
    """A change made outside aTES (or before changes handed tasks over): no hand-over."""
    db.session.execute(text(statement), params)
    db.session.commit()


def hand_over_stuck(app):
    db.session.commit()
    result = app.test_cli_runner().invoke(args=["tasks", "hand-over-stuck"])
    db.session.expire_all()
    return result


def test_stuck_tasks_are_reported_then_handed_over_each_charged_its_fee(app, team):
    kesha, others, manager = team["kesha"], team["others"], team["manager"]
    former = others[0]  # a worker with one open task, made manager by raw SQL
    make_task(manager, title="Former worker's task", assignee=former)
    raw("UPDATE popugs SET active = false WHERE id = :k", k=kesha.id)
    raw("UPDATE popugs SET role = 'manager' WHERE id = :f", f=former.id)
    stuck = {kesha.id: open_tasks_of(kesha.id), former.id: open_tasks_of(former.id)}
    assert [len(tasks) for tasks in stuck.values()] == [4, 1]
    names = {kesha.id: "kesha", former.id: former.username}
    assert verify.verify() == [
        f"Task #{task}: open on {names[popug]} (#{popug}), who cannot take tasks {HAND_OVER_STUCK}."
        for popug, tasks in stuck.items()
        for task in sorted(tasks)
    ]
    db.session.rollback()
    before = balances()

    result = hand_over_stuck(app)

    assert result.exit_code == 0, result.output
    assert result.output == (
        "Handed over 5 open tasks from 2 popugs who cannot take tasks, each charged its fee "
        "to its new assignee.\n"
    )
    takers = {others[1].id, others[2].id}  # the active worker and the accountant
    now = assignees()
    for popug, tasks in stuck.items():
        assert open_tasks_of(popug) == []
        for task_id in tasks:
            assert now[task_id] in takers
            charge = fee_charges(task_id=task_id)[-1]
            entry = db.session.get(LedgerEntry, charge.id)
            assert entry.handed_over_from == popug
            assert charge.amount == -db.session.get(Task, task_id).fee
            assert charge.account_id == accounting_queries.account_of(now[task_id]).id
    moved = [task_id for tasks in stuck.values() for task_id in tasks]
    charged = sum(db.session.get(Task, task_id).fee for task_id in moved)
    assert sum(before.values()) - sum(balances().values()) == charged
    assert verify.verify() == []
    assert_fee_trail_consistent()
    event = audit.page_of_events(1).items[0]
    assert (event.action, event.address) == ("tasks.hand_over_stuck", "cli")
    assert event.description == "5 open tasks from 2 popugs who cannot take tasks"
    assert event.params == {"num": 5, "popugs": 2}

    again = hand_over_stuck(app)
    assert again.exit_code == 0
    assert again.output == "No open task sits on a popug who cannot take tasks; nothing moved.\n"


def test_hand_over_stuck_refuses_when_nobody_can_take_them(app, team):
    raw("UPDATE popugs SET active = false WHERE role IN ('worker', 'accountant')")
    before = (assignees(), balances(), len(fee_charges()))

    result = hand_over_stuck(app)

    assert result.exit_code == 1
    assert (
        "Nobody can take the 4 open tasks that sit on popugs who cannot take tasks: there is "
        "no active worker or accountant. Add or activate one first; nothing was moved."
    ) in result.output
    assert (assignees(), balances(), len(fee_charges())) == before
    assert len(verify.verify()) == 4  # still stuck, still reported
