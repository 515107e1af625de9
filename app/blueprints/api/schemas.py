"""The API's request and response shapes (the OpenAPI document's components)."""

from app.access import ROLES
from app.blueprints.auth.service import BEAK_MAX, BEAK_MIN, USERNAME_RE
from app.blueprints.tasks import queries as task_queries
from app.blueprints.tasks import service as tasks

from .schema import array, boolean, define, integer, nullable_ref, obj, string

PER_PAGE_MAX = 100
# The service's rule (USERNAME_RE), upper-case letters allowed: it lower-cases them.
USERNAME_PATTERN = USERNAME_RE.pattern.replace("a-z", "A-Za-z")

Money = define(
    "Money",
    obj(
        {
            "cents": integer(description="Integer cents; negative is owed."),
            "formatted": string(description="As the pages write it, e.g. −$12.00."),
        },
        description="An amount of money.",
    ),
)
Problem = define(
    "Problem",
    {
        "type": "object",
        "description": "RFC 9457 problem details; `detail` is the message the pages show.",
        "properties": {
            "type": string(),
            "title": string(),
            "status": integer(),
            "detail": string(),
            "field": string(),
            "errors": array(
                obj({"pointer": string(), "detail": string()}),
                description="Each part of the request that does not match its schema.",
            ),
        },
        "required": ["type", "title", "status", "detail"],
    },
)
Me = define(
    "Me",
    obj(
        {
            "username": string(),
            "public_id": string(format="uuid"),
            "email": string(),
            "role": string(enum=ROLES),
            "balance": Money,
        }
    ),
)
TaskRef = define(
    "TaskRef",
    obj({"public_id": string(format="uuid"), "jira_id": string(nullable=True), "title": string()}),
)
LedgerLine = define("LedgerLine", obj({"task": nullable_ref("TaskRef"), "amount": Money}))
LedgerEntry = define(
    "LedgerEntry",
    obj(
        {
            "kind": string(enum=("assign_fee", "reward", "payout")),
            "amount": Money,
            "at": string(format="date-time"),
            "business_day": string(format="date"),
            "task": nullable_ref("TaskRef"),
            "lines": array(LedgerLine, description="A shuffle's summed fee: each task's part."),
        }
    ),
)
Ledger = define(
    "Ledger",
    obj(
        {
            "username": string(),
            "day": string(format="date"),
            "balance": Money,
            "items": array(LedgerEntry),
            "next": string(nullable=True, description="The next page's URL, or null."),
        }
    ),
)
_TASK = {
    "public_id": string(format="uuid"),
    "jira_id": string(nullable=True),
    "title": string(),
    "status": string(enum=("open", "done")),
    "assignee": string(nullable=True),
    "fee": Money,
    "reward": Money,
    "created_at": string(format="date-time"),
    "completed_at": string(format="date-time", nullable=True),
}
Task = define("Task", obj(_TASK))
TaskPage = define("TaskPage", obj({"items": array(Task), "next": string(nullable=True)}))
HistoryLine = define(
    "HistoryLine",
    obj(
        {
            "at": string(format="date-time"),
            "what": string(enum=("created", "shuffled", "handed over", "completed")),
            "popug": string(),
            "previous": string(nullable=True),
            "amount": Money,
            "shuffle": string(format="uuid", nullable=True),
        }
    ),
)
TaskDetail = define(
    "TaskDetail",
    obj(
        {
            **_TASK,
            "description": string(),
            "creator": string(nullable=True),
            "history": array(HistoryLine, description="Oldest first (its first 100 lines)."),
        }
    ),
)
NewTask = define(
    "NewTask",
    obj(
        {
            "title": string(tasks.TITLE_MAX, min_length=1),
            "jira_id": string(tasks.JIRA_MAX, nullable=True, example="UBERPOP-42"),
            "description": string(tasks.DESCRIPTION_MAX),
        },
        optional=("jira_id", "description"),
    ),
)
Shuffle = define(
    "Shuffle",
    obj(
        {
            "public_id": string(format="uuid"),
            "status": string(enum=("queued", "running", "done", "failed")),
            "requested_at": string(format="date-time"),
            "started_at": string(format="date-time", nullable=True),
            "finished_at": string(format="date-time", nullable=True),
            "tasks_moved": integer(),
            "popugs": integer(),
            "error": string(nullable=True),
            "joined": boolean("The press joined a shuffle already waiting to start."),
        },
        optional=("joined",),
    ),
)
Balance = define(
    "Balance",
    obj({"username": string(), "public_id": string(format="uuid"), "balance": Money}),
)
BalancePage = define("BalancePage", obj({"items": array(Balance), "next": string(nullable=True)}))
BillingDay = define(
    "BillingDay",
    obj(
        {
            "day": string(format="date"),
            "closed_at": string(format="date-time"),
            "fees": Money,
            "rewards": Money,
            "payouts": Money,
            "popugs_paid": integer(),
            "popugs_in_red": integer(),
        }
    ),
)
BillingDayPage = define(
    "BillingDayPage", obj({"items": array(BillingDay), "next": string(nullable=True)})
)
CloseResult = define(
    "CloseResult",
    obj(
        {
            "day": string(format="date"),
            "closed_now": boolean("False: the day was already closed and nothing changed."),
            "popugs_paid": integer(),
            "total_paid": Money,
            "popugs_in_red": integer(),
            "summary": string(),
        }
    ),
)
Popug = define(
    "Popug",
    obj(
        {
            "username": string(),
            "public_id": string(format="uuid"),
            "email": string(),
            "role": string(enum=ROLES),
            "active": boolean(),
            "created_at": string(format="date-time"),
        }
    ),
)
PopugPage = define("PopugPage", obj({"items": array(Popug), "next": string(nullable=True)}))
NewPopug = define(
    "NewPopug",
    obj(
        {
            "username": string(32, pattern=USERNAME_PATTERN, example="kesha"),
            "email": string(254, format="email", example="kesha@uberpopug.inc"),
            "role": string(enum=ROLES),
            "beak_shape": string(
                BEAK_MAX,
                min_length=BEAK_MIN,
                description="Hashed at once; never shown again.",
                example="hooked and golden",
            ),
        }
    ),
)
PopugChange = define(
    "PopugChange",
    obj({"role": string(enum=ROLES), "active": boolean()}, optional=("role", "active")),
)
ChangedPopug = define(
    "ChangedPopug",
    obj(
        {
            "popug": Popug,
            "tasks_handed_over": integer(description="Open tasks that went to others."),
        }
    ),
)
TopTask = define(
    "TopTask",
    obj(
        {
            "public_id": string(format="uuid"),
            "jira_id": string(nullable=True),
            "title": string(),
            "reward": Money,
            "completed_at": string(format="date-time"),
        }
    ),
)
Period = define(
    "Period",
    obj(
        {
            "first": string(format="date"),
            "last": string(format="date"),
            "most_expensive_task": nullable_ref("TopTask"),
        }
    ),
)
DayEarnings = define("DayEarnings", obj({"day": string(format="date"), "earnings": Money}))
Analytics = define(
    "Analytics",
    obj(
        {
            "from": string(format="date"),
            "to": string(format="date"),
            "management_earnings": Money,
            "earnings": array(DayEarnings),
            "days": array(Period),
            "weeks": array(Period),
            "months": array(Period),
        }
    ),
)

