"""Read-only views for the inspection commands, as plain JSON-ready data."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import ColumnElement, Select, Text, exists, func, or_, select
from sqlalchemy import cast as sa_cast
from sqlalchemy.orm import Session

from daemon.clocks import ClockKind
from daemon.store import cases
from daemon.store.models import (
    Attachment,
    Customer,
    HeldMessage,
    Message,
    MissedClock,
    OutboxMail,
    Quarantined,
    Ticket,
    TicketClock,
    TicketEvent,
)

# How a view writes an instant: the caller decides the zone and the form (a listing's text or
# its JSON); left alone, ISO-8601 as stored, in UTC.
Shown = Callable[[datetime | None], str | None]


def _iso(at: datetime | None) -> str | None:
    return at.isoformat() if at is not None else None


@dataclass(frozen=True, slots=True)
class TicketFilter:
    """Which tickets a listing holds; every field left empty matches every ticket."""

    status: str | None = None
    category: str | None = None
    department: str | None = None
    channel: str | None = None
    handlers: tuple[str, ...] = ()  # person keys (a name is resolved to keys by the caller)
    customer: str | None = None  # a substring of the address, name or phone
    case_id: str | None = None  # a manufacturer's case id, whichever manufacturer
    text: str | None = None  # a substring of the subject or of any message's text
    opened_since: datetime | None = None
    opened_until: datetime | None = None  # exclusive
    breached: bool = False  # only tickets with a clock that breached
    major: bool = False  # only major complaints


def _like(term: str) -> str:
    """A LIKE pattern matching `term` anywhere, its own % and _ taken literally."""
    escaped = term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _contains(column: Any, term: str) -> ColumnElement[bool]:
    # ILIKE on PostgreSQL, lower() LIKE lower() on SQLite: ASCII letters fold on both, and
    # Chinese has no case to fold.
    return cast(ColumnElement[bool], column.ilike(_like(term), escape="\\"))


def _digits(term: str) -> str:
    """A phone number as stored in a customer's key (tel:+8613800138000): digits and +."""
    return "".join(ch for ch in term if ch.isdigit() or ch == "+")


def _matching(f: TicketFilter) -> Select[int]:
    """The ids of the tickets `f` lets through."""
    query = select(Ticket.id).join(Customer, Customer.id == Ticket.customer_id)
    for column, value in (
        (Ticket.status, f.status),
        (Ticket.category, f.category),
        (Ticket.department, f.department),
        (Ticket.channel, f.channel),
    ):
        if value:
            query = query.where(column == value)
    case = cases.ManufacturerCase
    if f.handlers:
        query = query.where(Ticket.handler.in_(f.handlers))
    if f.case_id:
        query = query.where(exists().where(case.ticket_id == Ticket.id, case.case_id == f.case_id))
    if f.customer:
        terms = {f.customer}
        phone = _digits(f.customer)
        # A phone written with spaces or dashes still finds the number as stored.
        if len(phone) >= 3 and len(phone) * 2 >= len(f.customer.replace(" ", "")):
            terms.add(phone)
        query = query.where(
            or_(
                *(
                    or_(
                        _contains(Customer.address, term),
                        _contains(Customer.name, term),
                        exists().where(
                            case.ticket_id == Ticket.id,
                            or_(
                                _contains(case.customer_phone, term),
                                _contains(case.customer_name, term),
                                _contains(case.customer_email, term),
                            ),
                        ),
                    )
                    for term in sorted(terms)
                )
            )
        )
    if f.text:
        query = query.where(
            or_(
                _contains(Ticket.subject, f.text),
                exists().where(Message.ticket_id == Ticket.id, _contains(Message.text, f.text)),
            )
        )
    if f.opened_since is not None:
        query = query.where(Ticket.opened_at >= f.opened_since)
    if f.opened_until is not None:
        query = query.where(Ticket.opened_at < f.opened_until)
    if f.breached:
        query = query.where(
            exists().where(TicketClock.ticket_id == Ticket.id, TicketClock.breached_at.is_not(None))
        )
    if f.major:
        # An empty JSON list is stored as the text [] on both databases.
        query = query.where(func.coalesce(sa_cast(Ticket.major, Text), "[]") != "[]")
    return query


def ticket_count(session: Session, f: TicketFilter) -> int:
    """How many tickets `f` matches, whatever a listing's limit."""
    return int(session.scalar(select(func.count()).select_from(_matching(f).subquery())) or 0)


