"""Scheduled reminders (催办), breaches and escalations: every clock whose next action is due.

The sweep reads only clocks whose indexed `next_action_at` has passed, asks daemon.clocks what
is due, and carries it out in the transaction that records the decision, so a reminder or a
ladder step is queued exactly once however often sweeps run and however many instances share
the database (PostgreSQL: FOR UPDATE SKIP LOCKED; SQLite: the write transaction serialises).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import and_, or_, select
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from daemon import clockmoves, clocks, events, ladder, notices, notify, route
from daemon.clocks import ClockKind, ClockState
from daemon.deps import Deps
from daemon.ladder import Recipient
from daemon.lifecycle import Event
from daemon.notices import ClockFacts, TicketFacts, ToldBefore, local_time
from daemon.org import OrgSettings
from daemon.replycommands import Satisfaction
from daemon.store import clockrows, deferred, records
from daemon.store.models import Ticket, TicketClock, TicketEvent, one_of

log = logging.getLogger(__name__)

ACTOR = events.DAEMON

# What the handler does to satisfy each clock: the mail tells them, and it is what stops it.
SATISFIED_BY: dict[ClockKind, Event] = {
    ClockKind.FIRST_RESPONSE: Event.ACKNOWLEDGE,
    ClockKind.FIRST_CONTACT: Event.CONTACT,
    ClockKind.RESOLUTION: Event.RESOLVE,
    ClockKind.CLOSE: Event.CLOSE,
    ClockKind.CALLBACK: Event.CALLBACK,
    ClockKind.REPLY: Event.RESOLVE,
    ClockKind.MAJOR_REPORT: Event.REPORT_MAJOR,
}


@dataclass(frozen=True, slots=True)
class SweepAction:
    """One thing a sweep did (or, in a dry run, would do)."""

    ticket: str
    action: str  # "remind" | "breach" | "upgrade" | "escalate"
    step: int | None  # the ladder step of an escalation
    to: tuple[str, ...]  # addresses mailed
    clock: str
    due: datetime

    def as_json(self, zone: ZoneInfo) -> dict[str, Any]:
        return {
            "ticket": self.ticket,
            "action": self.action,
            "step": self.step,
            "to": list(self.to),
            "clock": self.clock,
            "due": self.due.astimezone(zone).isoformat(),
        }


@dataclass(frozen=True, slots=True)
class SweepReport:
    actions: tuple[SweepAction, ...]
    examined: int  # clock rows loaded


class _DryRun(Exception):
    """Raised at the end of a dry-run batch so its transaction rolls back."""


def sweep(deps: Deps, now: datetime, dry_run: bool = False, limit: int = 1000) -> SweepReport:
    """Carry out every clock action due at `now`, in batches of `limit` clocks, oldest first."""
    if now.tzinfo is None:
        raise ValueError(f"naive datetime {now}; every instant must carry a zone")
    done: list[SweepAction] = []
    examined = 0
    after: tuple[datetime, int] | None = None
    while True:
        batch: list[SweepAction] = []
        try:
            with deps.store.transaction() as session:
                rows = _due(session, now, after, limit)
                examined += len(rows)
                if rows:
                    last = rows[-1]
                    assert last.next_action_at is not None
                    after = (last.next_action_at, last.id)
                for row in rows:
                    batch.extend(_guarded(session, row, deps, now))
                if dry_run:
                    raise _DryRun
        except _DryRun:
            pass
        done.extend(batch)
        if len(rows) < limit:
            break
    if done and not dry_run:
        log.info("sweep at %s: %d actions on %d clocks", now.isoformat(), len(done), examined)
    return SweepReport(tuple(done), examined)


def _due(
    session: Session, now: datetime, after: tuple[datetime, int] | None, limit: int
) -> list[TicketClock]:
    query = select(TicketClock).where(TicketClock.next_action_at <= now)
    if after is not None:
        # Keyset paging: a dry run leaves rows due, so the next batch must start past them.
        at, row_id = after
        query = query.where(
            or_(
                TicketClock.next_action_at > at,
                and_(TicketClock.next_action_at == at, TicketClock.id > row_id),
            )
        )
    query = query.order_by(TicketClock.next_action_at, TicketClock.id).limit(limit)
    if session.get_bind().dialect.name == "postgresql":
        # Another instance sweeping at the same moment skips the clocks this one holds.
        query = query.with_for_update(skip_locked=True)
    return list(session.scalars(query))


def _guarded(session: Session, row: TicketClock, deps: Deps, now: datetime) -> list[SweepAction]:
    """One clock in a savepoint: a clock that fails is logged and retried next sweep."""
    try:
        with session.begin_nested():
            return _run_clock(session, row, deps, now)
    except DBAPIError:
        raise  # the database itself is in trouble: stop the sweep
    except Exception:
        log.exception("clock #%d of ticket #%d failed; retried next sweep", row.id, row.ticket_id)
        return []


@dataclass
class _Job:
    """What carrying out one clock's decision needs, gathered once."""

    session: Session
    deps: Deps
    now: datetime
    ticket: Ticket
    state: ClockState
    facts: TicketFacts
    clock: ClockFacts
    told: set[str] = field(default_factory=set)  # addresses escalated to in this decision
    mail: bool = True  # False in a backfill: record what would be sent, mail nobody

    @property
    def org(self) -> OrgSettings:
        return self.deps.triage.org

    @property
    def zone(self) -> ZoneInfo:
        return self.deps.settings.zone

    @property
    def due(self) -> datetime:
        assert self.state.due_at is not None
        return self.state.due_at

    @property
    def holder(self) -> ladder.Holder:
        t = self.ticket
        return ladder.Holder(t.handler, t.handler_email, tuple(t.excluded))

    def event(self, detail: events.Detail) -> None:
        records.add_event(self.session, self.ticket.id, self.now, ACTOR, detail)

    def action(self, action: str, to: tuple[str, ...] = (), step: int | None = None) -> SweepAction:
        return SweepAction(self.ticket.number, action, step, to, self.state.kind.value, self.due)


