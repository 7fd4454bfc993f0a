"""The desk's figures for one period, defined once: what `report summary` prints and what the
scheduled report mails chart.

Pure: daemon.reports.gather reads the store into plain facts; `summarize` counts them.

Definitions (the issue leaves some open; these are the ones every output uses):
- A ticket is *open at the end* when it was opened before the end and not closed then.
- Its *age* is the number of working days after the day it was opened, up to and including
  the last day of the period (a ticket opened today is 0).
- A clock *counts* in the period when it was met on time in it (stopped, never breached) or
  missed in it (breached, by the missed-clock ledger); `due` = on time + missed.
- A *survey* is one satisfaction question sent in the period; its answer is the customer's
  first verdict on that ticket after it, before the next question and before the end.
"""

from __future__ import annotations

from bisect import bisect_right
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

CLOCK_KINDS = (
    "first_response",
    "first_contact",
    "resolution",
    "close",
    "callback",
    "reply",
    "major_report",
)
DIMENSIONS = ("category", "department", "channel", "severity", "handler", "manufacturer")
AGE_BUCKETS = ("0-1", "1-3", "3-7", "7+")

# ------------------------------------------------------------------ settings --------------------


@dataclass(frozen=True, slots=True)
class ClockPenalty:
    """What one missed clock costs the handler, and their line manager (seed 000)."""

    handler: int = 0
    manager: int = 0


def _default_penalties() -> dict[str, ClockPenalty]:
    # Seed 000, articles 3 and 6: late response or closing by customer care 100 each; first
    # contact over 2 hours 100 to the handler; unresolved in 3 days 50 each to the handler
    # and the retail or service manager.
    return {
        "first_response": ClockPenalty(100),
        "first_contact": ClockPenalty(100),
        "resolution": ClockPenalty(50, 50),
        "close": ClockPenalty(100),
        "callback": ClockPenalty(100),
    }


@dataclass(frozen=True, slots=True)
class ReportSettings:
    penalties: Mapping[str, ClockPenalty] = field(default_factory=_default_penalties)
    # Seed 002, 7.6.3.2: each further month a clock stays missed adds the penalty once more.
    repeat_after_days: int = 30
    # Seed 000, article 3: a failed re-survey of a 零抱怨 case costs the dealership 3000.
    zero_complaint_penalty: int = 3000
    # Seed 000, article 8: more than 3 attitude/process complaints in a week make the
    # retail or service manager jointly responsible, 50.
    recurring_threshold: int = 3
    recurring_penalty: int = 50
    recurring_categories: tuple[str, ...] = ("service",)
    # Person key -> their line manager's key, and -> display name (from [org]).
    manager_of: Mapping[str, str] = field(default_factory=dict)
    names: Mapping[str, str] = field(default_factory=dict)


# ------------------------------------------------------------------ facts -----------------------


@dataclass(frozen=True, slots=True)
class TicketFact:
    id: int
    number: str
    status: str
    opened_at: datetime
    closed_at: datetime | None
    category: str
    department: str
    channel: str
    severity: str
    handler: str
    manufacturer: str  # the OEM of its manufacturer case; "" for none


@dataclass(frozen=True, slots=True)
class TransitionFact:
    ticket_id: int
    at: datetime
    event: str  # lifecycle.Event value
    source: str | None  # lifecycle.Status value before it; None when it opened the ticket
    target: str  # lifecycle.Status value


@dataclass(frozen=True, slots=True)
class ClockFact:
    """One stop of a clock."""

    ticket_id: int
    kind: str
    stopped_at: datetime
    on_time: bool  # stopped before it was due, with no breach on record


@dataclass(frozen=True, slots=True)
class LedgerFact:
    """One row of the missed-clock ledger."""

    ticket_id: int
    clock: str
    person: str
    due_at: datetime
    breached_at: datetime
    overdue_seconds: float