def ticket_list(
    session: Session,
    f: TicketFilter,
    limit: int | None,
    show: Shown = _iso,
) -> list[dict[str, Any]]:
    """The matching tickets, newest first, with every column an export needs."""
    ids = _matching(f).order_by(Ticket.id.desc()).limit(limit).subquery()
    case = cases.ManufacturerCase
    breached = (
        select(TicketClock.ticket_id)
        .where(TicketClock.breached_at.is_not(None))
        .group_by(TicketClock.ticket_id)
        .subquery()
    )
    query = (
        select(Ticket, Customer.address, Customer.name, case.oem, case.case_id, breached.c[0])
        .join(ids, ids.c.id == Ticket.id)
        .join(Customer, Customer.id == Ticket.customer_id)
        .outerjoin(case, case.ticket_id == Ticket.id)
        .outerjoin(breached, breached.c[0] == Ticket.id)
        .order_by(Ticket.id.desc())
    )
    return [
        {
            "number": t.number,
            "status": t.status,
            "customer": address,
            "customer_name": name,
            "subject": t.subject,
            "channel": t.channel,
            "category": t.category,
            "department": t.department,
            "severity": t.severity,
            "major": list(t.major),
            "breached": was_breached is not None,
            "handler": t.handler,
            "manufacturer": oem,
            "case_id": case_id,
            "opened_at": show(t.opened_at),
            "updated_at": show(t.updated_at),
            "closed_at": show(t.closed_at),
        }
        for t, address, name, oem, case_id, was_breached in session.execute(query)
    ]


def ticket_detail(session: Session, number: str, show: Shown = _iso) -> dict[str, Any] | None:
    ticket = session.scalar(select(Ticket).where(Ticket.number == number.upper()))
    if ticket is None:
        return None
    customer = session.get_one(Customer, ticket.customer_id)
    messages = session.scalars(
        select(Message).where(Message.ticket_id == ticket.id).order_by(Message.id)
    ).all()
    attachments = session.scalars(
        select(Attachment).where(Attachment.message_row.in_([m.id for m in messages]))
    ).all()
    by_message: dict[int, list[dict[str, Any]]] = {}
    for a in attachments:
        by_message.setdefault(a.message_row, []).append(
            {
                "filename": a.filename,
                "content_type": a.content_type,
                "size": a.size,
                "stored": a.data is not None,
            }
        )
    events = session.scalars(
        select(TicketEvent).where(TicketEvent.ticket_id == ticket.id).order_by(TicketEvent.id)
    ).all()
    mails = session.scalars(
        select(OutboxMail).where(OutboxMail.ticket_id == ticket.id).order_by(OutboxMail.id)
    ).all()
    clocks = session.scalars(
        select(TicketClock).where(TicketClock.ticket_id == ticket.id).order_by(TicketClock.id)
    ).all()
    return {
        "number": ticket.number,
        "status": ticket.status,
        "customer": {"address": customer.address, "name": customer.name, "tier": customer.tier},
        "subject": ticket.subject,
        "language": ticket.language,
        "channel": ticket.channel,
        "classification": {
            "category": ticket.category,
            "department": ticket.department,
            "severity": ticket.severity,
            "major": list(ticket.major),
            "evidence": list(ticket.evidence),
            "source": ticket.classified_by,
        },
        "assignment": {
            "handler": ticket.handler,
            "handler_email": ticket.handler_email,
            "excluded": list(ticket.excluded),
        },
        # The manufacturer's case the ticket was opened for; None for other tickets.
        "manufacturer": cases.case_view(cases.case_of_ticket(session, ticket.id), show),
        "opened_at": show(ticket.opened_at),
        "updated_at": show(ticket.updated_at),
        "closed_at": show(ticket.closed_at),
        "clocks": [
            {
                "kind": c.kind,
                "rule": c.plan.get("rule", ""),
                "started_at": show(c.started_at),
                "due_at": show(c.due_at),
                "state": clock_state(c),
                "breached_at": show(c.breached_at),
                "steps_sent": c.steps_sent,
                "next_action_at": show(c.next_action_at),
            }
            for c in sorted(clocks, key=_clock_order)
        ],
        "messages": [
            {
                "message_id": m.message_id,
                "from": m.sender,
                "subject": m.subject,
                "text": m.text,
                "disposition": m.disposition,
                "received_at": show(m.received_at),
                "sent_at": show(m.sent_at),
                "notes": list(m.notes),
                "attachments": by_message.get(m.id, []),
            }
            for m in messages
        ],
        "events": [
            {"at": show(e.at), "actor": e.actor, "kind": e.kind, "detail": e.detail} for e in events
        ],
        "outbox": [
            {
                "kind": o.kind,
                "to": o.recipient,
                "status": o.status,
                "message_id": o.message_id,
                "attempts": o.attempts,
                "error": o.last_error,
                "created_at": show(o.created_at),
                "sent_at": show(o.sent_at),
                "bounced": o.bounced_by is not None,
            }
            for o in mails
        ],
    }


_KINDS = [kind.value for kind in ClockKind]


def _clock_order(c: TicketClock) -> int:
    """Clocks in the order of the flow (ClockKind), whatever order they were started in."""
    return _KINDS.index(c.kind) if c.kind in _KINDS else len(_KINDS)


def clock_state(c: TicketClock) -> str:
    """running, paused, breached (running past its due time) or met (stopped)."""
    if c.stopped_at is not None:
        return "met"
    if c.paused_at is not None:
        return "paused"
    return "breached" if c.breached_at is not None else "running"