# Query parameters.
CURSOR = string(200, description="From a list's `next` link; leave out for the first page.")
DAY = string(format="date", description="A business day (default: today).")
FILTER = string(enum=task_queries.FILTERS, description="As the board's filter (default: all).")
SEARCH = string(task_queries.SEARCH_MAX, description="Words of the title, or a Jira ID.")

Notification = define(
    "Notification",
    obj(
        {
            "id": integer(),
            "kind": string(
                enum=[
                    "task_assigned",
                    "shuffled",
                    "handed_over",
                    "paid_out",
                    "role_changed",
                    "email_changed",
                    "beak_changed",
                ]
            ),
            "created_at": string(format="date-time"),
            "read": boolean(),
            "task": nullable_ref("TaskRef"),
            "shuffle_public_id": string(nullable=True),
            "by": string(nullable=True, description="Who did it (the creator, the admin)."),
            "count": integer(nullable=True, description="Tasks moved to you."),
            "amount": nullable_ref("Money"),
            "day": string(format="date", nullable=True),
            "role": string(nullable=True, description="Your new role."),
        },
        description="Something aTES did to your work or money.",
    ),
)
NotificationPage = define(
    "NotificationPage", obj({"items": array(Notification), "next": string(nullable=True)})
)
MarkRead = define(
    "MarkRead",
    obj(
        {
            "up_to": integer(
                minimum=1, maximum=2**63 - 1, description="Only notifications up to this id."
            )
        },
        optional=("up_to",),
    ),
)
MarkedRead = define("MarkedRead", obj({"marked": integer(description="How many were unread.")}))
