"""Queries and writes for tickets, messages, the audit trail and the quarantine."""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    String,
    Table,
    and_,
    bindparam,
    case,
    exists,
    func,
    insert,
    literal_column,
    not_,
    select,
    union_all,
    update,
)
from sqlalchemy.orm import InstrumentedAttribute, Session
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.selectable import CompoundSelect, Select

from daemon import events
from daemon.confidential import WHY_NAMED as WITHHELD
from daemon.confidential import Recheck
from daemon.numbering import format_number
from daemon.store import deferred
from daemon.store.models import (
    DIALECT_INSERTS,
    Attachment,
    Customer,
    HeldMessage,
    Message,
    OutboxMail,
    Quarantined,
    Ticket,
    TicketCounter,
    TicketEvent,
    one_of,
    table,
)
from daemon.values import Assignment, Classification, InboundMessage, RawMail

# The statements every message runs are built once, on tables, with bound parameters: they
# compile once and skip the ORM, which is most of the cost of filing a message otherwise.
_customers, _messages, _tickets = table(Customer), table(Message), table(Ticket)
_INSERT_MESSAGE = insert(_messages).returning(_messages.c.id)
_INSERT_TICKET = insert(_tickets).returning(_tickets.c.id)
_INSERT_EVENTS = insert(table(TicketEvent))
_MESSAGE_SEEN = select(_messages.c.id).where(_messages.c.dedupe_key == bindparam("key"))
_quarantined = table(Quarantined)
_QUARANTINE_SEEN = select(_quarantined.c.id).where(_quarantined.c.sha256 == bindparam("sha256"))


def _customer_upsert(insert_for: Any) -> Any:
    """One statement finds or creates the customer; a name learnt later fills an empty one."""
    stmt = insert_for(_customers)
    name = case((_customers.c.name == "", stmt.excluded.name), else_=_customers.c.name)
    return stmt.on_conflict_do_update(
        index_elements=[_customers.c.address], set_={"name": name}
    ).returning(_customers.c.id, _customers.c.tier)


_UPSERT_CUSTOMER = {
    name: _customer_upsert(insert_for) for name, insert_for in DIALECT_INSERTS.items()
}
# A complaint is told from the same one sent again by its subject and body together: an
# answering robot repeats both; a customer's second complaint differs in one at least.
_same_complaint = and_(
    _messages.c.subject == bindparam("subject"), _messages.c.text == bindparam("text")
)


def _distinct_complaints(customer_id: Any) -> Any:
    """The distinct complaints (subject and body) a customer opened tickets with since an
    instant, other than this one."""
    return (
        select(_messages.c.subject, _messages.c.text)
        .select_from(_tickets.join(_messages, _messages.c.ticket_id == _tickets.c.id))
        .where(
            _tickets.c.customer_id == customer_id,
            _tickets.c.opened_at >= bindparam("since"),
            _messages.c.disposition == "filed",
            not_(_same_complaint),
        )
        .distinct()
        .subquery()
    )


_RECENT_TICKETS = select(func.count()).select_from(_distinct_complaints(bindparam("customer")))
# The sender's history in one statement: whether the same mail came from them before (a robot
# answering ours, or a complaint sent twice), and the complaints of the customer at that address.
_customer_at = (
    select(_customers.c.id).where(_customers.c.address == bindparam("address")).scalar_subquery()
)
_EARLIER = select(func.count()).select_from(_distinct_complaints(_customer_at)).scalar_subquery()
_SAME_BODY = exists().where(
    _messages.c.sender == bindparam("sender"),
    _messages.c.received_at >= bindparam("body_since"),
    _same_complaint,
)
_HISTORY = select(_SAME_BODY, _EARLIER)
_EARLIER_ONLY = select(_EARLIER)
_counters = table(TicketCounter)
_NEXT_SERIAL = {
    name: insert_for(_counters)
    .values(period=bindparam("period"), last_serial=1)
    .on_conflict_do_update(
        index_elements=[_counters.c.period],
        set_={"last_serial": _counters.c.last_serial + 1},
    )
    .returning(_counters.c.last_serial)
    for name, insert_for in DIALECT_INSERTS.items()
}


