"""Shared helpers for the benchmark scripts in bench/.

- `bench_app(url)`: the real aTES app on a given database, with cheap password hashing.
- `fresh_database(url, name)`: a new SQLite file in a temporary directory, or a new
  PostgreSQL database (created, then dropped afterwards); `copy_database` clones one.
- `seed(engine, population)`: the one bulk seeder of the benchmarks and the reliability
  tests: popugs, accounts, tasks, ledger entries, optionally closed days (payouts, their
  entries and e-mails, billing days), and balances, by set-based SQL (INSERT … SELECT over
  a generated series), consistent with each other and with `flask accounting verify`:
  every balance equals the sum of its ledger entries. `named_database` names the
  databases of a script with several.
- `StatementLog`: per-statement timings from SQLAlchemy's cursor events.
- `check_ledger`: the money invariants a benchmark re-checks after writing.
- `quantile`, `peak_rss_mb`, `markdown_table`: figures for the report.

A script imports this as `bench.common` after putting the repository root on sys.path.
"""

from __future__ import annotations

import math
import re
import resource
import shutil
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from argon2 import PasswordHasher
from sqlalchemy import create_engine, event, insert, make_url, text
from sqlalchemy.engine import Connection, Engine

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from app import create_app  # noqa: E402
from app.config import Config, database_url  # noqa: E402

# The seeded history ends here; tasks are spaced TASK_SPACING_S seconds apart before it.
SEED_END = datetime(2026, 5, 1, 12, 0, 0, tzinfo=UTC)
TASK_SPACING_S = 30
BENCH_BEAK = "a bench beak, short and curved"
ELIGIBLE_ROLES = ("worker", "accountant")


# --- the app ---------------------------------------------------------------------------


def bench_config(url: str) -> type[Config]:
    """A Config subclass for benchmarks: the given database, cheap argon2, no CSRF."""

    class BenchConfig(Config):
        SQLALCHEMY_DATABASE_URI = database_url(url, url)
        TESTING = True
        SECRET_KEY = "bench-secret-key-not-for-production"
        WTF_CSRF_ENABLED = False
        ARGON2_TIME_COST = 1
        ARGON2_MEMORY_COST = 8
        ARGON2_PARALLELISM = 1
        MAIL_SERVER = ""
        # In-process work (seeding, timing services) signs nobody in; and Flask-Limiter
        # keeps one storage per process, so this app must not swap the tests' one.
        RATELIMIT_STORAGE_URI = "memory://"

    return BenchConfig


def search_paths(tasks: int) -> dict[str, str]:
    """The board searches the benchmarks time, for data seeded by `seed` with `tasks` tasks
    (every title "Seeded task <i>", every third task the Jira ID UBERPOP-<i>): {label: path}."""
    return {
        "Search a word of every title (?q=task)": "/?q=task",
        "Search ?q=task&filter=done": "/?q=task&filter=done",
        "Search ?q=seeded+task&filter=mine": "/?q=seeded+task&filter=mine",
        "Search a rare word (?q=<last id>)": f"/?q={tasks}",
        "Search a prefix (?q=<4 digits>)": f"/?q={str(tasks)[:4]}",
        "Search a Jira ID (?q=uberpop-<id>)": f"/?q=uberpop-{tasks // 3 * 3}",
    }


def bench_app(url: str):
    return create_app(bench_config(url))


# --- databases -------------------------------------------------------------------------

_DB_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


def is_postgres_url(url: str | None) -> bool:
    return bool(url) and url.startswith(("postgres://", "postgresql"))


def _pg_admin(url: str) -> Engine:
    """An AUTOCOMMIT engine on the server's `postgres` database, for CREATE/DROP DATABASE."""
    return create_engine(
        make_url(database_url(url, url)).set(database="postgres"), isolation_level="AUTOCOMMIT"
    )


def _pg_name(url: str) -> str:
    name = make_url(database_url(url, url)).database or ""
    if not _DB_NAME.match(name):
        raise ValueError(f"refusing database name {name!r}: use lower-case letters, digits, _")
    return name