def _run_clock(session: Session, row: TicketClock, deps: Deps, now: datetime) -> list[SweepAction]:
    state = clockrows.state_of(row)
    decision = clocks.decide(state, now, deps.triage.calendar)
    clockrows.write(row, decision.after, decision.next_action_at)
    if not decision.actions:
        return []
    ticket = session.get_one(Ticket, row.ticket_id)
    facts = notify.ticket_facts(session, ticket, deps.settings)
    job = _Job(session, deps, now, ticket, state, facts, _clock_facts(state, ticket, deps))
    done: list[SweepAction] = []
    rungs: tuple[ladder.Rung, ...] | None = None
    for action in decision.actions:
        if isinstance(action, clocks.Remind):
            done.append(_remind(job, action))
        elif isinstance(action, clocks.Breach):
            done.append(_breach(job, action))
        elif isinstance(action, clocks.UpgradeSeverity):
            done.extend(_upgrade(job))
        else:
            if rungs is None:
                rungs = ladder.escalation_ladder(
                    ticket.handler,
                    job.org,
                    now,
                    tuple(ticket.excluded),
                    steps=len(state.plan.ladder),
                    told=_escalated_to(job),
                )
            done.append(_escalate(job, rungs[action.step - 1]))
    return done


def _clock_facts(state: ClockState, ticket: Ticket, deps: Deps) -> ClockFacts:
    kind = state.kind
    event = SATISFIED_BY[kind]
    assert state.due_at is not None  # a clock with actions due has a due time
    return ClockFacts(
        clock=kind.value,
        rule=state.plan.rule,
        due=local_time(state.due_at, deps.settings.zone),
        basis=state.plan.basis.value,
        act_event=event.value,
        act_command=f"complaintd tickets act {ticket.number} {event.value}",
    )


# -- reminders ------------------------------------------------------------------------------------


