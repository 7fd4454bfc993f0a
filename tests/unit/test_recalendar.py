"""Recomputing open clocks when the calendar changes: which days changed, where due times go."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from daemon import clocks, recalendar
from daemon.clocks import Allowance, Basis, ClockKind, ClockPlan, Unit
from daemon.workdays import BusinessCalendar, CalendarSettings

SH = ZoneInfo("Asia/Shanghai")
MONDAY_10 = datetime(2026, 11, 23, 10, 0, tzinfo=SH)
TUESDAY = date(2026, 11, 24)
TODAY = date(2026, 11, 23)


def calendar(**overrides: tuple[date, ...]) -> BusinessCalendar:
    # No package: the override table and the weekdays alone decide, so a test says every day.
    return BusinessCalendar(CalendarSettings(**overrides), ())


THREE_DAYS = Allowance(3, Unit.DAYS)


def plan(allowance: Allowance = THREE_DAYS) -> ClockPlan:
    return ClockPlan(ClockKind.RESOLUTION, "resolution", allowance, (0.5,), (), False)


def snap(cal: BusinessCalendar, versions: str = "v1") -> recalendar.CalendarSnapshot:
    return recalendar.snapshot(cal, (2025, 2026, 2027), versions)


def change(before: BusinessCalendar, after: BusinessCalendar) -> recalendar.CalendarChange:
    return recalendar.compare(snap(before), snap(after), {2026})


def test_a_day_made_a_holiday_is_the_one_change_found() -> None:
    found = change(calendar(), calendar(holidays=(TUESDAY,)))
    assert [(c.date, c.before[0], c.after[0]) for c in found.days] == [
        (TUESDAY, "ordinary", "holiday")
    ]
    assert found.matters


def test_the_same_calendar_under_a_new_package_version_needs_no_recompute() -> None:
    found = recalendar.compare(snap(calendar(), "v1"), snap(calendar(), "v2"), {2026})
    assert not found.matters
    assert "v1 -> v2" in found.summary()


def test_a_year_the_clocks_reach_but_never_recorded_needs_a_recompute() -> None:
    old = recalendar.snapshot(calendar(), (2026,), "v1")
    found = recalendar.compare(old, snap(calendar()), {2026, 2027})
    assert found.unrecorded == (2027,)
    assert found.matters


def test_changed_office_hours_need_a_recompute() -> None:
    late = BusinessCalendar(CalendarSettings(makeup_hours=()), ())
    assert change(calendar(), late).hours_changed


def test_a_holiday_under_a_running_clock_moves_its_due_a_working_day_later() -> None:
    old, new = calendar(), calendar(holidays=(TUESDAY,))
    state = clocks.start(plan(), MONDAY_10, old)
    move = recalendar.move(state, change(old, new), new)
    assert move is not None
    assert (move.before, move.after) == (
        datetime(2026, 11, 26, 10, 0, tzinfo=SH),
        datetime(2026, 11, 27, 10, 0, tzinfo=SH),
    )
    assert move.because == ("2026-11-24: ordinary day -> day off (override)",)
    assert move.state.due_at == move.after
    assert move.next_action_at is not None and move.next_action_at < move.after


def test_a_clock_the_change_does_not_reach_stays() -> None:
    old, new = calendar(), calendar(holidays=(date(2026, 12, 15),))
    state = clocks.start(plan(), MONDAY_10, old)
    assert recalendar.move(state, change(old, new), new) is None


def test_a_resumed_clock_keeps_what_it_used_before_its_pause() -> None:
    old, new = calendar(), calendar(holidays=(date(2026, 11, 26),))
    started = clocks.start(plan(), MONDAY_10, old)
    paused = clocks.pause(started, MONDAY_10 + timedelta(hours=1), old)  # 1 working hour used
    resumed = clocks.resume(paused, datetime(2026, 11, 25, 8, 30, tzinfo=SH), old)
    move = recalendar.move(resumed, change(old, new), new)
    assert move is not None
    # 22.5 working hours less the 1 used, from Wednesday 08:30, Thursday now off: 7.5 on
    # Wednesday, 7.5 on Friday, the last 6.5 on Monday.
    assert move.after == datetime(2026, 11, 30, 16, 30, tzinfo=SH)
    assert move.state.spent == timedelta(hours=1)


def test_a_breached_clock_is_left_as_the_breach_found_it() -> None:
    old, new = calendar(), calendar(holidays=(TUESDAY,))
    state = replace(clocks.start(plan(), MONDAY_10, old), breached_at=MONDAY_10)
    assert recalendar.move(state, change(old, new), new) is None


def test_a_wall_clock_does_not_follow_the_calendar() -> None:
    old, new = calendar(), calendar(holidays=(TUESDAY,))
    state = clocks.start(plan(Allowance(7, Unit.DAYS, Basis.WALL)), MONDAY_10, old)
    assert recalendar.move(state, change(old, new), new) is None


def test_recomputing_on_the_same_calendar_moves_nothing() -> None:
    cal = calendar(holidays=(TUESDAY,))
    state = clocks.start(plan(), MONDAY_10, cal)
    unknown = recalendar.compare(None, snap(cal), {2026})
    assert unknown.matters
    assert recalendar.move(state, unknown, cal) is None


def test_a_snapshot_reads_back_from_its_json() -> None:
    s = snap(calendar(holidays=(TUESDAY,), workdays=(date(2026, 11, 28),)))
    assert recalendar.CalendarSnapshot.from_json(s.as_json()) == s


def test_years_recorded_reach_a_year_past_every_open_clock() -> None:
    state = clocks.start(plan(), datetime(2029, 12, 30, 10, 0, tzinfo=SH), calendar())
    assert recalendar.years_to_record([state], TODAY) == (2025, 2026, 2027, 2029, 2030, 2031)
