"""audit events store codes and parameters, not English sentences

An event's details become a JSON object of parameters (`params`), written as a sentence in
the reader's language when shown, and its source is a code when it is not a client's address
(`cli` for "command line", `worker` for "job worker"). Events recorded before are given their
parameters from their English details where these read as the code wrote them; any other
text stays in `details`, shown as it is. The downgrade writes the English sentences back.

Revision ID: e2a4c6d8f0b3
Revises: 9e4c2a7f1b63
Create Date: 2026-12-05 16:20:00

"""

import re

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "e2a4c6d8f0b3"
down_revision = "9e4c2a7f1b63"
branch_labels = None
depends_on = None

SOURCES = {"command line": "cli", "job worker": "worker"}
HANDED_OVER = re.compile(
    r"; (?P<handed_over>\d+) open tasks? handed over to others, each charged its fee$"
)
# Each action's English details as the code wrote them; number groups become integers.
PATTERNS = {
    "popug.create": r"(?P<username>[a-z0-9_-]+) as (?P<role>[a-z]+)",
    "popug.role": r"(?P<username>[a-z0-9_-]+): (?P<before>[a-z]+) → (?P<after>[a-z]+)",
    "popug.deactivate": r"(?P<username>[a-z0-9_-]+)",
    "popug.activate": r"(?P<username>[a-z0-9_-]+)",
    "tasks.shuffle": r"(?P<num>\d+) open tasks? among (?P<popugs>\d+) popugs?",
    "press.joined": r"shuffle (?P<shuffle>\S+), queued by (?P<first>\S+)",
    "tasks.hand_over_stuck": (
        r"(?P<num>\d+) open tasks? from (?P<popugs>\d+) popugs? who cannot take tasks"
    ),
    "billing.close_day": (
        r"(?P<day>\d{4}-\d\d-\d\d): paid \$(?P<dollars>[\d,]+)\.(?P<cents>\d\d) "
        r"to (?P<num>\d+) popugs?, (?P<in_red>\d+) left in the red"
    ),
    "token.create": r"(?P<name>.+) \((?P<prefix>[^ ]+)…\), (?P<num>\d+) days?",
    "token.revoke": r"(?P<name>.+) \((?P<prefix>[^ ]+)…\) of (?P<owner>[a-z0-9_-]+)",
}
NUMBERS = ("num", "popugs", "in_red", "handed_over")

EVENTS = sa.table(
    "audit_events",
    sa.column("id", sa.Integer),
    sa.column("action", sa.String),
    sa.column("details", sa.String),
    sa.column("params", sa.JSON),
    sa.column("address", sa.String),
)


def parse(action: str, details: str) -> dict | None:
    """The parameters of an event's English details, None if they do not read as expected."""
    pattern = PATTERNS.get(action)
    if pattern is None or details is None:
        return None
    params = {}
    handed = HANDED_OVER.search(details) if action.startswith("popug.") else None
    if handed:
        params["handed_over"] = handed.group("handed_over")
        details = details[: handed.start()]
    match = re.fullmatch(pattern, details)
    if match is None:
        return None
    params.update(match.groupdict())
    if "dollars" in params:
        params["paid"] = int(params.pop("dollars").replace(",", "")) * 100 + int(
            params.pop("cents")
        )
    return {key: int(value) if key in NUMBERS else value for key, value in params.items()}


def english(action: str, params: dict) -> str:
    """The English details the code wrote before parameters were stored."""
    p = dict(params)
    n = p.get("num")
    plural = "" if n == 1 else "s"
    if action == "popug.create":
        text = f"{p['username']} as {p['role']}"
    elif action == "popug.role":
        text = f"{p['username']}: {p['before']} → {p['after']}"
    elif action in ("popug.deactivate", "popug.activate"):
        text = p["username"]
    elif action == "tasks.shuffle":
        text = f"{n} open tasks among {p['popugs']} popugs"
    elif action == "press.joined":
        text = f"shuffle {p['shuffle']}, queued by {p['first']}"
    elif action == "tasks.hand_over_stuck":
        text = f"{n} open tasks from {p['popugs']} popugs who cannot take tasks"
    elif action == "billing.close_day":
        dollars, cents = divmod(p["paid"], 100)
        text = (
            f"{p['day']}: paid ${dollars:,}.{cents:02d} to {n} popug{plural}, "
            f"{p['in_red']} left in the red"
        )
    elif action == "token.create":
        text = f"{p['name']} ({p['prefix']}…), {n} days"
    elif action == "token.revoke":
        text = f"{p['name']} ({p['prefix']}…) of {p['owner']}"
    else:
        return ""
    handed = p.get("handed_over")
    if handed:
        tasks = "open task" if handed == 1 else "open tasks"
        text = f"{text}; {handed} {tasks} handed over to others, each charged its fee"
    return text[:500]


def upgrade():
    with op.batch_alter_table("audit_events") as batch_op:
        batch_op.add_column(sa.Column("params", sa.JSON(), nullable=True))
    connection = op.get_bind()
    for old, code in SOURCES.items():
        connection.execute(
            EVENTS.update().where(EVENTS.c.address == old).values(address=code)
        )
    rows = connection.execute(sa.select(EVENTS.c.id, EVENTS.c.action, EVENTS.c.details)).all()
    for event_id, action, details in rows:
        params = parse(action, details)
        if params is not None:
            connection.execute(
                EVENTS.update().where(EVENTS.c.id == event_id).values(params=params, details="")
            )


def downgrade():
    connection = op.get_bind()
    rows = connection.execute(
        sa.select(EVENTS.c.id, EVENTS.c.action, EVENTS.c.params).where(
            EVENTS.c.params.is_not(None)
        )
    ).all()
    for event_id, action, params in rows:
        connection.execute(
            EVENTS.update()
            .where(EVENTS.c.id == event_id)
            .values(details=english(action, params))
        )
    for old, code in SOURCES.items():
        connection.execute(
            EVENTS.update().where(EVENTS.c.address == code).values(address=old)
        )
    with op.batch_alter_table("audit_events") as batch_op:
        batch_op.drop_column("params")