def _remind(job: _Job, action: clocks.Remind) -> SweepAction:
    calendar = job.deps.triage.calendar
    left = job.state.budget - clocks.consumed(job.state, job.now, calendar)
    told = _told_before(job)
    if job.state.kind is ClockKind.CALLBACK:
        # Customer care calls back, not the handler (seed 000, 7.10).
        recipients, nobody = _callers(job)
    else:
        recipients, nobody = ladder.reminder_recipients(job.holder, job.org, job.now)

    def body(r: Recipient) -> notices.Body:
        if job.state.kind is ClockKind.CALLBACK:
            return _phone_the_customer(job, r, round(action.fraction * 100), _minutes(left))
        return notices.Reminder(
            job.facts,
            job.clock,
            used_percent=round(action.fraction * 100),
            left_minutes=_minutes(left),
            told_before=told,
            recipient_name=_name(job.org, r.key),
            delegated_from=_delegated_from(job.org, r),
        )

    sent = _send(job, recipients, body)
    job.event(
        events.Reminded(
            job.state.kind.value,
            job.state.plan.rule,
            action.fraction,
            job.due,
            tuple(r.key for r in recipients),
            sent,
        )
    )
    if not sent:
        _unheard(job, "reminder", None, nobody or "no recipient has an address we may use")
    return job.action("remind", sent)


# -- breaches -------------------------------------------------------------------------------------


def _breach(job: _Job, action: clocks.Breach) -> SweepAction:
    clockrows.book_missed(
        job.session,
        job.ticket.id,
        clockmoves.missed(job.state, action, job.ticket.handler, job.now),
    )
    kind = job.state.plan.kind.value
    log.info("%s %s overdue (due %s)", job.ticket.number, kind, action.due_at)
    return job.action("breach")


def _upgrade(job: _Job) -> list[SweepAction]:
    """Seed 002, part 5: a complaint not closed in time moves one severity level up."""
    ticket = job.ticket
    scale = job.deps.settings.classifier.severity_scale
    raised = clocks.raise_level(ticket.severity, scale)
    if raised == ticket.severity:
        return []  # already at the top, or a level the scale does not know
    job.event(events.SeverityUpgraded(ticket.severity, raised, job.state.kind.value))
    log.info("%s severity %s -> %s", ticket.number, ticket.severity, raised)
    ticket.severity = raised
    ticket.updated_at = job.now
    job.facts = replace(job.facts, severity=raised)
    return [job.action("upgrade")]


# -- escalation -----------------------------------------------------------------------------------


def _escalate(job: _Job, rung: ladder.Rung) -> SweepAction:
    """Tell the ladder step's person, copying the neutral third party; a step that tells
    nobody new sends nothing, and one that nobody could take is a warning."""
    step = rung.step
    recipients = ladder.rung_recipients(rung, job.org)
    copies = ladder.copies(job.holder, job.org, job.now, {r.key for r in recipients})
    if not recipients:
        copies = []  # a copy of a step nobody was given
    calendar = job.deps.triage.calendar
    late = clocks.overdue(job.state, job.now, calendar)
    told = _told_before(job)

    def body(copy: bool) -> Callable[[Recipient], notices.Body]:
        def made(r: Recipient) -> notices.Body:
            return notices.Escalation(
                job.facts,
                job.clock,
                step=step,
                steps=len(job.state.plan.ladder),
                late_minutes=_minutes(late),
                handler=_name(job.org, job.ticket.handler),
                handler_email=job.ticket.handler_email,
                told_before=told,
                copy=copy,
                recipient_name=_name(job.org, r.key),
                delegated_from=_delegated_from(job.org, r),
            )

        return made

    fresh = [r for r in recipients if r.email not in job.told]
    fresh_copies = [c for c in copies if c.email not in job.told]
    sent = _send(job, fresh, body(False)) + _send(job, fresh_copies, body(True))
    job.told.update(sent)
    job.event(
        events.Escalated(
            job.state.kind.value,
            job.state.plan.rule,
            step,
            tuple(r.key for r in fresh),
            tuple(c.key for c in fresh_copies),
            sent,
            late.total_seconds(),
            "" if fresh else rung.why or "already told",
        )
    )
    if job.mail and (rung.unfilled or (recipients and not sent)):
        _unheard(job, _what(job), step, rung.why or "no recipient has an address we may use")
    elif not fresh:
        log.info("%s %s step %d told nobody new: %s", job.ticket.number, job.state.kind, step,
                 rung.why)  # fmt: skip
    else:
        log.info("%s %s escalated, step %d to %s", job.ticket.number, job.state.kind, step, sent)
    return job.action("escalate", sent, step)


def _what(job: _Job) -> str:
    return "major_report" if job.state.kind is ClockKind.MAJOR_REPORT else "escalation"


