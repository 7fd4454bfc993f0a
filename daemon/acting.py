"""Staff act on a ticket: a lifecycle event, the clocks it moves, the ledger and the audit trail."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from daemon import clockmoves, clocks, customer_voice, events, lifecycle, notices, notify, route
from daemon import matter as matters
from daemon.clocks import ClockKind, ClockState
from daemon.deps import Deps
from daemon.feeds import writeback as feed_writeback
from daemon.lifecycle import Event, Status
from daemon.store import clockrows, records
from daemon.store.models import Customer, Ticket
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
    result: str = "",
) -> ActResult:
    """Apply `event` to ticket `number` at `now`; raises InvalidTransition or ActError.

    `handler` (a person key) is who an ASSIGN hands the ticket to; `result` is what a RESOLVE
    tells the customer.
    """
    with deps.store.transaction() as session:
        ticket_id = session.scalar(select(Ticket.id).where(Ticket.number == number.upper()))
        if ticket_id is None:
            raise ActError(f"no ticket {number}; `complaintd tickets list` shows the numbers")
        with holding(session, ticket_id) as held:
            return act_in(session, deps, held, event, actor, cause, now, handler, result)


@dataclass(slots=True)
class Held:
    """A ticket and its clocks (by kind), locked for the rest of the caller's transaction:
    taken once, however many actions a reply applies. The clocks are values, moved along as
    the actions write them; the ticket's changes are written together (holding)."""

    ticket: Ticket
    clocks: dict[ClockKind, ClockState]
    _customer: Customer | None = None
    _changes: dict[str, Any] = field(default_factory=dict)

    def customer(self, session: Session) -> Customer:
        """The ticket's customer, read once: held here, later reads of it (the customer's
        notices) find it in the session rather than in the database."""
        if self._customer is None:
            self._customer = session.get_one(Customer, self.ticket.customer_id)
        return self._customer

    def change(self, **columns: Any) -> None:
        """Change the ticket: it shows the new values at once, and holding() writes them all
        in one statement as its block ends (not the ORM's unit of work: a reply's hot path)."""
        for name, value in columns.items():
            set_committed_value(self.ticket, name, value)
        self._changes.update(columns)

    def running(self) -> list[tuple[str, datetime]]:
        """The clocks counting towards a due time now: (kind, due at)."""
        return [
            (kind.value, state.due_at)
            for kind, state in self.clocks.items()
            if state.stopped_at is None and state.due_at is not None and state.paused_at is None
        ]


@contextmanager
def holding(session: Session, ticket_id: int) -> Iterator[Held]:
    """Hold a ticket for the actions of the block, and write the ticket's changes as it ends.
    An error leaves them unwritten: the caller's savepoint (db.savepoint) or transaction rolls
    back the rest, and has the session forget what the ticket showed."""
    held = hold(session, ticket_id)
    yield held
    records.change_ticket(session, ticket_id, held._changes)
    held._changes.clear()


def hold(session: Session, ticket_id: int) -> Held:
    """Lock a ticket's clocks, then the ticket, in the order a sweep takes them, so the two
    never deadlock (PostgreSQL); SQLite's writer already holds the whole database. Actions
    on it run in holding(), which writes what they change."""
    if session.get_bind().dialect.name != "postgresql":
        states = clockrows.states(session, ticket_id)
        return Held(session.get_one(Ticket, ticket_id), states)
    # A sweep holding one of these rows finishes first; one starting later skips them. The
    # ticket is read again once locked: what was read before may be what the sweep changed.
    states = clockrows.states(session, ticket_id, lock=True)
    return Held(session.scalars(_LOCKED_TICKET, {"ticket": ticket_id}).one(), states)


def lock(session: Session, ticket_id: int) -> None:
    """Take the ticket as hold() does before reading it to decide something a sweep must not
    act on meanwhile, such as who may hear of it (PostgreSQL; on SQLite the writer already
    holds the whole database)."""
    if session.get_bind().dialect.name == "postgresql":
        hold(session, ticket_id)


# Built once: every reply and staff action takes a ticket.
_LOCKED_TICKET = (
    select(Ticket)
    .where(Ticket.id == bindparam("ticket"))
    .with_for_update()
    .execution_options(populate_existing=True)
)


