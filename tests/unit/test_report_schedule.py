"""When the weekly and monthly reports fall due, on the real Chinese calendar."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from daemon.reports.schedule import (
    ReportKind,
    due_since,
    latest_due,
    month_of,
    parse_period,
    week_of,
)
from daemon.workdays import BusinessCalendar, CalendarSettings

CAL = BusinessCalendar.from_settings(CalendarSettings())
SH = ZoneInfo("Asia/Shanghai")


def local(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=SH)


def test_an_ordinary_week_is_due_at_friday_close_of_business() -> None:
    week = week_of(date(2025, 11, 12), CAL)
    assert (week.key, week.first, week.last) == ("2025-W46", date(2025, 11, 10), date(2025, 11, 16))
    assert week.due == local(2025, 11, 14, 17, 30)


def test_a_holiday_friday_moves_it_to_the_thursday_before() -> None:
    # Qingming 2025: Friday 4 April is a holiday.
    assert week_of(date(2025, 4, 1), CAL).due == local(2025, 4, 3, 17, 30)


def test_national_day_week_is_due_on_its_last_working_day() -> None:
    # 1-8 October 2025 are off: Tuesday 30 September is the week's last working day.
    assert week_of(date(2025, 10, 2), CAL).due == local(2025, 9, 30, 17, 30)


def test_a_makeup_sunday_ending_the_week_moves_it_to_that_sunday() -> None:
    # Sunday 28 September 2025 is a make-up working day (调休) after a working Friday.
    assert week_of(date(2025, 9, 24), CAL).due == local(2025, 9, 28, 17, 30)


def test_a_week_without_working_day_has_no_report() -> None:
    closed = CalendarSettings(holidays=tuple(date(2025, 11, d) for d in range(10, 15)))
    assert week_of(date(2025, 11, 12), BusinessCalendar.from_settings(closed)).due is None


def test_a_month_is_due_at_the_opening_of_the_next_months_first_working_day() -> None:
    # 1 October 2025 is National Day: September's report comes on Thursday 9 October.
    month = month_of(date(2025, 9, 15), CAL)
    assert (month.key, month.first, month.last) == ("2025-09", date(2025, 9, 1), date(2025, 9, 30))
    assert month.due == local(2025, 10, 9, 8, 30)
    assert month.start == local(2025, 9, 1) and month.end == local(2025, 10, 1)


def test_latest_due_is_last_week_until_this_fridays_close() -> None:
    before = local(2025, 11, 14, 17, 29)
    at = local(2025, 11, 14, 17, 30)
    assert latest_due(ReportKind.WEEKLY, before, CAL).key == "2025-W45"  # type: ignore[union-attr]
    assert latest_due(ReportKind.WEEKLY, at, CAL).key == "2025-W46"  # type: ignore[union-attr]


def test_due_since_lists_every_missed_week_newest_first() -> None:
    now = local(2025, 11, 18, 9, 0)
    keys = [p.key for p in due_since(ReportKind.WEEKLY, now, now - timedelta(days=15), CAL)]
    assert keys == ["2025-W46", "2025-W45"]


def test_due_since_is_empty_when_nothing_fell_due_in_the_window() -> None:
    now = local(2025, 11, 18, 9, 0)
    assert list(due_since(ReportKind.MONTHLY, now, now - timedelta(days=3), CAL)) == []


@pytest.mark.parametrize(
    ("kind", "text", "key"),
    [
        (ReportKind.WEEKLY, "2025-W14", "2025-W14"),
        (ReportKind.WEEKLY, "2025-04-03", "2025-W14"),
        (ReportKind.MONTHLY, "2025-09", "2025-09"),
        (ReportKind.MONTHLY, "2025-09-30", "2025-09"),
    ],
)
def test_periods_are_written_by_key_or_by_a_date_in_them(
    kind: ReportKind, text: str, key: str
) -> None:
    assert parse_period(kind, text, CAL).key == key


def test_a_period_that_is_not_one_is_refused_with_its_shape() -> None:
    with pytest.raises(ValueError, match="2025-03"):
        parse_period(ReportKind.MONTHLY, "September", CAL)


def test_bounds_are_utc_instants() -> None:
    assert week_of(date(2025, 11, 12), CAL).start.tzinfo is UTC
