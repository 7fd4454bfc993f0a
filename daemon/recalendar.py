"""When the calendar changes under running clocks: what the effective calendar was, which days
changed, and where each open clock's due time moves on the new one."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta

from daemon import clocks
from daemon.clocks import Basis, ClockKind, ClockState
from daemon.workdays import BusinessCalendar, DayKind

# A day's kind and who said so, e.g. ("holiday", "chinesecalendar"); ordinary days are left out.
DayMark = tuple[str, str]
_ORDINARY: DayMark = (DayKind.ORDINARY.value, "weekday")
_WORDS = {
    DayKind.HOLIDAY.value: "day off",
    DayKind.MAKEUP.value: "make-up workday",
    DayKind.ORDINARY.value: "ordinary day",
}


@dataclass(frozen=True, slots=True)
class CalendarSnapshot:
    """The effective calendar the open clocks were computed on: office hours and zone, the
    sources' versions, and every day off and make-up day of `years`."""

    hours: str
    versions: str
    years: tuple[int, ...]
    days: Mapping[date, DayMark]

    def as_json(self) -> dict[str, object]:
        return {
            "hours": self.hours,
            "versions": self.versions,
            "years": list(self.years),
            "days": {d.isoformat(): list(mark) for d, mark in sorted(self.days.items())},
        }

    @classmethod
    def from_json(cls, data: Mapping[str, object]) -> CalendarSnapshot:
        years = data.get("years", [])
        days = data.get("days", {})
        assert isinstance(years, list) and isinstance(days, dict)
        return cls(
            str(data.get("hours", "")),
            str(data.get("versions", "")),
            tuple(int(y) for y in years),
            {date.fromisoformat(d): (str(m[0]), str(m[1])) for d, m in days.items()},
        )


def hours_text(calendar: BusinessCalendar) -> str:
    """The zone and office hours as one comparable line."""
    s = calendar.settings
    week = "; ".join(
        f"{name} " + ",".join(f"{a:%H:%M}-{b:%H:%M}" for a, b in hours)
        for name, hours in s.named_hours()
    )
    return f"{s.timezone}; {week}"


def clock_years(open_clocks: Iterable[ClockState]) -> set[int]:
    """The years the open clocks run through, from their start to their due time."""
    years: set[int] = set()
    for state in open_clocks:
        last = state.due_at or state.started_at
        years.update(range(state.started_at.year, last.year + 1))
    return years


def years_to_record(open_clocks: Iterable[ClockState], today: date) -> tuple[int, ...]:
    """Last year to next year, and every year an open clock reaches (its escalation steps may
    run into the year after its due time)."""
    years = {today.year - 1, today.year, today.year + 1}
    for year in clock_years(open_clocks):
        years.update((year, year + 1))
    return tuple(sorted(years))


def snapshot(calendar: BusinessCalendar, years: Sequence[int], versions: str) -> CalendarSnapshot:
    days = {
        day.date: (day.kind.value, day.source)
        for year in years
        for day in calendar.days_off_and_makeup(year)
    }
    return CalendarSnapshot(hours_text(calendar), versions, tuple(sorted(years)), days)


@dataclass(frozen=True, slots=True)
class DayChange:
    """One date whose kind differs between the recorded calendar and the current one."""

    date: date
    before: DayMark
    after: DayMark

    def describe(self) -> str:
        """E.g. '2026-10-08: day off (chinesecalendar) -> make-up workday (override)'."""
        return f"{self.date.isoformat()}: {_mark(self.before)} -> {_mark(self.after)}"


def _mark(mark: DayMark) -> str:
    word = _WORDS.get(mark[0], mark[0])
    return word if mark == _ORDINARY else f"{word} ({mark[1]})"


