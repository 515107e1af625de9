from datetime import date, datetime

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from app import clock
from app.db import BigId, UTCDateTime, partial_index_where
from app.extensions import db

ASSIGN_FEE = "assign_fee"
REWARD = "reward"
PAYOUT = "payout"


class Account(db.Model):
    """A popug's money account. `balance` always equals the sum of its ledger entries.

    Accounting keeps its own copy of the owner's public id, username and e-mail (given
    when auth opens the account), so it depends on no other blueprint.
    """

    __tablename__ = "accounts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    popug_id: Mapped[int] = mapped_column(ForeignKey("popugs.id"), unique=True)
    owner_public_id: Mapped[str] = mapped_column(String(36), unique=True)
    username: Mapped[str] = mapped_column(String(32), index=True)
    email: Mapped[str] = mapped_column(String(254))
    balance: Mapped[int] = mapped_column(BigInteger, default=0, index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now)


class LedgerEntry(db.Model):
    """One money movement; append-only. Fees and payouts are negative, rewards positive."""

    __tablename__ = "ledger_entries"
    __table_args__ = (
        CheckConstraint("kind IN ('assign_fee', 'reward', 'payout')", name="kind"),
        CheckConstraint(
            "(kind = 'reward' AND amount > 0) OR (kind <> 'reward' AND amount < 0)", name="sign"
        ),
        # An account's day in id order (the audit log), and its sums without the table
        # (balances, earnings and closing balances in `accounting verify`).
        Index(
            "ix_ledger_entries_account_day", "account_id", "business_day", "id", "kind", "amount"
        ),
        # Covers the per-day sums of fees, rewards and payouts without touching the table.
        Index("ix_ledger_entries_day_kind_amount", "business_day", "kind", "amount"),
        # A task's page reads the entries naming it (its creation, hand-overs, reward, and
        # the per-task fees of shuffles before ledger lines). Partial: a shuffle's summed
        # entries name no task, so a shuffle writes nothing into it. It holds every column
        # `accounting verify` reads of them, so that tasks' checks join each task to its
        # entries without reading the table.
        Index(
            "ix_ledger_entries_task_id",
            "task_id",
            "id",
            "kind",
            "amount",
            "account_id",
            "shuffle_id",
            "handed_over_from",
            **partial_index_where("task_id IS NOT NULL"),
        ),
        # A shuffle's entries (one per popug it charged: what it cost each popug, for their
        # notifications). Partial: only shuffles' entries; a shuffle adds one key per popug,
        # at the index's right edge.
        Index(
            "ix_ledger_entries_shuffle_id",
            "shuffle_id",
            "id",
            **partial_index_where("shuffle_id IS NOT NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    # Always an existing account (taken from `accounts` by the statement that writes the
    # entry; accounts are never deleted; `accounting verify` checks it). No foreign key:
    # a per-row check on every entry a shuffle writes slows it (docs/performance.md,
    # "Figures behind rules").
    account_id: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(16))
    amount: Mapped[int] = mapped_column(BigInteger)
    # The task a fee or reward is for, and the shuffle that charged a fee. A shuffle
    # charges each popug one entry for all the tasks it gave them, with no task of its own:
    # its ledger lines name each task and its fee. Accounting does
    # not own tasks: like a separate service it keeps their ids without a foreign key (the
    # id comes from the same transaction that writes the task, and tasks are never deleted;
    # `accounting verify` checks the fees and rewards per task). Per-row key checks would
    # also slow a shuffle's ledger INSERT (docs/performance.md, "Figures behind rules").
    task_id: Mapped[int | None] = mapped_column(Integer)
    shuffle_id: Mapped[int | None] = mapped_column(Integer)
    # A fee charged because the task was handed over from this popug (deactivated, or no
    # longer in a role that takes tasks) to the entry's. Not a creation's fee, nor a
    # shuffle's: verify counts each kind apart.
    handed_over_from: Mapped[int | None] = mapped_column(Integer)
    business_day: Mapped[date] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now)


class LedgerLine(db.Model):
    """One task's part of a shuffle's assign-fee entry, which charges a popug the fees of
    every task that shuffle gave them at once: a shuffle of a million open tasks writes
    one entry per popug and a million narrow lines that only the primary key indexes
    (written in its order), instead of a million entries through every ledger index.
    Append-only like the ledger; an entry's lines sum to its amount."""

    __tablename__ = "ledger_lines"
    __table_args__ = {"sqlite_with_rowid": False}

    entry_id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=False)
    task_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    amount: Mapped[int] = mapped_column(BigInteger)


