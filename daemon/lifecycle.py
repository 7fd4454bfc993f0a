"""The ticket state machine: which event each state allows, and what it does to the clocks."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from daemon.clocks import ClockKind


class Status(StrEnum):
    NEW = "new"
    ASSIGNED = "assigned"
    ACKNOWLEDGED = "acknowledged"  # 签收
    CONTACTED = "contacted"
    PAUSED = "paused"  # force majeure, e.g. waiting on the manufacturer
    RESOLVED = "resolved"
    CALLBACK_DONE = "callback_done"
    CLOSED = "closed"
    REOPENED = "reopened"


class Event(StrEnum):
    OPEN = "open"
    ASSIGN = "assign"  # also a reassignment
    ACKNOWLEDGE = "acknowledge"
    CONTACT = "contact"
    PAUSE = "pause"
    RESUME = "resume"
    RESOLVE = "resolve"
    CALLBACK = "callback"  # the satisfaction callback is done and the customer is content
    CLOSE = "close"
    REOPEN = "reopen"  # the customer is still unhappy, at the callback or later
    MARK_MAJOR = "mark_major"  # a ticket found to be a major complaint after it was opened
    REPORT_MAJOR = "report_major"  # the general manager has been told of the major complaint


K = ClockKind


@dataclass(frozen=True, slots=True)
class Transition:
    """One row of the table: `event` in `source` leads to `target` and moves these clocks."""

    source: Status | None  # None: the ticket does not exist yet
    event: Event
    target: Status
    start: tuple[ClockKind, ...] = ()  # started afresh, even if they ran before
    stop: tuple[ClockKind, ...] = ()
    pause: tuple[ClockKind, ...] = ()
    resume: tuple[ClockKind, ...] = ()


def _loop(state: Status, event: Event, **clocks: tuple[ClockKind, ...]) -> Transition:
    return Transition(state, event, state, **clocks)


_OPEN_STATES = tuple(s for s in Status if s is not Status.CLOSED)
_WORKING = (Status.CONTACTED, Status.REOPENED)

TABLE: tuple[Transition, ...] = (
    Transition(
        None,
        Event.OPEN,
        Status.NEW,
        start=(K.FIRST_RESPONSE, K.RESOLUTION, K.CLOSE, K.REPLY, K.MAJOR_REPORT),
    ),
    Transition(Status.NEW, Event.ASSIGN, Status.ASSIGNED, start=(K.FIRST_CONTACT,)),
    # A reassignment hands the ticket on; it buys nobody time, so the clocks keep running.
    _loop(Status.ASSIGNED, Event.ASSIGN),
    Transition(Status.ACKNOWLEDGED, Event.ASSIGN, Status.ASSIGNED),
    *(_loop(s, Event.ASSIGN) for s in (*_WORKING, Status.PAUSED)),
    Transition(Status.ASSIGNED, Event.ACKNOWLEDGE, Status.ACKNOWLEDGED, stop=(K.FIRST_RESPONSE,)),
    Transition(
        Status.ASSIGNED,
        Event.CONTACT,
        Status.CONTACTED,
        stop=(K.FIRST_RESPONSE, K.FIRST_CONTACT),
    ),
    Transition(Status.ACKNOWLEDGED, Event.CONTACT, Status.CONTACTED, stop=(K.FIRST_CONTACT,)),
    # Waiting on a third party is only allowed once the customer has been told (contacted).
    *(Transition(s, Event.PAUSE, Status.PAUSED, pause=(K.RESOLUTION,)) for s in _WORKING),
    Transition(Status.PAUSED, Event.RESUME, Status.CONTACTED, resume=(K.RESOLUTION,)),
    *(
        Transition(
            s, Event.RESOLVE, Status.RESOLVED, stop=(K.RESOLUTION, K.REPLY), start=(K.CALLBACK,)
        )
        for s in (*_WORKING, Status.PAUSED)
    ),
    Transition(Status.RESOLVED, Event.CALLBACK, Status.CALLBACK_DONE, stop=(K.CALLBACK,)),
    Transition(Status.CALLBACK_DONE, Event.CLOSE, Status.CLOSED, stop=tuple(ClockKind)),
    *(
        Transition(s, Event.REOPEN, Status.REOPENED, start=(K.RESOLUTION,), stop=(K.CALLBACK,))
        for s in (Status.RESOLVED, Status.CALLBACK_DONE, Status.CLOSED)
    ),
    *(_loop(s, Event.MARK_MAJOR, start=(K.MAJOR_REPORT,)) for s in _OPEN_STATES),
    *(_loop(s, Event.REPORT_MAJOR, stop=(K.MAJOR_REPORT,)) for s in _OPEN_STATES),
)

_BY_KEY: Mapping[tuple[Status | None, Event], Transition] = {(t.source, t.event): t for t in TABLE}


class InvalidTransition(Exception):
    """An event the ticket's state does not allow."""

    def __init__(self, state: Status | None, event: Event) -> None:
        allowed = ", ".join(allowed_events(state)) or "none"
        super().__init__(f"{event} is not allowed in state {state}; allowed: {allowed}")
        self.state = state
        self.event = event


def allowed_events(state: Status | None) -> tuple[Event, ...]:
    return tuple(t.event for t in TABLE if t.source == state)


def apply(state: Status | None, event: Event) -> Transition:
    """The transition `event` makes from `state`; InvalidTransition when there is none."""
    transition = _BY_KEY.get((state, event))
    if transition is None:
        raise InvalidTransition(state, event)
    return transition


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """A transition as the audit trail records it: who, when, why."""

    transition: Transition
    actor: str  # person key or address; "complaintd" for the daemon itself
    at: datetime
    cause: str  # e.g. "reply from the handler", "sweep: resolution overdue"

    def detail(self) -> dict[str, object]:
        """JSON-ready detail for the ticket_events row."""
        t = self.transition
        return {
            "event": str(t.event),
            "from": None if t.source is None else str(t.source),
            "to": str(t.target),
            "cause": self.cause,
            "clocks": {
                name: [str(kind) for kind in kinds]
                for name, kinds in (
                    ("start", t.start),
                    ("stop", t.stop),
                    ("pause", t.pause),
                    ("resume", t.resume),
                )
                if kinds
            },
        }


def record(state: Status | None, event: Event, actor: str, at: datetime, cause: str) -> AuditEntry:
    """Apply `event` and describe it for the audit trail."""
    if at.tzinfo is None:
        raise ValueError(f"naive datetime {at}; every instant must carry a zone")
    return AuditEntry(apply(state, event), actor, at, cause)
