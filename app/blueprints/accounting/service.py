"""Accounting's public face: accounts, the append-only ledger, business days.

Other blueprints call these functions inside their own transaction; nothing here commits.
"""

from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import (
    BigInteger,
    Column,
    Integer,
    MetaData,
    Table,
    and_,
    bindparam,
    case,
    cast,
    func,
    insert,
    literal,
    or_,
    select,
    text,
    union_all,
    update,
)

from app import clock
from app.db import advisory_lock, is_postgres
from app.errors import NotFound, ServiceError
from app.extensions import db
from app.i18n import N_
from app.money import format_cents

from . import mail
from .models import (
    ASSIGN_FEE,
    MAIL_PENDING,
    PAYOUT,
    REWARD,
    Account,
    BillingDay,
    LedgerEntry,
    LedgerLine,
    OutboxMessage,
    Payout,
    ShuffleLine,
)

# Every money write holds this lock shared; closing a day holds it exclusively, so no
# entry can slip into a day while it is being closed (PostgreSQL; SQLite serialises writers).
LEDGER_LOCK = "ledger"


# Accounting imports no other blueprint; tasks registers how to label the task ids that
# ledger entries carry (Jira ID, title and public id, for the audit logs of accounts).
_task_labeler = None


def register_task_labeler(labeler) -> None:
    """`labeler(task_ids) -> {task_id: (jira_id or None, title, public_id)}`, in one query."""
    global _task_labeler
    _task_labeler = labeler


# Checks of their own records that other blueprints register (like the labeler), run by
# `verify` after the books' own: tasks checks that every task's assignee is a popug.
_extra_checks: list = []


def register_check(check) -> None:
    """`check() -> [problem, …]`, at most PROBLEMS_PER_CHECK + 1 of them."""
    if check not in _extra_checks:
        _extra_checks.append(check)


def task_labels(task_ids) -> dict[int, tuple[str | None, str, str]]:
    ids = {task_id for task_id in task_ids if task_id is not None}
    return _task_labeler(ids) if ids and _task_labeler else {}


def open_account(popug_id: int, owner_public_id: str, username: str, email: str) -> Account:
    """Open a popug's money account with balance 0 (the original design's CreateAccount)."""
    account = Account(
        popug_id=popug_id,
        owner_public_id=owner_public_id,
        username=username,
        email=email,
        balance=0,
    )
    db.session.add(account)
    db.session.flush()
    return account


def balance_of(popug_id: int) -> int:
    balance = db.session.scalar(select(Account.balance).where(Account.popug_id == popug_id))
    if balance is None:
        raise NotFound(N_("This popug has no money account."))
    return balance


def last_closed_day() -> date | None:
    return db.session.scalar(select(func.max(BillingDay.day)))


def open_business_day() -> date:
    """The day new ledger entries belong to: today, unless today is already closed."""
    today = clock.business_day()
    closed = last_closed_day()
    return max(today, closed + timedelta(days=1)) if closed else today


def _post(popug_id: int, kind: str, amount: int, *, task_id=None, shuffle_id=None) -> LedgerEntry:
    """Append a ledger entry and move the balance by the same amount, in this transaction."""
    if not isinstance(amount, int) or amount == 0:
        raise ValueError("ledger amounts are non-zero integer cents")
    advisory_lock(LEDGER_LOCK, shared=True)
    account_id = db.session.execute(
        update(Account)
        .where(Account.popug_id == popug_id)
        .values(balance=Account.balance + amount)
        .returning(Account.id)
        .execution_options(synchronize_session=False)
    ).scalar_one_or_none()
    if account_id is None:
        raise NotFound(N_("This popug has no money account."))
    entry = LedgerEntry(
        account_id=account_id,
        kind=kind,
        amount=amount,
        task_id=task_id,
        shuffle_id=shuffle_id,
        business_day=open_business_day(),
        created_at=clock.now(),
    )
    db.session.add(entry)
    db.session.flush()
    return entry


def charge_assign_fee(popug_id: int, fee: int, *, task_id: int) -> LedgerEntry:
    """Debit a task's assign fee from its new assignee."""
    if fee <= 0:
        raise ServiceError(N_("An assign fee must be positive."))
    return _post(popug_id, ASSIGN_FEE, -fee, task_id=task_id)