@dataclass(frozen=True, slots=True)
class CalendarChange:
    """What differs between the recorded calendar and the current one."""

    days: tuple[DayChange, ...]  # in date order, over the years both record
    hours_changed: bool
    # Years the open clocks span that were never recorded: whatever they were computed on is
    # unknown, so their clocks are recomputed too (it moves only those that differ).
    unrecorded: tuple[int, ...]
    versions: tuple[str, str]  # before, after

    @property
    def matters(self) -> bool:
        """Whether open clocks must be recomputed."""
        return bool(self.days or self.hours_changed or self.unrecorded)

    def summary(self) -> str:
        parts = []
        if self.days:
            parts.append(f"{len(self.days)} day(s) changed: " + ", ".join(_short(self.days)))
        if self.hours_changed:
            parts.append("office hours or time zone changed")
        if self.unrecorded:
            parts.append("no earlier record of " + ", ".join(map(str, self.unrecorded)))
        if self.versions[0] != self.versions[1]:
            parts.append(f"sources {self.versions[0] or '(none)'} -> {self.versions[1]}")
        return "; ".join(parts) or "unchanged"


def _short(days: Sequence[DayChange], most: int = 5) -> list[str]:
    shown = [c.describe() for c in days[:most]]
    return [*shown, f"... {len(days) - most} more"] if len(days) > most else shown


def compare(
    before: CalendarSnapshot | None, now: CalendarSnapshot, spanned: Iterable[int]
) -> CalendarChange:
    """The changes from `before` (None: nothing recorded yet) to `now`; `spanned` are the years
    the open clocks reach."""
    if before is None:
        unrecorded = tuple(sorted(set(spanned)))
        return CalendarChange((), False, unrecorded, ("", now.versions))
    common = set(before.years) & set(now.years)
    changed = []
    for d in sorted({d for d in (*before.days, *now.days) if d.year in common}):
        old, new = before.days.get(d, _ORDINARY), now.days.get(d, _ORDINARY)
        if old[0] != new[0]:
            changed.append(DayChange(d, old, new))
    unrecorded = tuple(sorted(set(spanned) - set(before.years)))
    return CalendarChange(
        tuple(changed), before.hours != now.hours, unrecorded, (before.versions, now.versions)
    )


# -- the clocks -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ClockMove:
    """One open clock whose due time moves on the new calendar, and why."""

    kind: ClockKind
    rule: str
    before: datetime
    after: datetime
    because: tuple[str, ...]  # the changed days that lie under it, or the other reason
    state: ClockState  # the clock on the new calendar, ready to be written
    next_action_at: datetime | None


def movable(state: ClockState) -> bool:
    """Whether a clock's due time follows the calendar: it runs on working time and has not
    been breached (a breach already recorded, and what it sent, stand)."""
    return (
        state.plan.basis is Basis.WORKING
        and state.running_since is not None
        and state.due_at is not None
        and state.stopped_at is None
        and state.breached_at is None
    )


def recompute(state: ClockState, calendar: BusinessCalendar) -> ClockState:
    """The clock as if it had run on `calendar` from its start: its allowance measured again,
    and the due time counted from its last resume with what earlier spells used (those spells
    are kept as measured)."""
    assert state.running_since is not None
    due = clocks.deadline(calendar, state.started_at, state.plan.allowance)
    budget = calendar.working_time_between(state.started_at, due)
    if state.running_since != state.started_at or state.spent > timedelta(0):
        remaining = max(budget - state.spent, timedelta(0))
        due = calendar.add_working_time(state.running_since, remaining)
    return replace(state, budget=budget, due_at=due)


def move(state: ClockState, change: CalendarChange, calendar: BusinessCalendar) -> ClockMove | None:
    """Where the clock's due time goes on `calendar`; None when it stays (or cannot move)."""
    if not movable(state):
        return None
    assert state.due_at is not None
    moved = recompute(state, calendar)
    assert moved.due_at is not None
    if moved.due_at == state.due_at:
        return None
    return ClockMove(
        state.kind,
        state.plan.rule,
        state.due_at,
        moved.due_at,
        _because(state, moved.due_at, change, calendar),
        moved,
        clocks.next_action_at(moved, calendar),
    )


def _because(
    state: ClockState, new_due: datetime, change: CalendarChange, calendar: BusinessCalendar
) -> tuple[str, ...]:
    assert state.due_at is not None
    first = calendar.local_date(state.started_at)
    last = calendar.local_date(max(state.due_at, new_due))
    under = tuple(c.describe() for c in change.days if first <= c.date <= last)
    if under:
        return under
    if change.hours_changed:
        return ("office hours or time zone changed",)
    return ("calendar recomputed: no earlier record of the days it was computed on",)
