"""Queries and writes for tickets, messages, the audit trail and the quarantine."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from daemon.numbering import format_number
from daemon.store.models import (
    Attachment,
    Customer,
    Message,
    OutboxMail,
    Quarantined,
    Ticket,
    TicketCounter,
    TicketEvent,
)
from daemon.values import InboundMessage, RawMail


def message_seen(session: Session, dedupe_key: str) -> bool:
    found = session.scalar(select(Message.id).where(Message.dedupe_key == dedupe_key))
    return found is not None


def quarantine_seen(session: Session, sha256: str) -> bool:
    found = session.scalar(select(Quarantined.id).where(Quarantined.sha256 == sha256))
    return found is not None


def ticket_by_number(session: Session, number: str) -> Ticket | None:
    return session.scalar(select(Ticket).where(Ticket.number == number.upper()))


def thread_ticket(
    session: Session, numbers: Sequence[str], message_ids: Sequence[str]
) -> Ticket | None:
    """The ticket a reply belongs to: by a Message-ID we sent or received, else by subject tag."""
    if message_ids:
        ids = list(message_ids)
        ticket_id = session.scalar(
            select(Message.ticket_id)
            .where(Message.message_id.in_(ids), Message.ticket_id.is_not(None))
            .limit(1)
        )
        if ticket_id is None:
            ticket_id = session.scalar(
                select(OutboxMail.ticket_id)
                .where(OutboxMail.message_id.in_(ids), OutboxMail.ticket_id.is_not(None))
                .limit(1)
            )
        if ticket_id is not None:
            return session.get(Ticket, ticket_id)
    for number in numbers:
        ticket = ticket_by_number(session, number)
        if ticket is not None:
            return ticket
    return None


def next_number(session: Session, prefix: str, period: str, digits: int) -> str:
    """Allocate the next serial of the period; the row lock serialises concurrent instances."""
    insert = (
        postgresql.insert
        if session.bind and session.bind.dialect.name == "postgresql"
        else (sqlite.insert)
    )
    stmt = (
        insert(TicketCounter)
        .values(period=period, last_serial=1)
        .on_conflict_do_update(
            index_elements=[TicketCounter.period],
            set_={"last_serial": TicketCounter.last_serial + 1},
        )
        .returning(TicketCounter.last_serial)
    )
    serial = session.execute(stmt).scalar_one()
    return format_number(prefix, period, serial, digits)


def customer_for(session: Session, address: str, name: str, now: datetime) -> Customer:
    customer = session.scalar(select(Customer).where(Customer.address == address))
    if customer is None:
        customer = Customer(address=address, name=name, created_at=now)
        session.add(customer)
        session.flush()
    elif name and not customer.name:
        customer.name = name
    return customer


def recent_tickets(session: Session, customer_id: int, since: datetime) -> int:
    """How many tickets the customer opened since an instant (repeat-complaint detection)."""
    count = session.scalar(
        select(func.count(Ticket.id)).where(
            Ticket.customer_id == customer_id, Ticket.opened_at >= since
        )
    )
    return int(count or 0)


@dataclass(frozen=True, slots=True)
class Stored:
    row: Message
    attachments_dropped: int  # over the size limit: recorded by name and size only


def store_message(
    session: Session,
    msg: InboundMessage,
    raw: RawMail,
    *,
    ticket_id: int | None,
    disposition: str,
    reason: str,
    max_attachment_bytes: int,
) -> Stored:
    row = Message(
        ticket_id=ticket_id,
        dedupe_key=msg.dedupe_key,
        message_id=msg.message_id,
        sha256=msg.sha256,
        sender=msg.sender,
        sender_name=msg.sender_name,
        subject=msg.subject,
        text=msg.text,
        kind=msg.kind.value,
        disposition=disposition,
        reason=reason,
        notes=list(msg.notes),
        origin=raw.origin,
        sent_at=msg.sent_at,
        received_at=raw.received_at,
        raw=raw.data,
    )
    session.add(row)
    session.flush()
    dropped = 0
    for part in msg.attachments:
        keep = len(part.data) <= max_attachment_bytes
        dropped += not keep
        session.add(
            Attachment(
                message_row=row.id,
                filename=part.filename,
                content_type=part.content_type,
                size=len(part.data),
                data=part.data if keep else None,
            )
        )
    return Stored(row, dropped)


def add_event(
    session: Session,
    ticket_id: int,
    at: datetime,
    actor: str,
    kind: str,
    detail: dict[str, Any] | None = None,
    message_row: int | None = None,
) -> None:
    session.add(
        TicketEvent(
            ticket_id=ticket_id,
            at=at,
            actor=actor,
            kind=kind,
            detail=detail or {},
            message_row=message_row,
        )
    )


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
        sha256=sha256,
        origin=raw.origin,
        reason=reason,
        detail=detail[:4000],
        received_at=raw.received_at or now,
        status="held",
        raw=raw.data,
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