def charge_handed_over_fees(charges, *, handed_over_from: int) -> int:
    """Charge each (task_id, popug_id, fee) of `charges` — tasks handed over from the popug
    `handed_over_from` — to its new assignee: an entry per task naming it, and each balance
    moved by its popug's sum. Two statements whatever the number of tasks (an executemany
    INSERT and an UPDATE per account), where one `charge_assign_fee` per task would run four
    each. Returns the entries written."""
    charges = list(charges)
    if not charges or any(fee <= 0 for _, _, fee in charges):
        raise ValueError("hand-over charges are positive fees, at least one")
    advisory_lock(LEDGER_LOCK, shared=True)
    popugs = {popug_id for _, popug_id, _ in charges}
    accounts = dict(
        db.session.execute(
            select(Account.popug_id, Account.id).where(Account.popug_id.in_(popugs))
        ).all()
    )
    if len(accounts) != len(popugs):
        raise NotFound(N_("This popug has no money account."))
    day, now = open_business_day(), clock.now()
    db.session.execute(
        insert(LedgerEntry.__table__),
        [
            {
                "account_id": accounts[popug_id],
                "kind": ASSIGN_FEE,
                "amount": -fee,
                "task_id": task_id,
                "shuffle_id": None,
                "handed_over_from": handed_over_from,
                "business_day": day,
                "created_at": now,
            }
            for task_id, popug_id, fee in charges
        ],
    )
    totals: dict[int, int] = {}
    for _, popug_id, fee in charges:
        totals[accounts[popug_id]] = totals.get(accounts[popug_id], 0) + fee
    accounts_table = Account.__table__
    db.session.execute(
        update(accounts_table)
        .where(accounts_table.c.id == bindparam("account"))
        .values(balance=accounts_table.c.balance - bindparam("total")),
        [{"account": account, "total": total} for account, total in totals.items()],
    )
    return len(charges)


def pay_reward(popug_id: int, reward: int, *, task_id: int) -> LedgerEntry:
    """Credit a completed task's reward to its assignee."""
    if reward <= 0:
        raise ServiceError(N_("A reward must be positive."))
    return _post(popug_id, REWARD, reward, task_id=task_id)


def charge_assign_fees_in_bulk(assignments, *, shuffle_id: int) -> dict:
    """Charge the assign fee of every row of `assignments`, set-based: one entry per popug
    for the sum of their fees, with one ledger line per task naming it and its fee (and the
    same line in `shuffle_lines`, keyed by shuffle and task), and each balance moved by its
    entry.

    `assignments` is a statement whose rows are (task_id, popug_id, fee). On PostgreSQL it
    may be an UPDATE … RETURNING (the shuffle's move of the tasks): then the move, the
    entries, the lines and the balances are ONE statement with one snapshot, so exactly the
    rows it changed are charged, whatever other transactions commit meanwhile. On SQLite,
    whose single writer keeps the rows stable, statements read the rows one after the
    other, each in the order of the key it writes (see _charge_in_steps). No row passes
    through Python either way.
    Returns {"assignments": rows of `assignments`, "entries": lines written (one per
    task), "by_task": rows written to `shuffle_lines`, "accounts": balances moved}.
    """
    advisory_lock(LEDGER_LOCK, shared=True)
    if is_postgres():
        return _charge_in_one_statement(assignments.cte("assignments"), shuffle_id)
    return _charge_in_steps(assignments.subquery("assignments"), shuffle_id)


def _fee_entries(sums, shuffle_id: int):
    """INSERT … SELECT of one assign-fee entry per row of `sums` (account_id, total), in
    the order of its column `position`."""
    return insert(LedgerEntry.__table__).from_select(
        ["account_id", "kind", "amount", "task_id", "shuffle_id", "business_day", "created_at"],
        select(
            sums.c.account_id,
            literal(ASSIGN_FEE),
            -sums.c.total,
            literal(None, Integer),
            literal(shuffle_id),
            literal(open_business_day(), LedgerEntry.business_day.type),
            literal(clock.now(), LedgerEntry.created_at.type),
        ).order_by(sums.c.position),
    )


def _insert_lines(select_lines):
    return insert(LedgerLine.__table__).from_select(["entry_id", "task_id", "amount"], select_lines)


def _insert_shuffle_lines(select_lines):
    return insert(ShuffleLine.__table__).from_select(
        ["shuffle_id", "task_id", "entry_id"], select_lines
    )


# SQLite: this shuffle's entries keyed by their popug, looked up by each charged task.
_ENTRIES = Table(
    "shuffle_entries",
    MetaData(),
    Column("popug_id", Integer, primary_key=True, autoincrement=False),
    Column("entry_id", Integer, nullable=False),
    prefixes=["TEMPORARY"],
)


