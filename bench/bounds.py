"""A bound on every request: every GET page and fragment of aTES, as every role, with hostile
query strings, timed one by one at scale.

    python bench/bounds.py [--quick] [--database-url postgresql://postgres@127.0.0.1:5432/NAME]
                           [--existing URL] [--cases N] [--bound 1.0] [--seed 28]
                           [--priority -10]

The database: with --existing, a database already seeded by bench.common.seed (a SQLite
URL, which is copied to a temporary directory first, or a PostgreSQL URL, opened with
`default_transaction_read_only`: nothing is written to either). Otherwise a fresh one (SQLite
in a temporary directory, or with --database-url that PostgreSQL database, created and
dropped afterwards) seeded with 10,000 popugs and 1,000,000 tasks (a tenth done) over 30
business days, every day but the last closed (payouts, e-mails, billing days); --quick seeds
1,000 popugs and 10,000 tasks.

The requests: every GET rule of the app's URL map (static files aside), its path arguments
filled with real ids from the database (the newest, oldest and a done task, a popug of each
role, the newest shuffle, a closed day) and with unknown and malformed ones; as anonymous
and as each role (the seeded admin, a manager, an accountant, the active worker with the most
open tasks); with query strings drawn from a fixed random seed: `q` (one-letter words, eight
words, digits, Jira IDs, search syntax and punctuation, 10,000 characters, unicode), `page`
(0, -1, 20, 200, 100000, 'x', 10**30, …), `filter` (each valid one and garbage), the date
parameters (`day`, `start`/`end`, `from`/`to`: reversed, huge ranges, year 1 and 9999, the
year of data, garbage) and the other parameters pages read (`sort`, `dir`, `status`, `seen`,
`next`), now and then as htmx asks for a fragment (HX-Request, HX-Target). A fixed list of
known-worst query strings goes first to every endpoint, as every role that may see it. The
clock is frozen an hour after the newest task was created, so "today" and the default ranges
hold data.

Every request is timed around the test client's call, the body read (one process, one
request at a time, each in its own app context as in production; the app's read timeout,
ATES_READ_TIMEOUT_SECONDS, as configured). One untimed warm-up request per endpoint and role
(plain URL) comes first. The first few responses of an endpoint slower than --bound are
requested again with no read timeout, to find their real time, the SQL they ran, and their
slowest statement's plan (PostgreSQL EXPLAIN (ANALYZE, BUFFERS), SQLite EXPLAIN QUERY PLAN); a
response fast the second time was slowed by the machine, not by its query.

Reported: per endpoint the requests, their statuses, the median and maximum wall time, the
most CPU time this process spent on one (on SQLite all of a request's work; on a busy machine
the wall time also holds the wait for a core) and the slowest URL; then every response over
the bound. Exits 1 on any 500 (an exception in a view), and in a full run also on any
response slower than --bound; a --quick run fails only on 500s (a smoke test: its times say
nothing).
"""

from __future__ import annotations

import argparse
import os
import random
import re
import shutil
import sys
import tempfile
import time
import traceback
from collections import Counter, defaultdict
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from urllib.parse import quote, urlencode

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import event, make_url, text  # noqa: E402

from bench.common import (  # noqa: E402
    Population,
    bench_config,
    describe_database,
    fresh_database,
    is_postgres_url,
    load,
    machine,
    markdown_table,
    quantile,
    raise_priority,
    seed,
)

ROLES = ("anonymous", "worker", "accountant", "manager", "admin")
FULL = Population(10_000, 900_000, 100_000, days=30, close_days=True)
QUICK = Population(1_000, 9_000, 1_000, days=10, close_days=True)
DIAGNOSED_PER_ENDPOINT = 3  # slow responses run again and explained; the rest are counted
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


# --- timing ----------------------------------------------------------------------------


class Statements:
    """The SQL statements (text, parameters, seconds) run while `recording`."""

    def __init__(self, engine):
        self.engine = engine
        self.recording = False
        self.entries: list[tuple[str, object, float]] = []
        event.listen(engine, "before_cursor_execute", self._before)
        event.listen(engine, "after_cursor_execute", self._after)

    def _before(self, conn, cursor, statement, parameters, context, executemany):
        conn.info["bounds_started"] = time.perf_counter()

    def _after(self, conn, cursor, statement, parameters, context, executemany):
        if self.recording:
            seconds = time.perf_counter() - conn.info.pop("bounds_started", time.perf_counter())
            self.entries.append((statement, parameters, seconds))

    @contextmanager
    def record(self):
        self.entries = []
        self.recording = True
        try:
            yield self.entries
        finally:
            self.recording = False


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


def explain(engine, statement: str, parameters) -> list[str]:
    """The plan of one statement: PostgreSQL runs it (EXPLAIN ANALYZE, in a transaction
    that is rolled back), SQLite only plans it."""
    postgres = engine.dialect.name == "postgresql"
    prefix = "EXPLAIN (ANALYZE, BUFFERS) " if postgres else "EXPLAIN QUERY PLAN "
    with engine.connect() as conn:
        try:
            rows = conn.exec_driver_sql(prefix + statement, parameters).all()
        finally:
            conn.rollback()
    if postgres:
        return [row[0] for row in rows]
    return [f"{row[0]}/{row[1]}: {row[-1]}" for row in rows]


