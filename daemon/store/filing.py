"""Writing what the pipeline decided about one received message, in the caller's transaction:
a new ticket with its clocks, audit trail and notices; a follow-up; a held or ignored message."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from daemon import events
from daemon.confidential import Recheck
from daemon.opening import Letter, Opening
from daemon.org import Person
from daemon.replycommands import Command
from daemon.store import clockrows, mailboxes, records
from daemon.store.models import OutboxMail, Ticket
from daemon.values import Checkpoint, Disposition, InboundMessage, MailKind, RawMail

# Queues a letter about a ticket in the session's transaction.
Post = Callable[[Session, Letter, int], None]


@dataclass(frozen=True, slots=True)
class Open:
    """File the message as a new complaint."""

    ticket: records.NewTicket
    opening: Opening


@dataclass(frozen=True, slots=True)
class Join:
    """Join the message to its ticket; `role` is who wrote it to the ticket."""

    ticket: Ticket
    role: str  # "customer" | "staff" | "released"
    reason: str = ""  # the stored message's reason: "released" after review
    letters: tuple[Letter, ...] = ()  # the handler's notices, when any are sent
    recheck: Recheck | None = None  # people it names for the first time, and what that moves
    # A staff reply's commands, applied after the message is stored (daemon.replies.apply).
    actor: Person | None = None
    commands: tuple[Command, ...] = ()
    # A staff reply that asked for what cannot be done: (reason, detail) for the audit.
    refused: tuple[str, str] | None = None


@dataclass(frozen=True, slots=True)
class Hold:
    """Keep the message off any ticket until someone reviews it; nobody is mailed."""

    ticket: Ticket | None  # the ticket it names
    reason: str
    detail: str
    letters: tuple[Letter, ...] = ()  # only ever "could not be applied", never ticket content


@dataclass(frozen=True, slots=True)
class Ignore:
    """Record the message; open nothing, send nothing (a bounce is linked to our mail)."""

    reason: str


Decision = Open | Join | Hold | Ignore


@dataclass(frozen=True, slots=True)
class Filed:
    """What filing wrote, for the log."""

    row: int  # the message's (or the held message's) row
    bounced: OutboxMail | None = None  # our mail a bounce reports on


def begin(session: Session, retry_of: int | None, now: datetime) -> None:
    """What filing a message writes first: the quarantine row a retry releases (it rolls back
    with the message if that fails)."""
    if retry_of is not None:
        records.release_quarantined(session, retry_of, now)


def advance(session: Session, checkpoint: Checkpoint | None, now: datetime) -> None:
    """Where the mailbox stands: written once per batch, in the transaction of its messages."""
    if checkpoint is not None:
        mailboxes.save_checkpoint(session, checkpoint, now)


def file(
    session: Session,
    decision: Decision,
    msg: InboundMessage,
    raw: RawMail,
    now: datetime,
    max_attachment_bytes: int,
    post: Post,
) -> Filed:
    """Write one decision about a received message."""
    if isinstance(decision, Hold):
        return _hold(session, decision, msg, raw, now, post)

    def store(ticket_id: int | None, disposition: Disposition, reason: str) -> int:
        return records.store_message(
            session,
            msg,
            raw,
            ticket_id=ticket_id,
            disposition=disposition.value,
            reason=reason,
            max_attachment_bytes=max_attachment_bytes,
        )

    if isinstance(decision, Open):
        ticket_id = records.insert_ticket(session, decision.ticket)
        row = store(ticket_id, Disposition.FILED, "")
        opened = events.Entry(msg.sender, events.Opened(msg.subject), row)
        records.add_events(session, ticket_id, now, [opened, *decision.opening.events])
        clockrows.insert_new(session, ticket_id, decision.opening.clocks)
        for letter in decision.opening.letters:
            post(session, letter, ticket_id)
        return Filed(row)
    if isinstance(decision, Join):
        ticket = decision.ticket
        row = store(ticket.id, Disposition.FOLLOWUP, decision.reason)
        if not decision.commands:
            # Commands stamp and audit the reply with their own changes (replies.apply): one
            # UPDATE and one INSERT, whether they apply or not.
            ticket.updated_at = now
            joined = events.FollowUp(decision.role)
            records.add_event(session, ticket.id, now, msg.sender, joined, row)
        if decision.recheck is not None:
            records.confine(session, ticket, decision.recheck, now, row)
        if decision.refused is not None:
            reason, detail = decision.refused
            ident = msg.message_id or msg.sha256[:16]
            refused = events.ReplyRefused(ident, msg.sender, reason, detail)
            records.add_event(session, ticket.id, now, msg.sender, refused, row)
        for letter in decision.letters:
            post(session, letter, ticket.id)
        return Filed(row)
    row = store(None, Disposition.IGNORED, msg.kind_reason or decision.reason)
    bounced = None
    if msg.kind is MailKind.BOUNCE:
        bounced = records.link_bounce(session, msg.bounced_message_ids, row)
        if bounced is not None and bounced.ticket_id is not None:
            records.attach_to_ticket(session, row, bounced.ticket_id)
            failed = events.DeliveryFailed(bounced.recipient, bounced.message_id)
            actor = msg.sender or "mailer-daemon"
            records.add_event(session, bounced.ticket_id, now, actor, failed, row)
    return Filed(row, bounced)


def _hold(
    session: Session, h: Hold, msg: InboundMessage, raw: RawMail, now: datetime, post: Post
) -> Filed:
    ticket_id = h.ticket.id if h.ticket is not None else None
    row = records.hold(session, msg, raw, ticket_id, h.reason, h.detail, now)
    if ticket_id is not None:
        held = events.Held(row, h.reason, msg.sender)
        records.add_event(session, ticket_id, now, events.DAEMON, held)
        for letter in h.letters:
            post(session, letter, ticket_id)
    return Filed(row)
