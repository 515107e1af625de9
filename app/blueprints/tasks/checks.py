"""The checks tasks registers with `accounting verify`: every task's own record (assignee,
status, fee, reward) agrees with the ledger's entries and lines that name it.

Each check is a plain function returning its problems as sentences, at most
PROBLEMS_PER_CHECK + 1 of them, from one set-based statement whatever the number of tasks:
`tasks` outer-joined to the ledger rows naming each task (accounting's filters, read
through the entries' task index) and grouped by task, so that a task the ledger lacks is
found like one it has wrong; or an anti-join.
"""

from sqlalchemy import and_, case, func, or_, select

from app.blueprints.accounting import queries as accounting_queries
from app.blueprints.accounting import verify
from app.blueprints.auth import service as auth
from app.extensions import db
from app.money import format_cents

from .models import DONE, OPEN, TASK_TEXTS, TASKS

HAND_OVER_STUCK = "flask --app wsgi tasks hand-over-stuck"


def _sample(statement) -> list:
    """The first rows of a check's query: one more than verify shows, so that it can say
    there are more."""
    return db.session.execute(statement.limit(verify.PROBLEMS_PER_CHECK + 1)).all()


def _money(cents) -> str:
    return format_cents(int(cents))


def _names(popug_ids) -> dict:
    return auth.usernames({popug_id for popug_id in popug_ids if popug_id is not None})


def _popug(popug_id, names: dict) -> str:
    name = names.get(popug_id)
    return f"{name} (#{popug_id})" if name else f"#{popug_id}"


def check_assignees() -> list[str]:
    """Every task's assignee is a popug (`tasks.assignee_id` has no foreign key; see the
    models)."""
    rows = _sample(
        select(TASKS.c.id, TASKS.c.assignee_id)
        .where(TASKS.c.assignee_id.not_in(auth.popug_ids()))
        .order_by(TASKS.c.id)
    )
    return [f"Task #{task}: its assignee #{popug} is not a popug." for task, popug in rows]


def check_fees() -> list[str]:
    """Every task has exactly one assign fee from its creation, of the task's fee; every
    later one (hand-overs', shuffles') is of the task's fee too; and its latest (ledger
    order: an entry naming it, or a line of a shuffle's entry) charged its current
    assignee, since whoever gives a task to a popug charges that popug its fee. One pass
    over tasks and their fees for these rules together."""
    fees = accounting_queries.task_fees()
    lines = accounting_queries.fee_lines_by_task()
    accounts = accounting_queries.accounts_of_popugs()
    creations = func.count(fees.c.creation)
    creation_amounts = (func.min(fees.c.creation), func.max(fees.c.creation))
    later_amounts = (
        func.min(fees.c.later),
        func.max(fees.c.later),
        func.max(lines.c.lowest),
        func.max(lines.c.highest),
    )
    latest_entry = func.max(fees.c.entry_id)
    latest_line, line_account = func.max(lines.c.latest), func.max(lines.c.account_id)
    line_is_latest = latest_line > func.coalesce(latest_entry, 0)
    assignee_account = func.max(accounts.c.account_id)
    on_assignee = func.max(case((fees.c.account_id == accounts.c.account_id, fees.c.entry_id)))
    misplaced = case(
        (line_is_latest, line_account.is_distinct_from(assignee_account)),
        else_=and_(latest_entry.is_not(None), latest_entry.is_distinct_from(on_assignee)),
    )
    fee = -TASKS.c.fee
    rows = _sample(
        select(
            TASKS.c.id,
            TASKS.c.fee,
            TASKS.c.assignee_id,
            creations,
            creation_amounts[0],
            misplaced,
            case((line_is_latest, latest_line), else_=latest_entry),
            *later_amounts,
        )
        .select_from(TASKS)
        .outerjoin(fees, fees.c.task_id == TASKS.c.id)
        .outerjoin(lines, lines.c.task_id == TASKS.c.id)
        .outerjoin(accounts, accounts.c.popug_id == TASKS.c.assignee_id)
        .group_by(TASKS.c.id)
        .having(
            or_(
                creations != 1,
                misplaced,
                *(amount != fee for amount in creation_amounts + later_amounts),
            )
        )
        .order_by(TASKS.c.id)
    )
    charged = accounting_queries.popugs_of_entries(row[6] for row in rows if row[5])
    names = _names([row[2] for row in rows] + list(charged.values()))
    problems = []
    for task, fee, assignee, creations, creation, misplaced, latest, *later in rows:
        if creations == 0:
            problems.append(
                f"Task #{task}: no assign fee from its creation (must be exactly 1, of "
                f"{_money(fee)})."
            )
        elif creations != 1:
            problems.append(
                f"Task #{task}: {creations} assign fees at creation (must be exactly 1)."
            )
        elif creation != -fee:
            problems.append(
                f"Task #{task}: its creation's assign fee is {_money(-creation)} but its fee "
                f"is {_money(fee)}."
            )
        wrong = [amount for amount in later if amount is not None and amount != -fee]
        if wrong:
            problems.append(
                f"Task #{task}: an assign fee of {_money(-wrong[0])} from a hand-over or "
                f"shuffle, but its fee is {_money(fee)}."
            )
        if misplaced:
            problems.append(
                f"Task #{task}: its latest assign fee (ledger entry #{latest}) charged "
                f"{_popug(charged.get(latest), names)}, not its assignee "
                f"{_popug(assignee, names)}."
            )
    return problems