def _charge_in_steps(rows, shuffle_id: int) -> dict:
    """SQLite: the entries (fees summed per popug, in popug order, then their accounts), a
    temporary map of the popugs to their entries, the lines (in popug order, so that the
    entries' lines come one entry after the other) and `shuffle_lines` (in task order) from
    it, the balances from the entries. When `rows` can be read in either order without a
    sort (the shuffle's open tasks: by an index in popug order, by the table in task
    order), nothing is sorted."""
    ledger = LedgerEntry.__table__
    first_id = db.session.scalar(select(func.coalesce(func.max(ledger.c.id), 0))) + 1
    per_popug = (
        select(rows.c.popug_id, func.sum(rows.c.fee).label("total"))
        .group_by(rows.c.popug_id)
        .subquery("per_popug")
    )
    sums = (
        select(
            Account.id.label("account_id"),
            per_popug.c.popug_id.label("position"),
            per_popug.c.total,
        )
        .join(per_popug, Account.popug_id == per_popug.c.popug_id)
        .subquery("sums")
    )
    counted = {"preserve_rowcount": True}  # INSERT rowcount is not kept otherwise
    accounts = db.session.execute(_fee_entries(sums, shuffle_id), execution_options=counted)
    new = select(ledger).where(ledger.c.id >= first_id).subquery("new_entries")
    connection = db.session.connection()
    _ENTRIES.create(connection)
    db.session.execute(
        insert(_ENTRIES).from_select(
            ["popug_id", "entry_id"],
            select(Account.popug_id, new.c.id).join(Account, Account.id == new.c.account_id),
        )
    )
    lines = db.session.execute(
        _insert_lines(
            select(_ENTRIES.c.entry_id, rows.c.task_id, -rows.c.fee)
            .join(_ENTRIES, _ENTRIES.c.popug_id == rows.c.popug_id)
            .order_by(rows.c.popug_id)
        ),
        execution_options=counted,
    ).rowcount
    by_task_lines = db.session.execute(
        _insert_shuffle_lines(
            select(literal(shuffle_id), rows.c.task_id, _ENTRIES.c.entry_id)
            .join(_ENTRIES, _ENTRIES.c.popug_id == rows.c.popug_id)
            .order_by(rows.c.task_id)
        ),
        execution_options=counted,
    ).rowcount
    _ENTRIES.drop(connection)  # SQLite keeps temporary tables for the connection's lifetime
    db.session.execute(
        update(Account)
        .where(Account.id == new.c.account_id)
        .values(balance=Account.balance + new.c.amount)
        .execution_options(synchronize_session=False)
    )
    assigned = db.session.scalar(select(func.count()).select_from(rows))
    return {
        "assignments": assigned,
        "entries": lines,
        "by_task": by_task_lines,
        "accounts": accounts.rowcount,
    }


def _charge_in_one_statement(rows, shuffle_id: int) -> dict:
    """PostgreSQL: WITH assignments AS (…), charged AS (… their accounts), sums, entries AS
    (INSERT … RETURNING), lines AS (INSERT …), by_task AS (INSERT …), balances AS
    (UPDATE …) SELECT the counts."""
    # The lines are sorted by (entry, task) and `shuffle_lines` by task, so that each
    # primary key grows at its right edge; a million of them sort in memory with this, not
    # in temporary files. No JIT: at a million rows the planner's estimate would compile
    # the statement (about 0.6 s), and what it runs is writes, which JIT does not speed up.
    db.session.execute(text("SET LOCAL work_mem = '256MB'"))
    db.session.execute(text("SET LOCAL jit = off"))
    ledger, accounts = LedgerEntry.__table__, Account.__table__
    charged = (
        select(accounts.c.id.label("account_id"), rows.c.task_id, rows.c.fee)
        .join(rows, accounts.c.popug_id == rows.c.popug_id)
        .cte("charged")
    )
    sums = (
        select(
            charged.c.account_id,
            charged.c.account_id.label("position"),
            func.sum(charged.c.fee).label("total"),
        )
        .group_by(charged.c.account_id)
        .cte("sums")
    )
    entries = (
        _fee_entries(sums, shuffle_id)
        .returning(ledger.c.id, ledger.c.account_id, ledger.c.amount)
        .cte("entries")
    )
    charged_entries = (
        select(entries.c.id, charged.c.task_id, charged.c.fee)
        .join(entries, entries.c.account_id == charged.c.account_id)
        .cte("charged_entries")
    )
    lines = (
        _insert_lines(
            select(charged_entries.c.id, charged_entries.c.task_id, -charged_entries.c.fee)
            .order_by(charged_entries.c.id, charged_entries.c.task_id)
        )
        .returning(LedgerLine.__table__.c.task_id)
        .cte("lines")
    )
    by_task = (
        _insert_shuffle_lines(
            select(literal(shuffle_id), charged_entries.c.task_id, charged_entries.c.id)
            .order_by(charged_entries.c.task_id)
        )
        .returning(ShuffleLine.__table__.c.task_id)
        .cte("by_task")
    )
    balances = (
        update(accounts)
        .where(accounts.c.id == entries.c.account_id)
        .values(balance=accounts.c.balance + entries.c.amount)
        .returning(accounts.c.id)
        .cte("balances")
    )
    counts = {
        "assignments": rows,
        "entries": lines,
        "by_task": by_task,
        "accounts": balances,
    }
    row = db.session.execute(
        select(
            *(
                select(func.count()).select_from(cte).scalar_subquery().label(name)
                for name, cte in counts.items()
            )
        )
    ).one()
    return row._asdict()


