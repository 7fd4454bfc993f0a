"""Manufacturer records into tickets: one ticket per (oem, case_id), whichever feed or file the
case comes through. A new case opens a ticket on the manufacturer's clock (started at dispatch);
a later record that changes the case updates it, audited; the same record again changes
nothing; a bad record is quarantined with the feed, the raw record and the reason, and the rest
are imported. What the manufacturer's status words mean (the feed's `statuses`) acts on the
ticket: closed closes it, escalated raises it, a re-survey settles a zero-complaint case.
A portal's notification mail is filed here too (file_mail), from the pipeline."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from daemon import acting, authres, clocks, events, notify, opening, refusal
from daemon.clocks import ClockKind
from daemon.deps import Deps, Run
from daemon.feeds import folder
from daemon.feeds.folder import SourceRecord
from daemon.feeds.mailfeed import MailShape, extract, recognises
from daemon.feeds.records import (
    CLOSE_PATH,
    FEED_ORIGIN,
    MANUFACTURER_FIELDS,
    CaseUpdated,
    FeedCase,
    FeedShape,
    Meaning,
    Rejection,
    ZeroComplaint,
    ZeroComplaintResult,
    deadline_plan,
    meaning_of,
    merged,
    raw_json,
    read_record,
    replanned,
    resurvey_result,
    with_deadline,
)
from daemon.feeds.settings import FeedSettings
from daemon.lifecycle import Status
from daemon.matter import matter_key
from daemon.notices import TicketFacts, local_time
from daemon.numbering import period_of
from daemon.store import clockrows, db, records
from daemon.store.cases import FeedState, ManufacturerCase
from daemon.store.models import Customer, Ticket
from daemon.values import Disposition, InboundMessage, Outcome, RawMail

log = logging.getLogger(__name__)

# Existing cases are looked up this many case ids at a time.
_LOOKUP_CHUNK = 500


@dataclass(frozen=True, slots=True)
class ImportReport:
    """What one import (a file, a poll) did."""

    feed: str
    source: str
    imported: int = 0  # new cases, each a new ticket
    updated: int = 0  # known cases the manufacturer changed
    unchanged: int = 0  # known cases described as before
    refused: int = 0  # records quarantined (or already quarantined)
    tickets: tuple[str, ...] = field(default=())  # the new tickets' numbers, in order


def shape_of(feed: FeedSettings, deps: Deps) -> FeedShape:
    return FeedShape(
        feed=feed.name,
        oem=feed.oem,
        fields=dict(feed.fields),
        zone=deps.settings.zone,
        levels=feed.levels,
        zero_complaint_max_score=feed.zero_complaint_max_score,
        strict_columns=feed.extra_columns == "quarantine",
    )


def actor(feed: FeedSettings) -> str:
    """Who the audit trail says wrote a feed's entries."""
    return f"feed:{feed.name}"


def ingest(
    items: Sequence[SourceRecord], feed: FeedSettings, deps: Deps, source: str, mail: bool = True
) -> ImportReport:
    """File every record of one import in one transaction, each in a savepoint of its own."""
    now = deps.clock()
    with deps.store.transaction() as session:
        return ingest_in(session, items, feed, deps, source, now, mail).report


# Keeps a refused record (1) or finds it kept already (0).
Refuse = Callable[[Session, SourceRecord, Rejection], int]


@dataclass(frozen=True, slots=True)
class Filed:
    """What ingest_in did: the report, and the ticket of each case filed, in record order."""

    report: ImportReport
    ticket_ids: tuple[int, ...]
    rejections: tuple[tuple[SourceRecord, Rejection], ...]