def with_database_name(url: str, name: str) -> str:
    """The same server URL, naming another database (PostgreSQL) or file (SQLite)."""
    parsed = make_url(database_url(url, url))
    if parsed.get_backend_name() == "sqlite":
        path = Path(parsed.database or "")
        return f"sqlite:///{path.with_name(name + '.sqlite3')}"
    renamed = parsed.set(database=name).render_as_string(hide_password=False)
    _pg_name(renamed)
    return renamed


def named_database(prefix_url: str | None, suffix: str) -> str | None:
    """A database for one part of a run: on `prefix_url`'s PostgreSQL server the database
    NAME_suffix (NAME from the URL), or None for SQLite (fresh_database then makes a file)."""
    if not prefix_url:
        return None
    url = database_url(prefix_url, prefix_url)
    if is_postgres_url(url):
        return with_database_name(url, f"{make_url(url).database}_{suffix}")
    return with_database_name(url, suffix)


def create_database(url: str, *, template: str | None = None) -> None:
    """(Re)create the PostgreSQL database named in `url`, empty or as a copy of `template`."""
    name = _pg_name(url)
    admin = _pg_admin(url)
    try:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            if template is None:
                conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
            else:
                source = _pg_name(template)
                # FILE_COPY: checkpoint + copy the files; much faster than WAL_LOG for a
                # database of a few GB, and it leaves no copy in shared buffers to favour a run.
                conn.exec_driver_sql(
                    f'CREATE DATABASE "{name}" TEMPLATE "{source}" STRATEGY FILE_COPY'
                )
    finally:
        admin.dispose()


def drop_database(url: str) -> None:
    if is_postgres_url(url):
        name = _pg_name(url)
        admin = _pg_admin(url)
        try:
            with admin.connect() as conn:
                conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            admin.dispose()
    else:
        path = Path(make_url(url).database or "")
        for suffix in ("", "-wal", "-shm", "-journal"):
            Path(str(path) + suffix).unlink(missing_ok=True)


def copy_database(source: str, target: str) -> None:
    """Make `target` an exact copy of `source` (no connection may be open on either)."""
    if is_postgres_url(source):
        create_database(target, template=source)
        return
    drop_database(target)
    src = Path(make_url(source).database or "")
    if Path(str(src) + "-wal").exists() and Path(str(src) + "-wal").stat().st_size:
        raise RuntimeError(f"{src} has an un-checkpointed WAL; checkpoint before copying")
    shutil.copyfile(src, make_url(target).database or "")


@contextmanager
def fresh_database(url: str | None, name: str) -> Iterator[str]:
    """A new empty database for one benchmark run, removed afterwards.

    `url` None: a SQLite file `<name>.sqlite3` in a new temporary directory.
    `url` a PostgreSQL URL: that database is dropped if it exists, created, and dropped
    at the end (the URL's user must be allowed to CREATE DATABASE).
    """
    if not url:
        with tempfile.TemporaryDirectory(prefix="ates-bench-") as tmp:
            yield f"sqlite:///{Path(tmp) / (name + '.sqlite3')}"
        return
    url = database_url(url, url)
    create_database(url)
    try:
        yield url
    finally:
        drop_database(url)


def describe_database(engine: Engine) -> str:
    with engine.connect() as conn:
        if engine.dialect.name == "postgresql":
            version = conn.exec_driver_sql("SHOW server_version").scalar()
            buffers = conn.exec_driver_sql("SHOW shared_buffers").scalar()
            return f"PostgreSQL {version} (shared_buffers {buffers}), psycopg 3"
        version = conn.exec_driver_sql("SELECT sqlite_version()").scalar()
        return f"SQLite {version} (WAL, synchronous=NORMAL, file in a temp dir)"


def settle(engine: Engine) -> None:
    """After a bulk load: PostgreSQL VACUUM ANALYZE (what autovacuum would do), SQLite a WAL
    checkpoint. SQLite gets no ANALYZE: the app never runs one, so plans are as in production."""
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("VACUUM ANALYZE")
    else:
        with engine.connect() as conn:
            conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    engine.dispose()


