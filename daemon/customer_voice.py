"""Mail to and from the customer about their ticket, in one voice: the desk's.

Staff answer the customer through the ticket; the daemon tells them the result and asks
whether they are satisfied; their answer closes the loop or opens the ticket again. Every mail
to the customer goes from the desk's address (`[outbox] from_address`), in their thread and their
language, and is audited on the ticket with who had it sent and the outbox row that carries it.
Everything here runs in the caller's transaction.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from daemon import acting, events, notices, notify, quoting, satisfaction, sweeps
from daemon.addresses import addr_spec
from daemon.clocks import ClockKind
from daemon.confidential import Recheck
from daemon.deps import Deps
from daemon.lifecycle import Event, Status
from daemon.replycommands import Satisfaction
from daemon.satisfaction import Reading
from daemon.store import records
from daemon.store.models import Message, Ticket, table
from daemon.values import InboundMessage

log = logging.getLogger(__name__)

ANSWER = "answer"
RESOLUTION = "resolution"
SATISFACTION = "satisfaction"

# How much of an unhappy customer's reply the escalation quotes.
_REPLY_CHARS = 2000


@dataclass(frozen=True, slots=True)
class Told:
    """What became of one mail to the customer."""

    what: str  # ANSWER | RESOLUTION | SATISFACTION
    to: str
    outbox: int | None  # the outbox row; None when nothing was queued
    status: str  # "pending" | "suppressed" (the daily cap) | "not-sent"
    why: str = ""  # why it is not on its way

    @property
    def queued(self) -> bool:
        return self.status == "pending"


def answer_customer(
    session: Session, ticket: Ticket, text: str, deps: Deps, now: datetime, by: str
) -> Told:
    """Queue a staff member's answer to the customer, from the desk, in the ticket's thread."""
    reach = _reach(session, ticket, deps)
    body = notices.Answer(reach.facts, text.strip())
    return _to_customer(session, ticket, reach, body, by, text, deps, now)


def resolved(
    session: Session, ticket: Ticket, result: str, deps: Deps, now: datetime, by: str
) -> None:
    """What the resolution being made at `now` tells the customer, whoever resolved it and
    however: the result (when one was written), then the satisfaction question. Each
    resolution is a new one (a reopened ticket resolved again asks again), so nothing told
    before is looked up."""
    # What both mails need is read once: a resolution by reply is on the staff's hot path.
    reach = _reach(session, ticket, deps)
    if result.strip():
        body = notices.Resolution(reach.facts, result.strip())
        _to_customer(session, ticket, reach, body, by, result, deps, now)
    _ask(session, ticket, reach, now, events.DAEMON, deps, now)


def heard(
    session: Session,
    ticket: Ticket,
    msg: InboundMessage,
    deps: Deps,
    now: datetime,
    mail: bool,
    check: Recheck | None = None,
) -> Reading | None:
    """A customer's follow-up read as their verdict on the result, and applied: satisfied
    records the callback (customer care may close), unsatisfied reopens the ticket and takes it
    one step up the ladder. None when it is no verdict: an ordinary follow-up, whatever it says
    (a customer never issues a staff command)."""
    reading = satisfaction.read(Status(ticket.status), msg.text)
    if reading is None:
        return None
    if check is not None and check.added:
        # Whoever the reply names hears nothing of it, its escalation included; filing stores
        # the same exclusion with its audit entry (records.confine).
        ticket.excluded = list(check.excluded)
    a = reading.answer
    with acting.holding(session, ticket.id) as held:
        verdict(session, held, a, msg.sender, msg.text, deps, now, mail)
    log.info("%s customer answered %s (%s)", ticket.number, a.verdict, a.said)
    return reading


def verdict(
    session: Session,
    held: acting.Held,
    answer: Satisfaction,
    by: str,
    said_in: str,
    deps: Deps,
    now: datetime,
    mail: bool,
) -> acting.ActResult:
    """Apply the customer's verdict on the result, the one path whether they answered the
    question themselves (`by` is their address) or customer care recorded the callback by reply
    (`by` is the staff key): recorded, then satisfied lets customer care close, unsatisfied
    reopens the ticket and takes it one step up the ladder (seed 000, step 7), quoting the
    mail `said_in` without its quotes. Raises InvalidTransition when there is no result to
    judge."""
    reading = satisfaction.reading_of(answer)
    ticket = held.ticket
    records.add_event(
        session,
        ticket.id,
        now,
        by,
        events.Satisfaction(answer.verdict.value, answer.score, answer.said),
    )
    result = acting.act_in(session, deps, held, reading.event, by, reading.cause, now, mail=mail)
    if reading.event is Event.REOPEN:
        reply = quoting.strip_reply(said_in).body[:_REPLY_CHARS]
        callback = held.clocks[ClockKind.CALLBACK]
        sweeps.escalate_unsatisfied(session, ticket, callback, deps, now, answer, reply, mail)
    return result


# -- the shell ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Reach:
    """What every mail to the ticket's customer needs: the facts it tells, where it goes (or
    why it cannot), and the thread it joins."""

    facts: notices.TicketFacts
    address: str
    why: str  # why it cannot be sent; "" when it can
    in_reply_to: str | None
    references: tuple[str, ...]


def _reach(session: Session, ticket: Ticket, deps: Deps) -> _Reach:
    facts = notify.ticket_facts(session, ticket, deps.settings, staff=False)
    address = facts.customer
    why = _undeliverable(address, deps)
    in_reply_to, references = (None, ()) if why else _thread(session, ticket, deps)
    return _Reach(facts, address, why, in_reply_to, references)


def _ask(
    session: Session,
    ticket: Ticket,
    reach: _Reach,
    resolved_at: datetime,
    by: str,
    deps: Deps,
    now: datetime,
) -> Told:
    asked = notices.SatisfactionQuestion(
        reach.facts, notices.local_time(resolved_at, deps.settings.zone)
    )
    return _to_customer(session, ticket, reach, asked, by, "", deps, now)


def _to_customer(
    session: Session,
    ticket: Ticket,
    reach: _Reach,
    body: notices.Body,
    by: str,
    text: str,
    deps: Deps,
    now: datetime,
) -> Told:
    what = body.template
    address = reach.address
    if reach.why:
        log.warning("%s %s not sent to the customer: %s", ticket.number, what, reach.why)
        told = Told(what, address, None, "not-sent", reach.why)
    else:
        language = ticket.language or deps.settings.service.default_language
        # auto_reply: an answer in their thread, so their own robots do not answer it in turn.
        notice = body.letter(
            language,
            address,
            in_reply_to=reach.in_reply_to,
            references=reach.references,
            auto_reply=True,
        )
        queued = notify.enqueue(session, notice, ticket.id, what, deps.composer, deps.settings, now)
        told = Told(what, address, queued.row, queued.status, queued.error)
        log.info("%s %s to the customer by %s: %s", ticket.number, what, by, queued.status)
    mailed = events.CustomerMail(
        what, by, told.to, told.outbox, told.status, text.strip(), told.why
    )
    records.add_event(session, ticket.id, now, by, mailed)
    return told


def _undeliverable(address: str, deps: Deps) -> str:
    """Why mail to the ticket's customer address cannot go; "" when it can."""
    if not address:
        return "the ticket has no customer address"
    if addr_spec(address) != address.lower():
        return f"the customer address {address[:100]!r} is not deliverable"
    if deps.triage.staff_key(address) is not None:
        # A complaint staff logged for a customer without an address of their own.
        return "the customer address is a staff member's"
    return ""


_messages = table(Message)
_THREAD = (
    select(_messages.c.message_id, _messages.c.sender)
    .where(_messages.c.ticket_id == bindparam("ticket"), _messages.c.message_id.is_not(None))
    .order_by(_messages.c.id)
)


def _thread(session: Session, ticket: Ticket, deps: Deps) -> tuple[str | None, tuple[str, ...]]:
    """In-Reply-To (the customer's last message on the ticket) and References (their first and
    last), so their mail client files our mail in their thread."""
    # A plain statement: messages are written as statements, never left pending in the ORM.
    rows = session.connection().execute(_THREAD, {"ticket": ticket.id}).all()
    theirs = [
        r.message_id for r in rows if r.message_id and deps.triage.staff_key(r.sender) is None
    ]
    if not theirs:
        return None, ()
    return theirs[-1], tuple(dict.fromkeys((theirs[0], theirs[-1])))
