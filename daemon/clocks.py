"""Which deadlines a ticket gets, when they fall due, and what each sweep must do about them."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from enum import StrEnum

from daemon.workdays import BusinessCalendar

_ZERO = timedelta(0)


class ClockKind(StrEnum):
    FIRST_RESPONSE = "first_response"  # someone takes the ticket (签收)
    FIRST_CONTACT = "first_contact"  # the handler reaches the customer
    RESOLUTION = "resolution"  # the handler reports a result
    CLOSE = "close"  # the ticket is closed (manufacturer-system complaints)
    CALLBACK = "callback"  # customer care calls the customer back after the result
    REPLY = "reply"  # bank setting: the answer to the customer, by urgency
    MAJOR_REPORT = "major_report"  # a major complaint is reported to the general manager


class Unit(StrEnum):
    MINUTES = "minutes"
    HOURS = "hours"
    DAYS = "days"
    DAY_END = "day_end"  # closing time of the day the clock starts on, plus `amount` days


class Basis(StrEnum):
    WORKING = "working"  # office hours on the business calendar only
    WALL = "wall"  # elapsed time; days are local calendar days


@dataclass(frozen=True, slots=True)
class Allowance:
    """How long something may take: 30 working minutes, 3 working days, 7 calendar days."""

    amount: float
    unit: Unit = Unit.HOURS
    basis: Basis = Basis.WORKING

    def __post_init__(self) -> None:
        if self.amount < 0:
            raise ValueError(f"allowance {self.amount} {self.unit} is negative")
        if self.unit in (Unit.DAYS, Unit.DAY_END) and self.amount != int(self.amount):
            raise ValueError(f"{self.unit} need a whole number, not {self.amount}")


def deadline(calendar: BusinessCalendar, start: datetime, allowance: Allowance) -> datetime:
    """The instant `allowance` after `start`, counted on the allowance's basis."""
    a, unit = allowance.amount, allowance.unit
    if allowance.basis is Basis.WORKING:
        if unit is Unit.DAYS:
            return calendar.add_working_days(start, int(a))
        if unit is Unit.DAY_END:
            return calendar.end_of_working_day(start, int(a))
        return calendar.add_working_time(start, _span(allowance))
    if unit is Unit.DAYS:
        return calendar.add_calendar_days(start, int(a))
    if unit is Unit.DAY_END:
        return calendar.end_of_calendar_day(start, int(a))
    return calendar.add_wall_time(start, _span(allowance))


def _span(allowance: Allowance) -> timedelta:
    per_unit = {Unit.MINUTES: timedelta(minutes=1), Unit.HOURS: timedelta(hours=1)}
    return per_unit[allowance.unit] * allowance.amount


def _advance(
    calendar: BusinessCalendar, basis: Basis, start: datetime, amount: timedelta
) -> datetime:
    if basis is Basis.WORKING:
        return calendar.add_working_time(start, amount)
    return calendar.add_wall_time(start, amount)


def _measure(calendar: BusinessCalendar, basis: Basis, a: datetime, b: datetime) -> timedelta:
    if basis is Basis.WORKING:
        return calendar.working_time_between(a, b)
    return calendar.wall_time_between(a, b)


# -- policy ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TicketFacts:
    """What decides which clocks a ticket gets."""

    channel: str  # e.g. "email", "manufacturer", "on_site", "phone"
    category: str
    severity: str
    tier: str = "standard"  # the customer's tier, e.g. "vip"
    is_major: bool = False
    oem: str = ""  # a manufacturer case's OEM key (e.g. "faw-vw"); "" for other tickets
    level: str = ""  # the manufacturer's own level of the case (e.g. "升级")


@dataclass(frozen=True, slots=True)
class ClockRule:
    """One row of the clock table: for tickets matching the filters, this kind gets this allowance.

    Rules are tried in order per kind and the first match wins, so specific rows go first.
    An empty filter matches everything; `enabled = false` on a match means "no such clock".
    """

    name: str
    kind: ClockKind
    allowance: Allowance
    channels: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    severities: tuple[str, ...] = ()
    tiers: tuple[str, ...] = ()
    major: bool | None = None
    oems: tuple[str, ...] = ()  # per-manufacturer clocks (channel "manufacturer")
    levels: tuple[str, ...] = ()  # the manufacturer's levels, e.g. ["重要"]
    enabled: bool = True
    reminders: tuple[float, ...] | None = None  # None: ClockSettings.reminders
    ladder: tuple[Allowance, ...] | None = None  # None: ClockSettings.ladder
    upgrade_on_breach: bool = False

    def __post_init__(self) -> None:
        _check_fractions(self.name, self.reminders or ())

    def matches(self, facts: TicketFacts) -> bool:
        return (
            _within(facts.channel, self.channels)
            and _within(facts.category, self.categories)
            and _within(facts.severity, self.severities)
            and _within(facts.tier, self.tiers)
            and (self.major is None or self.major == facts.is_major)
            and _within(facts.oem, self.oems)
            and _within(facts.level, self.levels)
        )