def missed_report(
    session: Session, since: datetime | None, until: datetime | None
) -> list[dict[str, Any]]:
    """Ledger rows counted per responsible person and clock, breaches in [since, until)."""
    query = select(
        MissedClock.person,
        MissedClock.clock,
        func.count(MissedClock.id),
        func.count(func.distinct(MissedClock.ticket_id)),
        func.sum(MissedClock.overdue_seconds),
    ).group_by(MissedClock.person, MissedClock.clock)
    if since is not None:
        query = query.where(MissedClock.breached_at >= since)
    if until is not None:
        query = query.where(MissedClock.breached_at < until)
    rows = [
        {
            "person": person,
            "clock": clock,
            "missed": int(missed),
            "tickets": int(tickets),
            "overdue_hours": round(float(overdue or 0.0) / 3600, 2),
        }
        for person, clock, missed, tickets, overdue in session.execute(query)
    ]
    return sorted(rows, key=lambda r: (-r["missed"], r["person"], r["clock"]))


def missed_list(
    session: Session, since: datetime | None, until: datetime | None, show: Shown = _iso
) -> list[dict[str, Any]]:
    """Each ledger row with its ticket number, oldest breach first."""
    query = (
        select(MissedClock, Ticket.number)
        .join(Ticket, Ticket.id == MissedClock.ticket_id)
        .order_by(MissedClock.breached_at, MissedClock.id)
    )
    if since is not None:
        query = query.where(MissedClock.breached_at >= since)
    if until is not None:
        query = query.where(MissedClock.breached_at < until)
    return [
        {
            "ticket": number,
            "clock": m.clock,
            "rule": m.rule,
            "person": m.person,
            "due_at": show(m.due_at),
            "breached_at": show(m.breached_at),
            "overdue_hours": round(m.overdue_seconds / 3600, 2),
        }
        for m, number in session.execute(query)
    ]


def quarantine_list(
    session: Session, include_released: bool, show: Shown = _iso
) -> list[dict[str, Any]]:
    query = select(
        Quarantined.id,
        Quarantined.origin,
        Quarantined.reason,
        Quarantined.detail,
        Quarantined.received_at,
        Quarantined.status,
        func.length(Quarantined.raw),
    ).order_by(Quarantined.id)
    if not include_released:
        query = query.where(Quarantined.status == "held")
    return [
        {
            "id": row[0],
            "origin": row[1],
            "reason": row[2],
            "detail": row[3],
            "received_at": show(row[4]),
            "status": row[5],
            "bytes": row[6],
        }
        for row in session.execute(query)
    ]


def outbox_list(
    session: Session, status: str | None, limit: int, show: Shown = _iso
) -> list[dict[str, Any]]:
    query = (
        select(OutboxMail, Ticket.number)
        .outerjoin(Ticket, Ticket.id == OutboxMail.ticket_id)
        .order_by(OutboxMail.id.desc())
        .limit(limit)
    )
    if status:
        query = query.where(OutboxMail.status == status)
    return [
        {
            "id": o.id,
            "ticket": number,
            "kind": o.kind,
            "to": o.recipient,
            "status": o.status,
            "attempts": o.attempts,
            "next_attempt_at": show(o.next_attempt_at),
            "error": o.last_error,
            "subject": o.subject,
            "created_at": show(o.created_at),
            "sent_at": show(o.sent_at),
        }
        for o, number in session.execute(query)
    ]


def quarantine_info(row: Quarantined, show: Shown = _iso) -> dict[str, Any]:
    """One quarantined message as the CLI shows it (without its bytes)."""
    return {
        "id": row.id,
        "status": row.status,
        "reason": row.reason,
        "detail": row.detail,
        "origin": row.origin,
        "received_at": show(row.received_at),
        "bytes": len(row.raw),
        "sha256": row.sha256,
    }


def held_list(session: Session, include_decided: bool, show: Shown = _iso) -> list[dict[str, Any]]:
    query = (
        select(HeldMessage, Ticket.number)
        .outerjoin(Ticket, Ticket.id == HeldMessage.ticket_id)
        .order_by(HeldMessage.id)
    )
    if not include_decided:
        query = query.where(HeldMessage.status == "held")
    return [held_info(row, number, show) for row, number in session.execute(query)]


def held_info(row: HeldMessage, ticket_number: str | None, show: Shown = _iso) -> dict[str, Any]:
    """One held message as the CLI shows it (without its bytes)."""
    return {
        "id": row.id,
        "status": row.status,
        "reason": row.reason,
        "detail": row.detail,
        "sender": row.sender,
        "subject": row.subject,
        "ticket": ticket_number,
        "message_id": row.message_id,
        "origin": row.origin,
        "received_at": show(row.received_at),
        "held_at": show(row.held_at),
        "decided_at": show(row.decided_at),
        "decided_by": row.decided_by,
        "bytes": len(row.raw),
    }
