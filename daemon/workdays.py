"""Working-time arithmetic over office hours, public holidays and make-up workdays (调休)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

log = logging.getLogger(__name__)

Hours = tuple[tuple[time, time], ...]
OFFICE_HOURS: Hours = ((time(8, 30), time(12, 0)), (time(13, 30), time(17, 30)))
SOURCES = ("chinesecalendar", "holidays")
# A search for the next working moment gives up after this many days: a calendar with no working
# day in ten years is a configuration fault, not a deadline.
_MAX_SCAN_DAYS = 3660
_ZERO = timedelta(0)


class DayKind(StrEnum):
    ORDINARY = "ordinary"  # the weekday's hours apply
    HOLIDAY = "holiday"  # a public holiday, a day off in lieu, or a company closure
    MAKEUP = "makeup"  # a make-up workday (调休) or an extra working day: makeup_hours apply


@dataclass(frozen=True, slots=True)
class CalendarSettings:
    """Office hours per weekday, the zone, and an override table checked before the packages."""

    timezone: str = "Asia/Shanghai"
    monday: Hours = OFFICE_HOURS
    tuesday: Hours = OFFICE_HOURS
    wednesday: Hours = OFFICE_HOURS
    thursday: Hours = OFFICE_HOURS
    friday: Hours = OFFICE_HOURS
    saturday: Hours = ()
    sunday: Hours = ()
    # Hours of a make-up workday, usually a Saturday or Sunday with no hours of its own.
    makeup_hours: Hours = OFFICE_HOURS
    # Checked first: company closures, and holidays of years the packages do not know yet.
    holidays: tuple[date, ...] = ()
    # Checked first: extra working days, e.g. make-up days announced after the packages shipped.
    workdays: tuple[date, ...] = ()
    # Packages asked in order after the override table; the first that covers the year decides.
    sources: tuple[str, ...] = SOURCES
    country: str = "CN"  # for the `holidays` package

    def __post_init__(self) -> None:
        for name, hours in self.named_hours():
            _check_hours(name, hours)
        if not any(hours for _, hours in self.named_hours()[:7]):
            raise ValueError("no weekday has working hours")
        both = set(self.holidays) & set(self.workdays)
        if both:
            raise ValueError(f"dates both holiday and workday: {sorted(both)}")
        unknown = [s for s in self.sources if s not in SOURCES]
        if unknown:
            raise ValueError(f"unknown calendar sources {unknown}; known: {list(SOURCES)}")

    def named_hours(self) -> tuple[tuple[str, Hours], ...]:
        """The weekday schedules Monday first, then makeup_hours."""
        return (
            ("monday", self.monday),
            ("tuesday", self.tuesday),
            ("wednesday", self.wednesday),
            ("thursday", self.thursday),
            ("friday", self.friday),
            ("saturday", self.saturday),
            ("sunday", self.sunday),
            ("makeup_hours", self.makeup_hours),
        )


def _check_hours(name: str, hours: Hours) -> None:
    previous_end: time | None = None
    for start, end in hours:
        if not start < end:
            raise ValueError(f"{name}: interval {start}-{end} does not end after it starts")
        if previous_end is not None and start < previous_end:
            raise ValueError(f"{name}: intervals overlap or are out of order at {start}")
        previous_end = end


@dataclass(frozen=True, slots=True)
class Day:
    """One local date: what kind of day it is, who said so, and its working intervals."""

    date: date
    kind: DayKind
    source: str  # "override", "chinesecalendar", "holidays" or "weekday"
    name: str  # the holiday's name when a package gives one, else ""
    intervals: tuple[tuple[datetime, datetime], ...]  # aware UTC instants, in order

    @property
    def working_time(self) -> timedelta:
        return sum((end - start for start, end in self.intervals), _ZERO)

    @property
    def is_working_day(self) -> bool:
        return bool(self.intervals)


Lookup = Callable[[date], tuple[DayKind, str] | None]  # None: this source does not cover the year

# Sources that publish the State Council's notice itself; `holidays` only estimates later years
# by rule and knows none of their make-up days.
AUTHORITATIVE_SOURCES = ("chinesecalendar",)
# How a day's source reads in listings: a day from the `holidays` package is an estimate.
SOURCE_LABELS = {"holidays": "holidays-estimate"}
# A year not yet covered is warned about from 1 October of the year before (the notice usually
# comes in November or December), and counts as a fault from 1 December.
WARN_FROM = (10, 1)
FAIL_FROM = (12, 1)


def source_label(source: str) -> str:
    return SOURCE_LABELS.get(source, source)


@dataclass(frozen=True, slots=True)
class YearCoverage:
    """Whether a year's days off and make-up days come from the override table or an official
    source (`covered_by`), or only from an estimate, or nothing (provisional)."""

    year: int
    covered_by: str | None  # "override", "chinesecalendar", or None

    @property
    def provisional(self) -> bool:
        return self.covered_by is None


class Concern(StrEnum):
    WARN = "warn"  # from 1 October of the year before
    FAIL = "fail"  # from 1 December of the year before, and during the year itself


@dataclass(frozen=True, slots=True)
class CalendarConcern:
    """A provisional year close enough to `today` to be worth saying."""

    year: int
    level: Concern

    def message(self) -> str:
        return (
            f"calendar {self.year} is provisional: no official days off or make-up workdays "
            f"are known for it; add the State Council's days for {self.year} to the [calendar] "
            "holidays/workdays override table, or upgrade chinesecalendar"
        )


def concern_for(year: int, today: date) -> Concern | None:
    """How worrying a provisional `year` is on `today`: nothing before 1 October of the year
    before, a warning until 1 December, a fault from then on."""
    if today >= date(year - 1, *FAIL_FROM):
        return Concern.FAIL
    if today >= date(year - 1, *WARN_FROM):
        return Concern.WARN
    return None


def calendar_concerns(calendar: BusinessCalendar, today: date) -> tuple[CalendarConcern, ...]:
    """The provisional years among this one and the next that are worth saying on `today`."""
    found = []
    for year in (today.year, today.year + 1):
        level = concern_for(year, today)
        if level is not None and calendar.coverage(year).provisional:
            found.append(CalendarConcern(year, level))
    return tuple(found)


class BusinessCalendar:
    """Working-time arithmetic on aware instants; results are in the calendar's zone."""

    def __init__(self, settings: CalendarSettings, lookups: tuple[tuple[str, Lookup], ...]) -> None:
        self.settings = settings
        self.zone = ZoneInfo(settings.timezone)
        self._lookups = lookups
        self._holidays = frozenset(settings.holidays)
        self._workdays = frozenset(settings.workdays)
        self._week = tuple(hours for _, hours in settings.named_hours()[:7])
        self._days: dict[date, Day] = {}

    @classmethod
    def from_settings(cls, settings: CalendarSettings) -> BusinessCalendar:
        """A calendar asking the configured packages, in order, after the override table."""
        factories = {"chinesecalendar": _chinese_calendar, "holidays": _holidays_package}
        lookups: list[tuple[str, Lookup]] = []
        for name in settings.sources:
            lookup = factories[name](settings)
            if lookup is None:
                log.warning("calendar source %s is not installed; skipping it", name)
            else:
                lookups.append((name, lookup))
        return cls(settings, tuple(lookups))

    # -- days -----------------------------------------------------------------------------------

    def day(self, d: date) -> Day:
        """The schedule of one local date, cached: sweeps ask for the same few days all day."""
        cached = self._days.get(d)
        if cached is None:
            cached = self._days[d] = self._build_day(d)
        return cached

    def _build_day(self, d: date) -> Day:
        kind, source, name = self._classify(d)
        if kind is DayKind.HOLIDAY:
            hours: Hours = ()
        elif kind is DayKind.MAKEUP:
            hours = self.settings.makeup_hours
        else:
            hours = self._week[d.weekday()]
        intervals = tuple((self._instant(d, start), self._instant(d, end)) for start, end in hours)
        return Day(d, kind, source, name, intervals)

    def _classify(self, d: date) -> tuple[DayKind, str, str]:
        if d in self._holidays:
            return DayKind.HOLIDAY, "override", ""
        if d in self._workdays:
            return DayKind.MAKEUP, "override", ""
        for source, lookup in self._lookups:
            answer = lookup(d)
            if answer is not None:
                return answer[0], source, answer[1]
        return DayKind.ORDINARY, "weekday", ""

    def _instant(self, d: date, t: time) -> datetime:
        return datetime.combine(d, t, tzinfo=self.zone).astimezone(UTC)

    # -- coverage -------------------------------------------------------------------------------

    def days_off_and_makeup(self, year: int) -> tuple[Day, ...]:
        """The year's holidays and make-up workdays, in date order, each with its source."""
        first = date(year, 1, 1)
        days = (
            self.day(first + timedelta(days=n)) for n in range((date(year + 1, 1, 1) - first).days)
        )
        return tuple(day for day in days if day.kind is not DayKind.ORDINARY)

    def coverage(self, year: int) -> YearCoverage:
        """Who vouches for the year's days off and make-up days. Any date of the year in the
        override table counts: entering the State Council's notice there is the remedy for a
        year the packages do not know yet."""
        if any(d.year == year for d in self._holidays | self._workdays):
            return YearCoverage(year, "override")
        for source, lookup in self._lookups:
            if source in AUTHORITATIVE_SOURCES and lookup(date(year, 1, 1)) is not None:
                return YearCoverage(year, source)
        return YearCoverage(year, None)

    def local_date(self, t: datetime) -> date:
        return _aware(t).astimezone(self.zone).date()

    def _days_from(self, d: date) -> Iterator[Day]:
        for offset in range(_MAX_SCAN_DAYS):
            yield self.day(d + timedelta(days=offset))
        raise ValueError(f"no working time within {_MAX_SCAN_DAYS} days of {d}")

    def _working_days_from(self, d: date) -> Iterator[Day]:
        return (day for day in self._days_from(d) if day.is_working_day)

    def _local(self, t: datetime) -> datetime:
        return t.astimezone(self.zone)

    # -- instants -------------------------------------------------------------------------------

    def is_working_time(self, t: datetime) -> bool:
        """Whether `t` falls inside an opening interval (start inclusive, end exclusive)."""
        u = _utc(t)
        return any(start <= u < end for start, end in self.day(self.local_date(u)).intervals)

    def next_working_moment(self, t: datetime) -> datetime:
        """`t` itself during working time, else the next opening after it."""
        u = _utc(t)
        for day in self._days_from(self.local_date(u)):
            for start, end in day.intervals:
                if u < end:
                    return self._local(max(start, u))
        raise AssertionError("unreachable")  # _days_from raises first

    def add_working_time(self, start: datetime, amount: timedelta) -> datetime:
        """The earliest instant with exactly `amount` of working time since `start`."""
        if amount < _ZERO:
            raise ValueError(f"negative working time {amount}")
        u = _utc(start)
        if amount == _ZERO:
            return self._local(u)
        remaining = amount
        for day in self._days_from(self.local_date(u)):
            for open_, close in day.intervals:
                if close <= u:
                    continue
                begin = max(open_, u)
                available = close - begin
                if remaining <= available:
                    return self._local(begin + remaining)
                remaining -= available
        raise AssertionError("unreachable")

    def add_working_minutes(self, start: datetime, minutes: float) -> datetime:
        return self.add_working_time(start, timedelta(minutes=minutes))

    def add_working_hours(self, start: datetime, hours: float) -> datetime:
        return self.add_working_time(start, timedelta(hours=hours))

    def working_time_between(self, a: datetime, b: datetime) -> timedelta:
        """Working time inside [a, b]; zero when b is not after a."""
        ua, ub = _utc(a), _utc(b)
        if ub <= ua:
            return _ZERO
        total = _ZERO
        first, last = self.local_date(ua), self.local_date(ub)
        for offset in range((last - first).days + 1):
            for open_, close in self.day(first + timedelta(days=offset)).intervals:
                overlap = min(close, ub) - max(open_, ua)
                if overlap > _ZERO:
                    total += overlap
        return total

    def working_minutes_between(self, a: datetime, b: datetime) -> int:
        """Whole working minutes inside [a, b] (seconds left over are dropped)."""
        return int(self.working_time_between(a, b) // timedelta(minutes=1))

    def add_working_days(self, start: datetime, days: int) -> datetime:
        """The same working moment `days` working days later.

        `start` outside working hours first rolls forward to the next opening. Its offset into
        that day's working time is then carried to the `days`-th following working day (capped at
        that day's closing when the day is shorter). An opening has the same working time as the
        previous working day's closing, and the earlier of the two is returned: Monday 08:30 plus
        3 working days is Wednesday's closing, Monday 18:00 plus 3 is Thursday's closing, Monday
        10:00 plus 3 is Thursday 10:00.
        """
        if days < 0:
            raise ValueError(f"negative working days {days}")
        if days == 0:
            return self._local(_utc(start))
        s = _utc(self.next_working_moment(start))
        first = self.day(self.local_date(s))
        offset = self.working_time_between(first.intervals[0][0], s)
        following = self._working_days_from(first.date)
        if offset == _ZERO:
            target = _nth(following, days - 1)  # counting the start day as the first
            return self._local(target.intervals[-1][1])
        target = _nth(following, days)
        if offset >= target.working_time:
            return self._local(target.intervals[-1][1])
        return self.add_working_time(target.intervals[0][0], offset)

    def end_of_working_day(self, start: datetime, days: int = 0) -> datetime:
        """Closing time of the working day `start` falls in (rolled forward), plus `days` days."""
        if days < 0:
            raise ValueError(f"negative working days {days}")
        s = self.next_working_moment(start)
        target = _nth(self._working_days_from(self.local_date(s)), days)
        return self._local(target.intervals[-1][1])

    # -- wall time ------------------------------------------------------------------------------

    def add_wall_time(self, start: datetime, amount: timedelta) -> datetime:
        """Elapsed time, holidays or not."""
        return self._local(_utc(start) + amount)

    def add_calendar_days(self, start: datetime, days: int) -> datetime:
        """The same local clock time `days` calendar days later."""
        local = self._local(_utc(start))
        return datetime.combine(local.date() + timedelta(days=days), local.time(), tzinfo=self.zone)

    def end_of_calendar_day(self, start: datetime, days: int = 0) -> datetime:
        """Local midnight ending the calendar day of `start`, plus `days` days."""
        d = self.local_date(start) + timedelta(days=days + 1)
        return datetime.combine(d, time(0), tzinfo=self.zone)

    def wall_time_between(self, a: datetime, b: datetime) -> timedelta:
        """Elapsed time from a to b; zero when b is not after a."""
        return max(_utc(b) - _utc(a), _ZERO)


def _nth(days: Iterator[Day], n: int) -> Day:
    for index, day in enumerate(days):
        if index == n:
            return day
    raise AssertionError("unreachable")  # the day iterator raises when it runs out


def _aware(t: datetime) -> datetime:
    if t.tzinfo is None or t.utcoffset() is None:
        raise ValueError(f"naive datetime {t}; every instant must carry a zone")
    return t


def _utc(t: datetime) -> datetime:
    return _aware(t).astimezone(UTC)


# -- sources --------------------------------------------------------------------------------------


def _chinese_calendar(settings: CalendarSettings) -> Lookup | None:
    """The chinesecalendar package: State Council notices, holidays and make-up days alike."""
    try:
        import chinese_calendar
    except ImportError:
        return None
    holidays: dict[date, str] = chinese_calendar.holidays
    workdays: dict[date, str] = chinese_calendar.workdays
    first, last = min(holidays).year, max(holidays).year

    def lookup(d: date) -> tuple[DayKind, str] | None:
        if not first <= d.year <= last:
            return None
        if d in workdays:
            return DayKind.MAKEUP, str(workdays[d] or "")
        if d in holidays:
            return DayKind.HOLIDAY, str(holidays[d] or "")
        return DayKind.ORDINARY, ""

    return lookup


def _holidays_package(settings: CalendarSettings) -> Lookup | None:
    """The `holidays` package: it computes holidays for any year by rule, and knows make-up
    workdays (`weekend_workdays`) only for years already announced; for later years its days
    off are estimates and it has no make-up days, so enter those in the override table."""
    try:
        import holidays
    except ImportError:
        return None
    by_year: dict[int, Any] = {}

    def calendar_of(year: int) -> Any:
        if year not in by_year:
            by_year[year] = holidays.country_holidays(settings.country, years=year)
            # Whether a year rests on this estimate is reported by coverage(), at start and by
            # `complaintd status`, not here at the first deadline that happens to reach it.
            log.debug("%s: calendar year %d from the holidays package", settings.country, year)
        return by_year[year]

    def lookup(d: date) -> tuple[DayKind, str] | None:
        known = calendar_of(d.year)
        if not known:
            return None
        if d in getattr(known, "weekend_workdays", ()):
            return DayKind.MAKEUP, ""
        name = known.get(d)
        if name is not None:
            return DayKind.HOLIDAY, str(name)
        return DayKind.ORDINARY, ""

    return lookup