def _within(value: str, allowed: tuple[str, ...]) -> bool:
    return not allowed or value in allowed


def _check_fractions(name: str, fractions: tuple[float, ...]) -> None:
    bad = [f for f in fractions if not 0 < f < 1]
    if bad:
        raise ValueError(f"{name}: reminder fractions must lie between 0 and 1, got {bad}")


# Seed 000, article 7: respond to manufacturer-system complaints in 30 minutes and close them in
# 7 days; first contact 2 hours after assignment; resolve in 3 days, on-site complaints the same
# day; call back within 2 days of the result.
DEFAULT_RULES: tuple[ClockRule, ...] = (
    ClockRule(
        "manufacturer-response",
        ClockKind.FIRST_RESPONSE,
        Allowance(30, Unit.MINUTES),
        channels=("manufacturer",),
    ),
    ClockRule("first-contact", ClockKind.FIRST_CONTACT, Allowance(2, Unit.HOURS)),
    ClockRule(
        "on-site-same-day",
        ClockKind.RESOLUTION,
        Allowance(0, Unit.DAY_END),
        channels=("on_site",),
        upgrade_on_breach=True,
    ),
    ClockRule("resolution", ClockKind.RESOLUTION, Allowance(3, Unit.DAYS), upgrade_on_breach=True),
    ClockRule(
        "manufacturer-close",
        ClockKind.CLOSE,
        Allowance(7, Unit.DAYS, Basis.WALL),
        channels=("manufacturer",),
    ),
    ClockRule("callback", ClockKind.CALLBACK, Allowance(2, Unit.DAYS)),
)

# Step 1 (the handler's manager) at the breach; each later step when the previous one has had
# its allowance: the director 4 working hours after the manager, the GM a working day after that.
DEFAULT_LADDER: tuple[Allowance, ...] = (
    Allowance(0, Unit.MINUTES),
    Allowance(4, Unit.HOURS),
    Allowance(1, Unit.DAYS),
)


def _bank_reply_days() -> dict[str, int]:
    return {"high": 2, "medium": 3, "low": 5}


@dataclass(frozen=True, slots=True)
class UrgencySettings:
    """Bank setting (seed 002): reply within working days by urgency; a VIP raises urgency."""

    enabled: bool = False
    levels: tuple[str, ...] = ("low", "medium", "high")  # lowest first
    reply_working_days: Mapping[str, int] = field(default_factory=_bank_reply_days)
    raising_tiers: tuple[str, ...] = ("vip",)
    upgrade_on_breach: bool = False

    def __post_init__(self) -> None:
        missing = [level for level in self.levels if level not in self.reply_working_days]
        if missing:
            raise ValueError(f"urgency levels without reply_working_days: {missing}")


@dataclass(frozen=True, slots=True)
class ClockSettings:
    rules: tuple[ClockRule, ...] = DEFAULT_RULES
    reminders: tuple[float, ...] = (0.5, 0.8)  # fractions of the allowance: 催办 at 50% and 80%
    ladder: tuple[Allowance, ...] = DEFAULT_LADDER
    urgency: UrgencySettings = field(default_factory=UrgencySettings)
    # Seed 003: a major complaint reaches the general manager within 24 hours, whatever else runs.
    major_gm_within: Allowance = Allowance(24, Unit.HOURS, Basis.WALL)

    def __post_init__(self) -> None:
        _check_fractions("reminders", self.reminders)


@dataclass(frozen=True, slots=True)
class ClockPlan:
    """A clock this ticket gets, with everything needed to run it."""

    kind: ClockKind
    rule: str  # the rule's name, for the audit trail and the missed-clock ledger
    allowance: Allowance
    reminders: tuple[float, ...]
    ladder: tuple[Allowance, ...]
    upgrade_on_breach: bool

    @property
    def basis(self) -> Basis:
        return self.allowance.basis


def raise_level(level: str, scale: tuple[str, ...], steps: int = 1) -> str:
    """`level` moved `steps` up `scale` (lowest first), stopping at the top; unknown levels stay."""
    if level not in scale:
        return level
    return scale[min(scale.index(level) + steps, len(scale) - 1)]


