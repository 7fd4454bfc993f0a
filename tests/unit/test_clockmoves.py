"""What a lifecycle transition does to a ticket's clocks, and the ledger row a late stop makes."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from daemon import clocks
from daemon.clockmoves import moves
from daemon.clocks import ClockKind, ClockSettings, TicketFacts, plan_clocks
from daemon.lifecycle import Event, Status, Transition, record
from daemon.workdays import BusinessCalendar, CalendarSettings

SH = ZoneInfo("Asia/Shanghai")
CAL = BusinessCalendar.from_settings(CalendarSettings())
MONDAY_9 = datetime(2025, 9, 15, 9, 0, tzinfo=SH)  # a week without holidays
FACTS = TicketFacts("email", "service", "general", "standard", False)
PLANS = {p.kind: p for p in plan_clocks(FACTS, ClockSettings())}


def transition(state: Status | None, event: Event) -> Transition:
    return record(state, event, "someone", MONDAY_9, "test").transition


def test_opening_starts_each_planned_clock_with_its_next_action() -> None:
    moved = moves(transition(None, Event.OPEN), {}, PLANS, "", MONDAY_9, CAL)
    assert {m.kind for m in moved} == set(transition(None, Event.OPEN).start) & set(PLANS)
    assert all(m.change == "started" and m.next_action_at is not None for m in moved)


def test_a_kind_without_a_plan_is_not_started() -> None:
    moved = moves(transition(None, Event.OPEN), {}, {}, "", MONDAY_9, CAL)
    assert moved == []


def test_a_stop_in_time_books_nothing() -> None:
    state = clocks.start(PLANS[ClockKind.FIRST_CONTACT], MONDAY_9, CAL)
    t = transition(Status.ASSIGNED, Event.CONTACT)
    (m,) = moves(t, {ClockKind.FIRST_CONTACT: state}, {}, "feng_yu", MONDAY_9, CAL)
    assert (m.change, m.missed, m.settles_breach, m.late_seconds) == ("stopped", None, False, 0.0)


def test_a_late_stop_no_sweep_saw_books_the_handler_in_the_ledger() -> None:
    state = clocks.start(PLANS[ClockKind.FIRST_CONTACT], MONDAY_9, CAL)
    later = MONDAY_9 + timedelta(days=2)
    t = transition(Status.ASSIGNED, Event.CONTACT)
    (m,) = moves(t, {ClockKind.FIRST_CONTACT: state}, {}, "feng_yu", later, CAL)
    assert m.missed is not None
    assert (m.missed.person, m.missed.at_stop, m.missed.breached_at) == ("feng_yu", True, later)
    assert m.missed.event().as_json()["at_stop"] is True


def test_a_late_stop_after_a_sweep_booked_it_settles_that_row() -> None:
    state = clocks.start(PLANS[ClockKind.FIRST_CONTACT], MONDAY_9, CAL)
    later = MONDAY_9 + timedelta(days=2)
    swept = clocks.decide(state, later, CAL).after
    assert swept.breached_at is not None
    t = transition(Status.ASSIGNED, Event.CONTACT)
    (m,) = moves(t, {ClockKind.FIRST_CONTACT: swept}, {}, "feng_yu", later, CAL)
    assert (m.missed, m.settles_breach) == (None, True)
    assert m.late_seconds > 0


def test_a_stopped_clock_is_not_stopped_again() -> None:
    running = clocks.start(PLANS[ClockKind.FIRST_CONTACT], MONDAY_9, CAL)
    state = clocks.stop(running, MONDAY_9, CAL).state
    t = transition(Status.ASSIGNED, Event.CONTACT)
    assert moves(t, {ClockKind.FIRST_CONTACT: state}, {}, "", MONDAY_9, CAL) == []


def test_force_majeure_pauses_and_resume_runs_the_clock_again() -> None:
    state = clocks.start(PLANS[ClockKind.RESOLUTION], MONDAY_9, CAL)
    pause = transition(Status.CONTACTED, Event.PAUSE)
    (paused,) = moves(pause, {ClockKind.RESOLUTION: state}, {}, "", MONDAY_9, CAL)
    assert (paused.change, paused.next_action_at) == ("paused", None)
    hour_later = MONDAY_9 + timedelta(hours=1)
    resume = transition(Status.PAUSED, Event.RESUME)
    (resumed,) = moves(resume, {ClockKind.RESOLUTION: paused.state}, {}, "", hour_later, CAL)
    assert resumed.change == "resumed" and resumed.state.running_since == hour_later