def ingest_in(
    session: Session,
    items: Sequence[SourceRecord],
    feed: FeedSettings,
    deps: Deps,
    source: str,
    now: datetime,
    mail: bool = True,
    refuse: Refuse | None = None,
) -> Filed:
    """ingest() in the caller's transaction; `refuse` keeps a refused record (default: the
    quarantine, with the record as JSON)."""
    shape = shape_of(feed, deps)

    def quarantined(session: Session, item: SourceRecord, why: Rejection) -> int:
        return _quarantine(session, feed, item, why, now)

    keep = refuse or quarantined
    read = [(item, read_record(item.data, shape)) for item in items]
    cases = [c for _, c in read if isinstance(c, FeedCase)]
    imported = updated = unchanged = refused = 0
    quarantined_new = 0
    numbers: list[str] = []
    ticket_ids: list[int] = []
    rejections: list[tuple[SourceRecord, Rejection]] = []
    known = _known(session, feed.oem, {c.case_id for c in cases})
    for item, result in read:
        if isinstance(result, Rejection):
            refused += 1
            rejections.append((item, result))
            quarantined_new += keep(session, item, result)
            continue
        found = known.get(result.case_id)
        if found is not None and found.digest == result.digest():
            unchanged += 1
            ticket_ids.append(found.ticket_id)
            continue
        try:
            with db.savepoint(session):
                if found is None:
                    row, number = _open(session, result, feed, deps, now, mail)
                else:
                    row = session.get_one(ManufacturerCase, found.row_id)
                    changed = _update(session, row, result, feed, deps, now)
            # Committed to the savepoint: the same case later in this import is known.
            known[result.case_id] = _Known(row.id, row.digest, row.ticket_id)
            ticket_ids.append(row.ticket_id)
            if found is None:
                numbers.append(number)
                imported += 1
            elif changed:
                updated += 1
            else:
                unchanged += 1
        except Exception as exc:  # a fault of our own code: the record is quarantined
            log.exception("feed %s: %s could not be filed", feed.name, item.where)
            refused += 1
            failure = Rejection("failed", f"{type(exc).__name__}: {exc}")
            rejections.append((item, failure))
            quarantined_new += keep(session, item, failure)
    newest = max((c.dispatched_at for c in cases), default=None)
    _count(session, feed.name, source, now, imported, updated, quarantined_new, newest)
    report = ImportReport(feed.name, source, imported, updated, unchanged, refused, tuple(numbers))
    log.info(
        "feed %s: %s: %d new, %d updated, %d unchanged, %d quarantined",
        feed.name,
        source,
        imported,
        updated,
        unchanged,
        refused,
    )
    return Filed(report, tuple(ticket_ids), tuple(rejections))


def record_failure(deps: Deps, feed: str, source: str, error: str) -> None:
    """A file (or poll) that yielded no records: its feed's last error."""
    now = deps.clock()
    with deps.store.transaction() as session:
        _failed(session, feed, source, error, now)


def _failed(session: Session, feed: str, source: str, error: str, now: datetime) -> None:
    """The feed's last error; it has been failing since its first error after a success."""
    state = _state(session, feed)
    state.last_error = f"{source}: {error}"[:4000]
    state.last_error_at = now
    if state.failing_since is None:
        state.failing_since = now


@dataclass(frozen=True, slots=True)
class _Known:
    """A stored case, as much of it as telling a repeat from a change needs."""

    row_id: int
    digest: str
    ticket_id: int


def _known(session: Session, oem: str, case_ids: Iterable[str]) -> dict[str, _Known]:
    ids = sorted(case_ids)
    out: dict[str, _Known] = {}
    for start in range(0, len(ids), _LOOKUP_CHUNK):
        chunk = ids[start : start + _LOOKUP_CHUNK]
        query = select(
            ManufacturerCase.case_id,
            ManufacturerCase.id,
            ManufacturerCase.digest,
            ManufacturerCase.ticket_id,
        ).where(ManufacturerCase.oem == oem, ManufacturerCase.case_id.in_(chunk))
        out.update(
            (case_id, _Known(row_id, digest, ticket_id))
            for case_id, row_id, digest, ticket_id in session.execute(query)
        )
    return out


def _quarantine(
    session: Session, feed: FeedSettings, item: SourceRecord, why: Rejection, now: datetime
) -> int:
    """Keep a refused record with the feed, where it came from and why; 1 when newly kept, 0
    when the same record of the same feed is already held."""
    data = raw_json(item.data).encode("utf-8")
    sha256 = hashlib.sha256(feed.name.encode() + b"\0" + data).hexdigest()
    if records.quarantine_seen(session, sha256):
        return 0
    origin = f"{FEED_ORIGIN}{feed.name}: {item.where}"
    records.quarantine(
        session,
        RawMail(data, origin, now),
        sha256,
        why.reason,
        f"feed {feed.name}: {why.detail}",
        now,
    )
    log.warning("feed %s: %s quarantined: %s (%s)", feed.name, item.where, why.reason, why.detail)
    return 1


