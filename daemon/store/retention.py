"""Retention in the database: the closed tickets a run looks at, and carrying out its plan
(daemon.retention decides): raw bytes dropped, customers' personal fields replaced, the audit
trail's entries rewritten under a permit and the run itself recorded on each ticket."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import String, delete, exists, func, insert, or_, select, text, update
from sqlalchemy.orm import Mapped, Session, mapped_column

from daemon import events, retention
from daemon.retention import (
    Identity,
    KeptTicket,
    Plan,
    RetentionPolicy,
    anonymous_address,
    phone_of,
    scrub,
)
from daemon.store import records
from daemon.store.cases import ManufacturerCase
from daemon.store.db import Store
from daemon.store.models import (
    Attachment,
    Base,
    Customer,
    HeldMessage,
    Message,
    OutboxMail,
    Ticket,
    TicketEvent,
)

# Any constant works; it only has to be the same in every instance sharing the database.
_RETENTION_LOCK = 0x72657465
# Mail still to be sent keeps its bytes: the outbox worker sends exactly those.
_UNSENT = ("pending", "sending")
_ANONYMISED_PREFIX = anonymous_address(0)[:-1]


class RedactionPermit(Base):
    """While a row exists (inside one retention transaction only), the audit trail's actor and
    detail may be rewritten; see migration 0012."""

    __tablename__ = "audit_redaction_permits"

    id: Mapped[int] = mapped_column(primary_key=True)
    reason: Mapped[str] = mapped_column(String(80))


@dataclass(frozen=True, slots=True)
class Applied:
    """What one run changed."""

    tickets: tuple[str, ...]  # numbers of the tickets it acted on
    raw_purged: tuple[str, ...]
    anonymised: tuple[str, ...]
    customers: int
    messages: int  # message rows whose raw bytes were dropped
    attachments: int
    outbox: int
    held: int
    events_rewritten: int

    def as_json(self) -> dict[str, object]:
        return {
            "tickets": list(self.tickets),
            "raw_purged": list(self.raw_purged),
            "anonymised": list(self.anonymised),
            "customers": self.customers,
            "messages": self.messages,
            "attachments": self.attachments,
            "outbox": self.outbox,
            "held": self.held,
            "events_rewritten": self.events_rewritten,
        }


def _latest_cutoff(policy: RetentionPolicy, now: datetime) -> datetime | None:
    days = [d for d in (policy.raw_mail_days, policy.anonymise_days) if d is not None]
    return now - timedelta(days=min(days)) if days else None


def kept_tickets(session: Session, policy: RetentionPolicy, now: datetime) -> list[KeptTicket]:
    """Every ticket of each customer with a ticket closed before the policy's nearest cutoff."""
    cutoff = _latest_cutoff(policy, now)
    if cutoff is None:
        return []
    customers = (
        select(Ticket.customer_id)
        .where(Ticket.status == "closed", Ticket.closed_at < cutoff)
        .distinct()
        .scalar_subquery()
    )
    raw_kept = or_(
        exists().where(Message.ticket_id == Ticket.id, func.length(Message.raw) > 0),
        exists().where(
            Message.ticket_id == Ticket.id,
            Attachment.message_row == Message.id,
            Attachment.data.is_not(None),
        ),
        exists().where(
            OutboxMail.ticket_id == Ticket.id,
            OutboxMail.status.not_in(_UNSENT),
            func.length(OutboxMail.raw) > 0,
        ),
        exists().where(
            HeldMessage.ticket_id == Ticket.id,
            HeldMessage.status != "held",
            func.length(HeldMessage.raw) > 0,
        ),
    )
    query = (
        select(Ticket.id, Ticket.number, Ticket.customer_id, Ticket.status, Ticket.closed_at)
        .add_columns(raw_kept, Customer.address)
        .join(Customer, Customer.id == Ticket.customer_id)
        .where(Ticket.customer_id.in_(customers))
        .order_by(Ticket.id)
    )
    return [
        KeptTicket(
            ticket_id,
            number,
            customer_id,
            closed_at if status == "closed" else None,
            bool(kept),
            address.startswith(_ANONYMISED_PREFIX),
        )
        for ticket_id, number, customer_id, status, closed_at, kept, address in session.execute(
            query
        )
    ]


def lock(session: Session) -> None:
    """Serialise runs of several instances: the second sees what the first did."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _RETENTION_LOCK})


def apply(session: Session, plan: Plan, policy: RetentionPolicy, now: datetime) -> Applied:
    """Carry out `plan` in the caller's transaction."""
    purged_ids = [t.ticket_id for t in plan.purge_raw]
    counts = _purge_raw(session, purged_ids)
    rewritten = 0
    for customer_id in plan.anonymise:
        ids = [t.ticket_id for t in plan.anonymised_tickets if t.customer_id == customer_id]
        rewritten += _anonymise(session, customer_id, ids)
    purged = {t.ticket_id for t in plan.purge_raw}
    anonymised = {t.ticket_id for t in plan.anonymised_tickets}
    acted = sorted({*plan.purge_raw, *plan.anonymised_tickets}, key=lambda t: t.ticket_id)
    for t in acted:
        assert t.closed_at is not None  # the plan acts on closed tickets only
        detail = events.RetentionApplied(
            t.ticket_id in purged,
            t.ticket_id in anonymised,
            t.closed_at,
            policy.raw_mail_days,
            policy.anonymise_days,
        )
        records.add_event(session, t.ticket_id, now, events.DAEMON, detail)
    return Applied(
        tuple(t.number for t in acted),
        tuple(t.number for t in plan.purge_raw),
        tuple(t.number for t in plan.anonymised_tickets),
        len(plan.anonymise),
        *counts,
        rewritten,
    )