def urgency_of(facts: TicketFacts, settings: UrgencySettings) -> str:
    """The ticket's urgency: its severity, one level higher for a VIP."""
    if facts.tier in settings.raising_tiers:
        return raise_level(facts.severity, settings.levels)
    return facts.severity


def plan_clocks(facts: TicketFacts, settings: ClockSettings) -> tuple[ClockPlan, ...]:
    """The clocks a ticket gets, one per kind at most, in ClockKind order."""
    plans: dict[ClockKind, ClockPlan] = {}
    for kind in ClockKind:
        rule = next((r for r in settings.rules if r.kind is kind and r.matches(facts)), None)
        if rule is not None and rule.enabled:
            plans[kind] = ClockPlan(
                kind,
                rule.name,
                rule.allowance,
                _sorted(rule.reminders if rule.reminders is not None else settings.reminders),
                rule.ladder if rule.ladder is not None else settings.ladder,
                rule.upgrade_on_breach,
            )
    urgency = settings.urgency
    level = urgency_of(facts, urgency)
    if urgency.enabled and ClockKind.REPLY not in plans and level in urgency.reply_working_days:
        plans[ClockKind.REPLY] = ClockPlan(
            ClockKind.REPLY,
            f"reply-{level}",
            Allowance(urgency.reply_working_days[level], Unit.DAYS),
            _sorted(settings.reminders),
            settings.ladder,
            urgency.upgrade_on_breach,
        )
    if facts.is_major and ClockKind.MAJOR_REPORT not in plans:
        # Every step at once when the allowance runs out: the GM hears of it by then at the latest.
        at_once = Allowance(0, Unit.MINUTES)
        plans[ClockKind.MAJOR_REPORT] = ClockPlan(
            ClockKind.MAJOR_REPORT,
            "major-report",
            settings.major_gm_within,
            _sorted(settings.reminders),
            (at_once,) * len(settings.ladder),
            False,
        )
    return tuple(plans[kind] for kind in ClockKind if kind in plans)


def _sorted(fractions: tuple[float, ...]) -> tuple[float, ...]:
    return tuple(sorted(set(fractions)))


# -- running clocks -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ClockState:
    """One running, paused or stopped clock, as the store keeps it.

    `budget` is the allowance measured on the clock's basis when it started (3 working days is
    22.5 working hours under the default office hours); `spent` is what earlier running spells
    used up, so a pause keeps the remaining time.
    """

    plan: ClockPlan
    started_at: datetime
    budget: timedelta
    running_since: datetime | None  # None while paused or stopped
    due_at: datetime | None  # None while paused; kept when stopped, for the ledger
    spent: timedelta = _ZERO
    paused_at: datetime | None = None
    stopped_at: datetime | None = None
    reminders_sent: tuple[float, ...] = ()
    steps_sent: int = 0  # ladder steps already sent, in order
    breached_at: datetime | None = None

    @property
    def kind(self) -> ClockKind:
        return self.plan.kind

    @property
    def is_paused(self) -> bool:
        return self.paused_at is not None and self.stopped_at is None

    @property
    def is_running(self) -> bool:
        return self.running_since is not None


def start(plan: ClockPlan, at: datetime, calendar: BusinessCalendar) -> ClockState:
    """A clock started at `at` (a reopened ticket starts its clock afresh the same way)."""
    due = deadline(calendar, at, plan.allowance)
    budget = _measure(calendar, plan.basis, at, due)
    return ClockState(plan, at, budget, running_since=at, due_at=due)


def consumed(state: ClockState, at: datetime, calendar: BusinessCalendar) -> timedelta:
    """Time the clock has used by `at`, on its basis, pauses excluded."""
    if state.running_since is None:
        return state.spent
    until = at if state.stopped_at is None else min(at, state.stopped_at)
    return state.spent + _measure(calendar, state.plan.basis, state.running_since, until)


def overdue(state: ClockState, at: datetime, calendar: BusinessCalendar) -> timedelta:
    """How far past its allowance the clock is at `at` (frozen once stopped); zero when in time."""
    return max(consumed(state, at, calendar) - state.budget, _ZERO)


def pause(state: ClockState, at: datetime, calendar: BusinessCalendar) -> ClockState:
    """Hold the clock (force majeure): what is left is kept for `resume`."""
    if state.running_since is None:
        return state
    return replace(
        state,
        spent=consumed(state, at, calendar),
        running_since=None,
        due_at=None,
        paused_at=at,
    )


def resume(state: ClockState, at: datetime, calendar: BusinessCalendar) -> ClockState:
    """Run a paused clock again; the new due time is the kept remainder counted from `at`."""
    if not state.is_paused:
        return state
    remaining = max(state.budget - state.spent, _ZERO)
    due = _advance(calendar, state.plan.basis, at, remaining)
    return replace(state, running_since=at, due_at=due, paused_at=None)


