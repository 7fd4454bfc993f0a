"""When the weekly and monthly reports are due, by the working calendar.

Pure: the calendar and the current time come in as arguments.

- A **weekly** report covers a Monday-to-Sunday week (local dates) and is due at the end of the
  last working day of that week. In an ordinary week that is Friday's close of business. When
  Friday is a holiday it is the last working day before it (Thursday 3 April 2025 before
  Qingming; Tuesday 30 September 2025 before National Day). A make-up working Saturday or
  Sunday (调休) after a working Friday is the week's last working day, so the report waits for
  it: the week's work is not over before then. A week with no working day has no report.
- A **monthly** report covers a calendar month and is due at the start of the first working
  day of the month after (its first working moment), so the month is complete and the report
  is read that morning.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum

from daemon.workdays import BusinessCalendar


class ReportKind(StrEnum):
    WEEKLY = "weekly"
    MONTHLY = "monthly"


@dataclass(frozen=True, slots=True)
class ReportPeriod:
    """One report's period: local dates [first, last], the instants bounding it, and when the
    report on it is due (None for a week without a working day)."""

    kind: ReportKind
    key: str  # "2025-W14" or "2025-03": one per period, the key a sent report is recorded by
    first: date
    last: date
    start: datetime  # aware, UTC: local midnight of `first`
    end: datetime  # aware, UTC: local midnight after `last`
    due: datetime | None


def week_of(d: date, calendar: BusinessCalendar) -> ReportPeriod:
    """The Monday-to-Sunday week holding local date `d`."""
    first = d - timedelta(days=d.weekday())
    last = first + timedelta(days=6)
    iso = first.isocalendar()
    working = [
        day
        for day in (calendar.day(first + timedelta(days=n)) for n in range(7))
        if day.is_working_day
    ]
    due = working[-1].intervals[-1][1] if working else None
    return ReportPeriod(
        ReportKind.WEEKLY,
        f"{iso.year}-W{iso.week:02d}",
        first,
        last,
        _midnight(first, calendar),
        _midnight(last + timedelta(days=1), calendar),
        due,
    )


def month_of(d: date, calendar: BusinessCalendar) -> ReportPeriod:
    """The calendar month holding local date `d`."""
    first = d.replace(day=1)
    after = (first + timedelta(days=32)).replace(day=1)
    opening = calendar.next_working_moment(_midnight(after, calendar))
    return ReportPeriod(
        ReportKind.MONTHLY,
        f"{first.year}-{first.month:02d}",
        first,
        after - timedelta(days=1),
        _midnight(first, calendar),
        _midnight(after, calendar),
        opening.astimezone(UTC),
    )


def period_of(kind: ReportKind, d: date, calendar: BusinessCalendar) -> ReportPeriod:
    return week_of(d, calendar) if kind is ReportKind.WEEKLY else month_of(d, calendar)


def parse_period(kind: ReportKind, text: str, calendar: BusinessCalendar) -> ReportPeriod:
    """A period as a user writes it: '2025-W14' or any date in the week for weekly reports,
    '2025-03' or any date in the month for monthly ones."""
    text = text.strip()
    try:
        if kind is ReportKind.WEEKLY and "-W" in text.upper():
            year, week = text.upper().split("-W")
            return week_of(date.fromisocalendar(int(year), int(week), 1), calendar)
        if kind is ReportKind.MONTHLY and len(text) == 7:
            return month_of(date.fromisoformat(f"{text}-01"), calendar)
        return period_of(kind, date.fromisoformat(text), calendar)
    except ValueError:
        shape = "2025-W14 or a date" if kind is ReportKind.WEEKLY else "2025-03 or a date"
        raise ValueError(f"not a {kind} period: {text!r} (write {shape})") from None


def latest_due(kind: ReportKind, now: datetime, calendar: BusinessCalendar) -> ReportPeriod | None:
    """The most recent period whose report is due at `now` (None if none is within a year)."""
    return next(due_since(kind, now, now - timedelta(days=366), calendar), None)


def due_since(
    kind: ReportKind, now: datetime, since: datetime, calendar: BusinessCalendar
) -> Iterator[ReportPeriod]:
    """The periods whose report fell due in (since, now], newest first: the ones a daemon
    that was down sends when it comes back."""
    d = calendar.local_date(now)
    while True:
        period = period_of(kind, d, calendar)
        if period.due is not None and period.due <= since:
            return
        if period.due is not None and period.due <= now:
            yield period
        d = period.first - timedelta(days=1)
        if period.end <= since - timedelta(days=40):
            return  # weeks without a working day end nowhere; stop well before `since`


def _midnight(d: date, calendar: BusinessCalendar) -> datetime:
    return datetime.combine(d, time(0), tzinfo=calendar.zone).astimezone(UTC)
