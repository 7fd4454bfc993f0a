"""Queueing notices in the caller's transaction, so a notice is recorded exactly when what it
reports is; and the facts every staff notice gives about a stored ticket."""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from daemon.compose import Composer
from daemon.config import Settings
from daemon.notices import TicketFacts, local_time
from daemon.store import outgoing
from daemon.store.models import Customer, Message, Ticket
from daemon.values import Notice

log = logging.getLogger(__name__)


def daily_cap(recipient: str, settings: Settings) -> outgoing.DailyCap:
    """The day's limit on automatic mail to an address: staff in the org chart get more."""
    address = recipient.strip().lower()
    if any(p.email.strip().lower() == address for p in settings.org.people if p.email):
        return outgoing.DailyCap(settings.outbox.max_staff_notices_per_recipient_per_day, "staff")
    return outgoing.DailyCap(settings.outbox.max_auto_replies_per_recipient_per_day, "customer")


def enqueue(
    session: Session,
    notice: Notice,
    ticket_id: int | None,
    kind: str,
    composer: Composer,
    settings: Settings,
    now: datetime,
) -> outgoing.Enqueued:
    """Render a notice and queue it in the session's transaction, within the daily cap."""
    mail = composer.compose(notice, now, kind)
    local_now = now.astimezone(settings.zone)
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


def ticket_facts(session: Session, ticket: Ticket, settings: Settings) -> TicketFacts:
    """What every staff notice says about a stored ticket (as the filing notices do)."""
    customer = session.get_one(Customer, ticket.customer_id)
    first = session.scalar(
        select(Message.text).where(Message.ticket_id == ticket.id).order_by(Message.id).limit(1)
    )
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