@dataclass(frozen=True, slots=True)
class Stopped:
    state: ClockState
    # Set when the clock is met late and no sweep had recorded the breach yet.
    breach: Breach | None


def stop(state: ClockState, at: datetime, calendar: BusinessCalendar) -> Stopped:
    """Stop the clock because what it waited for happened (or the ticket closed)."""
    if state.stopped_at is not None:
        return Stopped(state, None)
    late = overdue(state, at, calendar)
    stopped = replace(state, spent=consumed(state, at, calendar), running_since=None, stopped_at=at)
    breach = None
    if late > _ZERO and state.breached_at is None and state.due_at is not None:
        breach = Breach(state.due_at, late)
        stopped = replace(stopped, breached_at=at)
    return Stopped(stopped, breach)


# -- what a sweep does ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Remind:
    """催办 to the handler: `fraction` of the allowance is used up."""

    fraction: float
    due_at: datetime


@dataclass(frozen=True, slots=True)
class Breach:
    """The clock passed its due time: one row in the missed-clock ledger."""

    due_at: datetime
    overdue: timedelta  # on the clock's basis, as of the decision


@dataclass(frozen=True, slots=True)
class UpgradeSeverity:
    """Move the ticket one level up the severity scale (see raise_level)."""


@dataclass(frozen=True, slots=True)
class Escalate:
    """Tell ladder step `step`: 1 the handler's manager, 2 the director, 3 the general manager."""

    step: int


Action = Remind | Breach | UpgradeSeverity | Escalate


@dataclass(frozen=True, slots=True)
class Decision:
    actions: tuple[Action, ...]  # in the order to carry them out
    after: ClockState  # the state with these actions recorded as done: store it
    next_action_at: datetime | None  # when a sweep must look again; None: never, unless it changes


def _reminder_times(state: ClockState, calendar: BusinessCalendar) -> list[tuple[float, datetime]]:
    assert state.running_since is not None
    times = []
    for fraction in state.plan.reminders:
        if fraction in state.reminders_sent:
            continue
        left = state.budget * fraction - state.spent
        at = (
            state.running_since
            if left <= _ZERO
            else _advance(calendar, state.plan.basis, state.running_since, left)
        )
        times.append((fraction, at))
    return times


def ladder_times(
    due_at: datetime, ladder: tuple[Allowance, ...], calendar: BusinessCalendar
) -> tuple[datetime, ...]:
    """When each step falls due: each counted from the previous one, step 1 from the due time."""
    times = []
    at = due_at
    for allowance in ladder:
        at = deadline(calendar, at, allowance)
        times.append(at)
    return tuple(times)


def next_action_at(state: ClockState, calendar: BusinessCalendar) -> datetime | None:
    """The earliest instant something not yet done falls due (maybe already past): index this."""
    if state.running_since is None or state.due_at is None:
        return None
    if state.breached_at is None:
        pending = [at for _, at in _reminder_times(state, calendar)]
        return min([*pending, state.due_at])
    steps = ladder_times(state.due_at, state.plan.ladder, calendar)[state.steps_sent :]
    return steps[0] if steps else None


def decide(state: ClockState, now: datetime, calendar: BusinessCalendar) -> Decision:
    """What is due on this clock at `now`, each action at most once over the clock's life."""
    if state.running_since is None or state.due_at is None:
        return Decision((), state, None)
    actions: list[Action] = []
    after = state
    if now < state.due_at:
        due = [(f, at) for f, at in _reminder_times(state, calendar) if at <= now]
        if due:
            # After an outage only the latest reminder goes out; the earlier ones are moot.
            fraction, _at = due[-1]
            actions.append(Remind(fraction, state.due_at))
            sent = state.reminders_sent + tuple(f for f, _ in due)
            after = replace(after, reminders_sent=tuple(sorted(sent)))
    else:
        if state.breached_at is None:
            actions.append(Breach(state.due_at, overdue(state, now, calendar)))
            if state.plan.upgrade_on_breach:
                actions.append(UpgradeSeverity())
            # Reminders never sent are moot once the deadline has passed.
            after = replace(after, breached_at=now, reminders_sent=state.plan.reminders)
        steps = ladder_times(state.due_at, state.plan.ladder, calendar)
        reached = [n for n, at in enumerate(steps, start=1) if n > state.steps_sent and at <= now]
        actions.extend(Escalate(n) for n in reached)
        if reached:
            after = replace(after, steps_sent=reached[-1])
    return Decision(tuple(actions), after, next_action_at(after, calendar))
