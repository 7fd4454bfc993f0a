"""The database schema: one class per table, SQLite and PostgreSQL alike."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    ColumnElement,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    TypeDecorator,
    UniqueConstraint,
    literal,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class UTCDateTime(TypeDecorator[datetime]):
    """Aware datetimes in, aware UTC datetimes out, on every backend."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the database; every instant must be aware")
        value = value.astimezone(UTC)
        # SQLite has no zone-aware type: store UTC without the offset so text order is time order.
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {datetime: UTCDateTime(), dict[str, Any]: JSON(), list[Any]: JSON()}  # noqa: RUF012 (SQLAlchemy reads it as is)


class Customer(Base):
    __tablename__ = "customers"

    id: Mapped[int] = mapped_column(primary_key=True)
    address: Mapped[str] = mapped_column(String(320), unique=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    tier: Mapped[str] = mapped_column(String(40), default="standard")
    created_at: Mapped[datetime]


class TicketCounter(Base):
    """Last serial handed out per period (YYYYMM) for ticket numbers."""

    __tablename__ = "ticket_counters"

    period: Mapped[str] = mapped_column(String(6), primary_key=True)
    last_serial: Mapped[int] = mapped_column(Integer)


class Ticket(Base):
    __tablename__ = "tickets"

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(40), unique=True)
    status: Mapped[str] = mapped_column(String(30), index=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    subject: Mapped[str] = mapped_column(Text, default="")
    language: Mapped[str] = mapped_column(String(10))
    channel: Mapped[str] = mapped_column(String(30), default="email")
    category: Mapped[str] = mapped_column(String(60), default="other")
    department: Mapped[str] = mapped_column(String(30), default="after_sales")
    severity: Mapped[str] = mapped_column(String(30), default="")
    major: Mapped[list[Any]] = mapped_column(default=list)
    evidence: Mapped[list[Any]] = mapped_column(default=list)
    classified_by: Mapped[str] = mapped_column(String(200), default="rules")
    handler: Mapped[str] = mapped_column(String(80), default="")
    handler_email: Mapped[str] = mapped_column(String(320), default="")
    # Person keys named in the complaint: they never receive anything about it.
    excluded: Mapped[list[Any]] = mapped_column(default=list)
    opened_at: Mapped[datetime] = mapped_column(index=True)
    updated_at: Mapped[datetime]
    closed_at: Mapped[datetime | None]
    # What the complaint is about, for counting customers with the same matter (group
    # complaints): "model|fault" or "matter:phrase"; "" when it names no matter.
    matter_key: Mapped[str] = mapped_column(String(200), default="", server_default="")

    __table_args__ = (Index("ix_tickets_matter", "matter_key", "opened_at"),)


class Message(Base):
    """Every message received, whatever became of it; raw bytes kept."""

    __tablename__ = "messages"

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id"), index=True)
    # "mid:<Message-ID>" or "sha256:<hash>": the same message delivered twice collides here.
    dedupe_key: Mapped[str] = mapped_column(String(1000), unique=True)
    message_id: Mapped[str | None] = mapped_column(String(995), index=True)
    sha256: Mapped[str] = mapped_column(String(64))
    sender: Mapped[str] = mapped_column(String(320), default="")
    sender_name: Mapped[str] = mapped_column(String(300), default="")
    subject: Mapped[str] = mapped_column(Text, default="")
    text: Mapped[str] = mapped_column(Text, default="")
    kind: Mapped[str] = mapped_column(String(20))
    disposition: Mapped[str] = mapped_column(String(20))
    reason: Mapped[str] = mapped_column(String(80), default="")
    notes: Mapped[list[Any]] = mapped_column(default=list)
    origin: Mapped[str] = mapped_column(Text, default="")
    sent_at: Mapped[datetime | None]
    received_at: Mapped[datetime]
    raw: Mapped[bytes] = mapped_column(LargeBinary)


class Attachment(Base):
    __tablename__ = "attachments"

    id: Mapped[int] = mapped_column(primary_key=True)
    message_row: Mapped[int] = mapped_column(ForeignKey("messages.id"), index=True)
    filename: Mapped[str] = mapped_column(Text, default="")
    content_type: Mapped[str] = mapped_column(String(200), default="application/octet-stream")
    size: Mapped[int] = mapped_column(Integer)
    # None when the attachment was over the configured size limit (its size is still recorded).
    data: Mapped[bytes | None] = mapped_column(LargeBinary)


class TicketEvent(Base):
    """The audit trail: append-only (database triggers refuse UPDATE and DELETE)."""

    __tablename__ = "ticket_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"), index=True)
    at: Mapped[datetime]
    actor: Mapped[str] = mapped_column(String(320))
    kind: Mapped[str] = mapped_column(String(40))
    detail: Mapped[dict[str, Any]] = mapped_column(default=dict)
    message_row: Mapped[int | None] = mapped_column(ForeignKey("messages.id"))