def act_in(
    session: Session,
    deps: Deps,
    held: Held,
    event: Event,
    actor: str,
    cause: str,
    now: datetime,
    handler: str | None = None,
    result: str = "",
    mail: bool = True,
) -> ActResult:
    """act() in the caller's transaction, on a ticket it holds: a staff reply applies its
    commands in its own.

    A RESOLVE tells the customer `result` (when given) and asks whether they are satisfied,
    whoever resolves and however; `mail=False` (a backfill) records without mailing.
    """
    ticket = held.ticket
    if now < ticket.opened_at:
        raise ActError(f"{now.isoformat()} is before the ticket was opened")
    before = Status(ticket.status)
    entry = lifecycle.record(before, event, actor, now, cause)
    if handler is not None and event is not Event.ASSIGN:
        raise ActError(f"a handler is only named with {Event.ASSIGN.value}, not {event}")
    if event is Event.ASSIGN:
        _assign(session, held, handler, actor, deps, now)
    newly_major = event is Event.MARK_MAJOR and not ticket.major
    if newly_major:
        held.change(major=[MARKED_BY_STAFF])
    records.add_event(session, ticket.id, now, actor, events.Transition(entry.detail()))
    changes = _move_clocks(session, held, entry.transition, deps, now)
    target = entry.transition.target
    if newly_major:
        changes += _report_major(session, held, MARKED_BY_STAFF, deps, now)
    held.change(status=target.value, updated_at=now)
    if target is Status.CLOSED:
        held.change(closed_at=now)
    elif event is Event.REOPEN:
        held.change(closed_at=None)
    if event is Event.RESOLVE and mail:
        customer_voice.resolved(session, ticket, result, deps, now, actor)
    if target is not before:  # a manufacturer's case may want to hear of it
        feed_writeback.on_transition(session, deps, ticket.id, ticket.number, target.value, now)
    log.info("%s %s by %s: %s -> %s (%s)", ticket.number, event, actor, before, target, cause)
    return ActResult(ticket.number, event.value, before.value, target.value, tuple(changes))


def _move_clocks(
    session: Session, held: Held, t: lifecycle.Transition, deps: Deps, now: datetime
) -> list[ClockChange]:
    ticket = held.ticket
    plans = {p.kind: p for p in _plans(session, held, deps)} if t.start else {}
    calendar = deps.triage.calendar
    moved = clockmoves.moves(t, held.clocks, plans, ticket.handler, now, calendar)
    clockrows.apply(session, ticket.id, held.clocks, moved)
    return [
        ClockChange(
            m.kind.value,
            m.change,
            None if m.change == "paused" else m.state.due_at,
            m.late_seconds,
        )
        for m in moved
    ]


def _plans(session: Session, held: Held, deps: Deps) -> tuple[clocks.ClockPlan, ...]:
    ticket, tier = held.ticket, held.customer(session).tier
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
    session: Session, held: Held, handler: str | None, actor: str, deps: Deps, now: datetime
) -> None:
    org, ticket = deps.triage.org, held.ticket
    if handler is None:
        raise ActError(f"{Event.ASSIGN.value} needs the new handler's person key (--to KEY)")
    person = route.find_person(org, handler)
    if person is None:
        raise ActError(f"nobody with key {handler!r} in [[org.people]]")
    if handler in ticket.excluded:
        raise ActError(f"{handler} is named in the complaint and may not handle it")
    # Handed to someone away, the ticket goes to whoever stands in for them (授权委托).
    chart = route.Chart(org, now, frozenset(ticket.excluded))
    found, used = chart.stand_in(handler)
    if not found:
        raise ActError(f"{handler} is away and nobody can stand in for them; name someone else")
    for d in used:
        records.add_event(session, ticket.id, now, actor, events.Delegated(d))
    person = chart.people[found]
    held.change(handler=person.key, handler_email=person.email)
    assigned = events.Assigned(person.key, (), f"by {actor}")
    records.add_event(session, ticket.id, now, actor, assigned)
    body = notices.Assignment(
        notify.ticket_facts(session, ticket, deps.settings),
        evidence=notices.cues((e["target"], e["phrase"]) for e in ticket.evidence),
        major=tuple(str(m) for m in ticket.major),
        handler=person.name,
        deadlines=_deadlines(held, deps),
    )
    notice = body.letter(deps.settings.service.default_language, person.email)
    notify.enqueue(session, notice, ticket.id, "assignment", deps.composer, deps.settings, now)