def checkpoint(engine: Engine) -> None:
    """Start a timed run from a clean state: PostgreSQL CHECKPOINT, SQLite WAL checkpoint."""
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        if engine.dialect.name == "postgresql":
            conn.exec_driver_sql("CHECKPOINT")
        else:
            conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")


# --- seeding ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Population:
    """What to seed. Popug ids are 1..popugs: one admin, then managers, accountants, and
    workers; every 97th worker is inactive. Task ids are 1..open+done, newest last; done
    tasks are spread evenly among them, handed round-robin to the assignable popugs (so
    each has its share of rewards), open ones to random active assignable popugs.

    Time: the last task is created at `end`; before it, tasks are TASK_SPACING_S apart, or,
    with `days`, spread evenly over that many business days ending on `end`'s day. A done
    task was completed 20 s after its creation. With `close_days`, every day before
    `end`'s was closed as close-day would have closed it (payouts of the positive
    balances, their ledger entries and logged e-mails, the billing day's totals). With
    `diligent_every` k, every popug whose id is a multiple of k has finished all its tasks
    (so fewer than `open_tasks` stay open: `seed` returns how many are done)."""

    popugs: int
    open_tasks: int
    done_tasks: int
    days: int | None = None
    close_days: bool = False
    end: datetime = SEED_END
    diligent_every: int | None = None

    @property
    def tasks(self) -> int:
        return self.open_tasks + self.done_tasks

    @property
    def managers(self) -> int:
        return max(1, self.popugs // 500)

    @property
    def last_manager(self) -> int:
        return 1 + self.managers

    @property
    def last_accountant(self) -> int:
        return self.last_manager + max(1, self.popugs // 20)

    @property
    def first_assignable(self) -> int:
        return self.last_manager + 1

    @property
    def assignable(self) -> int:
        """Popugs that seeded tasks are assigned to (workers and accountants, active or not)."""
        return self.popugs - self.last_manager

    @property
    def span_s(self) -> int:
        """Seconds from the first task's day's midnight (or the first task) to `end`."""
        if self.days is None:
            return max(0, self.tasks - 1) * TASK_SPACING_S
        midnight = self.end.replace(hour=0, minute=0, second=0, microsecond=0)
        return int((self.end - midnight).total_seconds()) + (self.days - 1) * 86400

    def created_before_end_sql(self, i: str) -> str:
        """Seconds before `end` that task `i` (a column or expression) was created."""
        n = max(1, self.tasks)
        if self.days is None:
            return f"(({n} - {i}) * {TASK_SPACING_S})"
        return f"((({n} - {i}) * {self.span_s}) / {n})"

    def status_sql(self, i: str) -> str:
        """'done' for exactly `done_tasks` of the ids 1..tasks, spread evenly (a Bresenham
        step), else 'open'."""
        n, d = max(1, self.tasks), self.done_tasks
        return f"CASE WHEN ({i} * {d}) / {n} > (({i} - 1) * {d}) / {n} THEN 'done' ELSE 'open' END"

    def assignee_sql(self, sql: _Sql, i: str, status: str) -> str:
        return (
            f"CASE WHEN {status} = 'done' THEN {self.first_assignable} + {i} % {self.assignable} "
            f"ELSE {self.first_assignable} + {sql.rand(self.assignable)} END"
        )


class _Sql:
    """The few expressions that differ between SQLite and PostgreSQL."""

    def __init__(self, dialect: str, end: datetime = SEED_END):
        self.pg = dialect == "postgresql"
        self.end = end

    def series(self, n: int) -> tuple[str, str]:
        """(prefix before INSERT, FROM item) yielding i = 1..n."""
        if self.pg:
            return "", f"generate_series(1::bigint, {int(n)}) AS series(i)"
        return (
            "WITH RECURSIVE series(i) AS "
            f"(SELECT 1 UNION ALL SELECT i + 1 FROM series WHERE i < {int(n)}) ",
            "series",
        )

    def rand(self, n: int) -> str:
        """A random integer in [0, n), drawn per row."""
        if self.pg:
            return f"floor(random() * {int(n)})::bigint"
        return f"((random() % {int(n)}) + {int(n)}) % {int(n)}"

    def uuid(self, expr: str, prefix: str) -> str:
        """A UUID-shaped unique string from an integer expression."""
        if self.pg:
            return f"'{prefix}-0000-4000-8000-' || lpad(({expr})::text, 12, '0')"
        return f"printf('{prefix}-0000-4000-8000-%012d', {expr})"

    def seconds_before_end(self, seconds_expr: str) -> str:
        end = self.end.astimezone(UTC)
        if self.pg:
            return f"(timestamptz '{end.isoformat()}' - make_interval(secs => {seconds_expr}))"
        return f"datetime('{end:%Y-%m-%d %H:%M:%S}', '-' || ({seconds_expr}) || ' seconds')"

    def plus_seconds(self, ts_expr: str, seconds: int) -> str:
        if self.pg:
            return f"({ts_expr} + make_interval(secs => {int(seconds)}))"
        return f"datetime({ts_expr}, '+{int(seconds)} seconds')"

    def day_of(self, ts_expr: str) -> str:
        if self.pg:
            return f"(({ts_expr}) AT TIME ZONE 'UTC')::date"
        return f"date({ts_expr})"

    def text(self, expr: str) -> str:
        return f"({expr})::text" if self.pg else f"({expr})"


def popug_session_id(popug_id: int) -> str:
    """The login session's user id of seeded popug `popug_id` (public id and epoch 0)."""
    return f"00000000-0000-4000-8000-{popug_id:012d}.0"


SEEDED_TABLES = (
    "popugs",
    "accounts",
    "tasks",
    "task_texts",
    "ledger_entries",
    "payouts",
    "billing_days",
    "mail_outbox",
)


def seed(engine: Engine | str, population: Population) -> dict:
    """Fill an empty aTES schema: popugs, accounts, tasks (the done ones with completed_at),
    one assign_fee entry per task and one reward entry per done task, with `close_days` the
    closed days' payouts, payout entries, logged e-mails and billing days, and balances
    equal to the ledger sums. By INSERT … SELECT (the closes from per-day sums); the data
    passes `flask accounting verify`. `engine` may be a database URL. Returns
    {"seconds": …, "rows": {table: n}, "done_tasks": n, "payouts": n, "closed_days": n}."""
    if isinstance(engine, str):
        engine = create_engine(database_url(engine, engine))
    started = time.perf_counter()
    p = population
    sql = _Sql(engine.dialect.name, p.end)
    beak_hash = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1).hash(BENCH_BEAK)
    with engine.begin() as conn:
        if not sql.pg:
            # A big page cache for the load only; the engine is disposed afterwards, so the
            # app's own connections keep SQLite's default cache.
            conn.exec_driver_sql("PRAGMA cache_size = -524288")
        prefix, series = sql.series(p.popugs)
        conn.execute(
            text(
                f"{prefix}INSERT INTO popugs (id, public_id, username, email, role, beak_hash, "
                "active, session_epoch, created_at) "
                f"SELECT i, {sql.uuid('i', '00000000')}, 'popug-' || {sql.text('i')}, "
                f"'popug-' || {sql.text('i')} || '@uberpopug.inc', "
                f"CASE WHEN i = 1 THEN 'admin' WHEN i <= {p.last_manager} THEN 'manager' "
                f"WHEN i <= {p.last_accountant} THEN 'accountant' ELSE 'worker' END, "
                f":beak, CASE WHEN i > {p.last_accountant} AND i % 97 = 0 THEN false "
                f"ELSE true END, 0, {sql.seconds_before_end(str(p.span_s + 86400))} "
                f"FROM {series}"
            ),
            {"beak": beak_hash},
        )
        conn.exec_driver_sql(
            "INSERT INTO accounts (id, popug_id, owner_public_id, username, email, balance, "
            "created_at) SELECT id, id, public_id, username, email, 0, created_at FROM popugs"
        )
        prefix, series = sql.series(p.tasks)
        created = sql.seconds_before_end(p.created_before_end_sql("i"))
        conn.execute(
            text(
                f"{prefix}INSERT INTO tasks (id, status, assignee_id, fee, reward, completed_at) "
                f"SELECT i, status, {p.assignee_sql(sql, 'i', 'status')}, "
                f"(10 + {sql.rand(11)}) * 100, (20 + {sql.rand(21)}) * 100, "
                f"CASE WHEN status = 'done' THEN {sql.plus_seconds(created, 20)} END "
                f"FROM (SELECT i, {p.status_sql('i')} AS status FROM {series}) AS numbered"
            )
        )
        # Open tasks only on popugs who can take them, as the hand-over rule keeps them
        # (`accounting verify` reports any other): a draw that fell on an inactive worker
        # goes to the popug before it (never a multiple of 97 itself, nor a manager).
        conn.execute(  # text(): it escapes the % (modulo) for psycopg
            text(
                f"UPDATE tasks SET assignee_id = assignee_id - 1 WHERE status = 'open' "
                f"AND assignee_id > {p.last_accountant} AND assignee_id % 97 = 0"
            )
        )
        conn.execute(
            text(
                "INSERT INTO task_texts (task_id, public_id, title, jira_id, description, "
                f"creator_id, created_at, form_token, fee, reward) SELECT i, "
                f"{sql.uuid('i', '10000000')}, 'Seeded task ' || {sql.text('i')}, "
                f"CASE WHEN i % 3 = 0 THEN 'UBERPOP-' || {sql.text('i')} END, '', "
                f"1 + i % {p.popugs}, {created}, NULL, fee, reward "
                "FROM (SELECT id AS i, fee, reward FROM tasks) AS priced ORDER BY i"
            )
        )
        if p.diligent_every:
            conn.execute(  # text(): it escapes the % (modulo) for psycopg
                text(
                    "UPDATE tasks SET status = 'done', completed_at = (SELECT "
                    f"{sql.plus_seconds('x.created_at', 20)} FROM task_texts x "
                    f"WHERE x.task_id = tasks.id) WHERE status = 'open' "
                    f"AND assignee_id % {int(p.diligent_every)} = 0"
                )
            )
        done = conn.exec_driver_sql("SELECT count(*) FROM tasks WHERE status = 'done'").scalar()
        # Fees and rewards in time order, so entry ids grow with time as in production.
        conn.exec_driver_sql(
            "INSERT INTO ledger_entries (account_id, kind, amount, task_id, shuffle_id, "
            "business_day, created_at) SELECT account_id, kind, amount, task_id, NULL, "
            f"{sql.day_of('at')}, at FROM (SELECT a.id AS account_id, 'assign_fee' AS kind, "
            "-t.fee AS amount, t.id AS task_id, x.created_at AS at FROM tasks t "
            "JOIN task_texts x ON x.task_id = t.id JOIN accounts a ON a.popug_id = t.assignee_id "
            "UNION ALL SELECT a.id, 'reward', t.reward, t.id, t.completed_at FROM tasks t "
            "JOIN accounts a ON a.popug_id = t.assignee_id WHERE t.status = 'done') AS moves "
            "ORDER BY at, task_id, kind"
        )
        closes = _seed_closes(conn, p.end.date()) if p.close_days else {}
        conn.exec_driver_sql(
            "UPDATE accounts SET balance = s.total FROM (SELECT account_id, sum(amount) AS total "
            "FROM ledger_entries GROUP BY account_id) AS s WHERE accounts.id = s.account_id"
        )
        if sql.pg:
            for table in ("popugs", "accounts", "tasks"):
                conn.exec_driver_sql(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                    f"(SELECT max(id) FROM {table}))"
                )
        rows = {
            table: conn.exec_driver_sql(f"SELECT count(*) FROM {table}").scalar()
            for table in SEEDED_TABLES
        }
        assert_ledger_consistent(conn)
    settle(engine)
    payouts = closes.get("payouts", 0)
    expected = {
        "popugs": p.popugs,
        "accounts": p.popugs,
        "tasks": p.tasks,
        "task_texts": p.tasks,
        "ledger_entries": p.tasks + done + payouts,
        "payouts": payouts,
        "billing_days": closes.get("closed_days", 0),
        "mail_outbox": payouts,
    }
    if rows != expected or (done != p.done_tasks and not p.diligent_every):
        raise RuntimeError(f"seeded {rows} ({done} done), expected {expected}")
    return {
        "seconds": time.perf_counter() - started,
        "rows": rows,
        "done_tasks": done,
        "payouts": payouts,
        "closed_days": closes.get("closed_days", 0),
    }


def _as_date(value) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value)[:10])