def fitted(tbl: Table, values: dict[str, Any]) -> dict[str, Any]:
    """`values` with every string cut to its column's declared length.

    PostgreSQL refuses an over-long VARCHAR where SQLite keeps it whole: cutting here, from the
    schema itself, makes one message store the same on both and never fail on a field's size.
    """
    cut = dict(values)
    lengths = _lengths(tbl)
    for name, value in values.items():
        length = lengths.get(name)
        if length is not None and isinstance(value, str) and len(value) > length:
            cut[name] = value[:length]
    return cut


@functools.cache
def _lengths(tbl: Table) -> dict[str, int]:
    """The declared length of each of the table's string columns that has one."""
    return {
        c.key: c.type.length
        for c in tbl.c
        if isinstance(c.type, String) and c.type.length is not None
    }


def message_seen(session: Session, dedupe_key: str) -> bool:
    return session.connection().execute(_MESSAGE_SEEN, {"key": dedupe_key}).first() is not None


def quarantine_seen(session: Session, sha256: str) -> bool:
    found = session.connection().execute(_QUARANTINE_SEEN, {"sha256": sha256}).first()
    return found is not None


def ticket_by_number(session: Session, number: str) -> Ticket | None:
    return session.scalar(select(Ticket).where(Ticket.number == number.upper()))


# A reply names a few Message-IDs (In-Reply-To, References): up to this many are matched
# with a placeholder each, in a statement built once per count, since an expanding IN has its
# SQL rendered again on every execution. More fall back to the expanding parameter "ids".
_FEW_IDS = 8


def ids_params(ids: Sequence[str]) -> tuple[int, dict[str, Any]]:
    """The count an ids_in() statement is built for (0: many) and its parameters."""
    unique = list(dict.fromkeys(ids))
    if len(unique) > _FEW_IDS:
        return 0, {"ids": unique}
    return len(unique), {f"id{i}": ident for i, ident in enumerate(unique)}


def ids_in(
    column: ColumnElement[Any] | InstrumentedAttribute[Any], count: int
) -> ColumnElement[bool]:
    """`column IN` the Message-IDs ids_params() gives for `count`."""
    if count == 0:
        return column.in_(bindparam("ids", expanding=True))
    return column.in_([bindparam(f"id{i}") for i in range(count)])


@functools.cache
def _thread_ticket(count: int) -> Select[Ticket]:
    known = union_all(
        select(Message.ticket_id, literal_column("0").label("rank")).where(
            ids_in(Message.message_id, count), Message.ticket_id.is_not(None)
        ),
        select(OutboxMail.ticket_id, literal_column("1")).where(
            ids_in(OutboxMail.message_id, count), OutboxMail.ticket_id.is_not(None)
        ),
    ).subquery()
    return (
        select(Ticket).join(known, Ticket.id == known.c.ticket_id).order_by(known.c.rank).limit(1)
    )


def thread_ticket(
    session: Session, numbers: Sequence[str], message_ids: Sequence[str]
) -> Ticket | None:
    """The ticket a reply belongs to: by a Message-ID we received or sent (in that order of
    preference), else by subject tag."""
    if message_ids:
        count, params = ids_params(message_ids)
        ticket = session.scalar(_thread_ticket(count), params)
        if ticket is not None:
            return ticket
    for number in numbers:
        ticket = ticket_by_number(session, number)
        if ticket is not None:
            return ticket
    return None


_SET_SERIAL = (
    update(_counters)
    .where(_counters.c.period == bindparam("of_period"))
    .values(last_serial=bindparam("serial"))
)


def next_number(session: Session, prefix: str, period: str, digits: int) -> str:
    """Allocate the next serial of the period; the row lock serialises concurrent instances.

    In a block (deferred.batch) the counter is read once: its row stays locked to the end of
    the transaction, so the serials after it are counted in the block and the last one is
    written as the block ends."""
    last = deferred.held(session, _SET_SERIAL, period)
    if last is not None:
        serial = int(last["serial"]) + 1
    else:
        conn = session.connection()
        serial = conn.execute(_NEXT_SERIAL[conn.dialect.name], {"period": period}).scalar_one()
    row = {"of_period": period, "serial": serial}
    deferred.put(session, _SET_SERIAL, period, row, changed=last is not None)
    return format_number(prefix, period, serial, digits)