def _total(column):
    """SUM as BIGINT on every backend (PostgreSQL's SUM(bigint) is NUMERIC), 0 when empty."""
    return cast(func.coalesce(func.sum(column), 0), BigInteger)


def _closing_balances(day: date):
    """SELECT account_id, username, email, closing: each account's balance at the end of
    `day`, i.e. its balance now minus the entries of later business days (made after
    midnight, before a late close)."""
    later = (
        select(LedgerEntry.account_id, _total(LedgerEntry.amount).label("later"))
        .where(LedgerEntry.business_day > day)
        .group_by(LedgerEntry.account_id)
        .subquery("later")
    )
    return (
        select(
            Account.id.label("account_id"),
            Account.username,
            Account.email,
            (Account.balance - func.coalesce(later.c.later, 0)).label("closing"),
        )
        .select_from(Account)
        .outerjoin(later, later.c.account_id == Account.id)
        .subquery("closing")
    )


@dataclass(frozen=True)
class ClosePreview:
    day: date
    popugs_to_pay: int
    total_to_pay: int
    popugs_in_red: int


@dataclass(frozen=True)
class CloseResult:
    day: date
    closed_now: bool  # False: the day was already closed and nothing changed
    popugs_paid: int
    total_paid: int
    popugs_in_red: int
    messages: int

    def summary(self) -> str:
        """Like "paid $3.00 to 1 popug, 2 left in the red" (flashes, CLI, audit trail)."""
        popugs = "popug" if self.popugs_paid == 1 else "popugs"
        return (
            f"paid {format_cents(self.total_paid)} to {self.popugs_paid} {popugs}, "
            f"{self.popugs_in_red} left in the red"
        )


def check_closable(day: date) -> None:
    """Refuse days that have not begun and days already settled by a later close."""
    today = clock.business_day()
    if day > today:
        raise ServiceError(
            N_("%(day)s has not begun yet: only today or earlier days can be closed."),
            field="day",
            day=day,
        )
    closed = last_closed_day()
    if closed is not None and day < closed and db.session.get(BillingDay, day) is None:
        raise ServiceError(
            N_(
                "%(day)s cannot be closed any more: %(closed)s is closed, "
                "and its close paid out every balance up to then."
            ),
            field="day",
            day=day,
            closed=closed,
        )


def preview_close(day: date) -> ClosePreview:
    """What closing `day` would do now: who would be paid how much, who stays in the red."""
    closing = _closing_balances(day)
    paid, total, in_red = db.session.execute(
        select(
            _total(case((closing.c.closing > 0, 1), else_=0)),
            _total(case((closing.c.closing > 0, closing.c.closing), else_=0)),
            _total(case((closing.c.closing < 0, 1), else_=0)),
        )
    ).one()
    return ClosePreview(day, int(paid), int(total), int(in_red))


def day_to_close() -> date | None:
    """The cron default: the last business day that has ended and is not closed yet."""
    yesterday = clock.business_day() - timedelta(days=1)
    closed = last_closed_day()
    return yesterday if closed is None or yesterday > closed else None


def close_day(day: date) -> CloseResult:
    """Close business day `day`: pay out every positive balance as it stood at the end of
    the day, record the day with its totals, and queue one e-mail per payout.

    Set-based: an INSERT … SELECT each for payouts and payout entries, one UPDATE of
    balances, one SELECT and one multi-row INSERT for the e-mails. Exactly once: the
    ledger lock is held exclusively, so no money moves while the day closes, and a day
    that is already closed is left as it is (the primary key of billing_days and the
    unique account+day key of payouts enforce it in the database too). Zero and negative
    balances carry over. Entries made after this commits belong to the next day (see
    open_business_day). Flushes, never commits.
    """
    advisory_lock(LEDGER_LOCK)  # exclusive: waits for money writes in flight, holds back new
    existing = db.session.get(BillingDay, day)
    if existing is not None:
        return CloseResult(
            day, False, existing.popugs_paid, existing.payouts, existing.popugs_in_red, 0
        )
    check_closable(day)
    previous = last_closed_day()
    now = clock.now()
    closing = _closing_balances(day)
    in_red = db.session.scalar(select(func.count()).where(closing.c.closing < 0))

    db.session.execute(
        insert(Payout.__table__).from_select(
            ["account_id", "day", "amount", "created_at"],
            select(
                closing.c.account_id,
                literal(day, Payout.day.type),
                closing.c.closing,
                literal(now, Payout.created_at.type),
            ).where(closing.c.closing > 0),
        )
    )
    db.session.execute(
        insert(LedgerEntry.__table__).from_select(
            ["account_id", "kind", "amount", "business_day", "created_at"],
            select(
                Payout.account_id,
                literal(PAYOUT),
                -Payout.amount,
                Payout.day,
                literal(now, LedgerEntry.created_at.type),
            ).where(Payout.day == day),
        )
    )
    db.session.execute(
        update(Account)
        .where(Account.id == Payout.account_id, Payout.day == day)
        .values(balance=Account.balance - Payout.amount)
        .execution_options(synchronize_session=False)
    )
    messages = _queue_payout_mail(day, previous, now)

    totals = dict(
        db.session.execute(
            select(LedgerEntry.kind, _total(LedgerEntry.amount))
            .where(LedgerEntry.business_day == day)
            .group_by(LedgerEntry.kind)
        ).all()
    )
    paid_count, paid_total = db.session.execute(
        select(func.count(Payout.id), _total(Payout.amount)).where(Payout.day == day)
    ).one()
    db.session.add(
        BillingDay(
            day=day,
            closed_at=now,
            fees=-int(totals.get(ASSIGN_FEE, 0)),
            rewards=int(totals.get(REWARD, 0)),
            payouts=int(paid_total),
            popugs_paid=int(paid_count),
            popugs_in_red=int(in_red),
        )
    )
    db.session.flush()
    return CloseResult(day, True, int(paid_count), int(paid_total), int(in_red), messages)