def _seed_closes(conn: Connection, today: date) -> dict:
    """The closes of every day before `today` since the first entry's, as close-day would
    have made them from each account's per-day sums: at each day's end every positive
    balance is paid out (a payout, its ledger entry on that day, a logged e-mail), and the
    billing day records the day's fees, rewards, payouts, popugs paid and in the red."""
    from app.blueprints.accounting.models import BillingDay, Payout

    daily: dict[date, dict[int, int]] = {}
    for account_id, day, total in conn.exec_driver_sql(
        "SELECT account_id, business_day, sum(amount) FROM ledger_entries "
        "GROUP BY account_id, business_day"
    ):
        daily.setdefault(_as_date(day), {})[account_id] = int(total)
    kinds: dict[tuple[date, str], int] = {
        (_as_date(day), kind): int(total)
        for day, kind, total in conn.exec_driver_sql(
            "SELECT business_day, kind, sum(amount) FROM ledger_entries GROUP BY business_day, kind"
        )
    }
    if not daily:
        return {"payouts": 0, "closed_days": 0}
    running: dict[int, int] = {}
    payouts, billing_days = [], []
    day = min(daily)
    while day < today:
        for account_id, total in daily.get(day, {}).items():
            running[account_id] = running.get(account_id, 0) + total
        closed_at = datetime.combine(day + timedelta(days=1), datetime.min.time(), UTC)
        closed_at += timedelta(minutes=5)
        paid = [(a, amount) for a, amount in running.items() if amount > 0]
        for account_id, amount in paid:
            payouts.append(
                {"account_id": account_id, "day": day, "amount": amount, "created_at": closed_at}
            )
            running[account_id] = 0
        billing_days.append(
            {
                "day": day,
                "closed_at": closed_at,
                "fees": -kinds.get((day, "assign_fee"), 0),
                "rewards": kinds.get((day, "reward"), 0),
                "payouts": sum(amount for _, amount in paid),
                "popugs_paid": len(paid),
                "popugs_in_red": sum(1 for amount in running.values() if amount < 0),
            }
        )
        day += timedelta(days=1)
    if payouts:
        conn.execute(insert(Payout.__table__), payouts)
    if billing_days:
        conn.execute(insert(BillingDay.__table__), billing_days)
    conn.exec_driver_sql(
        "INSERT INTO ledger_entries (account_id, kind, amount, task_id, shuffle_id, "
        "business_day, created_at) SELECT account_id, 'payout', -amount, NULL, NULL, day, "
        "created_at FROM payouts ORDER BY day, account_id"
    )
    conn.exec_driver_sql(
        "INSERT INTO mail_outbox (payout_id, recipient, subject, body, status, attempts, "
        "next_attempt_at, last_error, created_at, sent_at) SELECT p.id, a.email, "
        "'aTES payout for ' || p.day, 'Hello ' || a.username || ', your balance was paid out.', "
        "'logged', 1, p.created_at, NULL, p.created_at, p.created_at "
        "FROM payouts p JOIN accounts a ON a.id = p.account_id ORDER BY p.id"
    )
    return {"payouts": len(payouts), "closed_days": len(billing_days)}