def _subject(case: FeedCase) -> str:
    first = case.text.strip().splitlines()[0][:60] if case.text.strip() else ""
    return f"{case.oem} {case.case_id}" + (f" {first}" if first else "")


def _customer_address(case: FeedCase) -> str:
    """The customer's key: their address when the case gives one, else their phone number,
    else the case itself; never the manufacturer's portal."""
    if case.customer_email:
        return case.customer_email
    if case.customer_phone:
        return f"tel:{case.customer_phone}"
    return f"case:{case.oem}:{case.case_id}"


def _open(
    session: Session, case: FeedCase, feed: FeedSettings, deps: Deps, now: datetime, mail: bool
) -> tuple[ManufacturerCase, str]:
    """A new case: a ticket on the channel `manufacturer`, classified and routed as any
    complaint, its clocks started at dispatch."""
    triage, settings, t = deps.triage, deps.settings, deps.settings.tickets
    address = _customer_address(case)
    customer = records.customer_for(session, address, case.customer_name, now)
    subject = _subject(case)
    text = "\n".join(x for x in (case.model, case.text) if x)
    since = now - timedelta(days=triage.repeat_window_days)
    earlier = records.recent_tickets(session, customer.id, since, subject, text)
    c = triage.classify(subject, text, earlier)
    matter = matter_key(subject, text, c, t.vehicle_models, t.matters)
    others = records.others_same_matter(session, matter, customer.id, since)
    if others:
        c = triage.classify(subject, text, earlier, others)
    a = triage.assign(c, "manufacturer", text, now)
    facts = clocks.TicketFacts(
        "manufacturer", c.category, c.severity, customer.tier, c.is_major, case.oem, case.level
    )
    plans = clocks.plan_clocks(facts, triage.clock_settings)
    if case.deadline is not None:
        plans = with_deadline(plans, case.dispatched_at, case.deadline, triage.clock_settings)
    number = records.next_number(
        session, t.prefix, period_of(now.astimezone(settings.zone)), t.serial_digits
    )
    ticket_facts = TicketFacts(
        ticket=number,
        subject=subject,
        customer=address,
        customer_name=case.customer_name,
        text=case.text,
        category=c.category,
        department=c.department,
        severity=c.severity,
        opened_at=local_time(now, settings.zone),
        service_name=settings.outbox.from_name,
    )
    acknowledge = feed.acknowledge and bool(case.customer_email)
    decided = opening.decide(
        c,
        a,
        plans,
        c.is_major and triage.reports_major(a),
        ticket_facts,
        opening.Mail(case.customer_email, None, ()),
        opening.Policy(
            triage.calendar,
            settings.zone,
            settings.service.default_language,
            mail,
            triage.promise,
            {p.key: p.name for p in settings.org.people},
        ),
        case.dispatched_at,  # the manufacturer's clock runs from dispatch, not our receipt
    )
    letters = [x for x in decided.letters if acknowledge or x.kind != "acknowledgement"]
    status = decided.status.value
    new = records.NewTicket(number, status, customer.id, subject, "manufacturer", c, a, now, matter)
    ticket_id = records.insert_ticket(session, new)
    opened = events.Entry(actor(feed), events.Opened(subject))
    records.add_events(session, ticket_id, now, [opened, *decided.events])
    clockrows.insert_new(session, ticket_id, decided.clocks)
    for letter in letters:
        n = letter.notice
        notify.enqueue(session, n, ticket_id, letter.kind, deps.composer, settings, now)
    row = ManufacturerCase(
        oem=case.oem,
        case_id=case.case_id,
        ticket_id=ticket_id,
        feed=feed.name,
        digest=case.digest(),
        created_at=now,
        updated_at=now,
        **_fields(case),
    )
    session.add(row)
    session.flush()
    return row, number


def _fields(case: FeedCase) -> dict[str, object]:
    return {name: getattr(case, name) for name in MANUFACTURER_FIELDS}


