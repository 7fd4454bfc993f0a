"""ClockState <-> clocks table rows, and the queries sweeps run over them."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Row, bindparam, insert, select, update
from sqlalchemy.orm import Session

from daemon import events
from daemon.clockmoves import Missed, Move
from daemon.clocks import Allowance, Basis, ClockKind, ClockPlan, ClockState, Unit
from daemon.store import deferred, records
from daemon.store.models import ClockStop, MissedClock, Ticket, TicketClock, table


def _allowance_json(a: Allowance) -> dict[str, Any]:
    return {"amount": a.amount, "unit": a.unit.value, "basis": a.basis.value}


def _allowance(data: dict[str, Any]) -> Allowance:
    return Allowance(float(data["amount"]), Unit(data["unit"]), Basis(data["basis"]))


def plan_json(plan: ClockPlan) -> dict[str, Any]:
    return {
        "rule": plan.rule,
        "allowance": _allowance_json(plan.allowance),
        "reminders": list(plan.reminders),
        "ladder": [_allowance_json(a) for a in plan.ladder],
        "upgrade_on_breach": plan.upgrade_on_breach,
    }


def plan_of(kind: str, data: dict[str, Any]) -> ClockPlan:
    return ClockPlan(
        kind=ClockKind(kind),
        rule=data["rule"],
        allowance=_allowance(data["allowance"]),
        reminders=tuple(float(f) for f in data["reminders"]),
        ladder=tuple(_allowance(a) for a in data["ladder"]),
        upgrade_on_breach=bool(data["upgrade_on_breach"]),
    )


def state_of(row: TicketClock | Row[Any]) -> ClockState:
    return ClockState(
        plan=plan_of(row.kind, row.plan),
        started_at=row.started_at,
        budget=timedelta(seconds=row.budget_seconds),
        running_since=row.running_since,
        due_at=row.due_at,
        spent=timedelta(seconds=row.spent_seconds),
        paused_at=row.paused_at,
        stopped_at=row.stopped_at,
        reminders_sent=tuple(float(f) for f in row.reminders_sent),
        steps_sent=row.steps_sent,
        breached_at=row.breached_at,
    )


def _columns(state: ClockState, next_action_at: datetime | None) -> dict[str, Any]:
    return {
        "kind": state.kind.value,
        "plan": plan_json(state.plan),
        "started_at": state.started_at,
        "budget_seconds": state.budget.total_seconds(),
        "spent_seconds": state.spent.total_seconds(),
        "running_since": state.running_since,
        "due_at": state.due_at,
        "paused_at": state.paused_at,
        "stopped_at": state.stopped_at,
        "reminders_sent": list(state.reminders_sent),
        "steps_sent": state.steps_sent,
        "breached_at": state.breached_at,
        "next_action_at": next_action_at,
    }


def write(row: TicketClock, state: ClockState, next_action_at: datetime | None) -> None:
    """Copy a state onto its row (a restarted clock reuses the row of its kind)."""
    for key, value in _columns(state, next_action_at).items():
        setattr(row, key, value)


_clocks = table(TicketClock)
# Built once: every new ticket and every clock a staff action starts inserts rows.
_INSERT = insert(_clocks)
_INSERT_STOP = insert(table(ClockStop))


def _stop(ticket_id: int, state: ClockState) -> dict[str, Any]:
    """A stopped clock's ClockStop row: on time unless it breached (a stop past its due time
    marks the breach itself, clocks.stop)."""
    assert state.stopped_at is not None
    return {
        "ticket_id": ticket_id,
        "clock": state.kind.value,
        "stopped_at": state.stopped_at,
        "on_time": state.breached_at is None,
    }


def insert_new(
    session: Session, ticket_id: int, started: Sequence[tuple[ClockState, datetime | None]]
) -> None:
    """The clocks of a ticket just opened, in one statement (no rows exist to update), or held
    for the statement of the block around them (deferred.batch)."""
    rows = [{"ticket_id": ticket_id, **_columns(state, at)} for state, at in started]
    deferred.insert(session, _INSERT, rows)
    stops = [_stop(ticket_id, state) for state, _ in started if state.stopped_at is not None]
    deferred.insert(session, _INSERT_STOP, stops)


def of_ticket(session: Session, ticket_id: int) -> Sequence[TicketClock]:
    # Read afresh: a staff action writes clocks without the ORM (apply), so rows loaded
    # before it would otherwise be handed back as they were.
    deferred.flush(session)
    return session.scalars(
        select(TicketClock)
        .where(TicketClock.ticket_id == ticket_id)
        .order_by(TicketClock.id)
        .execution_options(populate_existing=True)
    ).all()


_STATES = (
    select(*(c for c in _clocks.c if c.key not in ("id", "ticket_id", "next_action_at")))
    .where(_clocks.c.ticket_id == bindparam("ticket"))
    .order_by(_clocks.c.id)
)


def states(session: Session, ticket_id: int, lock: bool = False) -> dict[ClockKind, ClockState]:
    """A ticket's clocks as they stand, oldest first; `lock` holds their rows against a sweep
    (PostgreSQL) for the rest of the transaction."""
    session.flush()  # a clock row changed through the ORM (a feed's replan) is read as changed
    deferred.flush(session)
    query = _STATES.with_for_update() if lock else _STATES
    rows = session.connection().execute(query, {"ticket": ticket_id})
    return {ClockKind(row.kind): state_of(row) for row in rows}


def running(session: Session) -> Sequence[tuple[int, str, TicketClock]]:
    """Every clock still counting towards a due time, with its ticket's id and number, oldest
    ticket first; locked against a sweep moving it meanwhile (PostgreSQL)."""
    deferred.flush(session)
    rows = session.execute(
        select(TicketClock.ticket_id, Ticket.number, TicketClock)
        .join(Ticket, Ticket.id == TicketClock.ticket_id)
        .where(TicketClock.stopped_at.is_(None), TicketClock.due_at.is_not(None))
        .order_by(TicketClock.ticket_id, TicketClock.id)
        .with_for_update(of=TicketClock)
    ).all()
    return [(ticket_id, number, clock) for ticket_id, number, clock in rows]


_UPDATE = update(_clocks).where(
    _clocks.c.ticket_id == bindparam("of_ticket"), _clocks.c.kind == bindparam("of_kind")
)


def apply(
    session: Session,
    ticket_id: int,
    current: dict[ClockKind, ClockState],
    moved: Sequence[Move],
) -> None:
    """Write the clock moves of one transition, with the ledger rows their late stops make and
    a row for each stop (ClockStop); `current` holds every clock of the ticket (a kind not in
    it has no row yet) and is moved along. Written as statements, not through the ORM: a staff
    action's hot path."""
    updates: list[dict[str, Any]] = []
    inserts: list[dict[str, Any]] = []
    stops: list[dict[str, Any]] = []
    for m in moved:
        values = _columns(m.state, m.next_action_at)
        if m.kind in current:
            updates.append({"of_ticket": ticket_id, "of_kind": m.kind.value, **values})
        else:
            inserts.append({"ticket_id": ticket_id, **values})
        current[m.kind] = m.state
        if m.missed is not None:
            book_missed(session, ticket_id, m.missed)
        elif m.settles_breach:
            settle_breach(session, ticket_id, m.state, m.late_seconds)
        if m.change == "stopped":
            stops.append(_stop(ticket_id, m.state))
    conn = session.connection()
    if updates:
        conn.execute(_UPDATE, updates)
    if inserts:
        conn.execute(_INSERT, inserts)
    deferred.insert(session, _INSERT_STOP, stops)


def book_missed(session: Session, ticket_id: int, m: Missed) -> None:
    """The one writer of the missed-clock ledger: the row, and its audit entry."""
    session.add(
        MissedClock(
            ticket_id=ticket_id,
            clock=m.clock.value,
            rule=m.rule,
            person=m.person,
            due_at=m.due_at,
            breached_at=m.breached_at,
            overdue_seconds=m.overdue_seconds,
        )
    )
    records.add_event(session, ticket_id, m.breached_at, events.DAEMON, m.event())


def settle_breach(session: Session, ticket_id: int, state: ClockState, late: float) -> None:
    """The breach a sweep recorded gets its final lateness now that the clock stops."""
    row_id = session.scalar(
        select(MissedClock.id)
        .where(
            MissedClock.ticket_id == ticket_id,
            MissedClock.clock == state.kind.value,
            MissedClock.breached_at >= state.started_at,
        )
        .order_by(MissedClock.id.desc())
        .limit(1)
    )
    if row_id is not None:
        session.execute(
            update(MissedClock).where(MissedClock.id == row_id).values(overdue_seconds=late)
        )