# --- checks ----------------------------------------------------------------------------


def check_ledger(conn: Connection) -> dict:
    """Money invariants: accounts whose balance differs from their ledger sum (must be 0),
    the total of all balances and the total of all entries (must be equal)."""
    mismatched = conn.exec_driver_sql(
        "SELECT count(*) FROM accounts a LEFT JOIN (SELECT account_id, sum(amount) AS total "
        "FROM ledger_entries GROUP BY account_id) s ON s.account_id = a.id "
        "WHERE a.balance <> coalesce(s.total, 0)"
    ).scalar()
    balances = conn.exec_driver_sql("SELECT coalesce(sum(balance), 0) FROM accounts").scalar()
    entries = conn.exec_driver_sql("SELECT coalesce(sum(amount), 0) FROM ledger_entries").scalar()
    return {"mismatched_accounts": mismatched, "balances": int(balances), "entries": int(entries)}


def assert_ledger_consistent(conn: Connection) -> dict:
    result = check_ledger(conn)
    if result["mismatched_accounts"] or result["balances"] != result["entries"]:
        raise AssertionError(f"ledger and balances disagree: {result}")
    return result


# --- timing ----------------------------------------------------------------------------


class StatementLog:
    """Wall time of every SQL statement an engine runs, from its cursor events."""

    def __init__(self, engine: Engine):
        self.engine = engine
        self.entries: list[tuple[str, float]] = []
        event.listen(engine, "before_cursor_execute", self._before)
        event.listen(engine, "after_cursor_execute", self._after)

    def close(self) -> None:
        event.remove(self.engine, "before_cursor_execute", self._before)
        event.remove(self.engine, "after_cursor_execute", self._after)

    def _before(self, conn, cursor, statement, parameters, context, executemany):
        conn.info.setdefault("bench_started", []).append(time.perf_counter())

    def _after(self, conn, cursor, statement, parameters, context, executemany):
        started = conn.info["bench_started"].pop()
        self.entries.append((statement, time.perf_counter() - started))

    def reset(self) -> None:
        self.entries.clear()

    @property
    def count(self) -> int:
        return len(self.entries)

    @property
    def seconds(self) -> float:
        return sum(seconds for _, seconds in self.entries)

    def by_statement(self, width: int = 90) -> list[tuple[str, int, float]]:
        """[(statement, times run, total seconds)], the slowest first; whitespace squeezed."""
        totals: dict[str, list] = defaultdict(lambda: [0, 0.0])
        for statement, seconds in self.entries:
            key = " ".join(statement.split())
            key = key if len(key) <= width else key[: width - 1] + "…"
            totals[key][0] += 1
            totals[key][1] += seconds
        return sorted(
            ((key, count, seconds) for key, (count, seconds) in totals.items()),
            key=lambda row: -row[2],
        )