@dataclass(frozen=True, slots=True)
class NewTicket:
    """A ticket row as filing writes it."""

    number: str
    status: str
    customer_id: int
    subject: str
    channel: str
    classification: Classification
    assignment: Assignment
    opened_at: datetime
    matter_key: str = ""

    def columns(self) -> dict[str, Any]:
        c, a = self.classification, self.assignment
        return {
            "number": self.number,
            "status": self.status,
            "customer_id": self.customer_id,
            "subject": self.subject,
            "language": c.language,
            "channel": self.channel,
            "category": c.category,
            "department": c.department,
            "severity": c.severity,
            "major": list(c.major),
            "evidence": [
                {"target": e.target, "phrase": e.phrase, "weight": e.weight} for e in c.evidence
            ],
            "classified_by": c.source,
            "handler": a.handler,
            "handler_email": a.handler_email,
            "excluded": list(a.excluded),
            "opened_at": self.opened_at,
            "updated_at": self.opened_at,
            "closed_at": None,
            "matter_key": self.matter_key,
        }


def insert_ticket(session: Session, ticket: NewTicket) -> int:
    ticket_id: int = session.connection().execute(_INSERT_TICKET, ticket.columns()).scalar_one()
    return ticket_id


_SAME_MATTER = select(func.count(func.distinct(_tickets.c.customer_id))).where(
    _tickets.c.matter_key == bindparam("key"),
    _tickets.c.opened_at >= bindparam("since"),
    _tickets.c.customer_id != bindparam("customer"),
)


def others_same_matter(session: Session, key: str, customer_id: int, since: datetime) -> int:
    """How many other customers opened tickets about this matter since an instant."""
    if not key:
        return 0
    params = {"key": key, "since": since, "customer": customer_id}
    return int(session.connection().execute(_SAME_MATTER, params).scalar() or 0)


@dataclass(frozen=True, slots=True)
class CustomerRef:
    id: int
    tier: str


def customer_for(session: Session, address: str, name: str, now: datetime) -> CustomerRef:
    """The customer with this address, created on first sight."""
    conn = session.connection()
    values = fitted(
        _customers, {"address": address, "name": name, "tier": "standard", "created_at": now}
    )
    found = conn.execute(_UPSERT_CUSTOMER[conn.dialect.name], values).one()
    return CustomerRef(found.id, found.tier)


@dataclass(frozen=True, slots=True)
class SenderHistory:
    repeats: bool  # the same subject and body came from this sender within the body window
    earlier: int  # distinct complaints the customer at this address opened tickets with


def sender_history(
    session: Session,
    sender: str,
    subject: str,
    text: str,
    body_since: datetime | None,
    tickets_since: datetime,
) -> SenderHistory:
    """What the sender sent before, in one query; without a body window `repeats` is False.
    `earlier` counts as recent_tickets does, for the customer whose address is the sender's."""
    address = fitted(_customers, {"address": sender})["address"]
    params = {"address": address, "subject": subject, "text": text, "since": tickets_since}
    conn = session.connection()
    if body_since is None:
        return SenderHistory(False, int(conn.execute(_EARLIER_ONLY, params).scalar() or 0))
    params |= {"sender": sender, "body_since": body_since}
    repeats, earlier = conn.execute(_HISTORY, params).one()
    return SenderHistory(bool(repeats), int(earlier or 0))


def recent_tickets(
    session: Session, customer_id: int, since: datetime, subject: str, text: str
) -> int:
    """How many distinct complaints (subject and body) the customer opened tickets with since
    an instant, other than this one: a robot's same answer, or the same complaint sent again,
    does not make a repeat complaint."""
    params = {"customer": customer_id, "since": since, "subject": subject, "text": text}
    count = session.connection().execute(_RECENT_TICKETS, params).scalar()
    return int(count or 0)


_attachments = table(Attachment)
_INSERT_ATTACHMENT = insert(_attachments)