def _queue_payout_mail(day: date, previous: date | None, now) -> int:
    """One outbox message per payout of `day`, with the popug's summary of the days this
    close settles (fees, rewards, tasks done). One SELECT, one multi-row INSERT."""
    if previous is not None:
        first_day = previous + timedelta(days=1)
    else:  # the first close ever settles everything before it
        first_day = db.session.scalar(
            select(func.min(LedgerEntry.business_day)).where(LedgerEntry.business_day <= day)
        )
    first_day = min(first_day or day, day)
    period = LedgerEntry.business_day.between(first_day, day)
    summary = (
        select(
            LedgerEntry.account_id,
            _total(case((LedgerEntry.kind == REWARD, 1), else_=0)).label("tasks_done"),
            _total(case((LedgerEntry.kind == REWARD, LedgerEntry.amount), else_=0)).label(
                "rewards"
            ),
            _total(case((LedgerEntry.kind == ASSIGN_FEE, -LedgerEntry.amount), else_=0)).label(
                "fees"
            ),
        )
        .where(period, LedgerEntry.kind.in_((REWARD, ASSIGN_FEE)))
        .group_by(LedgerEntry.account_id)
        .subquery("summary")
    )
    rows = db.session.execute(
        select(
            Payout.id,
            Payout.amount,
            Account.username,
            Account.email,
            func.coalesce(summary.c.tasks_done, 0),
            func.coalesce(summary.c.rewards, 0),
            func.coalesce(summary.c.fees, 0),
            Account.popug_id,
        )
        .join(Account, Account.id == Payout.account_id)
        .outerjoin(summary, summary.c.account_id == Payout.account_id)
        .where(Payout.day == day)
        .order_by(Payout.id)
    ).all()
    values = []
    locales = mail.recipient_locales([row.popug_id for row in rows])
    for payout_id, amount, username, email, tasks_done, rewards, fees, popug_id in rows:
        message = mail.PayoutMail(
            username=username,
            day=day,
            first_day=first_day,
            amount=int(amount),
            tasks_done=int(tasks_done),
            rewards=int(rewards),
            fees=int(fees),
            locale=locales.get(popug_id),
        )
        values.append(
            {
                "payout_id": payout_id,
                "recipient": email,
                "subject": message.subject(),
                "body": message.body(),
                "status": MAIL_PENDING,
                "attempts": 0,
                "next_attempt_at": now,
                "created_at": now,
            }
        )
    if values:
        db.session.execute(insert(OutboxMessage.__table__), values)
    return len(values)


PROBLEMS_PER_CHECK = 50


def verify() -> list[str]:
    """Check the books; returns what is wrong (an empty list when all is well).

    - every balance equals the sum of its account's ledger entries;
    - every payout has its payout ledger entry of the same amount and vice versa, and
      every closed day left no positive balance and no overpaid one behind: a paid
      account stood at exactly 0 at the close, an unpaid one at 0 or below;
    - each closed day's recorded totals equal its ledger entries;
    - per task: exactly one assign fee from its creation, at most one per shuffle (an entry
      naming it, or a line of a shuffle's entry), at most one reward; fees and rewards
      name their task or, for a shuffle's summed entry, have lines that do and sum to it;
      payouts name none; every entry is on an existing account;
    - and what other blueprints registered (register_check).
    Set-based queries, a bounded number per check, whatever the size of the ledger.
    """
    problems: list[str] = []
    for check in (
        _check_balances,
        _check_entries,
        _check_payouts,
        _check_closing_balances,
        _check_day_totals,
        _check_tasks,
        *_extra_checks,
    ):
        found = check()
        problems.extend(found[:PROBLEMS_PER_CHECK])
        if len(found) > PROBLEMS_PER_CHECK:
            problems.append(f"… and more like these (only the first {PROBLEMS_PER_CHECK} shown).")
    return problems