def quantile(values, q: float) -> float:
    """Nearest-rank quantile (q in 0..1) of a non-empty sequence."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


def peak_rss_mb() -> float:
    """This process's peak resident set size so far (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def process_cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process on this machine (a PostgreSQL backend, say)."""
    import os

    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def vm_hwm_mb() -> float:
    """Peak resident set size of this process image (VmHWM: unlike ru_maxrss, not inherited
    from the parent at fork/exec time)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def current_rss_mb() -> float:
    try:
        fields = Path("/proc/self/statm").read_text().split()
        return int(fields[1]) * resource.getpagesize() / 1024 / 1024
    except OSError:
        return float("nan")


def markdown_table(header: list[str], rows: list[list]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def machine() -> str:
    import os
    import platform

    return f"{os.cpu_count()} cores, Python {platform.python_version()}, {platform.platform()}"


def raise_priority(engine: Engine | None, niceness: int) -> None:
    """Run this process (and the PostgreSQL backends serving `engine`'s connections) at
    `niceness` (negative: ahead of other work; needs root). The machine is shared with other
    sessions' test suites; a benchmark that waits for CPU measures the queue, not the code.
    0 leaves everything as it is."""
    import os

    if not niceness:
        return
    os.setpriority(os.PRIO_PROCESS, 0, niceness)
    if engine is not None and engine.dialect.name == "postgresql":

        @event.listens_for(engine, "connect")
        def _renice_backend(dbapi_connection, connection_record):
            cursor = dbapi_connection.cursor()
            cursor.execute("SELECT pg_backend_pid()")
            os.setpriority(os.PRIO_PROCESS, cursor.fetchone()[0], niceness)
            cursor.close()
            dbapi_connection.rollback()  # leave no transaction open behind the pool's back


def load() -> str:
    """The 1/5/15-minute load averages: the machine is shared, so runs say how busy it was."""
    import os

    return " ".join(f"{value:.2f}" for value in os.getloadavg())
