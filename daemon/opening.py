"""Opening a ticket, decided before anything is written: its state on the lifecycle, the clocks
that starts, the audit entries and the notices, from the classification, the assignment and the
clock plans. Pure: the shell gathers the facts and writes the decision in one transaction."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

from daemon import clockmoves, events, lifecycle, notices
from daemon.clocks import ClockKind, ClockPlan, ClockState
from daemon.lifecycle import Event, Status
from daemon.notices import TicketFacts
from daemon.values import Assignment, Classification, Notice
from daemon.workdays import BusinessCalendar


@dataclass(frozen=True, slots=True)
class Letter:
    """A notice to queue, with the kind the outbox records it under."""

    kind: str
    notice: Notice


@dataclass(frozen=True, slots=True)
class Mail:
    """What the notices of a new ticket need from the message that opened it."""

    answer_to: str  # where the customer's acknowledgement goes
    message_id: str | None
    references: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Policy:
    """The standing settings an opening reads."""

    calendar: BusinessCalendar
    zone: ZoneInfo
    staff_language: str
    send_mail: bool
    # When the customer will hear from us, given the running clocks' due times.
    promise: Callable[[dict[ClockKind, datetime], datetime], datetime]
    names: Mapping[str, str] = field(default_factory=dict)  # person key -> name, for notices


@dataclass(frozen=True, slots=True)
class Opening:
    """A new ticket, decided: everything filing it writes besides the ticket row itself."""

    status: Status
    clocks: tuple[tuple[ClockState, datetime | None], ...]  # each with its next_action_at
    events: tuple[events.Entry, ...]  # after "opened", which names the stored message
    letters: tuple[Letter, ...]


def steps(c: Classification, a: Assignment, reports_major: bool) -> list[Event]:
    """The lifecycle events a new complaint goes through in the transaction that files it."""
    out = [Event.OPEN] + ([Event.ASSIGN] if a.handler else [])
    if c.is_major and reports_major:
        out.append(Event.REPORT_MAJOR)  # the general manager is told in this transaction
    return out


def decide(
    c: Classification,
    a: Assignment,
    plans: tuple[ClockPlan, ...],
    reports_major: bool,
    facts: TicketFacts,
    mail: Mail,
    policy: Policy,
    now: datetime,
) -> Opening:
    """Open (and assign) the ticket on the state machine; start the clocks that brings."""
    entries = _audit(c, a)
    by_kind = {p.kind: p for p in plans}
    running: dict[ClockKind, ClockState] = {}
    next_at: dict[ClockKind, datetime | None] = {}
    status: Status | None = None
    for step in steps(c, a, reports_major):
        entry = lifecycle.record(status, step, events.DAEMON, now, "new complaint")
        entries.append(events.Entry(entry.actor, events.Transition(entry.detail())))
        status = entry.transition.target
        moved = clockmoves.moves(
            entry.transition, running, by_kind, a.handler, now, policy.calendar
        )
        for m in moved:
            running[m.kind] = m.state
            next_at[m.kind] = m.next_action_at
    due = {
        kind: state.due_at
        for kind, state in running.items()
        if state.stopped_at is None and state.due_at is not None
    }
    started = tuple((state, next_at[kind]) for kind, state in running.items())
    letters = _letters(c, a, due, facts, mail, policy, now) if policy.send_mail else ()
    return Opening(status or Status.NEW, started, tuple(entries), letters)


def _audit(c: Classification, a: Assignment) -> list[events.Entry]:
    daemon = events.DAEMON
    entries = [
        events.Entry(daemon, events.Classified(c)),
        *(events.Entry(daemon, events.Delegated(d)) for d in a.delegations),
    ]
    if a.excluded:
        entries.append(events.Entry(daemon, events.Excluded(a.excluded)))
    # A title and surname that fits several people excluded them all: customer care checks.
    entries.extend(
        events.Entry(daemon, events.AmbiguousName(u.term, u.people)) for u in a.ambiguous
    )
    entries.append(events.Entry(daemon, events.Assigned.of(a)))
    entries.extend(
        events.Entry(daemon, events.Unheard("major_report", "", None, why)) for why in a.unheard
    )
    return entries


def _letters(
    c: Classification,
    a: Assignment,
    due: dict[ClockKind, datetime],
    facts: TicketFacts,
    mail: Mail,
    policy: Policy,
    now: datetime,
) -> tuple[Letter, ...]:
    reply_by = policy.promise(due, now)
    ack = notices.Acknowledgement(facts, notices.local_time(reply_by, policy.zone))
    letters = [
        Letter(
            "acknowledgement",
            ack.letter(
                c.language,
                mail.answer_to,
                in_reply_to=mail.message_id,
                references=mail.references,
                auto_reply=True,
            ),
        )
    ]
    deadlines = notices.deadlines(((k.value, at) for k, at in due.items()), policy.zone)
    handler = policy.names.get(a.handler, a.handler)
    briefing = (facts, notices.cues(c.evidence), c.major, handler, deadlines)
    language = policy.staff_language
    if a.handler_email:
        handed = notices.Assignment(*briefing)
        letters.append(Letter("assignment", handed.letter(language, a.handler_email)))
    unsure = tuple(
        notices.UnsureName(u.term, tuple(policy.names.get(k, k) for k in u.people))
        for u in a.ambiguous
    )
    for address in a.inform:
        if address != a.handler_email:
            told = notices.Inform(*briefing, unsure if address == a.care_email else ())
            letters.append(Letter("inform", told.letter(language, address)))
    return tuple(letters)
