"""The one bulk seeder of the tests and the benchmarks (bench/ imports it from here):
popugs, accounts, tasks, ledger entries, optionally closed days (payouts, their entries and
e-mails, billing days), and balances, by set-based SQL (INSERT … SELECT over a generated
series), consistent with each other and with `flask accounting verify`: every balance
equals the sum of its ledger entries.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from argon2 import PasswordHasher
from sqlalchemy import create_engine, insert, text
from sqlalchemy.engine import Connection, Engine

from app.config import database_url

# The seeded history ends here; tasks are spaced TASK_SPACING_S seconds apart before it.
SEED_END = datetime(2026, 5, 1, 12, 0, 0, tzinfo=UTC)
TASK_SPACING_S = 30
BENCH_BEAK = "a bench beak, short and curved"
ELIGIBLE_ROLES = ("worker", "accountant")


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
                "FROM (SELECT CAST(id AS BIGINT) AS i, fee, reward FROM tasks) AS priced ORDER BY i"
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