@dataclass(frozen=True, slots=True)
class SurveyFact:
    """A satisfaction question sent (verdict None) or the customer's answer."""

    ticket_id: int
    at: datetime
    verdict: str | None  # None: the question; "satisfied" | "unsatisfied": the answer
    score: int | None = None


@dataclass(frozen=True, slots=True)
class CaseFact:
    """A manufacturer's 零抱怨 case (a low survey score sent back to the dealership)."""

    ticket_id: int
    oem: str
    case_id: str
    dispatched_at: datetime
    resurveyed_at: datetime | None = None
    resurvey_satisfied: bool | None = None  # None until the re-survey settled it
    penalty: float | None = None  # the fine recorded on a failed case; None: the configured one


@dataclass(frozen=True, slots=True)
class Facts:
    tickets: tuple[TicketFact, ...]
    # Every transition from the period's start on (also after its end: the status at the
    # end is the one before the first transition after it, else the ticket's status now).
    transitions: tuple[TransitionFact, ...]
    clocks: tuple[ClockFact, ...]
    ledger: tuple[LedgerFact, ...]
    surveys: tuple[SurveyFact, ...]
    cases: tuple[CaseFact, ...]
    # Every working day from the oldest open ticket's opening to the period's end, sorted.
    working_days: tuple[date, ...]


# ------------------------------------------------------------------ the summary -----------------


def _rate(part: int, whole: int) -> float | None:
    return None if whole == 0 else round(part / whole, 4)


def _iso(t: datetime, zone: ZoneInfo) -> str:
    return t.astimezone(zone).isoformat()


@dataclass(frozen=True, slots=True)
class Period:
    since: datetime  # inclusive
    until: datetime  # exclusive
    zone: ZoneInfo

    def __post_init__(self) -> None:
        # Compared with every fact's instant: UTC on both sides is the cheap comparison.
        object.__setattr__(self, "since", self.since.astimezone(UTC))
        object.__setattr__(self, "until", self.until.astimezone(UTC))

    def holds(self, t: datetime | None) -> bool:
        return t is not None and self.since <= t < self.until

    @property
    def last_day(self) -> date:
        return (self.until - timedelta(microseconds=1)).astimezone(self.zone).date()

    @property
    def week(self) -> tuple[datetime, datetime]:
        """The week (Monday on) holding the period's last day, cut at the period's end."""
        day = self.last_day
        monday = datetime.combine(day - timedelta(days=day.weekday()), time(0), self.zone)
        return monday, min(monday + timedelta(days=7), self.until)

    def as_json(self) -> dict[str, object]:
        return {
            "since": _iso(self.since, self.zone),
            "until": _iso(self.until, self.zone),
            "timezone": str(self.zone),
        }


@dataclass(frozen=True, slots=True)
class TicketCounts:
    opened: int
    resolved: int
    closed: int
    reopened: int
    open_at_end: int
    backlog: Mapping[str, int]  # AGE_BUCKETS -> tickets open at the end

    def as_json(self) -> dict[str, object]:
        return {
            "opened": self.opened,
            "resolved": self.resolved,
            "closed": self.closed,
            "reopened": self.reopened,
            "open_at_end": self.open_at_end,
            "backlog": dict(self.backlog),
        }


@dataclass(frozen=True, slots=True)
class ClockFigures:
    kind: str
    on_time: int
    missed: int

    @property
    def due(self) -> int:
        return self.on_time + self.missed

    @property
    def on_time_rate(self) -> float | None:
        return _rate(self.on_time, self.due)

    def as_json(self) -> dict[str, object]:
        return {
            "due": self.due,
            "on_time": self.on_time,
            "missed": self.missed,
            "on_time_rate": self.on_time_rate,
        }


@dataclass(frozen=True, slots=True)
class Satisfaction:
    surveyed: int
    satisfied: int
    unsatisfied: int
    mean_score: float | None  # over the answers that gave a score

    @property
    def no_answer(self) -> int:
        return self.surveyed - self.satisfied - self.unsatisfied

    @property
    def rate(self) -> float | None:
        """Seed 004: satisfaction rate = satisfied / surveyed."""
        return _rate(self.satisfied, self.surveyed)

    def as_json(self) -> dict[str, object]:
        return {
            "surveyed": self.surveyed,
            "satisfied": self.satisfied,
            "unsatisfied": self.unsatisfied,
            "no_answer": self.no_answer,
            "rate": self.rate,
            "mean_score": self.mean_score,
        }


