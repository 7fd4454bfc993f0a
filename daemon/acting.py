"""Staff act on a ticket: a lifecycle event, the clocks it moves, the ledger and the audit trail."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from daemon import clockmoves, clocks, events, lifecycle, notices, notify, route
from daemon.clocks import ClockKind
from daemon.deps import Deps
from daemon.lifecycle import Event, Status
from daemon.store import clockrows, records
from daemon.store.models import Customer, Ticket, TicketClock
from daemon.values import Classification

log = logging.getLogger(__name__)

# MARK_MAJOR on a ticket the classifier did not flag: the flag the major-report clock needs.
MARKED_BY_STAFF = "marked"


class ActError(Exception):
    """An action that cannot be taken; the message says why and what to do instead."""


@dataclass(frozen=True, slots=True)
class ClockChange:
    kind: str
    change: str  # "started" | "stopped" | "paused" | "resumed"
    due_at: datetime | None  # the due time after the change (kept when stopped)
    late_seconds: float = 0.0  # for a stop: how late, on the clock's basis

    def as_json(self, zone: ZoneInfo) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "change": self.change,
            "due_at": self.due_at.astimezone(zone).isoformat() if self.due_at else None,
            "late_seconds": self.late_seconds,
        }


@dataclass(frozen=True, slots=True)
class ActResult:
    ticket: str
    event: str
    before: str
    after: str
    clocks: tuple[ClockChange, ...]

    def as_json(self, zone: ZoneInfo) -> dict[str, Any]:
        return {
            "ticket": self.ticket,
            "event": self.event,
            "from": self.before,
            "to": self.after,
            "clocks": [c.as_json(zone) for c in self.clocks],
        }


def act(
    deps: Deps,
    number: str,
    event: Event,
    actor: str,
    cause: str,
    now: datetime,
    handler: str | None = None,
) -> ActResult:
    """Apply `event` to ticket `number` at `now`; raises InvalidTransition or ActError.

    `handler` (a person key) is who an ASSIGN hands the ticket to.
    """
    with deps.store.transaction() as session:
        ticket_id = session.scalar(select(Ticket.id).where(Ticket.number == number.upper()))
        if ticket_id is None:
            raise ActError(f"no ticket {number}; `complaintd tickets list` shows the numbers")
        # Clocks before the ticket, in the order a sweep takes them, so the two never deadlock.
        rows = _locked_clocks(session, ticket_id)
        ticket = _locked_ticket(session, ticket_id)
        if now < ticket.opened_at:
            raise ActError(f"{now.isoformat()} is before the ticket was opened")
        before = Status(ticket.status)
        entry = lifecycle.record(before, event, actor, now, cause)
        if handler is not None and event is not Event.ASSIGN:
            raise ActError(f"a handler is only named with {Event.ASSIGN.value}, not {event}")
        if event is Event.ASSIGN:
            _assign(session, ticket, handler, actor, deps, now)
        if event is Event.MARK_MAJOR and not ticket.major:
            ticket.major = [MARKED_BY_STAFF]
        records.add_event(session, ticket.id, now, actor, events.Transition(entry.detail()))
        changes = _move_clocks(session, ticket, rows, entry.transition, deps, now)
        target = entry.transition.target
        ticket.status = target.value
        ticket.updated_at = now
        if target is Status.CLOSED:
            ticket.closed_at = now
        elif event is Event.REOPEN:
            ticket.closed_at = None
        log.info("%s %s by %s: %s -> %s (%s)", ticket.number, event, actor, before, target, cause)
        return ActResult(ticket.number, event.value, before.value, target.value, tuple(changes))


def _locked_ticket(session: Session, ticket_id: int) -> Ticket:
    query = select(Ticket).where(Ticket.id == ticket_id)
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update()
    return session.scalars(query).one()


def _locked_clocks(session: Session, ticket_id: int) -> dict[ClockKind, TicketClock]:
    # A sweep holding one of these rows finishes first; one starting later skips them.
    query = select(TicketClock).where(TicketClock.ticket_id == ticket_id)
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update()
    return {ClockKind(row.kind): row for row in session.scalars(query)}


def _move_clocks(
    session: Session,
    ticket: Ticket,
    rows: dict[ClockKind, TicketClock],
    t: lifecycle.Transition,
    deps: Deps,
    now: datetime,
) -> list[ClockChange]:
    current = {kind: clockrows.state_of(row) for kind, row in rows.items()}
    plans = {p.kind: p for p in _plans(session, ticket, deps)} if t.start else {}
    calendar = deps.triage.calendar
    moved = clockmoves.moves(t, current, plans, ticket.handler, now, calendar)
    clockrows.apply(session, ticket.id, rows, moved)
    return [
        ClockChange(
            m.kind.value,
            m.change,
            None if m.change == "paused" else m.state.due_at,
            m.late_seconds,
        )
        for m in moved
    ]


def _plans(session: Session, ticket: Ticket, deps: Deps) -> tuple[clocks.ClockPlan, ...]:
    tier = session.get_one(Customer, ticket.customer_id).tier
    c = Classification(
        ticket.category,
        ticket.department,
        ticket.severity,
        tuple(str(m) for m in ticket.major),
        (),
        ticket.language,
        ticket.classified_by,
    )
    return deps.triage.plan(c, ticket.channel, tier)


def _assign(
    session: Session, ticket: Ticket, handler: str | None, actor: str, deps: Deps, now: datetime
) -> None:
    org = deps.triage.org
    if handler is None:
        raise ActError(f"{Event.ASSIGN.value} needs the new handler's person key (--to KEY)")
    person = route.find_person(org, handler)
    if person is None:
        raise ActError(f"nobody with key {handler!r} in [[org.people]]")
    if handler in ticket.excluded:
        raise ActError(f"{handler} is named in the complaint and may not handle it")
    ticket.handler, ticket.handler_email = person.key, person.email
    assigned = events.Assigned(person.key, (), f"by {actor}")
    records.add_event(session, ticket.id, now, actor, assigned)
    body = notices.Assignment(
        notify.ticket_facts(session, ticket, deps.settings),
        evidence=tuple(f"{e['target']}: {e['phrase']}" for e in ticket.evidence),
        major=tuple(str(m) for m in ticket.major),
        handler=person.key,
        deadlines=_deadlines(session, ticket, deps),
    )
    notice = body.letter(deps.settings.service.default_language, person.email)
    notify.enqueue(session, notice, ticket.id, "assignment", deps.composer, deps.settings, now)


def _deadlines(session: Session, ticket: Ticket, deps: Deps) -> tuple[str, ...]:
    running = [
        row
        for row in clockrows.of_ticket(session, ticket.id)
        if row.stopped_at is None and row.due_at is not None
    ]
    return tuple(
        f"{row.kind}: {notices.local_time(row.due_at, deps.settings.zone)}"
        for row in sorted(running, key=lambda r: r.due_at or r.started_at)
        if row.due_at is not None
    )