def _check_balances() -> list[str]:
    sums = (
        select(LedgerEntry.account_id, _total(LedgerEntry.amount).label("total"))
        .group_by(LedgerEntry.account_id)
        .subquery("sums")
    )
    total = func.coalesce(sums.c.total, 0)
    rows = db.session.execute(
        select(Account.username, Account.balance, total)
        .outerjoin(sums, sums.c.account_id == Account.id)
        .where(Account.balance != total)
        .order_by(Account.username)
        .limit(PROBLEMS_PER_CHECK + 1)
    ).all()
    return [
        f"Account {username}: balance {format_cents(int(balance))} but its ledger entries "
        f"sum to {format_cents(int(ledger))}."
        for username, balance, ledger in rows
    ]


def _check_entries() -> list[str]:
    """Payouts name no task; rewards name theirs; an assign fee names its task, or is a
    shuffle's entry for a popug whose lines name the tasks and sum to its amount; every
    entry is on an existing account."""
    summed = and_(
        LedgerEntry.kind == ASSIGN_FEE,
        LedgerEntry.task_id.is_(None),
        LedgerEntry.shuffle_id.is_not(None),
    )
    rows = db.session.execute(
        select(LedgerEntry.id, LedgerEntry.kind)
        .where(
            or_(
                and_(LedgerEntry.kind == PAYOUT, LedgerEntry.task_id.is_not(None)),
                and_(LedgerEntry.kind != PAYOUT, LedgerEntry.task_id.is_(None), ~summed),
            )
        )
        .order_by(LedgerEntry.id)
        .limit(PROBLEMS_PER_CHECK + 1)
    ).all()
    problems = [
        f"Ledger entry #{entry_id}: a {kind.replace('_', ' ')} "
        + ("must not name a task." if kind == PAYOUT else "must name its task.")
        for entry_id, kind in rows
    ]
    lines = (
        select(LedgerLine.entry_id, _total(LedgerLine.amount).label("total"))
        .group_by(LedgerLine.entry_id)
        .subquery("lines")
    )
    unexplained = db.session.execute(
        select(LedgerEntry.id, LedgerEntry.amount, func.coalesce(lines.c.total, 0))
        .outerjoin(lines, lines.c.entry_id == LedgerEntry.id)
        .where(summed, LedgerEntry.amount != func.coalesce(lines.c.total, 0))
        .order_by(LedgerEntry.id)
        .limit(PROBLEMS_PER_CHECK + 1)
    ).all()
    problems += [
        f"Ledger entry #{entry_id}: a shuffle's fees of {format_cents(int(amount))} but its "
        f"lines sum to {format_cents(int(total))}."
        for entry_id, amount, total in unexplained
    ]
    stray = db.session.execute(
        select(LedgerLine.entry_id, LedgerLine.task_id)
        .outerjoin(LedgerEntry, and_(LedgerEntry.id == LedgerLine.entry_id, summed))
        .where(LedgerEntry.id.is_(None))
        .order_by(LedgerLine.entry_id, LedgerLine.task_id)
        .limit(PROBLEMS_PER_CHECK + 1)
    ).all()
    problems += [
        f"Ledger line of task #{task_id}: entry #{entry_id} is not a shuffle's fees."
        for entry_id, task_id in stray
    ]
    problems += _check_shuffle_lines()
    orphans = db.session.execute(
        select(LedgerEntry.id, LedgerEntry.account_id)
        .outerjoin(Account, Account.id == LedgerEntry.account_id)
        .where(Account.id.is_(None))
        .order_by(LedgerEntry.id)
        .limit(PROBLEMS_PER_CHECK + 1)
    ).all()
    problems += [
        f"Ledger entry #{entry_id}: account #{account_id} does not exist."
        for entry_id, account_id in orphans
    ]
    return problems


