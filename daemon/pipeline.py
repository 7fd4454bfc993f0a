"""One message through every stage: parse, dedupe, thread, classify, route, file, notify."""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.orm import Session

from daemon import acting, decide, events, intake, notify, refusal, replies
from daemon.confidential import Recheck
from daemon.deps import Deps, Run
from daemon.feeds import ingest
from daemon.matter import GROUP
from daemon.opening import Letter
from daemon.store import db, deferred, faults, filing, records
from daemon.store.models import HeldMessage, Ticket
from daemon.values import (
    Batch,
    Checkpoint,
    Disposition,
    InboundMessage,
    MailKind,
    Outcome,
    RawMail,
    Received,
)

log = logging.getLogger(__name__)

__all__ = [
    "Read",
    "Reading",
    "drop_held",
    "process",
    "process_batch",
    "read",
    "reading_of",
    "release_held",
]


# A message from a source, filed and answered as it arrives.
LIVE = Run()


@dataclass(frozen=True, slots=True)
class Reading:
    """The limits a message is read within ([tickets] max_message_bytes, message_budget_mb)."""

    max_bytes: int
    budget_mb: int


@dataclass(frozen=True, slots=True)
class Read:
    """A message's bytes read, parsed or refused with a reason. Reading needs no database, so
    it is done outside the transaction, or ahead in another process (sources.readahead)."""

    sha256: str
    seconds: float  # spent reading it, counted against its budget
    msg: InboundMessage | None = None
    refused: tuple[str, str] | None = None  # (reason, detail) when it could not be read

    @property
    def ident(self) -> str:
        return (self.msg.message_id if self.msg else None) or self.sha256[:16]


@dataclass(frozen=True, slots=True)
class _Parsed:
    """A received message and what reading it gave."""

    item: Received
    read: Read


def process(raw: RawMail, deps: Deps, run: Run = LIVE) -> Outcome:
    """File one received message: a batch of one (see process_batch)."""
    batch = process_batch([Received(raw)], deps, run)
    if batch.error is not None:
        raise batch.error
    return batch.outcomes[0]


def process_batch(
    items: Sequence[Received], deps: Deps, run: Run = LIVE, reads: Sequence[Read] | None = None
) -> Batch:
    """File a batch of received messages; whatever cannot be filed is quarantined, never dropped.
    `reads`: the messages already read, in order (sources.readahead); else they are read here.

    The whole batch is one transaction, each message a savepoint in it, so a message that
    fails is rolled back alone and decided in the same transaction; the mailbox checkpoint is
    written once, at the last message committed. Raises, committing nothing, only when the
    database cannot be reached: the messages stay where they are and the source tries them
    again later. A fault that might pass on a second try (a deadlock, a lock timeout) commits
    the messages before it and stops there (Batch.error); after STRIKES such tries the message
    is quarantined.
    """
    if reads is None:
        reading = reading_of(deps)
        reads = [read(item.raw.data, reading) for item in items]
    parsed = [_Parsed(item, r) for item, r in zip(items, reads, strict=True)]
    outcomes, seconds, error = _file_all(parsed, deps, run)
    for p, spent in zip(parsed, seconds, strict=False):
        refusal.settled(p.read.sha256, deps)
        refusal.check_budget(p.read.ident, len(p.item.raw.data), p.read.seconds + spent, deps)
    return Batch(tuple(outcomes), error)


def reading_of(deps: Deps) -> Reading:
    t = deps.settings.tickets
    return Reading(t.max_message_bytes, t.message_budget_mb)


def read(data: bytes, reading: Reading) -> Read:
    """Read one message's bytes; no database involved, so it stays outside the transaction."""
    sha256 = hashlib.sha256(data).hexdigest()
    if len(data) > reading.max_bytes:
        return Read(
            sha256, 0.0, refused=("too-large", f"{len(data)} bytes, limit {reading.max_bytes}")
        )
    began = time.monotonic()
    msg: InboundMessage | None = None
    refused: tuple[str, str] | None = None
    try:
        msg = intake.parse(data, reading.budget_mb)
    except intake.Unreadable as exc:
        refused = (exc.reason, exc.detail)
    except RecursionError:
        refused = ("too-deep", "MIME nesting too deep to read")
    return Read(sha256, time.monotonic() - began, msg, refused)