def _unheard(job: _Job, what: str, step: int | None, why: str) -> None:
    """A notice that reached nobody: a warning, and an audit entry `complaintd status` shows."""
    kind = job.state.kind.value
    at = f" step {step}" if step is not None else ""
    log.warning("%s %s%s (%s) went to nobody: %s", job.ticket.number, what, at, kind, why)
    job.event(events.Unheard(what, kind, step, why))


def _escalated_to(job: _Job) -> frozenset[str]:
    """Everyone an earlier step of this clock told: a person hears once per clock."""
    deferred.flush(job.session)  # a reply's earlier command may have escalated
    rows = job.session.scalars(
        select(TicketEvent).where(
            TicketEvent.ticket_id == job.ticket.id,
            TicketEvent.kind == events.Kind.ESCALATED,
            # A clock started again (a reopened ticket) climbs its ladder afresh.
            TicketEvent.at >= job.state.started_at,
        )
    ).all()
    kind = job.state.kind.value
    return frozenset(k for e in rows if e.detail.get("clock") == kind for k in e.detail["to"])


# -- mail -----------------------------------------------------------------------------------------


def _send(
    job: _Job, recipients: list[Recipient], body: Callable[[Recipient], notices.Body]
) -> tuple[str, ...]:
    """Queue one notice per recipient (never to anyone the complaint names); their addresses."""
    settings = job.deps.settings
    if not job.mail:
        return ()
    barred = _excluded_addresses(job)
    sent: list[str] = []
    for r in recipients:
        if not r.email or r.key in job.ticket.excluded or r.email.lower() in barred:
            continue
        made = body(r)
        for d in r.delegations:
            job.event(events.Delegated(d, notice=made.template))
        notice = made.letter(settings.service.default_language, r.email)
        notify.enqueue(
            job.session, notice, job.ticket.id, made.template, job.deps.composer, settings, job.now
        )
        sent.append(r.email)
    return tuple(sent)


def _delegated_from(org: OrgSettings, r: Recipient) -> str:
    return _name(org, r.delegations[0].absent) if r.delegations else ""


def _excluded_addresses(job: _Job) -> set[str]:
    people = (route.find_person(job.org, key) for key in job.ticket.excluded)
    return {p.email.lower() for p in people if p is not None}


def _told_before(job: _Job) -> tuple[ToldBefore, ...]:
    """Earlier reminders and escalations of this ticket, oldest first, for "who was told"."""
    deferred.flush(job.session)
    rows = job.session.scalars(
        select(TicketEvent)
        .where(
            TicketEvent.ticket_id == job.ticket.id,
            one_of(TicketEvent.kind, (events.Kind.REMINDED, events.Kind.ESCALATED)),
        )
        .order_by(TicketEvent.id)
    ).all()
    told: list[ToldBefore] = []
    for e in rows:
        keys = [*e.detail.get("to", []), *e.detail.get("copies", [])]
        if not keys:
            continue  # a step that told nobody new, or a notice that reached nobody
        told.append(
            ToldBefore(
                at=local_time(e.at, job.zone),
                what="escalation" if e.kind == events.Kind.ESCALATED else "reminder",
                step=e.detail.get("step"),
                clock=e.detail.get("clock", ""),
                who=", ".join(_name(job.org, k) for k in keys) or "-",
            )
        )
    return tuple(told)


def _name(org: OrgSettings, key: str) -> str:
    person = route.find_person(org, key)
    return person.name if person is not None else key