@dataclass(frozen=True, slots=True)
class BreakdownRow:
    value: str  # "" when the ticket has none
    opened: int  # tickets opened in the period
    missed: int  # clocks missed in the period, on tickets with this value

    def as_json(self) -> dict[str, object]:
        return {"value": self.value, "opened": self.opened, "missed": self.missed}


@dataclass(frozen=True, slots=True)
class Breakdown:
    """Per dimension (DIMENSIONS), its values, most tickets first."""

    rows: Mapping[str, tuple[BreakdownRow, ...]]

    def as_json(self) -> dict[str, object]:
        return {dim: [r.as_json() for r in rows] for dim, rows in self.rows.items()}


@dataclass(frozen=True, slots=True)
class PenaltyLine:
    person: str
    name: str
    role: str  # "handler" | "manager"
    clock: str  # a clock kind, or "recurring"
    missed: int  # breaches (or complaints over the threshold, for recurring)
    amount: int
    tickets: tuple[str, ...]  # ticket numbers behind the line

    def as_json(self) -> dict[str, object]:
        return {
            "person": self.person,
            "name": self.name,
            "role": self.role,
            "clock": self.clock,
            "missed": self.missed,
            "amount": self.amount,
            "tickets": list(self.tickets),
        }


@dataclass(frozen=True, slots=True)
class ZeroComplaint:
    opened: int  # 零抱怨 cases dispatched in the period
    resurveyed: int  # re-surveyed in the period
    succeeded: int
    failed: int
    penalty: int  # failed x the configured amount, charged to the dealership
    tickets: tuple[str, ...]  # the failed ones

    def as_json(self) -> dict[str, object]:
        return {
            "opened": self.opened,
            "resurveyed": self.resurveyed,
            "succeeded": self.succeeded,
            "failed": self.failed,
            "penalty": self.penalty,
            "failed_tickets": list(self.tickets),
        }


@dataclass(frozen=True, slots=True)
class Recurring:
    """Attitude and process complaints under one manager in the period's last week."""

    manager: str
    name: str
    complaints: int
    threshold: int
    tickets: tuple[str, ...]

    @property
    def flagged(self) -> bool:
        return self.complaints > self.threshold

    def as_json(self) -> dict[str, object]:
        return {
            "manager": self.manager,
            "name": self.name,
            "complaints": self.complaints,
            "threshold": self.threshold,
            "flagged": self.flagged,
            "tickets": list(self.tickets),
        }


@dataclass(frozen=True, slots=True)
class Summary:
    period: Period
    tickets: TicketCounts
    clocks: tuple[ClockFigures, ...]  # in CLOCK_KINDS order
    satisfaction: Satisfaction
    breakdown: Breakdown
    penalties: tuple[PenaltyLine, ...]
    zero_complaint: ZeroComplaint
    recurring: tuple[Recurring, ...]

    def clock(self, kind: str) -> ClockFigures:
        return next(c for c in self.clocks if c.kind == kind)

    @property
    def penalty_total(self) -> int:
        return sum(p.amount for p in self.penalties)

    def as_json(self) -> dict[str, object]:
        return {
            "period": self.period.as_json(),
            "tickets": self.tickets.as_json(),
            "clocks": {c.kind: c.as_json() for c in self.clocks},
            "satisfaction": self.satisfaction.as_json(),
            "breakdown": self.breakdown.as_json(),
            "penalties": [p.as_json() for p in self.penalties],
            "zero_complaint": self.zero_complaint.as_json(),
            "recurring": [r.as_json() for r in self.recurring],
        }


# ------------------------------------------------------------------ counting --------------------