def store_message(
    session: Session,
    msg: InboundMessage,
    raw: RawMail,
    *,
    ticket_id: int | None,
    disposition: str,
    reason: str,
    max_attachment_bytes: int,
) -> int:
    """Record a received message with its raw bytes and attachments; returns its row id."""
    values = fitted(
        _messages,
        {
            "ticket_id": ticket_id,
            "dedupe_key": msg.dedupe_key,
            "message_id": msg.message_id,
            "sha256": msg.sha256,
            "sender": msg.sender,
            "sender_name": msg.sender_name,
            "subject": msg.subject,
            "text": msg.text,
            "kind": msg.kind.value,
            "disposition": disposition,
            "reason": reason,
            "notes": list(msg.notes),
            "origin": raw.origin,
            "sent_at": msg.sent_at,
            "received_at": raw.received_at,
            "raw": raw.data,
        },
    )
    conn = session.connection()
    row_id: int = conn.execute(_INSERT_MESSAGE, values).scalar_one()
    if msg.attachments:
        deferred.insert(  # nothing reads them while messages are filed
            session,
            _INSERT_ATTACHMENT,
            [
                fitted(
                    _attachments,
                    {
                        "message_row": row_id,
                        "filename": part.filename,
                        "content_type": part.content_type,
                        "size": len(part.data),
                        # Over the limit: recorded by name and size only.
                        "data": part.data if len(part.data) <= max_attachment_bytes else None,
                    },
                )
                for part in msg.attachments
            ],
        )
    return row_id


_CHANGE_TICKET = update(_tickets).where(_tickets.c.id == bindparam("of_ticket"))


def change_ticket(session: Session, ticket_id: int, columns: dict[str, Any]) -> None:
    """Write a staff action's changes to a ticket in one statement (acting.holding)."""
    if columns:
        session.connection().execute(_CHANGE_TICKET, {**columns, "of_ticket": ticket_id})


def attach_to_ticket(session: Session, message_row: int, ticket_id: int) -> None:
    session.execute(update(Message).where(Message.id == message_row).values(ticket_id=ticket_id))


def add_events(
    session: Session, ticket_id: int, at: datetime, entries: Sequence[events.Entry]
) -> None:
    """Append entries to a ticket's audit trail: in one statement, or held for the statement
    of the block around them (deferred.batch)."""
    deferred.insert(session, _INSERT_EVENTS, [_event_row(ticket_id, at, e) for e in entries])


def _event_row(ticket_id: int, at: datetime, e: events.Entry) -> dict[str, Any]:
    return {
        "ticket_id": ticket_id,
        "at": at,
        "actor": e.actor,
        "kind": e.kind.value,
        "detail": e.detail.as_json(),
        "message_row": e.message_row,
    }


def confine(
    session: Session, ticket: Ticket, check: Recheck, at: datetime, message_row: int | None
) -> None:
    """Store a ticket's wider exclusion and the handler it moves to, with their audit entries.

    Reminders and escalations read `ticket.excluded` and `ticket.handler` from this row, so once
    this commits nobody excluded hears of the ticket again.
    """
    daemon = events.DAEMON
    entries: list[events.Entry] = []
    if check.added:
        # A new list, not an append: the ORM only sees a JSON column change by assignment.
        ticket.excluded = list(check.excluded)
        entries.append(events.Entry(daemon, events.Excluded(check.added), message_row))
    entries += [
        events.Entry(daemon, events.AmbiguousName(a.term, a.people), message_row)
        for a in check.ambiguous
    ]
    h = check.handover
    if h is not None:
        entries += [events.Entry(daemon, events.Delegated(d), message_row) for d in h.delegations]
        entries.append(
            events.Entry(daemon, events.Reassigned(h.before, h.after, h.why), message_row)
        )
        ticket.handler, ticket.handler_email = h.after, h.after_email
    ticket.updated_at = at
    add_events(session, ticket.id, at, entries)
    if check.withheld:
        # A reminder queued a moment ago must not reach them either; one already being handed
        # to the server is beyond recall.
        session.execute(
            update(OutboxMail)
            .where(
                OutboxMail.ticket_id == ticket.id,
                OutboxMail.status == "pending",
                func.lower(OutboxMail.recipient).in_([a.lower() for a in check.withheld]),
            )
            .values(status="suppressed", last_error=f"withheld: {WITHHELD}")
        )


def add_event(
    session: Session,
    ticket_id: int,
    at: datetime,
    actor: str,
    detail: events.Detail,
    message_row: int | None = None,
) -> None:
    add_events(session, ticket_id, at, [events.Entry(actor, detail, message_row)])