def _update(
    session: Session,
    row: ManufacturerCase,
    case: FeedCase,
    feed: FeedSettings,
    deps: Deps,
    now: datetime,
) -> bool:
    """The manufacturer changed the case (False when, merged with what we know, it did not):
    its fields on the ticket follow, audited; a new
    deadline moves the close clock; a status the feed's table gives a meaning acts on the
    ticket (closed, escalated); a re-survey settles a zero-complaint case."""
    before = {name: getattr(row, name) for name in MANUFACTURER_FIELDS}
    case = merged(case, before, feed.zero_complaint_max_score)
    changed = case.changes(before)
    if not changed:
        row.digest = case.digest()
        return False  # a partial record (a short notification) saying nothing new
    for name, value in _fields(case).items():
        setattr(row, name, value)
    row.digest = case.digest()
    row.feed = feed.name
    row.updated_at = now
    ticket = session.get_one(Ticket, row.ticket_id)
    ticket.updated_at = now
    detail = CaseUpdated(feed.name, case.case_id, tuple((k, o, n) for k, (o, n) in changed.items()))
    entries = [events.Entry(actor(feed), detail)]
    if "level" in changed:
        entries += _replan(session, ticket, case, deps, feed)
    if "deadline" in changed and case.deadline is not None:
        entries += _move_close(session, row.ticket_id, case.deadline, deps, feed)
    meaning = meaning_of(case.status, feed.statuses) if "status" in changed else None
    result = resurvey_result(case, meaning, feed.zero_complaint_max_score)
    if result is not None and row.zero_complaint_result != result.value:
        entries.append(_settle_zero_complaint(row, case, result, feed, deps, now))
    if meaning is Meaning.ESCALATED:
        entries += _raise_severity(ticket, deps, feed)
    records.add_events(session, row.ticket_id, now, entries)
    if meaning is Meaning.CLOSED:
        _close(session, ticket, case, feed, deps, now)
    return True


def _settle_zero_complaint(
    row: ManufacturerCase,
    case: FeedCase,
    result: ZeroComplaintResult,
    feed: FeedSettings,
    deps: Deps,
    now: datetime,
) -> events.Entry:
    """The re-survey's verdict on the case, and the fine for a failure, kept for the reports."""
    penalty = zero_complaint_penalty(deps) if result is ZeroComplaintResult.FAILURE else None
    row.zero_complaint_result = result.value
    row.zero_complaint_penalty = penalty
    row.resurveyed_at = now
    log.info(
        "feed %s: case %s zero-complaint %s%s",
        feed.name,
        case.case_id,
        result.value,
        f", penalty {penalty:g}" if penalty is not None else "",
    )
    return events.Entry(
        actor(feed),
        ZeroComplaint(
            feed.name,
            case.case_id,
            result.value,
            case.survey_score,
            case.resurvey_score,
            penalty,
        ),
    )


def zero_complaint_penalty(deps: Deps) -> float:
    """The fine for a failed zero-complaint case: [reports.penalties] zero_complaint_failure
    (seed 000: 3000)."""
    return float(deps.settings.reports.penalties.zero_complaint_failure)


def _raise_severity(ticket: Ticket, deps: Deps, feed: FeedSettings) -> list[events.Entry]:
    """The manufacturer escalated the case: one severity level up, as a late ticket moves."""
    scale = deps.settings.classifier.severity_scale
    raised = clocks.raise_level(ticket.severity, scale)
    if raised == ticket.severity:
        return []  # already at the top, or a level the scale does not know
    log.info(
        "%s severity %s -> %s: escalated by %s", ticket.number, ticket.severity, raised, feed.oem
    )
    upgraded = events.SeverityUpgraded(ticket.severity, raised, "manufacturer")
    ticket.severity = raised
    return [events.Entry(actor(feed), upgraded)]


def _close(
    session: Session,
    ticket: Ticket,
    case: FeedCase,
    feed: FeedSettings,
    deps: Deps,
    now: datetime,
) -> None:
    """The manufacturer closed the case: the ticket closes the way `tickets act` closes it,
    each step audited with the feed as the actor. A ticket nobody has worked yet stays open."""
    status = Status(ticket.status)
    if status is Status.CLOSED:
        return
    path = CLOSE_PATH.get(status)
    if path is None:
        log.warning(
            "%s stays %s: %s closed case %s before anyone contacted the customer",
            ticket.number,
            ticket.status,
            feed.oem,
            case.case_id,
        )
        return
    cause = f"closed by the manufacturer ({feed.oem} case {case.case_id}: {case.status})"
    with acting.holding(session, ticket.id) as held:
        for event in path:
            # The manufacturer asked its customer already: no satisfaction mail of ours.
            acting.act_in(session, deps, held, event, actor(feed), cause, now, mail=False)