class OutboxMail(Base):
    """One mail to one recipient, rendered when queued, sent at most once once recorded sent."""

    __tablename__ = "outbox"
    __table_args__ = (
        Index("ix_outbox_due", "status", "next_attempt_at"),
        # The daily cap per recipient (store/outgoing.py) counts by this index alone.
        Index("ix_outbox_recipient_cap", "recipient", "status", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id"), index=True)
    kind: Mapped[str] = mapped_column(String(40))
    recipient: Mapped[str] = mapped_column(String(320), index=True)
    message_id: Mapped[str] = mapped_column(String(995), unique=True)
    subject: Mapped[str] = mapped_column(Text, default="")
    raw: Mapped[bytes] = mapped_column(LargeBinary)
    # pending -> sending -> sent | failed; suppressed when a loop guard stopped it.
    status: Mapped[str] = mapped_column(String(20))
    auto_reply: Mapped[bool] = mapped_column(Boolean, default=False)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime]
    lease_until: Mapped[datetime | None]
    last_error: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime]
    sent_at: Mapped[datetime | None]
    bounced_by: Mapped[int | None] = mapped_column(ForeignKey("messages.id"))


class Quarantined(Base):
    """A message the daemon could not file: its bytes and the reason, until someone acts."""

    __tablename__ = "quarantine"

    id: Mapped[int] = mapped_column(primary_key=True)
    sha256: Mapped[str] = mapped_column(String(64), unique=True)
    origin: Mapped[str] = mapped_column(Text, default="")
    reason: Mapped[str] = mapped_column(String(80))
    detail: Mapped[str] = mapped_column(Text, default="")
    received_at: Mapped[datetime]
    # held -> released (filed by `quarantine retry`)
    status: Mapped[str] = mapped_column(String(20), default="held", index=True)
    released_at: Mapped[datetime | None]
    raw: Mapped[bytes] = mapped_column(LargeBinary)


class HeldMessage(Base):
    """A message kept off a ticket for review: not from one of its parties, or forged (DMARC).

    Its bytes stay here until someone releases it onto the ticket or drops it; the row stays.
    """

    __tablename__ = "held_messages"

    id: Mapped[int] = mapped_column(primary_key=True)
    # The same message delivered twice is held once (as Message.dedupe_key).
    dedupe_key: Mapped[str] = mapped_column(String(1000), unique=True)
    message_id: Mapped[str | None] = mapped_column(String(995))
    sender: Mapped[str] = mapped_column(String(320), default="")
    subject: Mapped[str] = mapped_column(Text, default="")
    # The ticket the message names (by tag or In-Reply-To/References); NULL when it names none.
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id"), index=True)
    reason: Mapped[str] = mapped_column(String(80))  # not-a-party, excluded-staff, dmarc-fail
    detail: Mapped[str] = mapped_column(Text, default="")
    origin: Mapped[str] = mapped_column(Text, default="")
    received_at: Mapped[datetime]
    held_at: Mapped[datetime]
    # held -> released (filed onto the ticket) | dropped; decided_by says who.
    status: Mapped[str] = mapped_column(String(20), default="held", index=True)
    decided_at: Mapped[datetime | None]
    decided_by: Mapped[str] = mapped_column(String(320), default="")
    raw: Mapped[bytes] = mapped_column(LargeBinary)


# A sender's recent mail, for the repeated-body check (pipeline: a robot answering every mail).
Index("ix_messages_sender_received_at", Message.sender, Message.received_at)