def summarize(facts: Facts, period: Period, settings: ReportSettings) -> Summary:
    numbers = {t.id: t.number for t in facts.tickets}
    breaches = _breaches(facts.ledger, period)
    return Summary(
        period=period,
        tickets=_ticket_counts(facts, period),
        clocks=_clock_figures(facts.clocks, breaches, period),
        satisfaction=_satisfaction(facts.surveys, period),
        breakdown=_breakdown(facts.tickets, breaches, period),
        penalties=_penalties(facts, breaches, period, settings, numbers),
        zero_complaint=_zero_complaint(facts.cases, period, settings, numbers),
        recurring=_recurring(facts.tickets, period, settings),
    )


def age_bucket(age: int) -> str:
    """A working-day age into its backlog bucket: 0-1, 1-3, 3-7, 7+ (upper bound included)."""
    if age <= 1:
        return "0-1"
    if age <= 3:
        return "1-3"
    if age <= 7:
        return "3-7"
    return "7+"


def working_age(opened: date, last_day: date, working_days: tuple[date, ...]) -> int:
    """Working days after `opened` up to and including `last_day`."""
    if last_day <= opened:
        return 0
    return bisect_right(working_days, last_day) - bisect_right(working_days, opened)


def open_at(ticket: TicketFact, later: Iterable[TransitionFact], end: datetime) -> bool:
    """Was the ticket opened before `end` and not closed then? `later` holds (at least) its
    transitions at or after `end`."""
    if ticket.opened_at >= end:
        return False
    first = min((tr for tr in later if tr.at >= end), key=lambda tr: tr.at, default=None)
    status = ticket.status if first is None else first.source
    return status != "closed"


def _ticket_counts(facts: Facts, period: Period) -> TicketCounts:
    events: Counter[str] = Counter()
    targets: Counter[str] = Counter()
    history: dict[int, list[TransitionFact]] = defaultdict(list)
    for tr in facts.transitions:
        history[tr.ticket_id].append(tr)
        if period.holds(tr.at):
            events[tr.event] += 1
            targets[tr.target] += 1
    last_day = period.last_day
    backlog = dict.fromkeys(AGE_BUCKETS, 0)
    for t in facts.tickets:
        if open_at(t, history.get(t.id, ()), period.until):
            opened = t.opened_at.astimezone(period.zone).date()
            backlog[age_bucket(working_age(opened, last_day, facts.working_days))] += 1
    return TicketCounts(
        opened=sum(1 for t in facts.tickets if period.holds(t.opened_at)),
        resolved=targets["resolved"],
        closed=targets["closed"],
        reopened=events["reopen"],
        open_at_end=sum(backlog.values()),
        backlog=backlog,
    )


def _breaches(
    ledger: Iterable[LedgerFact], period: Period
) -> dict[tuple[int, str, datetime], list[LedgerFact]]:
    """The ledger's breaches in the period: one per ticket, clock and due time (the ledger
    has a row per responsible person)."""
    out: dict[tuple[int, str, datetime], list[LedgerFact]] = defaultdict(list)
    for row in ledger:
        if period.holds(row.breached_at):
            out[(row.ticket_id, row.clock, row.due_at)].append(row)
    return out


def _clock_figures(
    clocks: Iterable[ClockFact],
    breaches: Mapping[tuple[int, str, datetime], list[LedgerFact]],
    period: Period,
) -> tuple[ClockFigures, ...]:
    on_time: Counter[str] = Counter(
        c.kind for c in clocks if c.on_time and period.holds(c.stopped_at)
    )
    missed: Counter[str] = Counter(kind for (_, kind, _) in breaches)
    kinds = list(CLOCK_KINDS) + sorted((set(on_time) | set(missed)) - set(CLOCK_KINDS))
    return tuple(ClockFigures(k, on_time[k], missed[k]) for k in kinds)