def diagnose(app, client, case: Case, statements: Statements, engine) -> dict:
    """A slow response again, with no read timeout: its real time, statements, the plan of
    the slowest."""
    timeout = app.config["READ_TIMEOUT_SECONDS"]
    app.config["READ_TIMEOUT_SECONDS"] = 0
    try:
        with statements.record() as run:
            again = send(client, case)
        ran = list(run)
    finally:
        app.config["READ_TIMEOUT_SECONDS"] = timeout
    found = {"again": again, "statements": len(ran), "sql_seconds": sum(s for *_, s in ran)}
    if ran:
        statement, parameters, seconds = max(ran, key=lambda entry: entry[2])
        found["slowest"] = (" ".join(statement.split()), parameters, seconds)
        try:
            found["plan"] = explain(engine, statement, parameters)
        except Exception as error:  # noqa: BLE001 - a plan is a nicety of the report
            found["plan"] = [f"(no plan: {error})"]
    return found


# --- the run ---------------------------------------------------------------------------


def run(app, facts: Facts, cases: list[Case], bound: float) -> dict:
    from app import clock
    from app.extensions import db

    clock.freeze(facts.now)
    by_role = clients(app, facts)
    with app.app_context():
        engine = db.engine
    statements = Statements(engine)
    warmed: dict[tuple[str, str], int | str] = {}
    results: list[Result] = []
    slow: list[tuple[Result, dict | None]] = []
    started = time.perf_counter()
    for number, case in enumerate(cases, 1):
        key = (case.endpoint, case.role)
        if key not in warmed:
            plain = send(by_role[case.role], Case(case.endpoint, case.role, case.path))
            warmed[key] = plain.status
        if case.known_worst and warmed[key] in REFUSED:
            continue  # the role may not see the page: its drawn cases test the refusal
        result = send(by_role[case.role], case)
        results.append(result)
        if result.error:
            print(f"\n500 {case.label()}:\n{result.error}", file=sys.stderr, flush=True)
        if result.seconds > bound:
            diagnosed = sum(1 for r, found in slow if found and r.case.endpoint == case.endpoint)
            found = None
            if diagnosed < DIAGNOSED_PER_ENDPOINT:
                found = diagnose(app, by_role[case.role], case, statements, engine)
            slow.append((result, found))
        if number % 500 == 0:
            elapsed = time.perf_counter() - started
            print(
                f"  {number:,}/{len(cases):,} requests, {elapsed:.0f} s",
                file=sys.stderr,
                flush=True,
            )
    clock.freeze(None)
    return {"results": results, "slow": slow, "seconds": time.perf_counter() - started}


def report(figures: dict, bound: float) -> str:
    by_endpoint: dict[str, list[Result]] = defaultdict(list)
    for result in figures["results"]:
        by_endpoint[result.case.endpoint].append(result)
    rows = []
    for endpoint, results in sorted(
        by_endpoint.items(), key=lambda item: -max(r.seconds for r in item[1])
    ):
        times = [r.seconds for r in results]
        slowest = max(results, key=lambda r: r.seconds)
        statuses = Counter(r.status for r in results)
        rows.append(
            [
                f"`{endpoint}`",
                len(results),
                " ".join(f"{s}×{n}" for s, n in sorted(statuses.items(), key=str)),
                f"{quantile(times, 0.5) * 1000:.1f}",
                f"{max(times) * 1000:.0f}",
                f"{max(r.cpu_seconds for r in results) * 1000:.0f}",
                slowest.case.label(),
            ]
        )
    header = ["endpoint", "requests", "statuses", "median ms", "max ms", "max CPU ms"]
    lines = [markdown_table([*header, "slowest (role, URL)"], rows)]
    slow = figures["slow"]
    lines.append(f"\nResponses slower than {bound:g} s: {len(slow)}")
    undiagnosed: dict[str, list[Result]] = defaultdict(list)
    for result, found in slow:
        if found is None:
            undiagnosed[result.case.endpoint].append(result)
            continue
        again = found["again"]
        lines.append(
            f"\n- {result.case.label()}: {result.seconds * 1000:.0f} ms ({result.status}, "
            f"{result.cpu_seconds * 1000:.0f} ms CPU); again without the read timeout "
            f"{again.seconds * 1000:.0f} ms ({again.status}, "
            f"{again.cpu_seconds * 1000:.0f} ms CPU), "
            f"{found['statements']} statements, {found['sql_seconds'] * 1000:.0f} ms of SQL"
        )
        if "slowest" in found:
            statement, parameters, seconds = found["slowest"]
            shown = {
                k: (v if len(str(v)) < 60 else f"{str(v)[:40]}…")
                for k, v in (
                    parameters.items()
                    if isinstance(parameters, dict)
                    else enumerate(parameters or ())
                )
            }
            lines.append(
                f"  slowest statement ({seconds * 1000:.0f} ms): `{statement[:600]}` with {shown}"
            )
            lines.append("  plan:\n")
            lines += [f"      {line}" for line in found.get("plan", [])]
    for endpoint, results in undiagnosed.items():
        statuses = Counter(r.status for r in results)
        lines.append(
            f"\n- and {len(results)} more of `{endpoint}` (not run again), "
            + ", ".join(f"{s}×{n}" for s, n in sorted(statuses.items(), key=str))
            + f", {min(r.seconds for r in results) * 1000:.0f}–"
            f"{max(r.seconds for r in results) * 1000:.0f} ms"
        )
    return "\n".join(lines)