def _file_all(
    parsed: list[_Parsed], deps: Deps, run: Run
) -> tuple[list[Outcome], list[float], Exception | None]:
    """The batch's one transaction: each message's outcome and filing time, in order, up to
    the first one to be tried again later, and the error that stopped there.

    A batch is first filed straight through, without a savepoint per message, which would
    cost it a tenth of its time; should anything fail, that transaction is rolled back whole
    and the batch filed again with a savepoint per message, so the failure is decided alone.
    """
    if len(parsed) > 1:
        try:
            # The batch's audit entries and clocks are written as it ends, a statement each.
            with deps.store.transaction() as session, deferred.batch(session):
                return _each(session, parsed, deps, run, _file_straight)
        except Exception as exc:  # whatever failed is met again, and decided, below
            if (
                isinstance(exc, DBAPIError)
                and faults.fault(exc, deps.store) is faults.Fault.UNREACHABLE
            ):
                raise  # the database, not a message: nothing to decide, the source tries later
            log.info("batch of %d filed again message by message: %s", len(parsed), exc)
    with deps.store.transaction() as session:
        return _each(session, parsed, deps, run, _file_one)


_Filer = Callable[[Session, _Parsed, Deps, Run], tuple[Outcome | None, Exception | None]]


def _each(
    session: Session, parsed: list[_Parsed], deps: Deps, run: Run, file_one: _Filer
) -> tuple[list[Outcome], list[float], Exception | None]:
    outcomes: list[Outcome] = []
    seconds: list[float] = []
    error: Exception | None = None
    checkpoint: Checkpoint | None = None
    for p in parsed:
        began = time.monotonic()
        outcome, failure = file_one(session, p, deps, run)
        if outcome is None:
            error = failure
            break
        outcomes.append(outcome)
        seconds.append(time.monotonic() - began)
        cp = p.item.checkpoint
        if cp is not None and (checkpoint is None or cp.uid >= checkpoint.uid):
            checkpoint = cp
    filing.advance(session, checkpoint, deps.clock())
    return outcomes, seconds, error


def _file_straight(
    session: Session, p: _Parsed, deps: Deps, run: Run
) -> tuple[Outcome | None, Exception | None]:
    """One message in the batch's transaction itself; any failure fails the batch."""
    return _file(session, p, deps, run), None


def _file_one(
    session: Session, p: _Parsed, deps: Deps, run: Run
) -> tuple[Outcome | None, Exception | None]:
    """One message in a savepoint of its own: its outcome, or None and the error when it is
    to be tried again later. A failure is rolled back to the savepoint, then decided."""
    raw, msg = p.item.raw, p.read.msg
    try:
        with db.savepoint(session):
            return _file(session, p, deps, run), None
    except IntegrityError as exc:
        if msg is None:
            return refusal.after_database_error(
                session, p.read.ident, raw, p.read.sha256, exc, deps, run
            ), exc
        return refusal.after_conflict(session, msg, raw, p.read.sha256, exc, deps, run), exc
    except DBAPIError as exc:
        return refusal.after_database_error(
            session, p.read.ident, raw, p.read.sha256, exc, deps, run
        ), exc
    except Exception as exc:  # noqa: BLE001 (a fault of our own code quarantines the message)
        return refusal.after_failure(session, p.read.ident, raw, p.read.sha256, exc, deps, run), exc


def _file(session: Session, p: _Parsed, deps: Deps, run: Run) -> Outcome:
    """Gather what the database knows, decide, write the decision."""
    raw, msg = p.item.raw, p.read.msg
    if msg is None:
        assert p.read.refused is not None
        reason, detail = p.read.refused
        return refusal.quarantine_in(session, raw, p.read.sha256, reason, detail, deps, run)
    now = raw.received_at if run.as_received else deps.clock()
    filing.begin(session, run.retry_of, now)
    if records.recorded(session, msg.dedupe_key):
        log.info("%s duplicate delivery, already recorded", msg.message_id or msg.sha256[:16])
        return Outcome(Disposition.DUPLICATE, "duplicate", message_id=msg.message_id)
    # A manufacturer's notification (automatic mail included) is a case, never answered.
    fed = ingest.file_mail(session, msg, raw, p.read.sha256, deps, now, run)
    if fed is not None:
        return fed
    if msg.kind is MailKind.PERSONAL and not msg.sender:
        return refusal.quarantine_in(
            session, raw, msg.sha256, "no-sender", "no From address", deps, run
        )
    decision = decide.decide(session, msg, raw, deps, now, run.send_mail)
    return _write(session, decision, msg, raw, deps, now, run.send_mail)