def _deadlines(held: Held, deps: Deps) -> tuple[notices.Deadline, ...]:
    running = [
        (kind.value, state.due_at)
        for kind, state in held.clocks.items()
        if state.stopped_at is None and state.due_at is not None
    ]
    return notices.deadlines(running, deps.settings.zone)


# -- major complaints -----------------------------------------------------------------------------


def _report_major(
    session: Session,
    held: Held,
    how: str,
    deps: Deps,
    now: datetime,
    mail: bool = True,
) -> list[ClockChange]:
    """Tell the general manager and legal of a ticket that has just become major, in the
    caller's transaction; when the general manager heard it, the 24-hour report is met."""
    org, ticket = deps.triage.org, held.ticket
    chart = route.Chart(org, now, frozenset(ticket.excluded))
    body = notices.Inform(
        notify.ticket_facts(session, ticket, deps.settings),
        evidence=notices.cues((e["target"], e["phrase"]) for e in ticket.evidence),
        major=tuple(str(m) for m in ticket.major),
        handler=getattr(chart.people.get(ticket.handler), "name", ticket.handler),
        deadlines=_deadlines(held, deps),
    )
    told: list[str] = []
    emails: list[str] = []
    gm_heard = False
    for role, what in ((org.general_manager_role, "general manager"), (org.legal_role, "legal")):
        key, used, note = chart.fill(role, ticket.department, what)
        if not key:
            why = note or f"{what}: nobody available for role {role}"
            log.warning("%s major report went to nobody: %s", ticket.number, why)
            unheard = events.Unheard("major_report", "", None, why)
            records.add_event(session, ticket.id, now, events.DAEMON, unheard)
            continue
        person = chart.people[key]
        gm_heard = gm_heard or person.role == org.general_manager_role
        if key == ticket.handler or person.email in emails:
            continue  # the handler knows; one mail each
        for d in used:
            records.add_event(session, ticket.id, now, events.DAEMON, events.Delegated(d, "inform"))
        if mail:
            notice = body.letter(deps.settings.service.default_language, person.email)
            notify.enqueue(session, notice, ticket.id, "inform", deps.composer, deps.settings, now)
        told.append(key)
        emails.append(person.email)
    reported = events.MajorReported(how, tuple(told), tuple(emails))
    records.add_event(session, ticket.id, now, events.DAEMON, reported)
    log.info("%s major (%s): reported to %s", ticket.number, how, ", ".join(told) or "nobody")
    if not gm_heard:
        return []  # the 24-hour clock runs on and takes the ladder to the general manager
    status = Status(ticket.status)
    entry = lifecycle.record(status, Event.REPORT_MAJOR, events.DAEMON, now, f"major ({how})")
    records.add_event(session, ticket.id, now, events.DAEMON, events.Transition(entry.detail()))
    return _move_clocks(session, held, entry.transition, deps, now)


def report_group(
    deps: Deps, session: Session, matter: str, number: str, now: datetime, mail: bool = True
) -> None:
    """A complaint that made its matter a group complaint: the matter's earlier open tickets
    become major too, and the general manager and legal hear of each at once."""
    since = now - timedelta(days=deps.triage.repeat_window_days)
    query = (
        select(Ticket)
        .where(
            Ticket.matter_key == matter,
            Ticket.number != number,
            Ticket.opened_at >= since,
            Ticket.status != Status.CLOSED.value,
        )
        .order_by(Ticket.id)
    )
    for ticket in session.scalars(query).all():
        flags = matters.group_flags(tuple(str(m) for m in ticket.major))
        if flags is None:
            continue  # major already: its general manager and legal were told
        with holding(session, ticket.id) as held:
            held.change(major=list(flags), updated_at=now)
            status = Status(held.ticket.status)
            cause = f"group complaint: {number} is about the same matter"
            entry = lifecycle.record(status, Event.MARK_MAJOR, events.DAEMON, now, cause)
            transition = events.Transition(entry.detail())
            records.add_event(session, ticket.id, now, events.DAEMON, transition)
            _move_clocks(session, held, entry.transition, deps, now)
            _report_major(session, held, matters.GROUP, deps, now, mail)