def _replan(
    session: Session, ticket: Ticket, case: FeedCase, deps: Deps, feed: FeedSettings
) -> list[events.Entry]:
    """The manufacturer changed the case's level: its running clocks are counted again from
    dispatch on the allowances that level has in [[clocks.rules]] (e.g. 升级 8 h, 重要 4 h)."""
    triage = deps.triage
    customer = session.get_one(Customer, ticket.customer_id)
    facts = clocks.TicketFacts(
        "manufacturer",
        ticket.category,
        ticket.severity,
        customer.tier,
        bool(ticket.major),
        case.oem,
        case.level,
    )
    plans = {p.kind.value: p for p in clocks.plan_clocks(facts, triage.clock_settings)}
    if case.deadline is not None:
        plans.pop(ClockKind.CLOSE.value, None)  # the manufacturer's own deadline wins for closing
    why = f"the manufacturer's level changed to {case.level or '(none)'}"
    return _move(
        session, ticket.id, lambda state: plans.get(state.plan.kind.value), why, deps, feed
    )


def _move_close(
    session: Session, ticket_id: int, deadline: datetime, deps: Deps, feed: FeedSettings
) -> list[events.Entry]:
    def plan(state: clocks.ClockState) -> clocks.ClockPlan | None:
        if state.plan.kind is not ClockKind.CLOSE:
            return None
        return deadline_plan(state.plan, state.started_at, deadline)

    return _move(session, ticket_id, plan, "the manufacturer's deadline changed", deps, feed)


def _move(
    session: Session,
    ticket_id: int,
    plan_for: Callable[[clocks.ClockState], clocks.ClockPlan | None],
    why: str,
    deps: Deps,
    feed: FeedSettings,
) -> list[events.Entry]:
    """The ticket's running clocks counted again from dispatch on their new plans (None: the
    clock stays), each move audited."""
    calendar = deps.triage.calendar
    entries: list[events.Entry] = []
    for clock in clockrows.of_ticket(session, ticket_id):
        before = clockrows.state_of(clock)
        plan = plan_for(before)
        if plan is None:
            continue
        moved = replanned(before, plan, calendar)
        if moved is None or before.due_at is None or moved.due_at is None:
            continue
        clockrows.write(clock, moved, clocks.next_action_at(moved, calendar))
        audit = events.ClockMoved(clock.kind, plan.rule, before.due_at, moved.due_at, (why,))
        entries.append(events.Entry(actor(feed), audit))
    return entries


def _state(session: Session, feed: str) -> FeedState:
    state = session.get(FeedState, feed, with_for_update=True)
    if state is None:
        state = FeedState(
            feed=feed, last_source="", imported=0, updated=0, quarantined=0, last_error=""
        )
        session.add(state)
        session.flush()
    return state


def _count(
    session: Session,
    feed: str,
    source: str,
    now: datetime,
    imported: int,
    updated: int,
    quarantined: int,
    newest: datetime | None,
) -> None:
    state = _state(session, feed)
    state.last_import_at = now
    state.last_source = source
    state.imported += imported
    state.updated += updated
    state.quarantined += quarantined
    if newest is not None and (
        state.newest_dispatched_at is None or newest > state.newest_dispatched_at
    ):
        state.newest_dispatched_at = newest
    state.last_error = ""
    state.last_error_at = None
    state.failing_since = None


