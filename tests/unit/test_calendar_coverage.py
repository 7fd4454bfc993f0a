"""Which days off and make-up workdays a year has, who vouches for them, and when a year that
nobody vouches for yet (provisional) is worth a warning or an alert."""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime

import chinese_calendar
import pytest

from daemon import app
from daemon.config import Settings
from daemon.workdays import (
    BusinessCalendar,
    CalendarSettings,
    Concern,
    DayKind,
    calendar_concerns,
    concern_for,
    source_label,
)

CAL = BusinessCalendar.from_settings(CalendarSettings())
# The last year the installed chinesecalendar knows; the one after it is provisional.
LAST_KNOWN = max(chinese_calendar.holidays).year
UNKNOWN = LAST_KNOWN + 1


def _listed(cal: BusinessCalendar, year: int) -> dict[date, tuple[DayKind, str]]:
    return {d.date: (d.kind, source_label(d.source)) for d in cal.days_off_and_makeup(year)}


def test_national_day_2025_is_listed_as_a_day_off_from_chinesecalendar() -> None:
    assert _listed(CAL, 2025)[date(2025, 10, 1)] == (DayKind.HOLIDAY, "chinesecalendar")


def test_the_sunday_before_national_day_2025_is_listed_as_a_makeup_workday() -> None:
    assert _listed(CAL, 2025)[date(2025, 9, 28)] == (DayKind.MAKEUP, "chinesecalendar")


def test_a_year_lists_no_ordinary_days() -> None:
    listed = _listed(CAL, 2025)
    assert date(2025, 9, 30) not in listed  # an ordinary Tuesday
    assert date(2025, 9, 27) not in listed  # an ordinary Saturday off: the weekday decides


def test_an_override_is_listed_with_its_source_before_the_packages() -> None:
    cal = BusinessCalendar.from_settings(CalendarSettings(holidays=(date(2025, 9, 30),)))
    assert _listed(cal, 2025)[date(2025, 9, 30)] == (DayKind.HOLIDAY, "override")


def test_a_year_past_chinesecalendar_lists_estimates_from_the_holidays_package() -> None:
    sources = {source for _, source in _listed(CAL, UNKNOWN).values()}
    assert sources == {"holidays-estimate"}


def test_a_year_chinesecalendar_knows_is_covered_by_it() -> None:
    assert CAL.coverage(LAST_KNOWN).covered_by == "chinesecalendar"
    assert not CAL.coverage(LAST_KNOWN).provisional


def test_a_year_only_the_holidays_package_estimates_is_provisional() -> None:
    assert CAL.coverage(UNKNOWN).provisional


def test_any_override_date_in_a_year_covers_it() -> None:
    cal = BusinessCalendar.from_settings(CalendarSettings(workdays=(date(UNKNOWN, 2, 20),)))
    assert cal.coverage(UNKNOWN).covered_by == "override"


def test_a_calendar_without_chinesecalendar_covers_no_year() -> None:
    cal = BusinessCalendar.from_settings(CalendarSettings(sources=("holidays",)))
    assert cal.coverage(2025).provisional


@pytest.mark.parametrize(
    ("today", "expected"),
    [
        (date(2026, 9, 30), None),
        (date(2026, 10, 1), Concern.WARN),
        (date(2026, 11, 30), Concern.WARN),
        (date(2026, 12, 1), Concern.FAIL),
        (date(2027, 6, 1), Concern.FAIL),
    ],
)
def test_a_provisional_year_is_warned_of_from_october_and_alerted_from_december_before(
    today: date, expected: Concern | None
) -> None:
    assert concern_for(2027, today) is expected


def test_a_provisional_next_year_is_a_concern_from_the_first_of_october() -> None:
    before = calendar_concerns(CAL, date(UNKNOWN - 1, 9, 30))
    after = calendar_concerns(CAL, date(UNKNOWN - 1, 10, 1))
    assert (before, [(c.year, c.level) for c in after]) == ((), [(UNKNOWN, Concern.WARN)])


def test_a_covered_next_year_is_no_concern_in_december() -> None:
    cal = BusinessCalendar.from_settings(CalendarSettings(holidays=(date(UNKNOWN, 1, 1),)))
    assert calendar_concerns(cal, date(UNKNOWN - 1, 12, 31)) == ()


def test_the_concern_says_which_year_and_what_to_do() -> None:
    (concern,) = calendar_concerns(CAL, date(UNKNOWN - 1, 12, 1))
    said = concern.message()
    assert str(UNKNOWN) in said and "[calendar]" in said and "upgrade chinesecalendar" in said


def test_the_daemon_start_logs_one_warning_per_provisional_year(
    caplog: pytest.LogCaptureFixture,
) -> None:
    now = datetime(UNKNOWN - 1, 10, 2, 2, 0, tzinfo=UTC)
    with caplog.at_level(logging.INFO, logger="daemon.app"):
        app.warn_of_provisional_calendar(Settings(), now)
    warned = [r for r in caplog.records if r.name == "daemon.app"]
    assert [r.levelno for r in warned] == [logging.WARNING]
    assert str(UNKNOWN) in warned[0].getMessage()
