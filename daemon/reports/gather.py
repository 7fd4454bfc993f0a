"""The store read into plain facts for one period (daemon.reports.figures counts them).

Every query is bounded by indexed time columns (ticket_events.at, clock_stops.stopped_at,
missed_clocks.breached_at, tickets.closed_at) or by open status, so a week's report costs
the same however many tickets were closed before it.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from daemon import events
from daemon.config import Settings
from daemon.customer_voice import SATISFACTION
from daemon.reports.figures import (
    CaseFact,
    ClockFact,
    Facts,
    LedgerFact,
    Period,
    Summary,
    SurveyFact,
    TicketFact,
    TransitionFact,
    summarize,
)
from daemon.reports.settings import report_settings
from daemon.store.cases import ManufacturerCase
from daemon.store.models import ClockStop, MissedClock, Ticket, TicketEvent
from daemon.workdays import BusinessCalendar

CLOSED = "closed"
# A satisfaction question counts as a survey once it was queued to the customer.
SURVEY_SENT = "pending"


def summary_of(session: Session, period: Period, settings: Settings) -> Summary:
    """The period's figures under the configured penalties and org chart."""
    calendar = BusinessCalendar.from_settings(settings.calendar)
    facts = gather(session, period, calendar)
    return summarize(facts, period, report_settings(settings.reports, settings.org))


def gather(session: Session, period: Period, calendar: BusinessCalendar) -> Facts:
    since, until = period.since, period.until
    ledger = _ledger(session, since, until)
    cases = _cases(session, since, until)
    tickets = _tickets(
        session, since, until, {r.ticket_id for r in ledger} | {c.ticket_id for c in cases}
    )
    oldest = min((t.opened_at for t in tickets), default=since)
    return Facts(
        tickets=tickets,
        transitions=_transitions(session, since),
        clocks=_clocks(session, since, until),
        ledger=ledger,
        surveys=_surveys(session, since, until),
        cases=cases,
        working_days=working_days(calendar, oldest.astimezone(period.zone).date(), period.last_day),
    )


def working_days(calendar: BusinessCalendar, first: date, last: date) -> tuple[date, ...]:
    out: list[date] = []
    day = first
    while day <= last:
        if calendar.day(day).is_working_day:
            out.append(day)
        day += timedelta(days=1)
    return tuple(out)


def _tickets(
    session: Session, since: datetime, until: datetime, also: set[int]
) -> tuple[TicketFact, ...]:
    """Tickets that may count: opened before the end and not closed before the start (open
    now, or last closed in or after the period), and those the ledger or a case names."""
    touched = and_(
        Ticket.opened_at < until,
        or_(Ticket.status != CLOSED, Ticket.closed_at >= since),
    )
    where = or_(touched, Ticket.id.in_(sorted(also))) if also else touched
    query = (
        select(
            Ticket.id,
            Ticket.number,
            Ticket.status,
            Ticket.opened_at,
            Ticket.closed_at,
            Ticket.category,
            Ticket.department,
            Ticket.channel,
            Ticket.severity,
            Ticket.handler,
            ManufacturerCase.oem,
        )
        .outerjoin(ManufacturerCase, ManufacturerCase.ticket_id == Ticket.id)
        .where(where)
    )
    return tuple(
        TicketFact(
            id=row[0],
            number=row[1],
            status=row[2],
            opened_at=row[3],
            closed_at=row[4],
            category=row[5],
            department=row[6],
            channel=row[7],
            severity=row[8],
            handler=row[9],
            manufacturer=row[10] or "",
        )
        for row in session.execute(query)
    )


def _transitions(session: Session, since: datetime) -> tuple[TransitionFact, ...]:
    # The detail's fields read by the database: decoding every event's JSON here costs more
    # than the rest of the report.
    d = TicketEvent.detail
    query = select(
        TicketEvent.ticket_id,
        TicketEvent.at,
        d["event"].as_string(),
        d["from"].as_string(),
        d["to"].as_string(),
    ).where(TicketEvent.kind == events.Kind.TRANSITION.value, TicketEvent.at >= since)
    return tuple(
        TransitionFact(tid, at, event or "", source, target or "")
        for tid, at, event, source, target in session.execute(query)
    )


def _clocks(session: Session, since: datetime, until: datetime) -> tuple[ClockFact, ...]:
    """Clocks stopped in the period (met, on time or late), each stop of a clock a ticket's
    reopening restarted included."""
    query = select(
        ClockStop.ticket_id, ClockStop.clock, ClockStop.stopped_at, ClockStop.on_time
    ).where(ClockStop.stopped_at >= since, ClockStop.stopped_at < until)
    return tuple(ClockFact(*row) for row in session.execute(query))


def _ledger(session: Session, since: datetime, until: datetime) -> tuple[LedgerFact, ...]:
    query = select(
        MissedClock.ticket_id,
        MissedClock.clock,
        MissedClock.person,
        MissedClock.due_at,
        MissedClock.breached_at,
        MissedClock.overdue_seconds,
    ).where(MissedClock.breached_at >= since, MissedClock.breached_at < until)
    return tuple(LedgerFact(*row) for row in session.execute(query))


def _surveys(session: Session, since: datetime, until: datetime) -> tuple[SurveyFact, ...]:
    """The satisfaction questions queued to customers, and their answers, in the period."""
    d = TicketEvent.detail
    question = and_(
        TicketEvent.kind == events.Kind.CUSTOMER_MAIL.value,
        d["what"].as_string() == SATISFACTION,
        d["status"].as_string() == SURVEY_SENT,
    )
    query = select(
        TicketEvent.ticket_id,
        TicketEvent.at,
        TicketEvent.kind,
        d["verdict"].as_string(),
        d["score"].as_integer(),
    ).where(
        or_(TicketEvent.kind == events.Kind.SATISFACTION.value, question),
        TicketEvent.at >= since,
        TicketEvent.at < until,
    )
    return tuple(
        SurveyFact(tid, at, verdict if kind == events.Kind.SATISFACTION.value else None, score)
        for tid, at, kind, verdict, score in session.execute(query)
    )


def _cases(session: Session, since: datetime, until: datetime) -> tuple[CaseFact, ...]:
    """零抱怨 cases dispatched in the period or re-surveyed in it."""
    mc = ManufacturerCase
    query = select(mc).where(
        mc.zero_complaint.is_(True),
        or_(
            and_(mc.dispatched_at >= since, mc.dispatched_at < until),
            and_(mc.resurveyed_at >= since, mc.resurveyed_at < until),
        ),
    )
    return tuple(
        CaseFact(
            ticket_id=c.ticket_id,
            oem=c.oem,
            case_id=c.case_id,
            dispatched_at=c.dispatched_at,
            resurveyed_at=c.resurveyed_at,
            resurvey_satisfied=_settled(c.zero_complaint_result),
            penalty=c.zero_complaint_penalty,
        )
        for c in session.scalars(query)
    )


def _settled(result: str | None) -> bool | None:
    return {"success": True, "failure": False}.get(result or "")
