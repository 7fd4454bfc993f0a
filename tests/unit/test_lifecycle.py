"""The ticket state machine: allowed and refused transitions, and what they do to the clocks."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from daemon.clocks import ClockKind
from daemon.lifecycle import (
    TABLE,
    Event,
    InvalidTransition,
    Status,
    allowed_events,
    apply,
    record,
)

K = ClockKind
SH = ZoneInfo("Asia/Shanghai")

HAPPY_PATH = (
    (None, Event.OPEN, Status.NEW),
    (Status.NEW, Event.ASSIGN, Status.ASSIGNED),
    (Status.ASSIGNED, Event.ACKNOWLEDGE, Status.ACKNOWLEDGED),
    (Status.ACKNOWLEDGED, Event.CONTACT, Status.CONTACTED),
    (Status.CONTACTED, Event.RESOLVE, Status.RESOLVED),
    (Status.RESOLVED, Event.CALLBACK, Status.CALLBACK_DONE),
    (Status.CALLBACK_DONE, Event.CLOSE, Status.CLOSED),
)


@pytest.mark.parametrize(("state", "event", "target"), HAPPY_PATH)
def test_seed_flow_moves_one_state_at_a_time(
    state: Status | None, event: Event, target: Status
) -> None:
    assert apply(state, event).target is target


@pytest.mark.parametrize(
    ("state", "event"),
    [
        (Status.NEW, Event.RESOLVE),
        (Status.NEW, Event.CONTACT),
        (Status.ASSIGNED, Event.PAUSE),
        (Status.CONTACTED, Event.RESUME),
        (Status.RESOLVED, Event.CLOSE),
        (Status.CLOSED, Event.RESOLVE),
        (Status.CLOSED, Event.MARK_MAJOR),
        (Status.NEW, Event.OPEN),
        (None, Event.ASSIGN),
    ],
)
def test_events_the_state_does_not_allow_are_refused(state: Status | None, event: Event) -> None:
    with pytest.raises(InvalidTransition) as caught:
        apply(state, event)
    assert (caught.value.state, caught.value.event) == (state, event)


def test_refusal_names_the_allowed_events() -> None:
    with pytest.raises(InvalidTransition, match=r"allowed: .*reopen"):
        apply(Status.CLOSED, Event.RESOLVE)


def test_opening_starts_the_intake_clocks() -> None:
    started = set(apply(None, Event.OPEN).start)
    assert {K.FIRST_RESPONSE, K.RESOLUTION, K.CLOSE, K.REPLY} <= started


def test_assignment_starts_first_contact() -> None:
    assert apply(Status.NEW, Event.ASSIGN).start == (K.FIRST_CONTACT,)


def test_acknowledgement_stops_first_response() -> None:
    assert apply(Status.ASSIGNED, Event.ACKNOWLEDGE).stop == (K.FIRST_RESPONSE,)


def test_contact_without_acknowledgement_stops_both_first_clocks() -> None:
    transition = apply(Status.ASSIGNED, Event.CONTACT)
    assert set(transition.stop) == {K.FIRST_RESPONSE, K.FIRST_CONTACT}


def test_reassignment_leaves_the_clocks_running() -> None:
    transition = apply(Status.ASSIGNED, Event.ASSIGN)
    assert (transition.start, transition.stop) == ((), ())


def test_reassignment_after_acknowledgement_needs_a_new_acknowledgement() -> None:
    assert apply(Status.ACKNOWLEDGED, Event.ASSIGN).target is Status.ASSIGNED


def test_force_majeure_pauses_resolution() -> None:
    transition = apply(Status.CONTACTED, Event.PAUSE)
    assert (transition.target, transition.pause) == (Status.PAUSED, (K.RESOLUTION,))


def test_resume_returns_to_work_and_resumes_resolution() -> None:
    transition = apply(Status.PAUSED, Event.RESUME)
    assert (transition.target, transition.resume) == (Status.CONTACTED, (K.RESOLUTION,))


def test_a_paused_ticket_can_be_resolved_directly() -> None:
    assert K.RESOLUTION in apply(Status.PAUSED, Event.RESOLVE).stop


def test_resolving_stops_resolution_and_starts_callback() -> None:
    transition = apply(Status.CONTACTED, Event.RESOLVE)
    assert (K.RESOLUTION in transition.stop, transition.start) == (True, (K.CALLBACK,))


def test_resolving_stops_the_bank_reply_clock() -> None:
    assert K.REPLY in apply(Status.CONTACTED, Event.RESOLVE).stop


def test_callback_stops_the_callback_clock() -> None:
    assert apply(Status.RESOLVED, Event.CALLBACK).stop == (K.CALLBACK,)


def test_closing_stops_every_clock() -> None:
    assert set(apply(Status.CALLBACK_DONE, Event.CLOSE).stop) == set(ClockKind)


@pytest.mark.parametrize("state", [Status.RESOLVED, Status.CALLBACK_DONE, Status.CLOSED])
def test_reopening_restarts_resolution(state: Status) -> None:
    transition = apply(state, Event.REOPEN)
    assert (transition.target, transition.start) == (Status.REOPENED, (K.RESOLUTION,))


def test_a_reopened_ticket_can_be_resolved_again() -> None:
    assert apply(Status.REOPENED, Event.RESOLVE).target is Status.RESOLVED


def test_marking_major_starts_the_report_clock_without_changing_state() -> None:
    transition = apply(Status.CONTACTED, Event.MARK_MAJOR)
    assert (transition.target, transition.start) == (Status.CONTACTED, (K.MAJOR_REPORT,))


def test_reporting_to_the_general_manager_stops_the_report_clock() -> None:
    assert apply(Status.NEW, Event.REPORT_MAJOR).stop == (K.MAJOR_REPORT,)


def test_closed_ticket_allows_only_reopening() -> None:
    assert allowed_events(Status.CLOSED) == (Event.REOPEN,)


def test_table_has_one_row_per_state_and_event() -> None:
    keys = [(t.source, t.event) for t in TABLE]
    assert len(keys) == len(set(keys))


def test_every_state_is_reachable_from_opening() -> None:
    seen: set[Status] = set()
    frontier = [apply(None, Event.OPEN).target]
    while frontier:
        state = frontier.pop()
        if state not in seen:
            seen.add(state)
            frontier.extend(apply(state, e).target for e in allowed_events(state))
    assert seen == set(Status)


def test_every_state_can_still_reach_closed() -> None:
    def closes(state: Status, path: frozenset[Status]) -> bool:
        if state is Status.CLOSED:
            return True
        targets = {apply(state, e).target for e in allowed_events(state)} - path
        return any(closes(t, path | {t}) for t in targets)

    assert all(closes(s, frozenset({s})) for s in Status)


def test_audit_entry_records_actor_time_cause_and_clocks() -> None:
    when = datetime(2025, 9, 15, 10, 0, tzinfo=SH)
    entry = record(Status.CONTACTED, Event.PAUSE, "svc.manager", when, "waiting for a part")
    assert (entry.actor, entry.at) == ("svc.manager", when)
    assert entry.detail() == {
        "event": "pause",
        "from": "contacted",
        "to": "paused",
        "cause": "waiting for a part",
        "clocks": {"pause": ["resolution"]},
    }


def test_audit_entry_refuses_a_naive_time() -> None:
    with pytest.raises(ValueError, match="naive"):
        record(Status.NEW, Event.ASSIGN, "complaintd", datetime(2025, 9, 15, 10), "routing")  # noqa: DTZ001 (a naive time on purpose)


def test_recording_an_invalid_event_raises() -> None:
    when = datetime(2025, 9, 15, 10, 0, tzinfo=SH)
    with pytest.raises(InvalidTransition):
        record(Status.NEW, Event.CLOSE, "someone", when, "mistake")