def _check_shuffle_lines() -> list[str]:
    """Every line of a shuffle's entry is in `shuffle_lines` under that shuffle, and every
    row there is such a line: the two orders of the same lines agree."""
    by_task = and_(
        ShuffleLine.shuffle_id == LedgerEntry.shuffle_id,
        ShuffleLine.task_id == LedgerLine.task_id,
        ShuffleLine.entry_id == LedgerLine.entry_id,
    )
    unlisted = db.session.execute(
        select(LedgerLine.entry_id, LedgerLine.task_id)
        .join(LedgerEntry, LedgerEntry.id == LedgerLine.entry_id)
        .outerjoin(ShuffleLine, by_task)
        .where(ShuffleLine.task_id.is_(None))
        .order_by(LedgerLine.entry_id, LedgerLine.task_id)
        .limit(PROBLEMS_PER_CHECK + 1)
    ).all()
    problems = [
        f"Ledger line of task #{task_id} in entry #{entry_id} is missing from its shuffle's "
        "lines by task."
        for entry_id, task_id in unlisted
    ]
    line = and_(
        LedgerLine.entry_id == ShuffleLine.entry_id, LedgerLine.task_id == ShuffleLine.task_id
    )
    entry = and_(
        LedgerEntry.id == LedgerLine.entry_id, LedgerEntry.shuffle_id == ShuffleLine.shuffle_id
    )
    strays = db.session.execute(
        select(ShuffleLine.shuffle_id, ShuffleLine.task_id)
        .outerjoin(LedgerLine, line)
        .outerjoin(LedgerEntry, entry)
        .where(LedgerEntry.id.is_(None))
        .order_by(ShuffleLine.shuffle_id, ShuffleLine.task_id)
        .limit(PROBLEMS_PER_CHECK + 1)
    ).all()
    problems += [
        f"Shuffle #{shuffle_id}'s line of task #{task_id} is not a line of its entry."
        for shuffle_id, task_id in strays
    ]
    return problems


def _check_payouts() -> list[str]:
    entry = (
        select(
            LedgerEntry.account_id,
            LedgerEntry.business_day,
            func.count().label("entries"),
            _total(LedgerEntry.amount).label("total"),
        )
        .where(LedgerEntry.kind == PAYOUT)
        .group_by(LedgerEntry.account_id, LedgerEntry.business_day)
        .subquery("payout_entries")
    )
    unmatched = db.session.execute(
        select(Account.username, Payout.day, Payout.amount, entry.c.entries, entry.c.total)
        .join(Account, Account.id == Payout.account_id)
        .outerjoin(
            entry,
            and_(entry.c.account_id == Payout.account_id, entry.c.business_day == Payout.day),
        )
        .where(
            or_(
                entry.c.entries.is_(None),
                entry.c.entries != 1,
                entry.c.total != -Payout.amount,
                Payout.amount <= 0,
            )
        )
        .order_by(Payout.day, Account.username)
        .limit(PROBLEMS_PER_CHECK + 1)
    ).all()
    problems = [
        f"Payout to {username} on {day.isoformat()} of {format_cents(int(amount))}: "
        + (
            "no payout ledger entry."
            if entries is None
            else f"{entries} payout ledger entries summing to {format_cents(int(total))}."
        )
        for username, day, amount, entries, total in unmatched
    ]
    orphans = db.session.execute(
        select(Account.username, entry.c.business_day, entry.c.total)
        .join(Account, Account.id == entry.c.account_id)
        .outerjoin(
            Payout,
            and_(Payout.account_id == entry.c.account_id, Payout.day == entry.c.business_day),
        )
        .where(Payout.id.is_(None))
        .order_by(entry.c.business_day, Account.username)
        .limit(PROBLEMS_PER_CHECK + 1)
    ).all()
    problems += [
        f"Payout ledger entry of {format_cents(int(total))} for {username} on "
        f"{day.isoformat()} has no payout record."
        for username, day, total in orphans
    ]
    return problems


def _closing_balances_of_closed_days():
    """(day, account_id, closing balance) for every closed day and every account that had
    ledger entries by then: running sums per account, taken at each closed day."""
    daily = (
        select(
            LedgerEntry.account_id,
            LedgerEntry.business_day,
            _total(LedgerEntry.amount).label("total"),
        )
        .group_by(LedgerEntry.account_id, LedgerEntry.business_day)
        .subquery("daily")
    )
    window = {"partition_by": daily.c.account_id, "order_by": daily.c.business_day}
    running = select(
        daily.c.account_id,
        daily.c.business_day,
        func.sum(daily.c.total).over(**window).label("balance"),
        func.lead(daily.c.business_day).over(**window).label("next_day"),
    ).subquery("running")
    return (
        select(
            BillingDay.day.label("day"),
            running.c.account_id.label("account_id"),
            running.c.balance.label("balance"),
        )
        .join(
            running,
            and_(
                running.c.business_day <= BillingDay.day,
                or_(running.c.next_day.is_(None), running.c.next_day > BillingDay.day),
            ),
        )
        .subquery("at_close")
    )


def _check_closing_balances() -> list[str]:
    at_close = _closing_balances_of_closed_days()
    rows = db.session.execute(
        select(at_close.c.day, Account.username, at_close.c.balance, Payout.amount)
        .join(Account, Account.id == at_close.c.account_id)
        .outerjoin(
            Payout, and_(Payout.account_id == at_close.c.account_id, Payout.day == at_close.c.day)
        )
        .where(
            or_(
                at_close.c.balance > 0,
                and_(Payout.id.is_not(None), at_close.c.balance != 0),
            )
        )
        .order_by(at_close.c.day, Account.username)
        .limit(PROBLEMS_PER_CHECK + 1)
    ).all()
    return [
        f"Closed day {day.isoformat()}: {username} was left at {format_cents(int(balance))} "
        + (
            "after a payout of " + format_cents(int(paid)) + " (a payout must clear the balance)."
            if paid is not None
            else "without a payout."
        )
        for day, username, balance, paid in rows
    ]