def _satisfaction(surveys: Iterable[SurveyFact], period: Period) -> Satisfaction:
    per_ticket: dict[int, list[SurveyFact]] = defaultdict(list)
    for s in surveys:
        if s.at < period.until:
            per_ticket[s.ticket_id].append(s)
    surveyed = satisfied = unsatisfied = 0
    scores: list[int] = []
    for items in per_ticket.values():
        items.sort(key=lambda s: (s.at, s.verdict is not None))
        question: SurveyFact | None = None
        for s in items:
            if s.verdict is None:
                question = s if period.holds(s.at) else None
                surveyed += question is not None
                continue
            if question is None:
                continue  # an answer to a question of an earlier period, or a second answer
            if s.verdict == "satisfied":
                satisfied += 1
            else:
                unsatisfied += 1
            if s.score is not None:
                scores.append(s.score)
            question = None
    mean = round(sum(scores) / len(scores), 2) if scores else None
    return Satisfaction(surveyed, satisfied, unsatisfied, mean)


def _value(t: TicketFact, dim: str) -> str:
    value: str = getattr(t, dim)
    return value


def _breakdown(
    tickets: Iterable[TicketFact],
    breaches: Mapping[tuple[int, str, datetime], list[LedgerFact]],
    period: Period,
) -> Breakdown:
    by_id = {t.id: t for t in tickets}
    missed_per_ticket = Counter(tid for (tid, _, _) in breaches)
    rows: dict[str, tuple[BreakdownRow, ...]] = {}
    for dim in DIMENSIONS:
        opened: Counter[str] = Counter()
        missed: Counter[str] = Counter()
        for t in by_id.values():
            if period.holds(t.opened_at):
                opened[_value(t, dim)] += 1
        for tid, n in missed_per_ticket.items():
            if tid in by_id:
                missed[_value(by_id[tid], dim)] += n
        values = sorted(set(opened) | set(missed), key=lambda v: (-opened[v], -missed[v], v))
        rows[dim] = tuple(BreakdownRow(v, opened[v], missed[v]) for v in values)
    return Breakdown(rows)