def _minutes(span: timedelta) -> int:
    return max(int(span.total_seconds() // 60), 0)


# -- the satisfaction callback --------------------------------------------------------------------

# Seed 000, 7.10: the customer-care manager has the callback specialist (回访员) phone the
# customer within 2 days of the result; without one, the customer-care manager hears of it.
CALLBACK_ROLE = "callback_specialist"

# The rule an escalation for an unsatisfied customer is recorded under (on the callback clock).
UNSATISFIED = "customer-unsatisfied"


def _callers(job: _Job) -> tuple[list[Recipient], str]:
    """Who phones the customer: the callback specialist, else the customer-care manager (or
    whoever stands in for them); with nobody, why not."""
    chart = route.Chart(job.org, job.now, frozenset(job.ticket.excluded))
    for role in (CALLBACK_ROLE, job.org.care_manager_role):
        key, used, _ = chart.fill(role, "", "callback")
        person = chart.people.get(key)
        if person is not None and person.email:
            return [Recipient(person.key, person.email, used)], ""
    return [], f"nobody holds role {CALLBACK_ROLE} or {job.org.care_manager_role}"


def _phone_the_customer(job: _Job, r: Recipient, used: int, left: int) -> notices.Body:
    result, asked = _resolution_told(job)
    return notices.CallbackReminder(
        job.facts,
        job.clock,
        used_percent=used,
        left_minutes=left,
        resolved_at=local_time(job.state.started_at, job.zone),
        result=result,
        asked=asked,
        handler=_name(job.org, job.ticket.handler),
        recipient_name=_name(job.org, r.key),
        delegated_from=_delegated_from(job.org, r),
    )


def _resolution_told(job: _Job) -> tuple[str, bool]:
    """The result the customer was told at this resolution, and whether they were asked."""
    deferred.flush(job.session)
    rows = job.session.scalars(
        select(TicketEvent.detail).where(
            TicketEvent.ticket_id == job.ticket.id,
            TicketEvent.kind == events.Kind.CUSTOMER_MAIL,
            TicketEvent.at >= job.state.started_at,
        )
    ).all()
    result = next((str(d.get("text", "")) for d in rows if d.get("what") == "resolution"), "")
    asked = any(d.get("what") == "satisfaction" and d.get("status") == "pending" for d in rows)
    return result, asked


def escalate_unsatisfied(
    session: Session,
    ticket: Ticket,
    state: ClockState,
    deps: Deps,
    now: datetime,
    answer: Satisfaction,
    reply: str,
    mail: bool = True,
) -> SweepAction:
    """The customer is still unhappy with the result: one step up the ladder (seed 000, 7.9),
    the next after any earlier unhappy answer on this ticket, copying the neutral third party.

    Recorded as an escalation of the callback clock (`state`, started by the resolution
    answered) under the rule UNSATISFIED.
    """
    facts = notify.ticket_facts(session, ticket, deps.settings)
    job = _Job(session, deps, now, ticket, state, facts, _clock_facts(state, ticket, deps))
    deferred.flush(session)
    earlier = [
        e.detail
        for e in session.scalars(
            select(TicketEvent).where(
                TicketEvent.ticket_id == ticket.id, TicketEvent.kind == events.Kind.ESCALATED
            )
        )
        if e.detail.get("rule") == UNSATISFIED
    ]
    steps = len(state.plan.ladder)
    rungs = ladder.escalation_ladder(
        ticket.handler,
        job.org,
        now,
        tuple(ticket.excluded),
        steps=steps,
        told=frozenset(k for d in earlier for k in d.get("to", [])),
    )
    after = max((int(d.get("step", 0)) for d in earlier), default=0)
    # One step: the next rung that tells someone (or that nobody could take, a warning).
    rung = next((r for r in rungs[after:] if r.person or r.unfilled), rungs[-1])
    recipients = ladder.rung_recipients(rung, job.org)
    copies = ladder.copies(job.holder, job.org, now, {r.key for r in recipients})
    if not recipients:
        copies = []
    told = _told_before(job)

    def body(copy: bool) -> Callable[[Recipient], notices.Body]:
        def made(r: Recipient) -> notices.Body:
            return notices.Unsatisfied(
                facts,
                reply=reply,
                score=answer.score,
                step=rung.step,
                steps=steps,
                handler=_name(job.org, ticket.handler),
                told_before=told,
                copy=copy,
                recipient_name=_name(job.org, r.key),
                delegated_from=_delegated_from(job.org, r),
            )

        return made

    sent: tuple[str, ...] = ()
    if mail:
        sent = _send(job, recipients, body(False)) + _send(job, copies, body(True))
    job.event(
        events.Escalated(
            ClockKind.CALLBACK.value,
            UNSATISFIED,
            rung.step,
            tuple(r.key for r in recipients),
            tuple(c.key for c in copies),
            sent,
            0.0,
            "" if recipients else rung.why or "already told",
        )
    )
    if mail and (rung.unfilled or (recipients and not sent)):
        _unheard(job, "escalation", rung.step, rung.why or "no recipient has an address we may use")
    log.info("%s customer unsatisfied: step %d to %s", ticket.number, rung.step, sent or "nobody")
    return job.action("escalate", sent, rung.step)