def link_bounce(
    session: Session, bounced_ids: Iterable[str], message_row: int
) -> OutboxMail | None:
    """Mark the outbox row a bounce reports on; returns it when it is ours."""
    ids = list(bounced_ids)
    if not ids:
        return None
    row = session.scalar(select(OutboxMail).where(OutboxMail.message_id.in_(ids)).limit(1))
    if row is not None and row.bounced_by is None:
        row.bounced_by = message_row
    return row


def quarantine(
    session: Session, raw: RawMail, sha256: str, reason: str, detail: str, now: datetime
) -> Quarantined:
    row = Quarantined(
        **fitted(
            table(Quarantined),
            {
                "sha256": sha256,
                "origin": raw.origin,
                "reason": reason,
                "detail": detail[:4000],
                "received_at": raw.received_at or now,
                "status": "held",
                "raw": raw.data,
            },
        )
    )
    session.add(row)
    session.flush()
    return row


def release_quarantined(session: Session, row_id: int, now: datetime) -> None:
    session.execute(
        update(Quarantined)
        .where(Quarantined.id == row_id)
        .values(status="released", released_at=now)
    )


def hold_again(session: Session, row_id: int, reason: str, detail: str) -> None:
    """A retried message that still cannot be filed: keep it held with the newest reason."""
    session.execute(
        update(Quarantined)
        .where(Quarantined.id == row_id)
        .values(status="held", reason=reason, detail=detail[:4000], released_at=None)
    )


# What the pipeline asks about a sender before it lets a message open or join a ticket.

_held = table(HeldMessage)
_HELD_SEEN = select(_held.c.id).where(_held.c.dedupe_key == bindparam("key"))
_PARTY = (
    select(_messages.c.id)
    .where(
        _messages.c.ticket_id == bindparam("ticket"),
        _messages.c.sender == bindparam("sender"),
        one_of(_messages.c.disposition, ("filed", "followup")),
    )
    .limit(1)
)


@dataclass(frozen=True, slots=True)
class TicketCustomer:
    address: str
    name: str


def ticket_customer(session: Session, ticket: Ticket) -> TicketCustomer:
    row = session.execute(
        select(Customer.address, Customer.name).where(Customer.id == ticket.customer_id)
    ).one()
    return TicketCustomer(row.address, row.name)


def is_customer_address(session: Session, ticket: Ticket, address: str) -> bool:
    """Is this the ticket's customer, or an address the customer's mail on it came from?

    A message filed or joined to the ticket came from its customer (released held messages
    included: the reviewer vouched for them).
    """
    if not address:
        return False
    if ticket_customer(session, ticket).address == address:
        return True
    params = {"ticket": ticket.id, "sender": address}
    return session.connection().execute(_PARTY, params).first() is not None


_RECORDED: CompoundSelect[Any] = union_all(
    select(literal_column("1")).where(_messages.c.dedupe_key == bindparam("key")),
    select(literal_column("1")).where(_held.c.dedupe_key == bindparam("key")),
).limit(1)


def recorded(session: Session, dedupe_key: str) -> bool:
    """Has this message been stored already, filed or held (message_seen or held_seen)?"""
    return session.connection().execute(_RECORDED, {"key": dedupe_key}).first() is not None


def held_seen(session: Session, dedupe_key: str) -> bool:
    return session.connection().execute(_HELD_SEEN, {"key": dedupe_key}).first() is not None


def hold(
    session: Session,
    msg: InboundMessage,
    raw: RawMail,
    ticket_id: int | None,
    reason: str,
    detail: str,
    now: datetime,
) -> int:
    """Keep a message off its ticket for review; returns the held row's id."""
    values = fitted(
        _held,
        {
            "dedupe_key": msg.dedupe_key,
            "message_id": msg.message_id,
            "sender": msg.sender,
            "subject": msg.subject,
            "ticket_id": ticket_id,
            "reason": reason,
            "detail": detail[:4000],
            "origin": raw.origin,
            "received_at": raw.received_at or now,
            "held_at": now,
            "status": "held",
            "decided_at": None,
            "decided_by": "",
            "raw": raw.data,
        },
    )
    row_id: int = (
        session.connection().execute(insert(_held).returning(_held.c.id), values).scalar_one()
    )
    return row_id


def decide_held(session: Session, row: HeldMessage, status: str, by: str, now: datetime) -> None:
    """Mark a held message released or dropped; the row and its bytes stay."""
    row.status = status
    row.decided_at = now
    row.decided_by = by[:320]