def _purge_raw(session: Session, ticket_ids: Sequence[int]) -> tuple[int, int, int, int]:
    """Drop the raw bytes of the tickets' messages, attachments, sent mail and decided held
    messages; the rows and their text stay."""
    if not ticket_ids:
        return 0, 0, 0, 0
    mine = select(Message.id).where(Message.ticket_id.in_(ticket_ids)).scalar_subquery()
    statements = (
        update(Message)
        .where(Message.ticket_id.in_(ticket_ids), func.length(Message.raw) > 0)
        .values(raw=b""),
        update(Attachment)
        .where(Attachment.message_row.in_(mine), Attachment.data.is_not(None))
        .values(data=None),
        update(OutboxMail)
        .where(
            OutboxMail.ticket_id.in_(ticket_ids),
            OutboxMail.status.not_in(_UNSENT),
            func.length(OutboxMail.raw) > 0,
        )
        .values(raw=b""),
        update(HeldMessage)
        .where(
            HeldMessage.ticket_id.in_(ticket_ids),
            HeldMessage.status != "held",
            func.length(HeldMessage.raw) > 0,
        )
        .values(raw=b""),
    )
    counts = [
        _rowcount(session.execute(s.execution_options(synchronize_session=False)))
        for s in statements
    ]
    return counts[0], counts[1], counts[2], counts[3]


def _rowcount(result: Any) -> int:
    return int(getattr(result, "rowcount", 0) or 0)


def _anonymise(session: Session, customer_id: int, ticket_ids: Sequence[int]) -> int:
    """Replace the customer's name, address, phone and vehicle wherever their tickets keep them;
    returns how many audit entries were rewritten."""
    customer = session.get_one(Customer, customer_id)
    address = customer.address
    cases = session.scalars(
        select(ManufacturerCase).where(ManufacturerCase.ticket_id.in_(ticket_ids))
    ).all()
    who = Identity(
        address,
        names=tuple(n for n in (customer.name, *(c.customer_name for c in cases)) if n)
        + tuple(c.customer_email for c in cases if c.customer_email),
        phones=tuple(p for p in (phone_of(address), *(c.customer_phone for c in cases)) if p),
        vehicles=tuple(v for c in cases for v in (c.vin, c.plate) if v),
    )
    anonymous = anonymous_address(customer_id)
    customer.address, customer.name = anonymous, ""
    for c in cases:
        c.customer_name = c.customer_phone = c.customer_email = c.vin = c.plate = ""
        c.text = scrub(c.text, who)
    for ticket in session.scalars(select(Ticket).where(Ticket.id.in_(ticket_ids))):
        ticket.subject = scrub(ticket.subject, who)
    for m in session.scalars(select(Message).where(Message.ticket_id.in_(ticket_ids))):
        if _same(m.sender, address):
            m.sender, m.sender_name = anonymous, ""
        m.sender_name = scrub(m.sender_name, who)
        m.subject, m.text, m.notes = scrub(m.subject, who), scrub(m.text, who), scrub(m.notes, who)
    for o in session.scalars(select(OutboxMail).where(OutboxMail.ticket_id.in_(ticket_ids))):
        if _same(o.recipient, address):
            o.recipient = anonymous
        o.subject = scrub(o.subject, who)
    for h in session.scalars(select(HeldMessage).where(HeldMessage.ticket_id.in_(ticket_ids))):
        if _same(h.sender, address):
            h.sender = anonymous
        h.subject, h.detail = scrub(h.subject, who), scrub(h.detail, who)
    session.flush()
    return _rewrite_events(session, ticket_ids, address, anonymous, who)


def _same(a: str, b: str) -> bool:
    return a.strip().lower() == b.strip().lower()


def _rewrite_events(
    session: Session, ticket_ids: Sequence[int], address: str, anonymous: str, who: Identity
) -> int:
    """The audit entries with the customer replaced: only actor and detail change, and only
    while this transaction holds the permit."""
    rows = session.execute(
        select(TicketEvent.id, TicketEvent.actor, TicketEvent.detail).where(
            TicketEvent.ticket_id.in_(ticket_ids)
        )
    ).all()
    changes = list(_changed(rows, address, anonymous, who))
    if not changes:
        return 0
    permit = session.execute(
        insert(RedactionPermit).values(reason="retention").returning(RedactionPermit.id)
    ).scalar_one()
    for row_id, actor, detail in changes:
        session.execute(
            update(TicketEvent)
            .where(TicketEvent.id == row_id)
            .values(actor=actor, detail=detail)
            .execution_options(synchronize_session=False)
        )
    session.execute(delete(RedactionPermit).where(RedactionPermit.id == permit))
    return len(changes)


def _changed(
    rows: Iterable[Any], address: str, anonymous: str, who: Identity
) -> Iterable[tuple[int, str, dict[str, Any]]]:
    for row_id, actor, detail in rows:
        new_actor = anonymous if _same(actor, address) else scrub(actor, who)
        new_detail = scrub(detail, who)
        if new_actor != actor or new_detail != detail:
            yield row_id, new_actor, new_detail


class _Rehearsed(Exception):
    """Leaves a dry run's transaction, rolled back, with what it would have done."""

    def __init__(self, applied: Applied) -> None:
        super().__init__("dry run")
        self.applied = applied


def run(store: Store, policy: RetentionPolicy, now: datetime, dry_run: bool = False) -> Applied:
    """One retention run over the whole database, in one transaction. A dry run does all of it
    and rolls it back, so its counts are exactly what a real run would change."""
    try:
        with store.transaction() as session:
            lock(session)
            plan = retention.plan(policy, kept_tickets(session, policy, now), now)
            applied = apply(session, plan, policy, now)
            if dry_run:
                raise _Rehearsed(applied)
    except _Rehearsed as rehearsed:
        return rehearsed.applied
    return applied
