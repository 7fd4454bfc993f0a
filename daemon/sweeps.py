"""Scheduled reminders (催办), breaches and escalations: every clock whose next action is due.

The sweep reads only clocks whose indexed `next_action_at` has passed, asks daemon.clocks what
is due, and carries it out in the transaction that records the decision, so a reminder or a
ladder step is queued exactly once however often sweeps run and however many instances share
the database (PostgreSQL: FOR UPDATE SKIP LOCKED; SQLite: the write transaction serialises).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import and_, or_, select
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from daemon import clocks, notify, route
from daemon.clocks import ClockKind, ClockState
from daemon.lifecycle import Event
from daemon.pipeline import Deps
from daemon.route import OrgSettings
from daemon.store import clockrows, records
from daemon.store.models import MissedClock, Ticket, TicketClock, TicketEvent
from daemon.values import Delegation, Notice

log = logging.getLogger(__name__)

ACTOR = "complaintd"

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
    base: dict[str, object] = field(default_factory=dict)
    told: set[str] = field(default_factory=set)  # addresses escalated to in this decision

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

    def event(self, kind: str, detail: dict[str, Any]) -> None:
        records.add_event(self.session, self.ticket.id, self.now, ACTOR, kind, detail)

    def action(self, action: str, to: tuple[str, ...] = (), step: int | None = None) -> SweepAction:
        return SweepAction(self.ticket.number, action, step, to, self.state.kind.value, self.due)


def _run_clock(session: Session, row: TicketClock, deps: Deps, now: datetime) -> list[SweepAction]:
    state = clockrows.state_of(row)
    decision = clocks.decide(state, now, deps.triage.calendar)
    clockrows.write(row, decision.after, decision.next_action_at)
    if not decision.actions:
        return []
    ticket = session.get_one(Ticket, row.ticket_id)
    job = _Job(session, deps, now, ticket, state)
    job.base = notify.ticket_context(session, ticket, deps.settings) | _clock_context(job)
    done: list[SweepAction] = []
    rungs: tuple[route.Rung, ...] | None = None
    for action in decision.actions:
        if isinstance(action, clocks.Remind):
            done.append(_remind(job, action))
        elif isinstance(action, clocks.Breach):
            done.append(_breach(job, action))
        elif isinstance(action, clocks.UpgradeSeverity):
            done.extend(_upgrade(job))
        else:
            if rungs is None:
                rungs = route.escalation_ladder(
                    ticket.handler, job.org, now, tuple(ticket.excluded)
                )
            done.append(_escalate(job, action.step, rungs))
    return done


def _clock_context(job: _Job) -> dict[str, object]:
    kind = job.state.kind
    event = SATISFIED_BY[kind]
    return {
        "clock": kind.value,
        "rule": job.state.plan.rule,
        "due": notify.local_time(job.due, job.zone),
        "basis": job.state.plan.basis.value,
        "act_event": event.value,
        "act_command": f"complaintd tickets act {job.ticket.number} {event.value}",
    }


# -- reminders ------------------------------------------------------------------------------------


def _remind(job: _Job, action: clocks.Remind) -> SweepAction:
    calendar = job.deps.triage.calendar
    left = job.state.budget - clocks.consumed(job.state, job.now, calendar)
    context = job.base | {
        "used_percent": round(action.fraction * 100),
        "left_minutes": _minutes(left),
        "told_before": _told_before(job),
    }
    recipients = _handler_recipients(job)
    sent = _send(job, "reminder", recipients, context)
    job.event(
        "reminded",
        {
            "clock": job.state.kind.value,
            "rule": job.state.plan.rule,
            "fraction": action.fraction,
            "due": job.due.isoformat(),
            "to": [key for key, _, _ in recipients],
            "emails": list(sent),
        },
    )
    return job.action("remind", sent)


def _handler_recipients(job: _Job) -> list[tuple[str, str, tuple[Delegation, ...]]]:
    """Who gets a reminder: the handler or their deputy; customer care for an unassigned one."""
    ticket, org = job.ticket, job.org
    excluded = tuple(ticket.excluded)
    key = ticket.handler
    if not key:
        care = next(
            (
                p.key
                for p in org.people
                if p.role == org.care_manager_role and p.key not in excluded
            ),
            "",
        )
        if not care:
            return []
        key = care
    found, used = route.present(key, org, job.now, excluded)
    person = route.find_person(org, found or key)
    if person is None:
        # A handler no longer in the chart keeps getting their tickets' mail.
        return [(key, ticket.handler_email, ())] if ticket.handler_email else []
    return [(person.key, person.email, used if found else ())]


# -- breaches -------------------------------------------------------------------------------------


def _breach(job: _Job, action: clocks.Breach) -> SweepAction:
    plan = job.state.plan
    job.session.add(
        MissedClock(
            ticket_id=job.ticket.id,
            clock=plan.kind.value,
            rule=plan.rule,
            person=job.ticket.handler,
            due_at=action.due_at,
            breached_at=job.now,
            overdue_seconds=action.overdue.total_seconds(),
        )
    )
    job.event(
        "breached",
        {
            "clock": plan.kind.value,
            "rule": plan.rule,
            "due": action.due_at.isoformat(),
            "person": job.ticket.handler,
            "overdue_seconds": action.overdue.total_seconds(),
        },
    )
    log.info("%s %s overdue (due %s)", job.ticket.number, plan.kind.value, action.due_at)
    return job.action("breach")


def _upgrade(job: _Job) -> list[SweepAction]:
    """Seed 002, part 5: a complaint not closed in time moves one severity level up."""
    ticket = job.ticket
    scale = job.deps.settings.classifier.severity_scale
    raised = clocks.raise_level(ticket.severity, scale)
    if raised == ticket.severity:
        return []  # already at the top, or a level the scale does not know
    job.event(
        "severity-upgraded",
        {"from": ticket.severity, "to": raised, "clock": job.state.kind.value},
    )
    log.info("%s severity %s -> %s", ticket.number, ticket.severity, raised)
    ticket.severity = raised
    ticket.updated_at = job.now
    job.base["severity"] = raised
    return [job.action("upgrade")]


# -- escalation -----------------------------------------------------------------------------------


def _escalate(job: _Job, step: int, rungs: tuple[route.Rung, ...]) -> SweepAction:
    """Tell ladder step `step`; a chart with fewer rungs than steps repeats its last rung."""
    recipients: list[tuple[str, str, tuple[Delegation, ...]]] = []
    if rungs:
        rung = rungs[min(step, len(rungs)) - 1]
        person = route.find_person(job.org, rung.person)
        if person is not None:
            recipients.append((person.key, person.email, rung.delegations))
    copies = _copies(job, {key for key, _, _ in recipients})
    calendar = job.deps.triage.calendar
    context = job.base | {
        "step": step,
        "steps": len(job.state.plan.ladder),
        "late_minutes": _minutes(clocks.overdue(job.state, job.now, calendar)),
        "handler": _name(job.org, job.ticket.handler),
        "handler_email": job.ticket.handler_email,
        "told_before": _told_before(job),
    }
    fresh = [r for r in recipients if r[1] not in job.told]
    fresh_copies = [c for c in copies if c[1] not in job.told]
    sent = _send(job, "escalation", fresh, context | {"copy": False})
    sent += _send(job, "escalation", fresh_copies, context | {"copy": True})
    job.told.update(sent)
    job.event(
        "escalated",
        {
            "clock": job.state.kind.value,
            "rule": job.state.plan.rule,
            "step": step,
            "to": [key for key, _, _ in fresh],
            "copies": [key for key, _, _ in fresh_copies],
            "emails": list(sent),
            "overdue_seconds": clocks.overdue(job.state, job.now, calendar).total_seconds(),
        },
    )
    log.info("%s %s escalated, step %d to %s", job.ticket.number, job.state.kind, step, sent)
    return job.action("escalate", sent, step)


def _copies(job: _Job, taken: set[str]) -> list[tuple[str, str, tuple[Delegation, ...]]]:
    """The neutral third party for this step, never the handler or anyone the complaint names."""
    org, excluded = job.org, tuple(job.ticket.excluded)
    out: list[tuple[str, str, tuple[Delegation, ...]]] = []
    for role in org.escalation_copy_roles:
        holder = next((p for p in org.people if p.role == role and p.key not in excluded), None)
        if holder is None:
            continue
        found, used = route.present(holder.key, org, job.now, excluded)
        person = route.find_person(org, found)
        if person is None or person.key in taken or person.key == job.ticket.handler:
            continue
        taken.add(person.key)
        out.append((person.key, person.email, used))
    return out


# -- mail -----------------------------------------------------------------------------------------


def _send(
    job: _Job,
    template: str,
    recipients: list[tuple[str, str, tuple[Delegation, ...]]],
    context: dict[str, object],
) -> tuple[str, ...]:
    """Queue one notice per recipient (never to anyone the complaint names); their addresses."""
    settings = job.deps.settings
    barred = _excluded_addresses(job)
    sent: list[str] = []
    for key, address, delegations in recipients:
        if not address or key in job.ticket.excluded or address.lower() in barred:
            continue
        for d in delegations:
            job.event(
                "delegated",
                {"absent": d.absent, "deputy": d.deputy, "reason": d.reason, "for": template},
            )
        absent = delegations[0].absent if delegations else ""
        notice = Notice(
            template=template,
            language=settings.service.default_language,
            recipient=address,
            context=context
            | {
                "recipient_name": _name(job.org, key),
                "delegated_from": _name(job.org, absent) if absent else "",
            },
            ticket=job.ticket.number,
        )
        notify.enqueue(
            job.session, notice, job.ticket.id, template, job.deps.composer, settings, job.now
        )
        sent.append(address)
    return tuple(sent)


def _excluded_addresses(job: _Job) -> set[str]:
    people = (route.find_person(job.org, key) for key in job.ticket.excluded)
    return {p.email.lower() for p in people if p is not None}


def _told_before(job: _Job) -> list[dict[str, object]]:
    """Earlier reminders and escalations of this ticket, oldest first, for "who was told"."""
    events = job.session.scalars(
        select(TicketEvent)
        .where(
            TicketEvent.ticket_id == job.ticket.id,
            TicketEvent.kind.in_(("reminded", "escalated")),
        )
        .order_by(TicketEvent.id)
    ).all()
    told: list[dict[str, object]] = []
    for e in events:
        keys = [*e.detail.get("to", []), *e.detail.get("copies", [])]
        told.append(
            {
                "at": notify.local_time(e.at, job.zone),
                "what": "escalation" if e.kind == "escalated" else "reminder",
                "step": e.detail.get("step"),
                "clock": e.detail.get("clock", ""),
                "who": ", ".join(_name(job.org, k) for k in keys) or "-",
            }
        )
    return told


def _name(org: OrgSettings, key: str) -> str:
    person = route.find_person(org, key)
    return person.name if person is not None else key


def _minutes(span: timedelta) -> int:
    return max(int(span.total_seconds() // 60), 0)
