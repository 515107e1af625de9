"""Read-side queries of accounting, for its pages and for other blueprints (analytics).

Every function answers in a fixed number of queries, whatever the number of rows.
Money comes back as int cents; sums are taken as positive totals (fees charged, rewards
paid, payouts made) unless the name says otherwise.
"""

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum
from functools import cache

from sqlalchemy import (
    BigInteger,
    Date,
    and_,
    bindparam,
    case,
    cast,
    func,
    literal,
    select,
    union_all,
)

from app import clock
from app.extensions import db
from app.live import version_of
from app.paging import Page, counted_page, paged, peek_page

from .models import (
    ASSIGN_FEE,
    MAIL_LOGGED,
    MAIL_PENDING,
    MAIL_STATUSES,
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

BALANCE_SORTS = ("username", "balance")
SORT_DIRECTIONS = ("asc", "desc")


def sum_cents(column):
    """SUM as BIGINT on every backend (PostgreSQL's SUM(bigint) is NUMERIC), 0 when empty:
    the sums of ledger amounts here and in closing.py and verify.py."""
    return cast(func.coalesce(func.sum(column), 0), BigInteger)


@dataclass(frozen=True)
class DayTotals:
    """Money moved on one business day; `closed` days also know who was paid and who was
    left in the red at the close (None for days not closed)."""

    day: date
    fees: int
    rewards: int
    payouts: int
    closed_at: datetime | None = None  # None: not closed
    popugs_paid: int | None = None
    popugs_in_red: int | None = None

    @property
    def closed(self) -> bool:
        return self.closed_at is not None

    @property
    def management_earnings(self) -> int:
        """Management earnings of the day: fees charged minus rewards paid that day."""
        return self.fees - self.rewards


def _ledger_totals(days) -> dict[date, tuple[int, int, int]]:
    """{day: (fees, rewards, payouts)} straight from the ledger: one grouped query over the
    covering (business_day, kind, amount) index."""
    days = list(days)
    if not days:
        return {}
    sums: dict[date, dict[str, int]] = {}
    rows = db.session.execute(
        select(LedgerEntry.business_day, LedgerEntry.kind, sum_cents(LedgerEntry.amount))
        .where(LedgerEntry.business_day.in_(days))
        .group_by(LedgerEntry.business_day, LedgerEntry.kind)
    )
    for day, kind, total in rows:
        sums.setdefault(day, {})[kind] = int(total)
    return {
        day: (-kinds.get(ASSIGN_FEE, 0), kinds.get(REWARD, 0), -kinds.get(PAYOUT, 0))
        for day, kinds in sums.items()
    }


def day_totals(day: date) -> DayTotals:
    """Fees, rewards and payouts of one business day (from the ledger)."""
    fees, rewards, payouts = _ledger_totals([day]).get(day, (0, 0, 0))
    return DayTotals(day, fees, rewards, payouts)


def management_earnings(day: date) -> int:
    """Fees charged minus rewards paid on `day`."""
    return day_totals(day).management_earnings


def daily_totals(start: date, end: date) -> list[DayTotals]:
    """Every day from `end` back to `start`, newest first. Closed days answer from the totals
    recorded at their close (the ledger of a closed day never changes again: later entries
    belong to later days); the others from the ledger. Two queries."""
    closed = {
        row.day: row
        for row in db.session.scalars(select(BillingDay).where(BillingDay.day.between(start, end)))
    }
    days = [end - timedelta(days=n) for n in range((end - start).days + 1)]
    open_totals = _ledger_totals(day for day in days if day not in closed)
    result = []
    for day in days:
        if day in closed:
            row = closed[day]
            result.append(
                DayTotals(
                    day,
                    row.fees,
                    row.rewards,
                    row.payouts,
                    closed_at=row.closed_at,
                    popugs_paid=row.popugs_paid,
                    popugs_in_red=row.popugs_in_red,
                )
            )
        else:
            fees, rewards, payouts = open_totals.get(day, (0, 0, 0))
            result.append(DayTotals(day, fees, rewards, payouts))
    return result


def popugs_in_red() -> int:
    """Accounts with a negative balance right now."""
    return db.session.scalar(select(func.count(Account.id)).where(Account.balance < 0))


# --- the ledger as CSV -------------------------------------------------------------------


def ledger_of_day(day: date):
    """The rows of every ledger entry of a business day, in ledger order: (id, created_at,
    username, kind, amount, task_id), streamed (the day through its index; the CSV of a
    range asks day by day, so each statement stays within the read bound)."""
    return db.session.execute(
        select(
            LedgerEntry.id,
            LedgerEntry.created_at,
            Account.username,
            LedgerEntry.kind,
            LedgerEntry.amount,
            LedgerEntry.task_id,
        )
        .join(Account, Account.id == LedgerEntry.account_id)
        .where(LedgerEntry.business_day == day)
        .order_by(LedgerEntry.id)
        .execution_options(yield_per=1000)
    )


# --- balances --------------------------------------------------------------------------


def _balances_query(sort: str, direction: str):
    if sort not in BALANCE_SORTS:
        sort = "username"
    descending = direction == "desc"
    order = [Account.username.desc() if descending else Account.username.asc()]
    if sort == "balance":  # ties by username, in the same direction
        order.insert(0, Account.balance.desc() if descending else Account.balance.asc())
    return select(
        Account.username, Account.email, Account.balance, Account.owner_public_id
    ).order_by(*order, Account.id)


def balances(sort: str, direction: str, page: int, per_page: int):
    """A page of every popug's balance, sorted by username or balance."""
    return counted_page(
        db.session,
        _balances_query(sort, direction),
        page,
        per_page,
        count=select(func.count(Account.id)),
    )


def all_balances(sort: str, direction: str):
    """Every popug's (username, e-mail, balance, public id), in the order of `balances`,
    streamed."""
    return db.session.execute(_balances_query(sort, direction).execution_options(yield_per=1000))


# --- one popug's account ---------------------------------------------------------------


@dataclass(frozen=True)
class AccountSummary:
    id: int
    balance: int
    earnings_today: int
    earnings_on_day: int


def _one_account_day(account_id, day: date) -> tuple:
    """WHERE terms for one account's ledger entries of one day, so that the planner always
    takes the (account_id, business_day, …) index.

    The day goes in as an uncorrelated scalar subquery (PostgreSQL: an InitPlan), so the
    planner does not see its value. Seeing it hurts: a business day that the statistics
    have not met yet (every day until autovacuum next analyzes the ledger, which at 10 % of
    the rows can take days) is estimated at about zero rows, and the (business_day, kind,
    amount) index then looks as cheap as the account's, so PostgreSQL scanned every entry
    of the day of every popug to find one popug's, where the account's index reads only
    that popug's (docs/performance.md, "Figures behind rules").
    """
    return (
        LedgerEntry.account_id == account_id,
        LedgerEntry.business_day == select(literal(day, Date)).scalar_subquery(),
    )


def _earnings(day: date):
    return (
        select(sum_cents(LedgerEntry.amount))
        .where(*_one_account_day(Account.id, day), LedgerEntry.kind.in_((ASSIGN_FEE, REWARD)))
        .scalar_subquery()
    )


def account_summary(popug_id: int, today: date, day: date) -> AccountSummary | None:
    """A popug's account, balance and earnings (rewards − fees) today and on `day`; one query."""
    columns = [Account.id, Account.balance, _earnings(today)]
    if day != today:
        columns.append(_earnings(day))
    row = db.session.execute(select(*columns).where(Account.popug_id == popug_id)).first()
    if row is None:
        return None
    return AccountSummary(row[0], int(row[1]), int(row[2]), int(row[-1]))


def balance_of_popug(popug_id_column):
    """The balance of the popug in `popug_id_column`, as a correlated scalar subquery (NULL
    without an account): auth loads it with the signed-in popug, one statement for both."""
    return select(Account.balance).where(Account.popug_id == popug_id_column).scalar_subquery()


def account_of(popug_id: int) -> Account | None:
    return db.session.scalar(select(Account).where(Account.popug_id == popug_id))


def account_of_owner(owner_public_id: str) -> Account | None:
    """The account of the popug with this public id (accounting keeps its own copy)."""
    return db.session.scalar(select(Account).where(Account.owner_public_id == owner_public_id))


def audit_log(account_id: int, day: date, page: int, per_page: int) -> Page:
    """A page of one account's ledger entries of `day`, newest first (two index seeks)."""
    where = _one_account_day(account_id, day)
    return counted_page(
        db.session,
        select(LedgerEntry).where(*where).order_by(LedgerEntry.id.desc()),
        page,
        per_page,
        count=select(func.count(LedgerEntry.id)).where(*where),
        entities=True,
    )


def lines_of(entry_ids) -> dict[int, list[tuple[int, int]]]:
    """{entry id: [(task id, amount), …]}: the tasks a shuffle's summed fee entries charged,
    for a page of entries, in one query by primary key."""
    ids = set(entry_ids)
    if not ids:
        return {}
    lines: dict[int, list[tuple[int, int]]] = {}
    rows = db.session.execute(
        select(LedgerLine.entry_id, LedgerLine.task_id, LedgerLine.amount)
        .where(LedgerLine.entry_id.in_(ids))
        .order_by(LedgerLine.entry_id, LedgerLine.task_id)
    )
    for entry_id, task_id, amount in rows:
        lines.setdefault(entry_id, []).append((task_id, amount))
    return lines


# --- one task's money -------------------------------------------------------------------


@dataclass(frozen=True)
class TaskMoney:
    """One money movement for a task: its creation fee, a shuffle's fee (an entry of its
    own, or a line of a popug's summed entry), a hand-over's fee, or its reward."""

    entry_id: int
    kind: str
    amount: int
    popug_id: int
    username: str
    shuffle_id: int | None
    handed_over_from: int | None
    at: datetime


def task_money(task_id: int, shuffle_ids, offset: int, limit: int) -> list[TaskMoney]:
    """`limit` of a task's money movements from `offset`, oldest first (ledger order), in
    one query: the entries naming it (by their task index) and the lines naming it of the
    shuffles in `shuffle_ids` (a statement selecting the ids of the shuffles that may have
    moved it: one seek into `shuffle_lines` each)."""
    columns = (
        Account.popug_id,
        Account.username,
        LedgerEntry.shuffle_id,
        LedgerEntry.handed_over_from,
        LedgerEntry.created_at,
    )
    own = (
        select(LedgerEntry.id, LedgerEntry.kind, LedgerEntry.amount, *columns)
        .join(Account, Account.id == LedgerEntry.account_id)
        .where(LedgerEntry.task_id == task_id)
    )
    shuffled = (
        select(ShuffleLine.entry_id)
        .where(ShuffleLine.shuffle_id.in_(shuffle_ids), ShuffleLine.task_id == task_id)
        .subquery("shuffled")
    )
    lines = (
        select(LedgerEntry.id, LedgerEntry.kind, LedgerLine.amount, *columns)
        .select_from(shuffled)
        .join(
            LedgerLine,
            and_(LedgerLine.entry_id == shuffled.c.entry_id, LedgerLine.task_id == task_id),
        )
        .join(LedgerEntry, LedgerEntry.id == LedgerLine.entry_id)
        .join(Account, Account.id == LedgerEntry.account_id)
    )
    both = union_all(own, lines).subquery("money")
    rows = db.session.execute(select(both).order_by(both.c.id).offset(offset).limit(limit)).all()
    return [TaskMoney(*row) for row in rows]


# --- every task's money, for tasks' checks in `accounting verify` -----------------------
# Plain filters of the ledger, one row per entry naming a task (or per task, for lines),
# for tasks to join to its own table by task id: a join through the entries' task index,
# which holds every column these read (no table lookups), in task order.


def _creation_fee():
    """An assign fee charged when its task was created: neither a shuffle's nor a
    hand-over's."""
    return and_(
        LedgerEntry.kind == ASSIGN_FEE,
        LedgerEntry.shuffle_id.is_(None),
        LedgerEntry.handed_over_from.is_(None),
    )


def task_fees():
    """(task_id, entry_id, account_id, creation, later) of every assign fee entry naming a
    task: its creation's, a hand-over's, or a shuffle's from before ledger lines. The
    amount is in `creation` for the first kind, in `later` for the others (NULL in the
    other column)."""
    creation = _creation_fee()
    return (
        select(
            LedgerEntry.task_id,
            LedgerEntry.id.label("entry_id"),
            LedgerEntry.account_id,
            case((creation, LedgerEntry.amount)).label("creation"),
            case((~creation, LedgerEntry.amount)).label("later"),
        )
        .where(LedgerEntry.task_id.is_not(None), LedgerEntry.kind == ASSIGN_FEE)
        .subquery("task_fees")
    )


def fee_lines_by_task():
    """(task_id, latest, account_id, lowest, highest) per task that lines of shuffles'
    entries charged: the latest such entry (ledger order) and its account, and the range
    of the lines' amounts. One GROUP BY over every line."""
    per_task = (
        select(
            LedgerLine.task_id,
            func.max(LedgerLine.entry_id).label("latest"),
            func.min(LedgerLine.amount).label("lowest"),
            func.max(LedgerLine.amount).label("highest"),
        )
        .group_by(LedgerLine.task_id)
        .subquery("lines_per_task")
    )
    return (
        select(per_task, LedgerEntry.account_id)
        .join(LedgerEntry, LedgerEntry.id == per_task.c.latest)
        .subquery("fee_lines")
    )


def rewards():
    """(task_id, entry_id, account_id, amount) of every reward."""
    return (
        select(
            LedgerEntry.task_id,
            LedgerEntry.id.label("entry_id"),
            LedgerEntry.account_id,
            LedgerEntry.amount,
        )
        .where(LedgerEntry.task_id.is_not(None), LedgerEntry.kind == REWARD)
        .subquery("rewards")
    )


def accounts_of_popugs():
    """(popug_id, account_id) of every account."""
    return select(Account.popug_id, Account.id.label("account_id")).subquery("popug_accounts")


def popugs_of_entries(entry_ids) -> dict[int, int]:
    """{entry id: the popug of its account} for a few entries, in one query."""
    rows = db.session.execute(
        select(LedgerEntry.id, Account.popug_id)
        .join(Account, Account.id == LedgerEntry.account_id)
        .where(LedgerEntry.id.in_(set(entry_ids)))
    )
    return dict(rows.all())


# --- payouts and e-mail ----------------------------------------------------------------


@dataclass(frozen=True)
class ClosedDay:
    day: BillingDay
    mail_pending: int  # payout e-mails of that day still waiting in the outbox
    mail_logged: bool = False  # some were only written to the log (no mail server)
    mail_failed: int = 0  # of the pending ones, those whose last attempt failed


class MailState(StrEnum):
    """Where a payout e-mail is, as its page says: delivered to the mail server, written
    to the log only (no mail server), waiting for its first or next attempt, or failed at
    its last attempt (retried later by itself, or now by "Send again")."""

    SENT = "sent"
    LOGGED = "logged"
    WAITING = "waiting"
    FAILED = "failed"


def mail_state(status: str | None, last_error: str | None) -> MailState | None:
    """The state of an outbox message from its status and last error (None: no e-mail)."""
    if status is None:
        return None
    if status == MAIL_PENDING:
        return MailState.FAILED if last_error else MailState.WAITING
    return MailState(status)


def _with_pending_mail(rows) -> list[ClosedDay]:
    """Each closed day with how many of its payout e-mails are pending (one query driven
    by the small set of pending messages) and whether any was only logged (one probe per
    day, stopping at the first), whatever the size of the outbox."""
    days = [row.day for row in rows]
    pending, logged = {}, set()
    if days:
        logged = set(
            db.session.scalars(
                select(BillingDay.day).where(
                    BillingDay.day.in_(days),
                    select(OutboxMessage.id)
                    .join(Payout, Payout.id == OutboxMessage.payout_id)
                    .where(Payout.day == BillingDay.day, OutboxMessage.status == MAIL_LOGGED)
                    .exists(),
                )
            )
        )
        failed = func.count(OutboxMessage.last_error)  # counts the rows with an error
        pending = {
            day: (count, failures)
            for day, count, failures in db.session.execute(
                select(Payout.day, func.count(OutboxMessage.id), failed)
                .select_from(OutboxMessage)
                .join(Payout, Payout.id == OutboxMessage.payout_id)
                .where(OutboxMessage.status == MAIL_PENDING, Payout.day.in_(days))
                .group_by(Payout.day)
            )
        }
    days_mail = []
    for row in rows:
        waiting, failures = pending.get(row.day, (0, 0))
        days_mail.append(ClosedDay(row, waiting, row.day in logged, failures))
    return days_mail


def recent_closed_days(limit: int) -> list[ClosedDay]:
    rows = db.session.scalars(select(BillingDay).order_by(BillingDay.day.desc()).limit(limit))
    return _with_pending_mail(rows.all())


def closed_days(page: int, per_page: int) -> Page:
    """A page of closed days, newest first, with their pending e-mails."""
    pager = counted_page(
        db.session,
        select(BillingDay).order_by(BillingDay.day.desc()),
        page,
        per_page,
        count=select(func.count(BillingDay.day)),
        entities=True,
    )
    pager.items = _with_pending_mail(pager.items)
    return pager


def closed_day(day: date) -> BillingDay | None:
    return db.session.get(BillingDay, day)


def payouts_of(day: date, page: int, per_page: int) -> Page:
    """A page of who was paid how much when `day` closed, with each e-mail's state."""
    return counted_page(
        db.session,
        select(
            Account.username,
            Account.email,
            Account.owner_public_id,
            Payout.amount,
            OutboxMessage.id.label("mail_id"),
            OutboxMessage.status.label("mail_status"),
            OutboxMessage.attempts.label("mail_attempts"),
            OutboxMessage.last_error.label("mail_error"),
            OutboxMessage.sent_at.label("mail_sent_at"),
        )
        .join(Account, Account.id == Payout.account_id)
        .outerjoin(OutboxMessage, OutboxMessage.payout_id == Payout.id)
        .where(Payout.day == day)
        .order_by(Account.username, Payout.id),
        page,
        per_page,
        count=select(func.count(Payout.id)).where(Payout.day == day),
    )


def outbox(status: str | None, page: int, per_page: int) -> Page:
    """A page of outbox messages, newest first, optionally of one status (not counted)."""
    query = select(OutboxMessage).order_by(OutboxMessage.id.desc())
    if status in MAIL_STATUSES:
        query = query.where(OutboxMessage.status == status)
    return peek_page(db.session, paged(query), page, per_page, entities=True)


def recent_outbox(limit: int) -> list[OutboxMessage]:
    """The newest outbox messages (the overview shows a glimpse)."""
    return list(
        db.session.scalars(select(OutboxMessage).order_by(OutboxMessage.id.desc()).limit(limit))
    )


def pending_mail() -> int:
    """Messages waiting in the outbox (an index range: normally few)."""
    return db.session.scalar(
        select(func.count(OutboxMessage.id)).where(OutboxMessage.status == MAIL_PENDING)
    )


# --- what other blueprints write from (notifications, set-based) -------------------------


def shuffle_charges(shuffle_id: int):
    """SELECT popug_id, tasks, amount, business_day: what one shuffle charged each popug
    (one row per popug: their summed fee entry, negative, and how many tasks it covers).
    The shuffle's entries by their index, each one's lines counted by the lines' primary
    key (entry, task), each account by its own: read in key order, nothing sorted, never
    the whole ledger."""
    tasks = (
        select(func.count())
        .where(LedgerLine.entry_id == LedgerEntry.id)
        .correlate(LedgerEntry)
        .scalar_subquery()
    )
    return (
        select(Account.popug_id, tasks.label("tasks"), LedgerEntry.amount, LedgerEntry.business_day)
        .join(Account, Account.id == LedgerEntry.account_id)
        .where(LedgerEntry.shuffle_id == shuffle_id, LedgerEntry.kind == ASSIGN_FEE)
    )


def payouts_by_popug(day: date):
    """SELECT popug_id, amount, day: each payout of a closed `day` (by the payouts' day
    index)."""
    return (
        select(Account.popug_id, Payout.amount, Payout.day)
        .join(Account, Account.id == Payout.account_id)
        .where(Payout.day == day)
    )


# --- versions of what pages show (their live checks) ------------------------------------
# A page that tells its reader "Updated" asks for a version of what it shows: a few scalar
# subqueries that each read a handful of keys backwards through an index, whatever the size
# of the ledger. The ledger is append-only, so the sum of its newest NEWEST_ENTRIES ids grows
# with every entry that joins them; summing several ids rather than taking the newest one
# also catches an entry committed after a later-numbered one (PostgreSQL hands out ids
# before commit), as long as it is among the newest few.
NEWEST_ENTRIES = 8


def _sum_of_newest(ids) -> object:
    newest = ids.limit(NEWEST_ENTRIES).subquery()
    return select(func.coalesce(func.sum(newest.c.id), 0)).scalar_subquery()


def entries_version():
    """Changes with every ledger entry (a task created, completed, shuffled or handed over;
    a payout)."""
    return _sum_of_newest(select(LedgerEntry.id).order_by(LedgerEntry.id.desc()))


def entries_of_popug_version(popug_id):
    """Changes with every entry of one popug's account (through its audit log's index)."""
    account = select(Account.id).where(Account.popug_id == popug_id).scalar_subquery()
    return _sum_of_newest(
        select(LedgerEntry.id)
        .where(LedgerEntry.account_id == account)
        .order_by(LedgerEntry.business_day.desc(), LedgerEntry.id.desc())
    )


def entries_of_task_version(task_id):
    """Changes with every entry naming the task (its creation, hand-overs, its reward)."""
    return _sum_of_newest(
        select(LedgerEntry.id)
        .where(LedgerEntry.task_id == task_id)
        .order_by(LedgerEntry.task_id.desc(), LedgerEntry.id.desc())
    )


def closed_days_version():
    """The last closed business day (its primary key): changes when a day is closed."""
    return select(func.max(BillingDay.day)).scalar_subquery()


def accounts_version():
    """The newest account: changes when a popug is created."""
    return select(func.max(Account.id)).scalar_subquery()


@cache
def _account_version():
    return select(entries_of_popug_version(bindparam("popug_id")), closed_days_version())


@cache
def _overview_version():
    return select(entries_version(), closed_days_version(), accounts_version())


def account_version(popug_id: int) -> str:
    """My account (or a popug's account page): its entries, the last closed day and the
    calendar day (what "today" is). One statement, built once."""
    row = db.session.execute(_account_version(), {"popug_id": popug_id}).one()
    return version_of((*row, clock.business_day()))


def overview_version() -> str:
    """The accounting overview: every entry (today's figures, balances), closed days
    (payout history), new accounts (all balances) and the calendar day."""
    return version_of((*db.session.execute(_overview_version()).one(), clock.business_day()))