def repeat_multiplier(overdue_seconds: float, repeat_after_days: int) -> int:
    """1, plus one for each further `repeat_after_days` the clock stayed missed (seed 002)."""
    if repeat_after_days <= 0:
        return 1
    return 1 + int(max(overdue_seconds, 0.0) // (repeat_after_days * 86400))


def _penalties(
    facts: Facts,
    breaches: Mapping[tuple[int, str, datetime], list[LedgerFact]],
    period: Period,
    settings: ReportSettings,
    numbers: Mapping[int, str],
) -> tuple[PenaltyLine, ...]:
    missed: Counter[tuple[str, str, str]] = Counter()
    amounts: Counter[tuple[str, str, str]] = Counter()
    tickets: dict[tuple[str, str, str], set[str]] = defaultdict(set)

    def charge(key: tuple[str, str, str], amount: int, ticket_id: int) -> None:
        missed[key] += 1
        amounts[key] += amount
        tickets[key].add(numbers.get(ticket_id, str(ticket_id)))

    for rows in breaches.values():
        for row in rows:
            rule = settings.penalties.get(row.clock, ClockPenalty())
            times = repeat_multiplier(row.overdue_seconds, settings.repeat_after_days)
            charge((row.person, "handler", row.clock), rule.handler * times, row.ticket_id)
            manager = settings.manager_of.get(row.person)
            if manager and rule.manager:
                charge((manager, "manager", row.clock), rule.manager * times, row.ticket_id)
    for r in _recurring(facts.tickets, period, settings):
        if r.flagged and settings.recurring_penalty:
            key = (r.manager, "manager", "recurring")
            missed[key] = r.complaints
            amounts[key] = settings.recurring_penalty
            tickets[key] = set(r.tickets)
    return tuple(
        PenaltyLine(
            person=k[0],
            name=settings.names.get(k[0], ""),
            role=k[1],
            clock=k[2],
            missed=missed[k],
            amount=amounts[k],
            tickets=tuple(sorted(tickets[k])),
        )
        for k in sorted(missed)
    )


def _zero_complaint(
    cases: Iterable[CaseFact],
    period: Period,
    settings: ReportSettings,
    numbers: Mapping[int, str],
) -> ZeroComplaint:
    cases = tuple(cases)
    resurveyed = [c for c in cases if period.holds(c.resurveyed_at)]
    failed = [c for c in resurveyed if c.resurvey_satisfied is False]
    return ZeroComplaint(
        opened=sum(1 for c in cases if period.holds(c.dispatched_at)),
        resurveyed=len(resurveyed),
        succeeded=sum(1 for c in resurveyed if c.resurvey_satisfied is True),
        failed=len(failed),
        penalty=round(
            sum(settings.zero_complaint_penalty if c.penalty is None else c.penalty for c in failed)
        ),
        tickets=tuple(sorted(numbers.get(c.ticket_id, str(c.ticket_id)) for c in failed)),
    )


def _recurring(
    tickets: Iterable[TicketFact], period: Period, settings: ReportSettings
) -> tuple[Recurring, ...]:
    start, end = period.week
    start = max(start, period.since)
    per_manager: dict[str, list[str]] = defaultdict(list)
    for t in tickets:
        if t.category in settings.recurring_categories and start <= t.opened_at < end:
            manager = settings.manager_of.get(t.handler) or t.handler
            if manager:
                per_manager[manager].append(t.number)
    return tuple(
        Recurring(
            m,
            settings.names.get(m, ""),
            len(nums),
            settings.recurring_threshold,
            tuple(sorted(nums)),
        )
        for m, nums in sorted(per_manager.items())
    )


# ------------------------------------------------------------------ flat rows -------------------


@dataclass(frozen=True, slots=True)
class FigureRow:
    """One figure as a row of a table (CSV, a spreadsheet): which section, which item in it
    (a clock kind, a category, a person ...), which measure, and its value."""

    section: str
    item: str
    measure: str
    value: int | float | str | None


def figure_rows(summary: Summary) -> tuple[FigureRow, ...]:
    """Every figure of the summary, once, in the order of its JSON."""
    s = summary
    rows: list[FigureRow] = []
    add = rows.append
    for key, value in s.period.as_json().items():
        add(FigureRow("period", "", key, str(value)))
    t = s.tickets
    for key, n in (
        ("opened", t.opened),
        ("resolved", t.resolved),
        ("closed", t.closed),
        ("reopened", t.reopened),
        ("open_at_end", t.open_at_end),
    ):
        add(FigureRow("tickets", "", key, n))
    for bucket, n in t.backlog.items():
        add(FigureRow("tickets", "backlog", bucket, n))
    for c in s.clocks:
        for key, value in c.as_json().items():
            add(FigureRow("clocks", c.kind, key, _cell(value)))
    for key, value in s.satisfaction.as_json().items():
        add(FigureRow("satisfaction", "", key, _cell(value)))
    for dim, brows in s.breakdown.rows.items():
        for b in brows:
            add(FigureRow(f"breakdown.{dim}", b.value, "opened", b.opened))
            add(FigureRow(f"breakdown.{dim}", b.value, "missed", b.missed))
    for p in s.penalties:
        item = f"{p.person}/{p.role}/{p.clock}"
        add(FigureRow("penalties", item, "missed", p.missed))
        add(FigureRow("penalties", item, "amount", p.amount))
        add(FigureRow("penalties", item, "tickets", " ".join(p.tickets)))
    for key, value in s.zero_complaint.as_json().items():
        add(FigureRow("zero_complaint", "", key, _cell(value)))
    for r in s.recurring:
        add(FigureRow("recurring", r.manager, "complaints", r.complaints))
        add(FigureRow("recurring", r.manager, "flagged", str(r.flagged).lower()))
    return tuple(rows)


def _cell(value: object) -> int | float | str | None:
    if value is None or isinstance(value, int | float | str):
        return value
    if isinstance(value, list | tuple):
        return " ".join(str(v) for v in value)
    return str(value)
