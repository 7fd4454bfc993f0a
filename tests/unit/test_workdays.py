"""Working-time arithmetic on the Chinese holiday calendar, 2025-2026, and the override table."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from daemon.workdays import BusinessCalendar, CalendarSettings, DayKind

SH = ZoneInfo("Asia/Shanghai")
CAL = BusinessCalendar.from_settings(CalendarSettings())


def at(y: int, mo: int, d: int, h: int = 0, mi: int = 0) -> datetime:
    return datetime(y, mo, d, h, mi, tzinfo=SH)


# -- days -----------------------------------------------------------------------------------------


def test_national_day_2025_is_a_holiday_from_chinesecalendar() -> None:
    day = CAL.day(date(2025, 10, 1))
    assert (day.kind, day.source, day.is_working_day) == (DayKind.HOLIDAY, "chinesecalendar", False)


def test_makeup_sunday_before_national_day_2025_is_a_working_day() -> None:
    day = CAL.day(date(2025, 9, 28))
    assert day.kind is DayKind.MAKEUP
    assert CAL.is_working_time(at(2025, 9, 28, 10))


def test_makeup_saturday_after_national_day_2025_is_a_working_day() -> None:
    assert CAL.is_working_time(at(2025, 10, 11, 9))


def test_ordinary_saturday_is_not_a_working_day() -> None:
    assert not CAL.day(date(2025, 10, 18)).is_working_day


def test_weekday_in_lieu_of_national_day_2025_is_off() -> None:
    assert not CAL.day(date(2025, 10, 8)).is_working_day


def test_makeup_saturday_before_spring_festival_2026_is_a_working_day() -> None:
    assert CAL.day(date(2026, 2, 14)).kind is DayKind.MAKEUP


def test_year_beyond_chinesecalendar_falls_back_to_the_holidays_package() -> None:
    day = CAL.day(date(2027, 10, 1))
    assert (day.kind, day.source) == (DayKind.HOLIDAY, "holidays")


def test_override_holiday_wins_over_the_packages() -> None:
    cal = BusinessCalendar.from_settings(CalendarSettings(holidays=(date(2027, 1, 4),)))
    day = cal.day(date(2027, 1, 4))
    assert (day.kind, day.source, day.is_working_day) == (DayKind.HOLIDAY, "override", False)


def test_override_workday_makes_a_2027_saturday_a_working_day() -> None:
    cal = BusinessCalendar.from_settings(CalendarSettings(workdays=(date(2027, 2, 20),)))
    assert cal.day(date(2027, 2, 20)).source == "override"
    assert cal.is_working_time(datetime(2027, 2, 20, 9, tzinfo=SH))


def test_override_closure_on_a_2025_workday_stops_the_clock_that_day() -> None:
    cal = BusinessCalendar.from_settings(CalendarSettings(holidays=(date(2025, 9, 16),)))
    assert cal.add_working_days(at(2025, 9, 15, 10), 1) == at(2025, 9, 17, 10)


def test_without_packages_the_weekday_rule_decides() -> None:
    cal = BusinessCalendar.from_settings(CalendarSettings(sources=()))
    day = cal.day(date(2025, 10, 1))
    assert (day.kind, day.source, day.is_working_day) == (DayKind.ORDINARY, "weekday", True)


def test_makeup_day_keeps_makeup_hours() -> None:
    short = ((time(9), time(12)),)
    cal = BusinessCalendar.from_settings(CalendarSettings(makeup_hours=short))
    assert cal.day(date(2025, 9, 28)).working_time == timedelta(hours=3)


def test_weekend_hours_apply_on_an_ordinary_saturday() -> None:
    cal = BusinessCalendar.from_settings(CalendarSettings(saturday=((time(9), time(17)),)))
    assert cal.is_working_time(at(2025, 10, 18, 10))


def test_settings_reject_overlapping_intervals() -> None:
    with pytest.raises(ValueError, match="overlap"):
        CalendarSettings(monday=((time(8), time(12)), (time(11), time(17))))


def test_settings_reject_a_week_without_hours() -> None:
    with pytest.raises(ValueError, match="no weekday"):
        CalendarSettings(monday=(), tuesday=(), wednesday=(), thursday=(), friday=())


def test_settings_reject_a_date_both_holiday_and_workday() -> None:
    with pytest.raises(ValueError, match="both"):
        CalendarSettings(holidays=(date(2027, 1, 4),), workdays=(date(2027, 1, 4),))


# -- instants -------------------------------------------------------------------------------------


def test_lunch_break_is_not_working_time() -> None:
    assert not CAL.is_working_time(at(2025, 9, 15, 12, 30))


def test_closing_minute_is_not_working_time() -> None:
    assert not CAL.is_working_time(at(2025, 9, 15, 17, 30))


def test_adding_minutes_skips_the_lunch_break() -> None:
    assert CAL.add_working_minutes(at(2025, 9, 15, 11, 30), 60) == at(2025, 9, 15, 14, 0)


def test_adding_one_minute_has_minute_resolution() -> None:
    assert CAL.add_working_minutes(at(2025, 9, 15, 8, 30), 1) == at(2025, 9, 15, 8, 31)


def test_deadline_falling_on_the_break_is_the_break_start() -> None:
    assert CAL.add_working_minutes(at(2025, 9, 15, 11, 0), 60) == at(2025, 9, 15, 12, 0)


def test_adding_minutes_at_night_starts_at_the_next_opening() -> None:
    assert CAL.add_working_minutes(at(2025, 9, 15, 22, 0), 30) == at(2025, 9, 16, 9, 0)


def test_adding_zero_minutes_keeps_the_instant() -> None:
    assert CAL.add_working_minutes(at(2025, 9, 15, 22, 0), 0) == at(2025, 9, 15, 22, 0)


def test_two_working_hours_from_the_last_workday_before_national_day() -> None:
    assert CAL.add_working_hours(at(2025, 9, 30, 17, 0), 2) == at(2025, 10, 9, 10, 0)


def test_working_minutes_between_counts_across_the_break() -> None:
    assert CAL.working_minutes_between(at(2025, 9, 15, 11, 59), at(2025, 9, 15, 13, 31)) == 2


def test_working_minutes_between_skips_the_weekend() -> None:
    friday, monday = at(2025, 9, 19, 17, 0), at(2025, 9, 22, 9, 0)
    assert CAL.working_minutes_between(friday, monday) == 60


def test_working_minutes_between_reversed_instants_is_zero() -> None:
    assert CAL.working_minutes_between(at(2025, 9, 16, 10), at(2025, 9, 15, 10)) == 0


def test_national_day_week_holds_no_working_time() -> None:
    assert CAL.working_time_between(at(2025, 10, 1), at(2025, 10, 9)) == timedelta(0)


def test_three_working_days_across_national_day_2025_end_on_the_makeup_saturday() -> None:
    assert CAL.add_working_days(at(2025, 9, 30, 10, 0), 3) == at(2025, 10, 11, 10, 0)


def test_working_days_across_spring_festival_2026_skip_the_holiday_week() -> None:
    assert CAL.add_working_days(at(2026, 2, 13, 10, 0), 2) == at(2026, 2, 24, 10, 0)


def test_working_days_from_an_opening_end_at_a_closing() -> None:
    assert CAL.add_working_days(at(2025, 9, 15, 8, 30), 3) == at(2025, 9, 17, 17, 30)


def test_working_days_from_after_closing_end_at_a_closing() -> None:
    assert CAL.add_working_days(at(2025, 9, 15, 18, 0), 3) == at(2025, 9, 18, 17, 30)


def test_working_days_from_the_break_end_at_the_next_days_break() -> None:
    assert CAL.add_working_days(at(2025, 9, 15, 12, 30), 1) == at(2025, 9, 16, 12, 0)


def test_working_days_onto_a_shorter_day_stop_at_its_closing() -> None:
    short = CalendarSettings(makeup_hours=((time(9), time(12)),))
    cal = BusinessCalendar.from_settings(short)
    assert cal.add_working_days(at(2025, 9, 26, 16, 0), 1) == at(2025, 9, 28, 12, 0)


def test_end_of_working_day_is_todays_closing() -> None:
    assert CAL.end_of_working_day(at(2025, 9, 30, 15, 0)) == at(2025, 9, 30, 17, 30)


def test_end_of_working_day_after_closing_is_the_next_working_days_closing() -> None:
    assert CAL.end_of_working_day(at(2025, 9, 30, 18, 0)) == at(2025, 10, 9, 17, 30)


def test_calendar_days_ignore_holidays() -> None:
    assert CAL.add_calendar_days(at(2025, 9, 30, 10, 0), 7) == at(2025, 10, 7, 10, 0)


def test_end_of_calendar_day_is_local_midnight() -> None:
    assert CAL.end_of_calendar_day(at(2025, 10, 1, 23, 0)) == at(2025, 10, 2)


def test_wall_time_is_elapsed_time() -> None:
    assert CAL.add_wall_time(at(2025, 10, 1, 10), timedelta(hours=30)) == at(2025, 10, 2, 16)


def test_results_are_in_the_calendars_zone() -> None:
    result = CAL.add_working_minutes(datetime(2025, 9, 15, 1, 0, tzinfo=UTC), 10)
    assert (result, result.tzinfo) == (at(2025, 9, 15, 9, 10), SH)


def test_naive_instants_are_refused() -> None:
    with pytest.raises(ValueError, match="naive"):
        CAL.add_working_minutes(datetime(2025, 9, 15, 9, 0), 10)  # noqa: DTZ001 (a naive time on purpose)


def test_negative_working_time_is_refused() -> None:
    with pytest.raises(ValueError, match="negative"):
        CAL.add_working_minutes(at(2025, 9, 15, 9), -1)


# -- properties -----------------------------------------------------------------------------------

# Hypothesis takes naive bounds and attaches the zone itself.
instants = st.datetimes(
    min_value=datetime(2025, 1, 1),  # noqa: DTZ001
    max_value=datetime(2026, 12, 31),  # noqa: DTZ001
    timezones=st.just(SH),
)


@settings(max_examples=200, deadline=None)
@given(start=instants, minutes=st.integers(min_value=0, max_value=60 * 24 * 30))
def test_adding_minutes_then_measuring_gives_the_minutes_back(
    start: datetime, minutes: int
) -> None:
    assert CAL.working_minutes_between(start, CAL.add_working_minutes(start, minutes)) == minutes


@settings(max_examples=200, deadline=None)
@given(a=instants, b=instants)
def test_adding_the_measured_time_never_overshoots(a: datetime, b: datetime) -> None:
    later = max(a, b)
    assert CAL.add_working_time(a, CAL.working_time_between(a, later)) <= max(a, later)


@settings(max_examples=200, deadline=None)
@given(start=instants, days=st.integers(min_value=1, max_value=20))
def test_working_days_add_whole_days_of_working_time(start: datetime, days: int) -> None:
    end = CAL.add_working_days(start, days)
    assert CAL.working_time_between(start, end) == timedelta(hours=7.5) * days
