"""One message through every stage: parse, dedupe, thread, classify, route, file, notify."""

from __future__ import annotations

import hashlib
import logging
import time
import weakref
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.orm import Session

from daemon import authres, clocks, intake, lifecycle, notify
from daemon.clocks import ClockKind, ClockState
from daemon.compose import Composer
from daemon.config import Settings
from daemon.lifecycle import Event, Status
from daemon.numbering import numbers_in, period_of
from daemon.store import Store, clockrows, faults, mailboxes, records
from daemon.store.models import HeldMessage, Ticket
from daemon.triage import Triage
from daemon.values import (
    Assignment,
    Checkpoint,
    Classification,
    Clock,
    Disposition,
    InboundMessage,
    MailKind,
    Notice,
    Outcome,
    RawMail,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Deps:
    """What processing a message needs, built once per (re)load of the config."""

    store: Store
    settings: Settings
    composer: Composer
    triage: Triage
    clock: Clock


@dataclass(frozen=True, slots=True)
class Run:
    """How this message is being processed."""

    send_mail: bool = True  # False for a backfill: record, but queue no mail
    retry_of: int | None = None  # the quarantine row being retried, released once filed
    # Where the message sits in its mailbox: committed with whatever the message produced.
    checkpoint: Checkpoint | None = None


def process(raw: RawMail, deps: Deps, run: Run = Run()) -> Outcome:
    """File one received message; whatever cannot be filed is quarantined, never dropped.

    Raises only when the database cannot be reached: the message stays where it is and the
    source tries it again later. Every other fault decides the message now or, when it might
    pass on a second try (a deadlock, a lock timeout), after at most STRIKES attempts.
    """
    sha256 = hashlib.sha256(raw.data).hexdigest()
    limit = deps.settings.tickets.max_message_bytes
    if len(raw.data) > limit:
        detail = f"{len(raw.data)} bytes, limit {limit}"
        return _quarantine(raw, sha256, "too-large", detail, deps, run)
    began = time.monotonic()
    try:
        msg = intake.parse(raw.data, deps.settings.tickets.message_budget_mb)
    except intake.Unreadable as exc:
        return _quarantine(raw, sha256, exc.reason, exc.detail, deps, run)
    except RecursionError:
        return _quarantine(raw, sha256, "too-deep", "MIME nesting too deep to read", deps, run)
    ident = msg.message_id or sha256[:16]
    try:
        outcome = _file(msg, raw, deps, run)
    except IntegrityError as exc:
        outcome = _after_conflict(msg, raw, sha256, exc, deps, run)
    except DBAPIError as exc:
        outcome = _after_database_error(ident, raw, sha256, exc, deps, run)
    except Exception as exc:
        log.exception("%s could not be filed", ident)
        detail = f"{type(exc).__name__}: {exc}"
        outcome = _quarantine(raw, sha256, "filing-error", detail, deps, run)
    _strikes(deps.store).forget(sha256)
    _check_budget(ident, len(raw.data), time.monotonic() - began, deps)
    return outcome


# A message whose filing fails the same way this many times, with the database answering, is
# quarantined: a fault that might pass (deadlock, lock timeout, a driver limit) gets retries,
# but never holds the mailbox up for ever.
STRIKES = 3


def _after_database_error(
    ident: str, raw: RawMail, sha256: str, exc: DBAPIError, deps: Deps, run: Run
) -> Outcome:
    fault = faults.fault(exc, deps.store)
    reason = faults.error_line(exc)
    if fault is faults.Fault.UNREACHABLE:
        # The outage itself is logged once by whoever runs the source; not per message.
        log.debug("%s not filed, database unreachable: %s", ident, reason)
        raise exc  # the message stays where it is; the source tries it again
    if fault is faults.Fault.UNSTORABLE:
        log.error("%s cannot be stored: %s", ident, reason)
        return _quarantine(raw, sha256, "unstorable", reason, deps, run)
    count = _strikes(deps.store).add(sha256, faults.signature(exc))
    if count >= STRIKES:
        log.error("%s failed %d times the same way, quarantined: %s", ident, count, reason)
        detail = f"failed {count} times: {reason}"
        return _quarantine(raw, sha256, "repeated-failure", detail, deps, run)
    log.warning("%s not filed (attempt %d of %d): %s", ident, count, STRIKES, reason)
    raise exc


def _after_conflict(
    msg: InboundMessage, raw: RawMail, sha256: str, exc: IntegrityError, deps: Deps, run: Run
) -> Outcome:
    """A constraint refused the message: a duplicate filed a moment ago by another worker or
    instance, or a conflict of its own (retried, then quarantined)."""
    with deps.store.transaction() as session:
        seen = records.message_seen(session, msg.dedupe_key)
        if seen and run.checkpoint is not None:
            mailboxes.save_checkpoint(session, run.checkpoint, deps.clock())
    if seen:
        return Outcome(Disposition.DUPLICATE, "duplicate", message_id=msg.message_id)
    ident = msg.message_id or sha256[:16]
    reason = faults.error_line(exc)
    if not faults.is_unique_violation(exc):
        # A check, not-null or foreign-key constraint: this message's data, every time.
        log.error("%s cannot be stored: %s", ident, reason)
        return _quarantine(raw, sha256, "unstorable", reason, deps, run)
    count = _strikes(deps.store).add(sha256, faults.signature(exc))
    if count >= STRIKES:
        log.error("%s refused %d times by a constraint, quarantined: %s", ident, count, reason)
        return _quarantine(raw, sha256, "unstorable", f"failed {count} times: {reason}", deps, run)
    log.warning("%s refused by a constraint (attempt %d of %d): %s", ident, count, STRIKES, reason)
    raise exc  # a race between instances passes on the next try


# One count per database: a reload that opens a new store starts afresh.
_STRIKES: weakref.WeakKeyDictionary[Store, faults.Strikes] = weakref.WeakKeyDictionary()


def _strikes(store: Store) -> faults.Strikes:
    found = _STRIKES.get(store)
    if found is None:
        found = _STRIKES[store] = faults.Strikes()
    return found


def _check_budget(ident: str, size: int, seconds: float, deps: Deps) -> None:
    """Log a message that took longer than its budget: the intake bounds are meant to keep
    every message, however crafted, well inside it."""
    budget = deps.settings.tickets.message_budget_seconds
    if seconds > budget:
        log.warning(
            "%s took %.1f s (%d bytes), over the %.0f s budget", ident, seconds, size, budget
        )


def _file(msg: InboundMessage, raw: RawMail, deps: Deps, run: Run) -> Outcome:
    now = deps.clock()
    ident = msg.message_id or msg.sha256[:16]
    send_mail = run.send_mail
    with deps.store.transaction() as session:
        if run.checkpoint is not None:
            mailboxes.save_checkpoint(session, run.checkpoint, now)
        if run.retry_of is not None:
            records.release_quarantined(session, run.retry_of, now)
        if records.message_seen(session, msg.dedupe_key) or records.held_seen(
            session, msg.dedupe_key
        ):
            log.info("%s duplicate delivery, already recorded", ident)
            return Outcome(Disposition.DUPLICATE, "duplicate", message_id=msg.message_id)
        if msg.kind is not MailKind.PERSONAL:
            return _ignore(session, msg, raw, deps)
        if not msg.sender:
            return _quarantine_in(
                session, raw, msg.sha256, "no-sender", "no From address", deps, run
            )
        if msg.sender == deps.settings.outbox.from_address.lower():
            return _ignore(session, msg, raw, deps, reason="own-mail")
        ticket = records.thread_ticket(
            session,
            numbers_in(msg.subject, deps.settings.tickets.prefix),
            (*msg.in_reply_to, *msg.references),
        )
        forged = _forged(msg, raw, deps)
        if forged is not None:
            return _hold(session, msg, raw, ticket, "dmarc-fail", forged, deps, now)
        if ticket is not None:
            # Naming a ticket is not enough to join it: its numbers are sequential and the
            # Message-IDs it quotes travel in every reply. Only its parties join.
            role, why = _party(session, ticket, msg.sender, deps)
            if role is None:
                detail = _hold_detail(why, msg, ticket)
                return _hold(session, msg, raw, ticket, why, detail, deps, now)
            return _follow_up(session, ticket, msg, raw, deps, now, send_mail, role)
        if deps.triage.staff_key(msg.sender) is not None:
            # Staff write to the intake address about tickets, or their robots answer our
            # notices: neither is a customer's complaint.
            return _ignore(session, msg, raw, deps, reason="staff-mail")
        window = deps.triage.repeat_body_window
        since = now - window
        if window and records.repeats_body(session, msg.sender, msg.subject, msg.text, since):
            # The same mail again from the same sender: a robot answering ours with a fixed
            # subject and text, or a complaint sent twice. Recorded; nothing opened or sent.
            return _ignore(session, msg, raw, deps, reason="repeat-body")
        return _open(session, msg, raw, deps, now, send_mail)


def _forged(msg: InboundMessage, raw: RawMail, deps: Deps) -> str | None:
    """Why our own receiving servers say the From is forged (DMARC failed); None otherwise."""
    trusted = deps.settings.tickets.trusted_authserv_ids
    if not trusted:
        return None
    domain = msg.sender.rpartition("@")[2]
    return authres.dmarc_failure(authres.header_values(raw.data), trusted, domain)


def _party(session: Session, ticket: Ticket, sender: str, deps: Deps) -> tuple[str | None, str]:
    """What the sender is to the ticket ("staff", "customer"), or None and why not."""
    person = deps.triage.staff_key(sender)
    if person is not None:
        # The employee a complaint is about never handles it, nor writes on it.
        return (None, "excluded-staff") if person in ticket.excluded else ("staff", "")
    if records.is_customer_address(session, ticket, sender):
        return "customer", ""
    return None, "not-a-party"


def _hold_detail(why: str, msg: InboundMessage, ticket: Ticket) -> str:
    if why == "excluded-staff":
        return f"{msg.sender} is named in {ticket.number}"
    return f"{msg.sender} is neither the customer of {ticket.number} nor staff"


def _hold(
    session: Session,
    msg: InboundMessage,
    raw: RawMail,
    ticket: Ticket | None,
    reason: str,
    detail: str,
    deps: Deps,
    now: datetime,
) -> Outcome:
    """Keep the message off any ticket until someone reviews it; nobody is mailed."""
    row = records.hold(session, msg, raw, ticket.id if ticket else None, reason, detail, now)
    if ticket is not None:
        event = {"held": row, "reason": reason, "sender": msg.sender}
        records.add_event(session, ticket.id, now, "complaintd", "held", event)
    log.warning(
        "%s held #%d: %s, from %s%s (%s)",
        msg.message_id or msg.sha256[:16],
        row,
        reason,
        msg.sender,
        f", naming {ticket.number}" if ticket else "",
        detail,
    )
    return Outcome(Disposition.HELD, reason, message_id=msg.message_id)


def _ignore(
    session: Session, msg: InboundMessage, raw: RawMail, deps: Deps, reason: str = ""
) -> Outcome:
    reason = reason or msg.kind.value
    message_row = records.store_message(
        session,
        msg,
        raw,
        ticket_id=None,
        disposition=Disposition.IGNORED.value,
        reason=msg.kind_reason or reason,
        max_attachment_bytes=deps.settings.tickets.max_attachment_bytes,
    )
    if msg.kind is MailKind.BOUNCE:
        bounced = records.link_bounce(session, msg.bounced_message_ids, message_row)
        if bounced is not None and bounced.ticket_id is not None:
            records.attach_to_ticket(session, message_row, bounced.ticket_id)
            records.add_event(
                session,
                bounced.ticket_id,
                deps.clock(),
                msg.sender or "mailer-daemon",
                "delivery-failed",
                {"to": bounced.recipient, "mail": bounced.message_id},
                message_row=message_row,
            )
            log.warning(
                "%s bounced: our mail %s to %s",
                msg.message_id,
                bounced.message_id,
                bounced.recipient,
            )
    log.info("%s ignored: %s (%s)", msg.message_id or msg.sha256[:16], reason, msg.kind_reason)
    return Outcome(Disposition.IGNORED, reason, message_id=msg.message_id)


def _follow_up(
    session: Session,
    ticket: Ticket,
    msg: InboundMessage,
    raw: RawMail,
    deps: Deps,
    now: datetime,
    send_mail: bool,
    role: str,
    reason: str = "",
) -> Outcome:
    """Join a message to its ticket; `role` says who wrote it: "customer", "staff", or
    "released" (a held message someone reviewed), and the handler is told which."""
    message_row = records.store_message(
        session,
        msg,
        raw,
        ticket_id=ticket.id,
        disposition=Disposition.FOLLOWUP.value,
        reason=reason,
        max_attachment_bytes=deps.settings.tickets.max_attachment_bytes,
    )
    ticket.updated_at = now
    records.add_event(session, ticket.id, now, msg.sender, "followup", {"role": role}, message_row)
    if send_mail and ticket.handler_email and ticket.handler_email != msg.sender:
        customer = records.ticket_customer(session, ticket)
        context = _ticket_context(ticket, msg, deps) | {
            "sender": msg.sender,
            "sender_role": role,
            "customer": customer.address,
            "customer_name": customer.name,
        }
        notice = Notice(
            template="followup",
            language=deps.settings.service.default_language,
            recipient=ticket.handler_email,
            context=context,
            ticket=ticket.number,
        )
        _enqueue(session, notice, ticket.id, "followup", deps, now)
    log.info("%s joined %s from %s (%s)", ticket.number, msg.message_id, msg.sender, role)
    return Outcome(Disposition.FOLLOWUP, ticket=ticket.number, message_id=msg.message_id)


def _open(
    session: Session,
    msg: InboundMessage,
    raw: RawMail,
    deps: Deps,
    now: datetime,
    send_mail: bool,
) -> Outcome:
    settings = deps.settings
    customer = records.customer_for(session, msg.sender, msg.sender_name, now)
    window = timedelta(days=deps.triage.repeat_window_days)
    since = now - window
    earlier = records.recent_tickets(session, customer.id, since, msg.subject, msg.text)
    classification = deps.triage.classify(msg.subject, msg.text, earlier)
    assignment = deps.triage.assign(classification, "email", intake.written_text(msg), now)
    opening = _opening(classification, assignment, "email", customer.tier, deps, now)
    number = records.next_number(
        session,
        settings.tickets.prefix,
        period_of(now.astimezone(settings.zone)),
        settings.tickets.serial_digits,
    )
    c = classification
    ticket = _TicketRef(number, c.category, c.department, c.severity, now)
    ticket_id = records.insert_ticket(
        session,
        {
            "number": number,
            "status": opening.status.value,
            "customer_id": customer.id,
            "subject": msg.subject,
            "language": classification.language,
            "channel": "email",
            "category": classification.category,
            "department": classification.department,
            "severity": classification.severity,
            "major": list(classification.major),
            "evidence": [
                {"target": e.target, "phrase": e.phrase, "weight": e.weight}
                for e in classification.evidence
            ],
            "classified_by": classification.source,
            "handler": assignment.handler,
            "handler_email": assignment.handler_email,
            "excluded": list(assignment.excluded),
            "opened_at": now,
            "updated_at": now,
            "closed_at": None,
        },
    )
    message_row = records.store_message(
        session,
        msg,
        raw,
        ticket_id=ticket_id,
        disposition=Disposition.FILED.value,
        reason="",
        max_attachment_bytes=settings.tickets.max_attachment_bytes,
    )
    opened = records.Event(msg.sender, "opened", {"subject": msg.subject}, message_row)
    records.add_events(session, ticket_id, now, [opened, *opening.events])
    clockrows.insert_new(session, ticket_id, opening.clocks)
    if send_mail:
        notices = _opening_notices(ticket, msg, classification, assignment, opening.due, deps, now)
        for kind, notice in notices:
            _enqueue(session, notice, ticket_id, kind, deps, now)
    log.info(
        "%s filed from %s <%s>: %s/%s/%s%s, handler %s",
        number,
        msg.message_id,
        msg.sender,
        classification.category,
        classification.department,
        classification.severity,
        f", major {','.join(classification.major)}" if classification.major else "",
        assignment.handler or "(none)",
    )
    return Outcome(Disposition.FILED, ticket=number, message_id=msg.message_id)


def release_held(held_id: int, by: str, deps: Deps) -> Outcome | None:
    """File a held message after review: onto the ticket it names as a follow-up, or as a
    new complaint when it names none. None when no message with that id is held."""
    now = deps.clock()
    with deps.store.transaction() as session:
        row = _held_row(session, held_id)
        if row is None:
            return None
        raw = RawMail(row.raw, row.origin, row.received_at)
        msg = intake.parse(raw.data)
        records.decide_held(session, row, "released", by, now)
        audit = {"held": held_id, "reason": row.reason, "sender": row.sender}
        if records.message_seen(session, msg.dedupe_key):
            outcome = Outcome(Disposition.DUPLICATE, "duplicate", message_id=msg.message_id)
        elif row.ticket_id is None:
            outcome = _open(session, msg, raw, deps, now, send_mail=True)
        else:
            ticket = session.get(Ticket, row.ticket_id)
            assert ticket is not None  # tickets are never deleted
            role, _ = _party(session, ticket, msg.sender, deps)
            outcome = _follow_up(
                session, ticket, msg, raw, deps, now, True, role or "released", "released"
            )
        number = outcome.ticket
        ticket_row = records.ticket_by_number(session, number) if number else None
        if ticket_row is not None:
            records.add_event(session, ticket_row.id, now, by, "held-released", audit)
    log.info("held #%d released by %s: %s %s", held_id, by, outcome.disposition, number or "")
    return outcome


def drop_held(held_id: int, by: str, deps: Deps) -> bool:
    """Decide a held message is nobody's business; its row and bytes stay. False when no
    message with that id is held."""
    now = deps.clock()
    with deps.store.transaction() as session:
        row = _held_row(session, held_id)
        if row is None:
            return False
        records.decide_held(session, row, "dropped", by, now)
        if row.ticket_id is not None:
            audit = {"held": held_id, "reason": row.reason, "sender": row.sender}
            records.add_event(session, row.ticket_id, now, by, "held-dropped", audit)
    log.info("held #%d dropped by %s", held_id, by)
    return True


def _held_row(session: Session, held_id: int) -> HeldMessage | None:
    """The held message, locked so two reviewers cannot both decide it."""
    query = select(HeldMessage).where(HeldMessage.id == held_id).with_for_update()
    row = session.scalar(query)
    return row if row is not None and row.status == "held" else None


@dataclass(frozen=True, slots=True)
class _TicketRef:
    """What the notices of a ticket being opened say about it (a Ticket row has the same)."""

    number: str
    category: str
    department: str
    severity: str
    opened_at: datetime


@dataclass(frozen=True, slots=True)
class _Opening:
    """What opening a ticket does before it is written: its state, clocks and audit entries."""

    status: Status
    clocks: list[tuple[ClockState, datetime | None]]  # each with its next_action_at
    due: dict[ClockKind, datetime]  # the running clocks' due times
    events: list[records.Event]


def _opening(
    c: Classification, a: Assignment, channel: str, tier: str, deps: Deps, now: datetime
) -> _Opening:
    """Open (and assign) the ticket on the state machine; start the clocks that brings."""
    events = [
        records.Event(
            "complaintd",
            "classified",
            {
                "category": c.category,
                "department": c.department,
                "severity": c.severity,
                "major": list(c.major),
                "source": c.source,
            },
        ),
        *(
            records.Event(
                "complaintd",
                "delegated",
                {"absent": d.absent, "deputy": d.deputy, "reason": d.reason},
            )
            for d in a.delegations
        ),
    ]
    if a.excluded:
        events.append(records.Event("complaintd", "excluded", {"people": list(a.excluded)}))
    events.append(
        records.Event(
            "complaintd",
            "assigned",
            {"handler": a.handler, "inform": list(a.inform), "rule": a.rule},
        )
    )
    steps = [Event.OPEN] + ([Event.ASSIGN] if a.handler else [])
    if c.is_major and deps.triage.reports_major(a):
        steps.append(Event.REPORT_MAJOR)  # the general manager is told in this transaction
    plans = {p.kind: p for p in deps.triage.plan(c, channel, tier)}
    calendar = deps.triage.calendar
    running: dict[ClockKind, ClockState] = {}
    status: Status | None = None
    for step in steps:
        entry = lifecycle.record(status, step, "complaintd", now, "new complaint")
        events.append(records.Event(entry.actor, "transition", entry.detail()))
        status = entry.transition.target
        for kind in entry.transition.start:
            if kind in plans:
                running[kind] = clocks.start(plans[kind], now, calendar)
        for kind in entry.transition.stop:
            if kind in running:
                running[kind] = clocks.stop(running[kind], now, calendar).state
    due = {
        kind: state.due_at
        for kind, state in running.items()
        if state.stopped_at is None and state.due_at is not None
    }
    started = [(state, clocks.next_action_at(state, calendar)) for state in running.values()]
    return _Opening(status or Status.NEW, started, due, events)


def _opening_notices(
    ticket: _TicketRef,
    msg: InboundMessage,
    c: Classification,
    a: Assignment,
    due: dict[ClockKind, datetime],
    deps: Deps,
    now: datetime,
) -> list[tuple[str, Notice]]:
    context = _ticket_context(ticket, msg, deps)
    zone = deps.settings.zone
    reply_by = deps.triage.promise(due, now).astimezone(zone)
    notices = [
        (
            "acknowledgement",
            Notice(
                template="acknowledgement",
                language=c.language,
                recipient=msg.answer_address(deps.settings.tickets.answer_reply_to),
                context=context | {"reply_by": reply_by.strftime("%Y-%m-%d %H:%M")},
                ticket=ticket.number,
                in_reply_to=msg.message_id,
                references=msg.references,
                auto_reply=True,
            ),
        )
    ]
    staff_context = context | {
        "evidence": [f"{e.target}: {e.phrase}" for e in c.evidence],
        "major": list(c.major),
        "handler": a.handler,
        "deadlines": [
            f"{kind.value}: {at.astimezone(zone):%Y-%m-%d %H:%M}"
            for kind, at in sorted(due.items(), key=lambda item: item[1])
        ],
    }
    staff_language = deps.settings.service.default_language
    if a.handler_email:
        notices.append(
            (
                "assignment",
                Notice("assignment", staff_language, a.handler_email, staff_context, ticket.number),
            )
        )
    for address in a.inform:
        if address != a.handler_email:
            notices.append(
                ("inform", Notice("inform", staff_language, address, staff_context, ticket.number))
            )
    return notices


def _ticket_context(
    ticket: Ticket | _TicketRef, msg: InboundMessage, deps: Deps
) -> dict[str, object]:
    return {
        "ticket": ticket.number,
        "subject": msg.subject,
        "customer": msg.sender,
        "customer_name": msg.sender_name,
        "text": msg.text,
        "category": ticket.category,
        "department": ticket.department,
        "severity": ticket.severity,
        "opened_at": notify.local_time(ticket.opened_at, deps.settings.zone),
        "service_name": deps.settings.outbox.from_name,
    }


def _enqueue(
    session: Session, notice: Notice, ticket_id: int, kind: str, deps: Deps, now: datetime
) -> None:
    notify.enqueue(session, notice, ticket_id, kind, deps.composer, deps.settings, now)


def _quarantine(
    raw: RawMail, sha256: str, reason: str, detail: str, deps: Deps, run: Run
) -> Outcome:
    with deps.store.transaction() as session:
        if run.checkpoint is not None:
            mailboxes.save_checkpoint(session, run.checkpoint, deps.clock())
        return _quarantine_in(session, raw, sha256, reason, detail, deps, run)


def _quarantine_in(
    session: Session, raw: RawMail, sha256: str, reason: str, detail: str, deps: Deps, run: Run
) -> Outcome:
    if run.retry_of is not None:
        records.hold_again(session, run.retry_of, reason, detail)
        log.warning("quarantine #%d still held: %s (%s)", run.retry_of, reason, detail)
        return Outcome(Disposition.QUARANTINED, reason)
    if records.quarantine_seen(session, sha256):
        return Outcome(Disposition.DUPLICATE, "duplicate")
    row = records.quarantine(session, raw, sha256, reason, detail, deps.clock())
    log.warning("quarantine #%d %s: %s (%s)", row.id, raw.origin, reason, detail)
    return Outcome(Disposition.QUARANTINED, reason)