def drain_folder(
    feed: FeedSettings,
    deps: Deps,
    should_stop: Callable[[], bool],
    on_file: Callable[[], None] = lambda: None,
    settle_seconds: float = 2.0,
) -> int:
    """Import every export waiting in a folder feed, oldest first; returns how many files were
    handled. A file moves to done/ only after its records are committed, and an unreadable one
    to failed/ with its reason; when the database fails the file stays for the next look and
    the error goes to the caller, who retries."""
    # A fresh install has no drop folder yet; a path that cannot be one fails the worker.
    feed.folder.mkdir(parents=True, exist_ok=True)
    handled = 0
    for path in folder.waiting(feed.folder, settle_seconds):
        if should_stop():
            break
        try:
            items = folder.read_file(path)
        except (folder.Unreadable, OSError) as exc:
            record_failure(deps, feed.name, path.name, str(exc))
            folder.move_failed(path, feed.failed, str(exc), deps.clock())
            log.warning("feed %s: %s moved to %s: %s", feed.name, path.name, feed.failed, exc)
        else:
            ingest(items, feed, deps, path.name)
            folder.move_done(path, feed.done)
        handled += 1
        on_file()
    return handled


# -- notification mails ---------------------------------------------------------------------------


def mail_shape(feed: FeedSettings) -> MailShape:
    return MailShape(feed.name, feed.senders, feed.subjects, dict(feed.fields), dict(feed.patterns))


def mail_feed(msg: InboundMessage, raw: RawMail, deps: Deps) -> FeedSettings | None:
    """The mail feed whose notification this is, if any. A sender our receiving servers say is
    forged (DMARC failed) is nobody's feed: its mail goes the way of any other, to be held."""
    feeds = [f for f in deps.settings.feeds if f.kind == "mail"]
    found = next((f for f in feeds if recognises(mail_shape(f), msg.sender, msg.subject)), None)
    trusted = deps.settings.tickets.trusted_authserv_ids
    if found is not None and trusted:
        domain = msg.sender.rpartition("@")[2]
        if authres.dmarc_failure(authres.header_values(raw.data), trusted, domain) is not None:
            return None
    return found


def file_mail(
    session: Session,
    msg: InboundMessage,
    raw: RawMail,
    sha256: str,
    deps: Deps,
    now: datetime,
    run: Run,
) -> Outcome | None:
    """A manufacturer's notification mail filed as the records it announces, one ticket per
    case, in the caller's transaction; never answered. None when no mail feed recognises it.
    A mail that announces no readable case is quarantined with its bytes and the reason (and
    any good cases in it filed); `quarantine retry` reads it again after the feed is fixed."""
    feed = mail_feed(msg, raw, deps)
    if feed is None:
        return None
    ident = msg.message_id or sha256[:16]
    found = extract(mail_shape(feed), raw.data, msg.text)
    if isinstance(found, Rejection):
        return _refuse_mail(session, feed, raw, sha256, ident, found, deps, now, run)
    items = [SourceRecord(f"mail {ident}", data) for data in found]

    def held(session: Session, item: SourceRecord, why: Rejection) -> int:
        return 0  # the whole mail is kept below, with its bytes

    filed = ingest_in(session, items, feed, deps, f"mail {ident}", now, run.send_mail, held)
    if filed.rejections:
        _, first = filed.rejections[0]
        return _refuse_mail(session, feed, raw, sha256, ident, first, deps, now, run)
    report = filed.report
    ticket_id = filed.ticket_ids[0]
    disposition = Disposition.FILED if report.imported else Disposition.FOLLOWUP
    records.store_message(
        session,
        msg,
        raw,
        ticket_id=ticket_id,
        disposition=disposition.value,
        reason=f"manufacturer {feed.name}",
        max_attachment_bytes=deps.settings.tickets.max_attachment_bytes,
    )
    number = session.get_one(Ticket, ticket_id).number
    log.info("%s notification of feed %s: case filed on %s", ident, feed.name, number)
    return Outcome(disposition, ticket=number, message_id=msg.message_id)


def _refuse_mail(
    session: Session,
    feed: FeedSettings,
    raw: RawMail,
    sha256: str,
    ident: str,
    why: Rejection,
    deps: Deps,
    now: datetime,
    run: Run,
) -> Outcome:
    """Quarantine a notification we cannot read, with its bytes; the feed is failing."""
    detail = f"feed {feed.name}: {why.detail}"
    _failed(session, feed.name, f"mail {ident}", f"{why.reason}: {why.detail}", now)
    outcome = refusal.quarantine_in(session, raw, sha256, why.reason, detail, deps, run)
    if outcome.disposition is Disposition.QUARANTINED and run.retry_of is None:
        _state(session, feed.name).quarantined += 1
    return outcome