def _write(
    session: Session,
    decision: filing.Decision,
    msg: InboundMessage,
    raw: RawMail,
    deps: Deps,
    now: datetime,
    mail: bool = True,
) -> Outcome:
    """Write the decision in the session's transaction, then say what became of the message;
    a staff reply's commands are applied once it is stored, so their audit names it."""

    def post(session: Session, letter: Letter, ticket_id: int) -> None:
        n = letter.notice
        notify.enqueue(session, n, ticket_id, letter.kind, deps.composer, deps.settings, now)

    limit = deps.settings.tickets.max_attachment_bytes
    filed = filing.file(session, decision, msg, raw, now, limit, post)
    ident = msg.message_id or msg.sha256[:16]
    if isinstance(decision, filing.Open):
        t = decision.ticket
        c, a = t.classification, t.assignment
        log.info(
            "%s filed from %s <%s>: %s/%s/%s%s, handler %s",
            t.number,
            msg.message_id,
            msg.sender,
            c.category,
            c.department,
            c.severity,
            f", major {','.join(c.major)}" if c.major else "",
            a.handler or "(none)",
        )
        for entry in decision.opening.events:
            if isinstance(entry.detail, events.AmbiguousName):
                _log_ambiguous(t.number, entry.detail.term, entry.detail.people)
        for why in a.unheard:
            log.warning("%s major report went to nobody: %s", t.number, why)
        if GROUP in c.major:  # a backfill (no letters) queues no mail for the others either
            mail = decision.opening.letters != ()
            acting.report_group(deps, session, t.matter_key, t.number, now, mail)
        return Outcome(Disposition.FILED, ticket=t.number, message_id=msg.message_id)
    if isinstance(decision, filing.Join):
        number = decision.ticket.number
        log.info("%s joined %s from %s (%s)", number, msg.message_id, msg.sender, decision.role)
        if decision.recheck is not None:
            _log_recheck(number, decision.recheck)
        if decision.commands:
            assert decision.actor is not None  # judged together (decide.staff_reply)
            accepted = replies.Accepted(decision.actor, decision.commands)
            replies.apply(session, decision.ticket, accepted, filed.row, msg, deps, now, mail)
        return Outcome(Disposition.FOLLOWUP, ticket=number, message_id=msg.message_id)
    if isinstance(decision, filing.Hold):
        held = decision.ticket
        log.warning(
            "%s held #%d: %s, from %s%s (%s)",
            ident,
            filed.row,
            decision.reason,
            msg.sender,
            f", naming {held.number}" if held else "",
            decision.detail,
        )
        return Outcome(Disposition.HELD, decision.reason, message_id=msg.message_id)
    bounced = filed.bounced
    if bounced is not None and bounced.ticket_id is not None:
        log.warning(
            "%s bounced: our mail %s to %s", msg.message_id, bounced.message_id, bounced.recipient
        )
    log.info("%s ignored: %s (%s)", ident, decision.reason, msg.kind_reason)
    return Outcome(Disposition.IGNORED, decision.reason, message_id=msg.message_id)


def _log_ambiguous(number: str, term: str, people: tuple[str, ...]) -> None:
    log.warning(
        "%s %r fits %s: all excluded; customer care to check who was meant",
        number,
        term,
        ", ".join(people),
    )


def _log_recheck(number: str, check: Recheck) -> None:
    """What a follow-up's names changed, for the operator following the ticket."""
    if check.added:
        log.info("%s follow-up names %s: excluded from now on", number, ", ".join(check.added))
    for unsure in check.ambiguous:
        _log_ambiguous(number, unsure.term, unsure.people)
    h = check.handover
    if h is not None:
        log.info("%s moved from %s to %s: %s", number, h.before, h.after or "(nobody)", h.why)


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
        audit = events.HeldReleased(held_id, row.reason, row.sender)
        decision: filing.Decision
        if records.message_seen(session, msg.dedupe_key):
            outcome = Outcome(Disposition.DUPLICATE, "duplicate", message_id=msg.message_id)
        else:
            if row.ticket_id is None:
                decision = decide.open_ticket(session, msg, deps, now, mail=True)
            else:
                ticket = session.get(Ticket, row.ticket_id)
                assert ticket is not None  # tickets are never deleted
                role, _ = decide.party(session, ticket, msg.sender, deps)
                decision = decide.join(
                    session, ticket, msg, role or "released", deps, now, True, "released"
                )
            outcome = _write(session, decision, msg, raw, deps, now)
        number = outcome.ticket
        ticket_row = records.ticket_by_number(session, number) if number else None
        if ticket_row is not None:
            records.add_event(session, ticket_row.id, now, by, audit)
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
            audit = events.HeldDropped(held_id, row.reason, row.sender)
            records.add_event(session, row.ticket_id, now, by, audit)
    log.info("held #%d dropped by %s", held_id, by)
    return True


def _held_row(session: Session, held_id: int) -> HeldMessage | None:
    """The held message, locked so two reviewers cannot both decide it."""
    query = select(HeldMessage).where(HeldMessage.id == held_id).with_for_update()
    row = session.scalar(query)
    return row if row is not None and row.status == "held" else None
