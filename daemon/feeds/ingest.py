"""Manufacturer records into tickets: one ticket per (oem, case_id), whichever feed or file the
case comes through. A new case opens a ticket on the manufacturer's clock (started at dispatch);
a later record that changes the case updates it, audited; the same record again changes
nothing; a bad record is quarantined with the feed, the raw record and the reason, and the rest
are imported."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from daemon import clocks, events, notify, opening
from daemon.clocks import ClockKind
from daemon.deps import Deps
from daemon.feeds import folder
from daemon.feeds.folder import SourceRecord
from daemon.feeds.records import (
    FEED_ORIGIN,
    MANUFACTURER_FIELDS,
    CaseUpdated,
    FeedCase,
    FeedShape,
    Rejection,
    moved_to_deadline,
    raw_json,
    read_record,
    with_deadline,
)
from daemon.feeds.settings import FeedSettings
from daemon.matter import matter_key
from daemon.notices import TicketFacts, local_time
from daemon.numbering import period_of
from daemon.store import clockrows, records
from daemon.store.cases import FeedState, ManufacturerCase
from daemon.store.models import Ticket
from daemon.values import RawMail

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
    shape = shape_of(feed, deps)
    now = deps.clock()
    read = [(item, read_record(item.data, shape)) for item in items]
    cases = [c for _, c in read if isinstance(c, FeedCase)]
    imported = updated = unchanged = refused = 0
    quarantined_new = 0
    numbers: list[str] = []
    with deps.store.transaction() as session:
        known = _known(session, feed.oem, {c.case_id for c in cases})
        for item, result in read:
            if isinstance(result, Rejection):
                refused += 1
                quarantined_new += _quarantine(session, feed, item, result, now)
                continue
            found = known.get(result.case_id)
            if found is not None and found.digest == result.digest():
                unchanged += 1
                continue
            try:
                with session.begin_nested():
                    if found is None:
                        row, number = _open(session, result, feed, deps, now, mail)
                    else:
                        row = session.get_one(ManufacturerCase, found.row_id)
                        _update(session, row, result, feed, deps, now)
                # Committed to the savepoint: the same case later in this import is known.
                known[result.case_id] = _Known(row.id, row.digest)
                if found is None:
                    numbers.append(number)
                    imported += 1
                else:
                    updated += 1
            except Exception as exc:  # a fault of our own code: the record is quarantined
                log.exception("feed %s: %s could not be filed", feed.name, item.where)
                refused += 1
                failure = Rejection("failed", f"{type(exc).__name__}: {exc}")
                quarantined_new += _quarantine(session, feed, item, failure, now)
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
    return report


def record_failure(deps: Deps, feed: str, source: str, error: str) -> None:
    """A file (or poll) that yielded no records: its feed's last error."""
    now = deps.clock()
    with deps.store.transaction() as session:
        state = _state(session, feed)
        state.last_error = f"{source}: {error}"[:4000]
        state.last_error_at = now


@dataclass(frozen=True, slots=True)
class _Known:
    """A stored case, as much of it as telling a repeat from a change needs."""

    row_id: int
    digest: str


def _known(session: Session, oem: str, case_ids: Iterable[str]) -> dict[str, _Known]:
    ids = sorted(case_ids)
    out: dict[str, _Known] = {}
    for start in range(0, len(ids), _LOOKUP_CHUNK):
        chunk = ids[start : start + _LOOKUP_CHUNK]
        query = select(
            ManufacturerCase.case_id, ManufacturerCase.id, ManufacturerCase.digest
        ).where(ManufacturerCase.oem == oem, ManufacturerCase.case_id.in_(chunk))
        out.update(
            (case_id, _Known(row_id, digest)) for case_id, row_id, digest in session.execute(query)
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
) -> None:
    """The manufacturer changed the case: its fields on the ticket follow, audited; a new
    deadline moves the close clock."""
    before = {name: getattr(row, name) for name in MANUFACTURER_FIELDS}
    changed = case.changes(before)
    for name, value in _fields(case).items():
        setattr(row, name, value)
    row.digest = case.digest()
    row.feed = feed.name
    row.updated_at = now
    ticket = session.get_one(Ticket, row.ticket_id)
    ticket.updated_at = now
    detail = CaseUpdated(feed.name, case.case_id, tuple((k, o, n) for k, (o, n) in changed.items()))
    entries = [events.Entry(actor(feed), detail)]
    if "deadline" in changed and case.deadline is not None:
        entries += _move_close(session, row.ticket_id, case.deadline, deps, feed)
    records.add_events(session, row.ticket_id, now, entries)


def _move_close(
    session: Session, ticket_id: int, deadline: datetime, deps: Deps, feed: FeedSettings
) -> list[events.Entry]:
    calendar = deps.triage.calendar
    for clock in clockrows.of_ticket(session, ticket_id):
        if clock.kind != ClockKind.CLOSE.value:
            continue
        before = clockrows.state_of(clock)
        moved = moved_to_deadline(before, deadline, calendar)
        if moved is None or before.due_at is None or moved.due_at is None:
            return []
        clockrows.write(clock, moved, clocks.next_action_at(moved, calendar))
        why = ("the manufacturer's deadline changed",)
        audit = events.ClockMoved("close", moved.plan.rule, before.due_at, moved.due_at, why)
        return [events.Entry(actor(feed), audit)]
    return []


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