class ShuffleLine(db.Model):
    """The same lines keyed by (shuffle, task): which entry charged each task a shuffle
    moved. A task's page finds its lines through it, one seek per shuffle. A shuffle writes
    these rows in task order, its lines in entry order: each table grows at its right edge,
    where a second index over `ledger_lines` would take a million entries at random places
    (docs/performance.md, "Figures behind rules"). `accounting verify` checks that both
    agree."""

    __tablename__ = "shuffle_lines"
    __table_args__ = {"sqlite_with_rowid": False}

    shuffle_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    task_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    entry_id: Mapped[int] = mapped_column(BigId)


class BillingDay(db.Model):
    """A closed business day and its totals, in cents, all as positive sums: fees charged,
    rewards paid and payouts made on that day; how many popugs were paid and how many were
    left with a negative balance at the close."""

    __tablename__ = "billing_days"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    closed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now)
    fees: Mapped[int] = mapped_column(BigInteger, default=0)
    rewards: Mapped[int] = mapped_column(BigInteger, default=0)
    payouts: Mapped[int] = mapped_column(BigInteger, default=0)
    popugs_paid: Mapped[int] = mapped_column(Integer, default=0)
    popugs_in_red: Mapped[int] = mapped_column(Integer, default=0)


class Payout(db.Model):
    """What one account was paid when one day closed; at most one per account and day."""

    __tablename__ = "payouts"
    __table_args__ = (UniqueConstraint("account_id", "day", name="uq_payouts_account_day"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"))
    day: Mapped[date] = mapped_column(Date, index=True)
    amount: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now)


MAIL_PENDING = "pending"
MAIL_SENT = "sent"
MAIL_LOGGED = "logged"  # development without MAIL_SERVER: written to the log instead
MAIL_STATUSES = (MAIL_PENDING, MAIL_SENT, MAIL_LOGGED)


class OutboxMessage(db.Model):
    """An e-mail written in the same transaction as its event (a payout, a notification)
    and sent afterwards.

    A payout's message is written whole. Another blueprint's message may name only its
    `topic` and `ref` (what it is about, in that blueprint's own terms) and leave `subject`
    and `body` empty: the sender asks that blueprint for the words just before sending
    (signals.mail_texts_wanted) and stores them, so a bulk event queues its e-mails with
    one INSERT … SELECT.

    A pending message is due when `next_attempt_at` has come; a sender claims it by moving
    `next_attempt_at` into the future (a lease), writing a fresh `claim_token` and counting
    the attempt, so two senders never send the same message; the sender renews its lease
    only while the token is still its own. A failure pushes `next_attempt_at` back by a
    backoff.
    """

    __tablename__ = "mail_outbox"
    __table_args__ = (
        CheckConstraint("status IN ('pending', 'sent', 'logged')", name="status"),
        Index("ix_mail_outbox_status_due", "status", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    payout_id: Mapped[int | None] = mapped_column(ForeignKey("payouts.id"), unique=True)
    recipient: Mapped[str] = mapped_column(String(254))
    # None until written (a message with a topic); always set once sent or logged.
    subject: Mapped[str | None] = mapped_column(String(200))
    body: Mapped[str | None] = mapped_column(Text)
    topic: Mapped[str | None] = mapped_column(String(16))  # None: a payout's
    ref: Mapped[int | None] = mapped_column(BigInteger)  # what the topic's owner writes from
    status: Mapped[str] = mapped_column(String(16), default=MAIL_PENDING)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now)
    last_error: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    claim_token: Mapped[str | None] = mapped_column(String(32))  # the claim's holder