class TicketClock(Base):
    """One deadline of a ticket (daemon.clocks.ClockState), indexed by when a sweep must look."""

    __tablename__ = "clocks"
    __table_args__ = (UniqueConstraint("ticket_id", "kind"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"), index=True)
    kind: Mapped[str] = mapped_column(String(30))
    # The ClockPlan it runs on (rule name, allowance, reminders, ladder), as JSON.
    plan: Mapped[dict[str, Any]] = mapped_column()
    started_at: Mapped[datetime]
    budget_seconds: Mapped[float] = mapped_column(Float)
    spent_seconds: Mapped[float] = mapped_column(Float, default=0.0)
    running_since: Mapped[datetime | None]
    due_at: Mapped[datetime | None]
    paused_at: Mapped[datetime | None]
    stopped_at: Mapped[datetime | None]
    reminders_sent: Mapped[list[Any]] = mapped_column(default=list)
    steps_sent: Mapped[int] = mapped_column(Integer, default=0)
    breached_at: Mapped[datetime | None]
    # NULL when nothing can fall due (stopped, paused): the sweep's index skips those rows.
    next_action_at: Mapped[datetime | None] = mapped_column(index=True)


class MissedClock(Base):
    """The missed-clock ledger: one row per breach, per ticket, clock and responsible person."""

    __tablename__ = "missed_clocks"

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"), index=True)
    clock: Mapped[str] = mapped_column(String(30))
    rule: Mapped[str] = mapped_column(String(80), default="")
    person: Mapped[str] = mapped_column(String(80), index=True)
    due_at: Mapped[datetime]
    breached_at: Mapped[datetime] = mapped_column(index=True)
    # How late, on the clock's basis; updated when the clock finally stops.
    overdue_seconds: Mapped[float] = mapped_column(Float, default=0.0)


class ClockStop(Base):
    """Every time a clock stopped, on time or not: only ever added to, so a period's figures stay
    as they were when a ticket reopened later restarts the clock (its row in `clocks` moves on)."""

    __tablename__ = "clock_stops"

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"), index=True)
    clock: Mapped[str] = mapped_column(String(30))
    stopped_at: Mapped[datetime] = mapped_column(index=True)
    on_time: Mapped[bool] = mapped_column(Boolean)


class CalendarRecord(Base):
    """The effective calendar the open clocks were last computed on (daemon.recalendar's
    CalendarSnapshot as JSON): one row, compared at start and on reload."""

    __tablename__ = "calendar_record"

    id: Mapped[int] = mapped_column(primary_key=True)  # always 1
    snapshot: Mapped[dict[str, Any]] = mapped_column()
    recorded_at: Mapped[datetime]


class MailboxCheckpoint(Base):
    """Where reading a mailbox folder got to; committed with the tickets it produced."""

    __tablename__ = "mailbox_checkpoints"

    mailbox: Mapped[str] = mapped_column(String(100), primary_key=True)
    folder: Mapped[str] = mapped_column(String(300), primary_key=True)
    uidvalidity: Mapped[int] = mapped_column(BigInteger)
    last_uid: Mapped[int] = mapped_column(BigInteger)
    updated_at: Mapped[datetime]


class MailboxState(Base):
    """Health of one source (a mailbox, or the Maildir, outbox or sweep worker), copied from
    the daemon's memory for `complaintd status`."""

    __tablename__ = "mailbox_states"

    # A mailbox's name; the other workers use their config section's name ("[outbox]").
    mailbox: Mapped[str] = mapped_column(String(100), primary_key=True)
    kind: Mapped[str] = mapped_column(String(20), default="mailbox", server_default="mailbox")
    connected: Mapped[bool] = mapped_column(Boolean, default=False)
    last_ok_at: Mapped[datetime | None]
    last_error: Mapped[str] = mapped_column(Text, default="")
    last_error_at: Mapped[datetime | None]
    # Start of the current run of failures; NULL while the mailbox works.
    failing_since: Mapped[datetime | None]
    waiting: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[datetime]
    # The source's last sign of life, and when the daemon last wrote this row: a row not
    # written for long means the daemon stopped reporting (or stopped).
    heartbeat_at: Mapped[datetime | None]
    reported_at: Mapped[datetime | None]


def table(model: type[Base]) -> Table:
    """A model's table, for the Core statements on the hot path (they skip the ORM)."""
    return cast(Table, model.__table__)


def one_of(column: Any, values: Iterable[str]) -> ColumnElement[bool]:
    """`column IN` values fixed in the code, one placeholder each: the statement's SQL is
    rendered once, where a plain in_() of a list is rendered again at every execution."""
    return cast(ColumnElement[bool], column.in_([literal(v) for v in values]))


# INSERT ... ON CONFLICT is dialect-specific in SQLAlchemy; both databases we run on have it.
# Typed loosely: the two insert() constructs share the method but not a base class with it.
DIALECT_INSERTS: dict[str, Callable[[Table], Any]] = {
    "sqlite": sqlite.insert,
    "postgresql": postgresql.insert,
}
