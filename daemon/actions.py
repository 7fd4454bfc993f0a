"""Staff act on a ticket: a lifecycle event, the clocks it moves, the ledger and the audit trail."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from daemon import clocks, lifecycle, notify, route
from daemon.clocks import ClockKind, ClockState
from daemon.lifecycle import Event, Status
from daemon.pipeline import Deps
from daemon.store import clockrows, records
from daemon.store.models import Customer, MissedClock, Ticket, TicketClock
from daemon.values import Classification, Notice

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
        records.add_event(session, ticket.id, now, actor, "transition", entry.detail())
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
    calendar = deps.triage.calendar
    changes: list[ClockChange] = []

    def save(row: TicketClock, state: ClockState) -> None:
        clockrows.write(row, state, clocks.next_action_at(state, calendar))

    for kind in t.stop:
        row = rows.get(kind)
        if row is None or row.stopped_at is not None:
            continue
        state = clockrows.state_of(row)
        stopped = clocks.stop(state, now, calendar)
        late = clocks.overdue(stopped.state, now, calendar)
        if stopped.breach is not None:
            _record_late_stop(session, ticket, stopped.state, stopped.breach, now)
        elif state.breached_at is not None:
            _settle_breach(session, ticket, state, late.total_seconds())
        save(row, stopped.state)
        changes.append(
            ClockChange(kind.value, "stopped", stopped.state.due_at, late.total_seconds())
        )
    for kind in t.pause:
        row = rows.get(kind)
        if row is not None and row.running_since is not None:
            paused = clocks.pause(clockrows.state_of(row), now, calendar)
            save(row, paused)
            changes.append(ClockChange(kind.value, "paused", None))
    for kind in t.resume:
        row = rows.get(kind)
        if row is not None and row.paused_at is not None and row.stopped_at is None:
            resumed = clocks.resume(clockrows.state_of(row), now, calendar)
            save(row, resumed)
            changes.append(ClockChange(kind.value, "resumed", resumed.due_at))
    if t.start:
        plans = {p.kind: p for p in _plans(session, ticket, deps)}
        for kind in t.start:
            if kind in plans:  # a kind this ticket has no rule for is simply absent
                started = clocks.start(plans[kind], now, calendar)
                next_at = clocks.next_action_at(started, calendar)
                clockrows.save(session, ticket.id, started, next_at)
                changes.append(ClockChange(kind.value, "started", started.due_at))
    return changes


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


def _record_late_stop(
    session: Session, ticket: Ticket, state: ClockState, breach: clocks.Breach, now: datetime
) -> None:
    """Met late before any sweep saw the breach: the ledger row is written now."""
    session.add(
        MissedClock(
            ticket_id=ticket.id,
            clock=state.kind.value,
            rule=state.plan.rule,
            person=ticket.handler,
            due_at=breach.due_at,
            breached_at=now,
            overdue_seconds=breach.overdue.total_seconds(),
        )
    )
    records.add_event(
        session,
        ticket.id,
        now,
        "complaintd",
        "breached",
        {
            "clock": state.kind.value,
            "rule": state.plan.rule,
            "due": breach.due_at.isoformat(),
            "person": ticket.handler,
            "overdue_seconds": breach.overdue.total_seconds(),
            "at_stop": True,
        },
    )


def _settle_breach(session: Session, ticket: Ticket, state: ClockState, late: float) -> None:
    """The breach a sweep recorded gets its final lateness now that the clock stops."""
    row = session.scalar(
        select(MissedClock)
        .where(
            MissedClock.ticket_id == ticket.id,
            MissedClock.clock == state.kind.value,
            MissedClock.breached_at >= state.started_at,
        )
        .order_by(MissedClock.id.desc())
        .limit(1)
    )
    if row is not None:
        row.overdue_seconds = late


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
    records.add_event(
        session,
        ticket.id,
        now,
        actor,
        "assigned",
        {"handler": person.key, "inform": [], "rule": f"by {actor}"},
    )
    context = notify.ticket_context(session, ticket, deps.settings) | {
        "evidence": [f"{e['target']}: {e['phrase']}" for e in ticket.evidence],
        "major": list(ticket.major),
        "handler": person.key,
        "deadlines": _deadlines(session, ticket, deps),
    }
    notice = Notice(
        "assignment", deps.settings.service.default_language, person.email, context, ticket.number
    )
    notify.enqueue(session, notice, ticket.id, "assignment", deps.composer, deps.settings, now)


def _deadlines(session: Session, ticket: Ticket, deps: Deps) -> list[str]:
    running = [
        row
        for row in clockrows.of_ticket(session, ticket.id)
        if row.stopped_at is None and row.due_at is not None
    ]
    return [
        f"{row.kind}: {notify.local_time(row.due_at, deps.settings.zone)}"
        for row in sorted(running, key=lambda r: r.due_at or r.started_at)
        if row.due_at is not None
    ]
