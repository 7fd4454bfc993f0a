"""What a lifecycle transition does to a ticket's clocks, and what a missed clock leaves in the
ledger: one rule each, used alike by opening a ticket, staff acting on it, and sweeps."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from daemon import clocks, events
from daemon.clocks import ClockKind, ClockPlan, ClockState
from daemon.lifecycle import Transition
from daemon.workdays import BusinessCalendar


@dataclass(frozen=True, slots=True)
class Missed:
    """One row of the missed-clock ledger (and its audit entry): who let which clock pass."""

    clock: ClockKind
    rule: str
    person: str  # the handler when it was missed; "" when unassigned
    due_at: datetime
    breached_at: datetime
    overdue_seconds: float
    at_stop: bool = False  # met late before any sweep saw the breach

    def event(self) -> events.Breached:
        return events.Breached(
            self.clock.value,
            self.rule,
            self.due_at,
            self.person,
            self.overdue_seconds,
            self.at_stop,
        )


def missed(
    state: ClockState, breach: clocks.Breach, person: str, now: datetime, at_stop: bool = False
) -> Missed:
    return Missed(
        state.kind,
        state.plan.rule,
        person,
        breach.due_at,
        now,
        breach.overdue.total_seconds(),
        at_stop,
    )


@dataclass(frozen=True, slots=True)
class Move:
    """One clock changed by a transition: its new state, ready to be written."""

    state: ClockState
    next_action_at: datetime | None
    change: str  # "started" | "stopped" | "paused" | "resumed"
    late_seconds: float = 0.0  # for a stop: how late, on the clock's basis
    # A stop past the due time that no sweep had recorded: a new ledger row.
    missed: Missed | None = None
    # A stop past a breach a sweep already recorded: that row gets its final lateness.
    settles_breach: bool = False

    @property
    def kind(self) -> ClockKind:
        return self.state.kind


def moves(
    t: Transition,
    current: Mapping[ClockKind, ClockState],
    plans: Mapping[ClockKind, ClockPlan],
    person: str,
    now: datetime,
    calendar: BusinessCalendar,
) -> list[Move]:
    """The clock changes `t` makes at `now`: stop, pause, resume what runs, start what is
    planned (`plans` need only hold the kinds `t` starts; a kind without a plan is absent).
    `person` is who a late stop is booked to."""
    out: list[Move] = []

    def move(
        state: ClockState,
        change: str,
        late: float = 0.0,
        booked: Missed | None = None,
        settles: bool = False,
    ) -> Move:
        return Move(state, clocks.next_action_at(state, calendar), change, late, booked, settles)

    for kind in t.stop:
        state = current.get(kind)
        if state is None or state.stopped_at is not None:
            continue
        stopped = clocks.stop(state, now, calendar)
        late = clocks.overdue(stopped.state, now, calendar).total_seconds()
        booked = None
        if stopped.breach is not None:
            booked = missed(stopped.state, stopped.breach, person, now, at_stop=True)
        settles = booked is None and state.breached_at is not None
        out.append(move(stopped.state, "stopped", late, booked, settles))
    for kind in t.pause:
        state = current.get(kind)
        if state is not None and state.running_since is not None:
            out.append(move(clocks.pause(state, now, calendar), "paused"))
    for kind in t.resume:
        state = current.get(kind)
        if state is not None and state.paused_at is not None and state.stopped_at is None:
            out.append(move(clocks.resume(state, now, calendar), "resumed"))
    for kind in t.start:
        if kind in plans:
            out.append(move(clocks.start(plans[kind], now, calendar), "started"))
    return out