def _check_day_totals() -> list[str]:
    entries = (
        select(
            LedgerEntry.business_day.label("day"),
            _total(case((LedgerEntry.kind == ASSIGN_FEE, -LedgerEntry.amount), else_=0)).label(
                "fees"
            ),
            _total(case((LedgerEntry.kind == REWARD, LedgerEntry.amount), else_=0)).label(
                "rewards"
            ),
            _total(case((LedgerEntry.kind == PAYOUT, -LedgerEntry.amount), else_=0)).label(
                "payouts"
            ),
            _total(case((LedgerEntry.kind == PAYOUT, 1), else_=0)).label("paid"),
        )
        .where(LedgerEntry.business_day.in_(select(BillingDay.day)))
        .group_by(LedgerEntry.business_day)
        .subquery("entries")
    )
    at_close = _closing_balances_of_closed_days()
    in_red = (
        select(at_close.c.day, func.count().label("in_red"))
        .where(at_close.c.balance < 0)
        .group_by(at_close.c.day)
        .subquery("in_red")
    )
    rows = db.session.execute(
        select(
            BillingDay,
            func.coalesce(entries.c.fees, 0),
            func.coalesce(entries.c.rewards, 0),
            func.coalesce(entries.c.payouts, 0),
            func.coalesce(entries.c.paid, 0),
            func.coalesce(in_red.c.in_red, 0),
        )
        .outerjoin(entries, entries.c.day == BillingDay.day)
        .outerjoin(in_red, in_red.c.day == BillingDay.day)
        .order_by(BillingDay.day)
    ).all()
    problems = []
    for day, *actual in rows:
        recorded = (day.fees, day.rewards, day.payouts, day.popugs_paid, day.popugs_in_red)
        names = ("fees", "rewards", "payouts", "popugs paid", "popugs in the red")
        for name, want, got in zip(names, recorded, actual, strict=True):
            if int(want) != int(got):
                problems.append(
                    f"Closed day {day.day.isoformat()}: {name} recorded as {int(want)} "
                    f"but the ledger says {int(got)}."
                )
    return problems


def _check_tasks() -> list[str]:
    creation = and_(  # the fee charged when the task was created: neither shuffled nor handed over
        LedgerEntry.kind == ASSIGN_FEE,
        LedgerEntry.shuffle_id.is_(None),
        LedgerEntry.handed_over_from.is_(None),
    )
    rewards = _total(case((LedgerEntry.kind == REWARD, 1), else_=0))
    creations = _total(case((creation, 1), else_=0))
    per_task = db.session.execute(
        select(LedgerEntry.task_id, rewards, creations)
        .where(LedgerEntry.task_id.is_not(None))
        .group_by(LedgerEntry.task_id)
        .having(or_(rewards > 1, creations != 1))
        .order_by(LedgerEntry.task_id)
        .limit(PROBLEMS_PER_CHECK + 1)
    ).all()
    problems = []
    for task_id, rewards, creations in per_task:
        if int(creations) != 1:
            problems.append(
                f"Task #{task_id}: {int(creations)} assign fees at creation (must be exactly 1)."
            )
        if int(rewards) > 1:
            problems.append(f"Task #{task_id}: {int(rewards)} rewards (at most 1).")
    shuffle_fees = union_all(
        select(LedgerEntry.task_id, LedgerEntry.shuffle_id).where(
            LedgerEntry.kind == ASSIGN_FEE,
            LedgerEntry.shuffle_id.is_not(None),
            LedgerEntry.task_id.is_not(None),
        ),
        select(LedgerLine.task_id, LedgerEntry.shuffle_id).join(
            LedgerEntry, LedgerEntry.id == LedgerLine.entry_id
        ),
    ).subquery("shuffle_fees")
    per_shuffle = db.session.execute(
        select(shuffle_fees.c.task_id, shuffle_fees.c.shuffle_id, func.count())
        .group_by(shuffle_fees.c.task_id, shuffle_fees.c.shuffle_id)
        .having(func.count() > 1)
        .order_by(shuffle_fees.c.task_id, shuffle_fees.c.shuffle_id)
        .limit(PROBLEMS_PER_CHECK + 1)
    ).all()
    problems += [
        f"Task #{task_id}: {count} assign fees in shuffle #{shuffle_id} (at most 1)."
        for task_id, shuffle_id, count in per_shuffle
    ]
    return problems
