"""Hostile requests for every page (tests/test_bounds.py sends them untimed at a small
seeded database; bench/bounds.py, which imports them from here, times them at 1,000,000
tasks): the hostile values of each query parameter, the known-worst query strings, the
facts (real ids and days) of a seeded database for path arguments, the cases (endpoint,
role, path, query, headers), a test client signed in as each role, and sending one case.
"""

from __future__ import annotations

import random
import re
import time
import traceback
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from urllib.parse import quote, urlencode

from sqlalchemy import text

ROLES = ("anonymous", "worker", "accountant", "manager", "admin")
REFUSED = (302, 403)  # what a role that may not see a page gets
UNKNOWN_ID = "00000000-0000-4000-8000-999999999999"

# --- hostile values --------------------------------------------------------------------

TEN_THOUSAND = 10_000
Q_VALUES = [
    "x",
    "9",
    "s",
    "x y z w v u t s",
    "a b c d e f g h i j",
    "seeded task 1 2 3 4 5 6",
    "task",
    "ta",
    "se",
    "seeded task",
    "task 999",
    "1000",
    "999999",
    "1000000",
    "0",
    "12345678901234567890123456789",
    "UBERPOP-1",
    "uberpop-999999",
    "UBERPOP-0",
    "UBERPOP-99999999999999999999",
    "[UBERPOP-3] seeded task",
    "UBERPOP-",
    "!!!",
    '"task"',
    "task*",
    "*",
    "-task",
    "NOT task",
    "task OR seeded",
    "NEAR(task seeded)",
    "title:task",
    "a & b | !c",
    "task:* & !x",
    "'",
    "%",
    "_",
    "\\",
    "()",
    "a" * TEN_THOUSAND,
    "task " * (TEN_THOUSAND // 5),
    "x " * (TEN_THOUSAND // 2),
    "9" * TEN_THOUSAND,
    "задача",
    "漢字 タスク",
    "😀🦜",
    "Ünïcödé täsk",
    "\u202etask",
    "zzzz qqqq",
    "task zzzz",
    "",
    " ",
]
PAGE_VALUES = [
    "0",
    "-1",
    "1",
    "2",
    "20",
    "21",
    "200",
    "201",
    "1000",
    "100000",
    "100001",
    "x",
    str(10**30),
    "-" + str(10**30),
    "",
    "1.5",
    "1e9",
]
FILTER_VALUES = ["all", "open", "done", "mine", "MINE", "garbage", "", "mine'--"]
SORT_VALUES = ["username", "balance", "email", "garbage", ""]
DIR_VALUES = ["asc", "desc", "DESC", "sideways", ""]
STATUS_VALUES = ["pending", "sent", "logged", "failed", "garbage", ""]
SEEN_VALUES = ["0", "-1", "1", str(10**30), str(2**63), "x", ""]
NEXT_VALUES = ["/", "/accounting", "//evil.example/", "https://evil.example/", "x" * 5_000]
HX_TARGETS = [None, "board-results", "board", "balances", "daily-stats", "flashes", "garbage"]
GARBAGE_DAYS = ["0001-01-01", "9999-12-31", "x", "2026-02-30", "", "99999-01-01", "-1", "2024-1-1"]


def day_values(facts: Facts) -> list[str]:
    """Days worth asking for: the data's first and last, today, the ends of what the pages
    accept, and garbage."""
    return [
        facts.today.isoformat(),
        facts.last_day.isoformat(),
        facts.first_day.isoformat(),
        (facts.today - timedelta(days=1)).isoformat(),
        "2000-01-01",
        "2099-12-31",
        *GARBAGE_DAYS,
    ]


def range_values(facts: Facts) -> list[tuple[str, str]]:
    """(start, end) pairs: the longest valid range over the data, reversed ones, huge ones,
    one end missing, garbage."""
    year = (facts.last_day - timedelta(days=365)).isoformat()
    return [
        (year, facts.last_day.isoformat()),
        (facts.first_day.isoformat(), facts.last_day.isoformat()),
        (facts.last_day.isoformat(), year),
        (facts.today.isoformat(), (facts.today - timedelta(days=30)).isoformat()),
        ("0001-01-01", "9999-12-31"),
        ("2000-01-01", "2099-12-31"),
        ("9999-12-31", "0001-01-01"),
        (facts.today.isoformat(), facts.today.isoformat()),
        (year, ""),
        ("", facts.last_day.isoformat()),
        ("x", "y"),
        ("2026-02-30", "2026-13-01"),
    ]


def random_words(rng: random.Random) -> str:
    """A search as someone might type it, or as a script would: words of the seeded titles,
    one-letter words, digits, a Jira ID, in any number."""
    pool = ["seeded", "task", "se", "ta", "s", "t", "x", "9", "uberpop", "1", "42", "zz"]
    words = [
        rng.choice(pool) if rng.random() < 0.8 else str(rng.randrange(10**7))
        for _ in range(rng.randint(1, 12))
    ]
    if rng.random() < 0.2:
        words.append(f"UBERPOP-{rng.randrange(10**6)}")
    return " ".join(words)


def hostile_query(rng: random.Random, facts: Facts) -> list[tuple[str, str]]:
    """One query string's (name, value) pairs: each family of parameters present or not."""
    pairs: list[tuple[str, str]] = []
    if rng.random() < 0.7:
        pairs.append(("q", rng.choice(Q_VALUES) if rng.random() < 0.7 else random_words(rng)))
    if rng.random() < 0.7:
        pairs.append(("page", rng.choice(PAGE_VALUES)))
    if rng.random() < 0.6:
        pairs.append(("filter", rng.choice(FILTER_VALUES)))
    if rng.random() < 0.4:
        pairs.append(("day", rng.choice(day_values(facts))))
    for names in (("start", "end"), ("from", "to")):
        if rng.random() < 0.4:
            pairs += zip(names, rng.choice(range_values(facts)), strict=True)
    if rng.random() < 0.3:
        pairs += [("sort", rng.choice(SORT_VALUES)), ("dir", rng.choice(DIR_VALUES))]
    if rng.random() < 0.3:
        pairs.append(("status", rng.choice(STATUS_VALUES)))
    if rng.random() < 0.3:
        pairs.append(("seen", rng.choice(SEEN_VALUES)))
    if rng.random() < 0.1:
        pairs.append(("next", rng.choice(NEXT_VALUES)))
    if pairs and rng.random() < 0.1:  # a repeated name
        pairs.append((pairs[0][0], rng.choice(PAGE_VALUES)))
    return pairs


def hostile_headers(rng: random.Random) -> dict[str, str]:
    if rng.random() >= 0.3:
        return {}
    headers = {"HX-Request": "true"}
    target = rng.choice(HX_TARGETS)
    if target:
        headers["HX-Target"] = target
    return headers


def known_worst(facts: Facts) -> list[list[tuple[str, str]]]:
    """Query strings that were slow once, or that a page reads the most rows for."""
    year = (facts.last_day - timedelta(days=365)).isoformat()
    last = facts.last_day.isoformat()
    cases: list[list[tuple[str, str]]] = [
        [],
        [("q", "x y z w v u t s"), ("filter", "mine")],
        [("q", "9"), ("filter", "mine")],
        [("q", "9")],
        [("q", "s")],
        [("q", "se")],
        [("q", "task")],
        [("q", "task"), ("page", "100000")],
        [("q", "s"), ("page", "100000")],
        [("q", "task"), ("filter", "done"), ("page", "100000")],
        [("q", "seeded task"), ("filter", "mine")],
        [("q", "ta"), ("filter", "done")],
        [("q", "task 999"), ("filter", "mine")],
        [("q", "a b c d e f g h")],
        [("q", "a b c d e f g h"), ("filter", "done")],
        [("q", "zzzz qqqq"), ("page", "20")],
        [("q", "a" * TEN_THOUSAND)],
        [("q", "task " * (TEN_THOUSAND // 5)), ("filter", "mine")],
        [("q", "uberpop-999999")],
        [("from", year), ("to", last)],
        [("start", year), ("end", last)],
        [("start", "0001-01-01"), ("end", "9999-12-31")],
        [("day", last), ("page", "100000")],
        [("sort", "balance"), ("dir", "desc"), ("page", "100000")],
        [("status", "logged"), ("page", "100000")],
        [("seen", str(10**30))],
    ]
    for filter_ in ("all", "open", "done", "mine"):
        cases.append([("filter", filter_), ("page", "100000")])
        cases.append([("filter", filter_), ("page", "200")])
    for page in ("20", "21", "200", "201"):
        cases.append([("q", "task"), ("page", page)])
    return cases


# --- what the database holds -----------------------------------------------------------


@dataclass
class Popug:
    id: int
    public_id: str
    session_id: str


@dataclass
class Facts:
    """Real ids and days of a database, for path arguments, dates and sessions."""

    popugs: dict[str, Popug]  # role -> the popug signed in as that role
    tasks: list[str]  # public ids: newest, oldest, a done one, one of the worker's
    shuffles: list[str]
    closed_days: list[str]
    first_day: date
    last_day: date
    now: datetime
    open_tasks_of_worker: int = 0
    total_tasks: int = 0

    @property
    def today(self) -> date:
        return self.now.date()

    def path_values(self, endpoint: str, argument: str) -> list[str]:
        """Real values for a path argument (by what the endpoint's name says it shows), then
        unknown and malformed ones."""
        popug_ids = [p.public_id for p in self.popugs.values()]
        if argument == "day":
            real = self.closed_days + [self.today.isoformat()]
            return real + ["0001-01-01", "9999-12-31", "x", "2026-02-30", "1" * 30]
        if "shuffle" in endpoint:
            real = self.shuffles
        elif "popug" in endpoint:
            real = popug_ids
        elif "task" in endpoint:
            real = self.tasks
        else:
            real = self.tasks + popug_ids + self.shuffles
        return real + [UNKNOWN_ID, "x", "0", "1" * 30, "%27%22", "😀"]


def gather_facts(conn) -> Facts:
    """Read the facts from a seeded database (read-only)."""

    def one(sql: str, **params):
        return conn.execute(text(sql), params).first()

    def popug(role: str, order: str = "p.id") -> Popug:
        row = one(
            f"SELECT p.id, p.public_id, p.session_epoch FROM popugs p WHERE p.role = :role "
            f"AND p.active ORDER BY {order} LIMIT 1",
            role=role,
        )
        return Popug(row[0], row[1], f"{row[1]}.{row[2]}")

    worker_id, open_count = one(
        "SELECT t.assignee_id, count(*) FROM tasks t JOIN popugs p ON p.id = t.assignee_id "
        "WHERE t.status = 'open' AND p.role = 'worker' AND p.active "
        "GROUP BY t.assignee_id ORDER BY count(*) DESC, t.assignee_id LIMIT 1"
    )
    row = one("SELECT id, public_id, session_epoch FROM popugs WHERE id = :id", id=worker_id)
    popugs = {
        "worker": Popug(row[0], row[1], f"{row[1]}.{row[2]}"),
        "accountant": popug("accountant"),
        "manager": popug("manager"),
        "admin": popug("admin"),
    }
    task_of = "SELECT x.public_id, x.created_at FROM tasks t JOIN task_texts x ON x.task_id = t.id "
    newest = one(task_of + "ORDER BY t.id DESC LIMIT 1")
    oldest = one(task_of + "ORDER BY t.id LIMIT 1")
    done = one(task_of + "WHERE t.status = 'done' ORDER BY t.id DESC LIMIT 1")
    mine = one(task_of + "WHERE t.assignee_id = :me ORDER BY t.id LIMIT 1", me=worker_id)
    tasks = [r[0] for r in (newest, oldest, done, mine) if r]
    shuffles = [
        r[0] for r in conn.execute(text("SELECT public_id FROM shuffles ORDER BY id DESC LIMIT 2"))
    ]
    closed = [
        str(r[0])[:10]
        for r in conn.execute(text("SELECT day FROM billing_days ORDER BY day DESC LIMIT 2"))
    ]
    newest_at = _aware(newest[1]) if newest else datetime.now(UTC)
    oldest_at = _aware(oldest[1]) if oldest else newest_at
    total = conn.execute(text("SELECT max(id) FROM tasks")).scalar() or 0
    return Facts(
        popugs=popugs,
        tasks=tasks,
        shuffles=shuffles,
        closed_days=closed,
        first_day=oldest_at.date(),
        last_day=newest_at.date(),
        now=newest_at + timedelta(hours=1),
        open_tasks_of_worker=open_count,
        total_tasks=total,
    )


def _aware(value) -> datetime:
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value if value.tzinfo else value.replace(tzinfo=UTC)


# --- the requests ----------------------------------------------------------------------


@dataclass
class Case:
    endpoint: str
    role: str
    path: str
    query: list[tuple[str, str]] = field(default_factory=list)
    headers: dict[str, str] = field(default_factory=dict)
    known_worst: bool = False

    @property
    def query_string(self) -> str:
        return urlencode(self.query)

    def url(self, width: int = 40) -> str:
        """The URL with long values shortened, for the report (a Markdown table's cell)."""
        shown = [
            (
                n,
                v.replace(" ", "+")
                if len(v) <= width
                else f"{v[:12].replace(' ', '+')}…({len(v):,} chars)",
            )
            for n, v in self.query
        ]
        query = "&".join(f"{n}={v}" for n, v in shown).replace("|", "%7C")
        return self.path + (f"?{query}" if query else "")

    def label(self) -> str:
        fragment = ""
        if self.headers:
            fragment = (
                " [htmx"
                + (f" → {self.headers['HX-Target']}" if "HX-Target" in self.headers else "")
                + "]"
            )
        return f"{self.role} `{self.url()}`{fragment}"


def get_rules(app) -> list:
    """Every page rule that answers GET, in a stable order: not static files, nor the JSON
    API (tokens only; tests/api/test_fuzz.py sends it hostile input from its OpenAPI)."""
    return sorted(
        (
            r
            for r in app.url_map.iter_rules()
            if "GET" in r.methods and r.endpoint != "static" and not r.endpoint.startswith("api.")
        ),
        key=lambda r: (r.rule, r.endpoint),
    )


def fill_path(rule, values: dict[str, str]) -> str:
    path = rule.rule
    for name, value in values.items():
        pattern = r"<(?:[^<>:]+:)?" + re.escape(name) + ">"
        path = re.sub(pattern, lambda _m, v=value: quote(v, safe="%"), path)
    return path


def make_cases(app, facts: Facts, rng: random.Random, per_role: int) -> list[Case]:
    """The known-worst query strings, then `per_role` drawn ones, for every GET endpoint and
    role; path arguments cycle through real, unknown and malformed values."""
    cases = []
    worst = known_worst(facts)
    for rule in get_rules(app):
        choices = {name: facts.path_values(rule.endpoint, name) for name in rule.arguments}
        for role in ROLES:
            queries = [(q, {}) for q in worst]
            queries += [(hostile_query(rng, facts), hostile_headers(rng)) for _ in range(per_role)]
            for index, (query, headers) in enumerate(queries):
                # The known-worst query strings with a real object in the path; drawn ones
                # with any of the values.
                values = {
                    name: options[0] if index < len(worst) else rng.choice(options)
                    for name, options in choices.items()
                }
                path = fill_path(rule, values)
                cases.append(Case(rule.endpoint, role, path, query, headers, index < len(worst)))
    return cases


def clients(app, facts: Facts) -> dict:
    from app.blueprints.auth import sessions

    made = {"anonymous": app.test_client()}
    for role, popug in facts.popugs.items():
        client = app.test_client()
        with client.session_transaction() as session:
            session["_user_id"] = popug.session_id
            session["_fresh"] = True
            sessions.begin(session)
        made[role] = client
    return made


@dataclass
class Result:
    case: Case
    status: int | str
    seconds: float
    error: str | None = None
    redirect: str | None = None  # where a redirect (or htmx's HX-Redirect) sends the browser
    cpu_seconds: float = 0.0  # this process's CPU time (SQLite: all of it; not PostgreSQL's)


def send(client, case: Case) -> Result:
    started, cpu = time.perf_counter(), time.process_time()
    try:
        response = client.get(case.path, query_string=case.query_string, headers=case.headers)
        response.get_data()
    except Exception:  # noqa: BLE001 - a view that raised is what this script looks for
        return Result(case, "exception", time.perf_counter() - started, traceback.format_exc())
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    target = response.headers.get("Location") or response.headers.get("HX-Redirect")
    return Result(case, response.status_code, seconds, None, target, cpu)