def check_rewards() -> list[str]:
    """A task is done exactly when one reward names it, of the task's reward, paid to its
    assignee: an open task has none."""
    rewards = accounting_queries.rewards()
    accounts = accounting_queries.accounts_of_popugs()
    count = func.count(rewards.c.task_id)
    lowest, highest = func.min(rewards.c.amount), func.max(rewards.c.amount)
    paid_to = func.min(rewards.c.account_id)
    wrong_payee = paid_to.is_distinct_from(func.max(accounts.c.account_id))
    rows = _sample(
        select(
            TASKS.c.id,
            TASKS.c.status,
            TASKS.c.reward,
            TASKS.c.assignee_id,
            count,
            lowest,
            highest,
            wrong_payee,
            func.min(rewards.c.entry_id),
        )
        .select_from(TASKS)
        .outerjoin(rewards, rewards.c.task_id == TASKS.c.id)
        .outerjoin(accounts, accounts.c.popug_id == TASKS.c.assignee_id)
        .group_by(TASKS.c.id)
        .having(
            or_(
                and_(TASKS.c.status == OPEN, count > 0),
                and_(
                    TASKS.c.status == DONE,
                    or_(
                        count != 1,
                        lowest != TASKS.c.reward,
                        highest != TASKS.c.reward,
                        wrong_payee,
                    ),
                ),
            )
        )
        .order_by(TASKS.c.id)
    )
    paid = accounting_queries.popugs_of_entries(row[8] for row in rows if row[7] and row[4] == 1)
    names = _names([row[3] for row in rows] + list(paid.values()))
    problems = []
    for task, status, reward, assignee, count, low, high, wrong_payee, entry in rows:
        if count:
            amounts = _money(low) if low == high else f"{_money(low)} to {_money(high)}"
        if status == OPEN:
            problems.append(f"Task #{task}: open, but {count} reward(s) of {amounts} name it.")
        elif count == 0:
            problems.append(f"Task #{task}: done, but no reward of {_money(reward)} was paid.")
        elif count != 1:
            problems.append(f"Task #{task}: done with {count} rewards (must be exactly 1).")
        else:
            if low != reward:
                problems.append(
                    f"Task #{task}: a reward of {amounts} was paid, but its reward is "
                    f"{_money(reward)}."
                )
            if wrong_payee:
                problems.append(
                    f"Task #{task}: its reward (ledger entry #{entry}) was paid to "
                    f"{_popug(paid.get(entry), names)}, not its assignee "
                    f"{_popug(assignee, names)}."
                )
    return problems


def check_stuck_tasks() -> list[str]:
    """No open task sits on a popug who cannot take tasks (deactivated, or a manager or
    admin): such a change hands their open tasks over, so these come from before that rule
    or from outside aTES; `tasks hand-over-stuck` moves them."""
    rows = _sample(
        select(TASKS.c.id, TASKS.c.assignee_id)
        .where(
            TASKS.c.status == OPEN,
            TASKS.c.assignee_id.not_in(auth.eligible_assignees()),
            TASKS.c.assignee_id.in_(auth.popug_ids()),  # else check_assignees says so
        )
        .order_by(TASKS.c.id)
    )
    names = _names(popug for _, popug in rows)
    return [
        f"Task #{task}: open on {_popug(popug, names)}, who cannot take tasks "
        f"(`{HAND_OVER_STUCK}` hands it over)."
        for task, popug in rows
    ]


def check_price_copies() -> list[str]:
    """Every task's copies of its prices in task_texts (the board's order by fee or reward)
    equal its prices, which never change after creation."""
    rows = _sample(
        select(TASKS.c.id, TASKS.c.fee, TASK_TEXTS.c.fee, TASKS.c.reward, TASK_TEXTS.c.reward)
        .join(TASK_TEXTS, TASK_TEXTS.c.task_id == TASKS.c.id)
        .where(or_(TASKS.c.fee != TASK_TEXTS.c.fee, TASKS.c.reward != TASK_TEXTS.c.reward))
        .order_by(TASKS.c.id)
    )
    return [
        f"Task #{task}: its texts copy the prices {_money(copied_fee)} and "
        f"{_money(copied_reward)}, its prices are {_money(fee)} and {_money(reward)}."
        for task, fee, copied_fee, reward, copied_reward in rows
    ]


CHECKS = (
    check_assignees,
    check_price_copies,
    check_fees,
    check_rewards,
    check_stuck_tasks,
)
