"""Queueing notices in the caller's transaction, so a notice is recorded exactly when what it
reports is; and the facts every staff notice gives about a stored ticket."""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import datetime

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from daemon.compose import Composer
from daemon.config import Settings
from daemon.notices import TicketFacts, local_time
from daemon.org import Person
from daemon.store import cases, outgoing
from daemon.store.models import Customer, Message, Ticket
from daemon.values import Notice

log = logging.getLogger(__name__)


def staff_member(recipient: str, settings: Settings) -> Person | None:
    """The person in the org chart with this address, if any."""
    address = recipient.strip().lower()
    return next(
        (p for p in settings.org.people if p.email and p.email.strip().lower() == address), None
    )


def daily_cap(recipient: str, settings: Settings) -> outgoing.DailyCap:
    """The day's limit on automatic mail to an address: staff in the org chart get more."""
    if staff_member(recipient, settings) is not None:
        return outgoing.DailyCap(settings.outbox.max_staff_notices_per_recipient_per_day, "staff")
    return outgoing.DailyCap(settings.outbox.max_auto_replies_per_recipient_per_day, "customer")


def in_their_language(notice: Notice, settings: Settings) -> Notice:
    """The notice in the language its reader chose: a person in the org chart reads theirs (or
    the service's default); anyone else, such as a customer, the language they wrote in."""
    person = staff_member(notice.recipient, settings)
    if person is None:
        return notice
    return replace(notice, language=person.language or settings.service.default_language)


def enqueue(
    session: Session,
    notice: Notice,
    ticket_id: int | None,
    kind: str,
    composer: Composer,
    settings: Settings,
    now: datetime,
) -> outgoing.Enqueued:
    """Render a notice in its reader's language and queue it in the session's transaction,
    within the daily cap."""
    notice = in_their_language(notice, settings)
    local_now = now.astimezone(settings.zone)
    mail = composer.compose(notice, local_now, kind)
    day_start = local_now.replace(hour=0, minute=0, second=0, microsecond=0)
    cap = daily_cap(notice.recipient, settings)
    row = outgoing.enqueue(session, mail, ticket_id, now, day_start, cap)
    if row.first_suppressed_today:
        # Once per address and day: a loop must not flood the log as it would have the mailbox.
        log.warning(
            "%s %s to %s suppressed, and further mail to it today: %s",
            notice.ticket,
            kind,
            notice.recipient,
            row.error,
        )
    elif row.status == "suppressed":
        log.debug("%s %s to %s suppressed: %s", notice.ticket, kind, notice.recipient, row.error)
    return row


_FIRST_TEXT = (
    select(Message.text)
    .where(Message.ticket_id == bindparam("ticket"))
    .order_by(Message.id)
    .limit(1)
)


def ticket_facts(
    session: Session, ticket: Ticket, settings: Settings, staff: bool = True
) -> TicketFacts:
    """What every staff notice says about a stored ticket (as the filing notices do); what
    the customer is told (`staff` False) leaves out their complaint's text, which they wrote."""
    # Customers and messages are written as they come, never left pending in the session: the
    # ticket's own pending changes need not be flushed to read them.
    with session.no_autoflush:
        customer = session.get_one(Customer, ticket.customer_id)
        first = session.scalar(_FIRST_TEXT, {"ticket": ticket.id}) if staff else ""
    if first is None:  # a manufacturer's case: its text came in the record, not in a mail
        case = cases.case_of_ticket(session, ticket.id)
        first = case.text if case is not None else None
    return TicketFacts(
        ticket=ticket.number,
        subject=ticket.subject,
        customer=customer.address,
        customer_name=customer.name,
        text=first or "",
        category=ticket.category,
        department=ticket.department,
        severity=ticket.severity,
        opened_at=local_time(ticket.opened_at, settings.zone),
        service_name=settings.outbox.from_name,
    )