# --- databases -------------------------------------------------------------------------


def existing_config(url: str, read_only: bool):
    config = bench_config(url)
    if read_only and is_postgres_url(url):

        class ReadOnly(config):
            SQLALCHEMY_ENGINE_OPTIONS = {
                **config.SQLALCHEMY_ENGINE_OPTIONS,
                "connect_args": {"options": "-c default_transaction_read_only=on"},
            }

        return ReadOnly
    return config


@contextmanager
def database(args, population: Population):
    """(URL, what it is, seeding figures or None) of the database to measure."""
    if args.existing:
        if is_postgres_url(args.existing):
            yield args.existing, "existing, read-only", None
            return
        source = Path(make_url(args.existing).database or "")
        with tempfile.TemporaryDirectory(prefix="ates-bounds-") as tmp:
            copy = Path(tmp) / source.name
            shutil.copyfile(source, copy)
            yield f"sqlite:///{copy}", f"a copy of {source}", None
        return
    with fresh_database(args.database_url, "ates_bounds") as url:
        from app import create_app
        from app.extensions import db

        app = create_app(bench_config(url))
        with app.app_context():
            db.create_all()
            seeded = seed(db.engine, population)
            db.engine.dispose()
        yield url, "fresh, seeded by bench.common.seed", seeded


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="10,000 tasks, 3 cases: a smoke run")
    parser.add_argument("--database-url", help="PostgreSQL URL of a database to create and drop")
    parser.add_argument("--existing", help="URL of a seeded database to measure, read-only")
    parser.add_argument(
        "--cases",
        type=int,
        help="drawn query strings per endpoint and role "
        "(default 25, quick 3), after the known-worst ones",
    )
    parser.add_argument("--bound", type=float, default=1.0, help="seconds (default 1.0)")
    parser.add_argument("--seed", type=int, default=28, help="random seed of the query strings")
    parser.add_argument(
        "--priority",
        type=int,
        default=0,
        help="niceness of this process and its PostgreSQL backends (root)",
    )
    args = parser.parse_args()
    population = QUICK if args.quick else FULL
    per_role = args.cases if args.cases is not None else (3 if args.quick else 25)
    began = time.perf_counter()
    load_before = load()
    print(f"# bench/bounds.py — {machine()} — load {load_before}", flush=True)
    from app import create_app
    from app.extensions import db

    with database(args, population) as (url, origin, seeded):
        app = create_app(existing_config(url, read_only=bool(args.existing)))
        with app.app_context():
            raise_priority(db.engine, args.priority)
            described = describe_database(db.engine)
            with db.engine.connect() as conn:
                facts = gather_facts(conn)
        cases = make_cases(app, facts, random.Random(args.seed), per_role)
        if seeded:
            print(f"seeded in {seeded['seconds']:.0f} s: {seeded['rows']}", flush=True)
        print(f"{len(cases):,} requests to send", flush=True)
        load_start = load()
        figures = run(app, facts, cases, args.bound)
        with app.app_context():
            db.engine.dispose()
    results = figures["results"]
    errors = [r for r in results if r.error or r.status == 500]
    over = [r for r in results if r.seconds > args.bound]
    statuses = Counter(r.status for r in results)
    worker = facts.popugs["worker"]
    print(
        f"\n{datetime.now(UTC):%Y-%m-%d %H:%M} UTC — {described} ({origin}) — "
        f"{facts.total_tasks:,} tasks — clock frozen at {facts.now:%Y-%m-%d %H:%M} UTC — "
        f"worker popug #{worker.id} ({facts.open_tasks_of_worker} open tasks) — "
        f"read timeout {app.config['READ_TIMEOUT_SECONDS']:g} s — bound {args.bound:g} s — "
        f"seed {args.seed}, {len(known_worst(facts))} known-worst + {per_role} drawn query "
        f"strings per endpoint and role — niceness {os.getpriority(os.PRIO_PROCESS, 0)} — "
        f"load average {load_before} at start, {load_start} before the requests, {load()} "
        f"at the end\n"
    )
    print(report(figures, args.bound))
    print(
        f"\n{len(results):,} requests in {figures['seconds']:.0f} s "
        f"(run {time.perf_counter() - began:.0f} s); statuses "
        + ", ".join(f"{s}: {n:,}" for s, n in sorted(statuses.items(), key=str))
        + f"; 500s: {len(errors)}; slower than {args.bound:g} s: {len(over)}; slowest "
        f"{max(r.seconds for r in results) * 1000:.0f} ms"
    )
    if errors:
        return 1
    return 1 if over and not args.quick else 0


if __name__ == "__main__":
    sys.exit(main())
