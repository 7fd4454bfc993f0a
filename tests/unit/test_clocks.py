"""Clock planning by channel, tier and urgency, and what a sweep decides for one clock."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from daemon.clocks import (
    Allowance,
    Basis,
    Breach,
    ClockKind,
    ClockPlan,
    ClockRule,
    ClockSettings,
    ClockState,
    Escalate,
    Remind,
    TicketFacts,
    Unit,
    UpgradeSeverity,
    UrgencySettings,
    deadline,
    decide,
    next_action_at,
    overdue,
    pause,
    plan_clocks,
    raise_level,
    resume,
    start,
    stop,
)
from daemon.workdays import BusinessCalendar, CalendarSettings

SH = ZoneInfo("Asia/Shanghai")
CAL = BusinessCalendar.from_settings(CalendarSettings())
DEFAULTS = ClockSettings()
BANK = ClockSettings(urgency=UrgencySettings(enabled=True))


def at(y: int, mo: int, d: int, h: int = 0, mi: int = 0) -> datetime:
    return datetime(y, mo, d, h, mi, tzinfo=SH)


def facts(
    channel: str = "email",
    category: str = "service",
    severity: str = "general",
    tier: str = "standard",
    is_major: bool = False,
) -> TicketFacts:
    return TicketFacts(channel, category, severity, tier, is_major)


def plan_of(kind: ClockKind, f: TicketFacts, s: ClockSettings = DEFAULTS) -> ClockPlan:
    (plan,) = [p for p in plan_clocks(f, s) if p.kind is kind]
    return plan


def kinds(f: TicketFacts, s: ClockSettings = DEFAULTS) -> set[ClockKind]:
    return {p.kind for p in plan_clocks(f, s)}


def sweep(state: ClockState, now: datetime) -> tuple[tuple[object, ...], ClockState]:
    decision = decide(state, now, CAL)
    return decision.actions, decision.after


MONDAY_9 = at(2025, 9, 15, 9, 0)  # a week without holidays


def contact_clock() -> ClockState:
    """First contact, 2 working hours from Monday 09:00: due 11:00."""
    return start(plan_of(ClockKind.FIRST_CONTACT, facts()), MONDAY_9, CAL)


def resolution_clock(f: TicketFacts | None = None) -> ClockState:
    return start(plan_of(ClockKind.RESOLUTION, f or facts()), MONDAY_9, CAL)


# -- planning -------------------------------------------------------------------------------------


def test_manufacturer_complaint_gets_a_30_minute_response_clock() -> None:
    plan = plan_of(ClockKind.FIRST_RESPONSE, facts("manufacturer"))
    assert plan.allowance == Allowance(30, Unit.MINUTES, Basis.WORKING)


def test_manufacturer_complaint_gets_a_7_day_wall_close_clock() -> None:
    plan = plan_of(ClockKind.CLOSE, facts("manufacturer"))
    assert plan.allowance == Allowance(7, Unit.DAYS, Basis.WALL)


def test_email_complaint_has_no_response_or_close_clock() -> None:
    assert not kinds(facts("email")) & {ClockKind.FIRST_RESPONSE, ClockKind.CLOSE}


def test_every_complaint_gets_contact_resolution_and_callback_clocks() -> None:
    wanted = {ClockKind.FIRST_CONTACT, ClockKind.RESOLUTION, ClockKind.CALLBACK}
    assert wanted <= kinds(facts("phone"))


def test_on_site_complaint_must_be_resolved_the_same_day() -> None:
    clock = start(plan_of(ClockKind.RESOLUTION, facts("on_site")), at(2025, 9, 30, 15), CAL)
    assert clock.due_at == at(2025, 9, 30, 17, 30)


def test_resolution_of_three_working_days_spans_national_day() -> None:
    clock = start(plan_of(ClockKind.RESOLUTION, facts()), at(2025, 9, 30, 10), CAL)
    assert clock.due_at == at(2025, 10, 11, 10)


def test_close_clock_counts_calendar_days_through_national_day() -> None:
    clock = start(plan_of(ClockKind.CLOSE, facts("manufacturer")), at(2025, 9, 30, 10), CAL)
    assert clock.due_at == at(2025, 10, 7, 10)


def test_first_matching_rule_wins_so_a_vip_rule_can_tighten_resolution() -> None:
    vip = ClockRule("vip-resolution", ClockKind.RESOLUTION, Allowance(1, Unit.DAYS), tiers=("vip",))
    s = ClockSettings(rules=(vip, *DEFAULTS.rules))
    assert plan_of(ClockKind.RESOLUTION, facts(tier="vip"), s).rule == "vip-resolution"


def test_disabled_rule_removes_the_clock_for_its_matches() -> None:
    off = ClockRule(
        "no-callback",
        ClockKind.CALLBACK,
        Allowance(0),
        categories=("customer_issue",),
        enabled=False,
    )
    s = ClockSettings(rules=(off, *DEFAULTS.rules))
    assert ClockKind.CALLBACK not in kinds(facts(category="customer_issue"), s)


def test_bank_medium_urgency_replies_within_three_working_days() -> None:
    plan = plan_of(ClockKind.REPLY, facts(severity="medium"), BANK)
    assert plan.allowance == Allowance(3, Unit.DAYS)


def test_bank_high_urgency_replies_within_two_working_days() -> None:
    assert plan_of(ClockKind.REPLY, facts(severity="high"), BANK).allowance.amount == 2


def test_bank_low_urgency_replies_within_five_working_days() -> None:
    assert plan_of(ClockKind.REPLY, facts(severity="low"), BANK).allowance.amount == 5


def test_vip_raises_bank_urgency_one_level() -> None:
    plan = plan_of(ClockKind.REPLY, facts(severity="low", tier="vip"), BANK)
    assert (plan.rule, plan.allowance.amount) == ("reply-medium", 3)


def test_vip_at_high_urgency_stays_high() -> None:
    assert plan_of(ClockKind.REPLY, facts(severity="high", tier="vip"), BANK).allowance.amount == 2


def test_reply_clock_is_off_unless_the_bank_setting_is_on() -> None:
    assert ClockKind.REPLY not in kinds(facts(severity="medium"))


def test_major_complaint_gets_a_24_hour_report_clock() -> None:
    plan = plan_of(ClockKind.MAJOR_REPORT, facts(is_major=True))
    assert plan.allowance == Allowance(24, Unit.HOURS, Basis.WALL)


def test_ordinary_complaint_has_no_major_report_clock() -> None:
    assert ClockKind.MAJOR_REPORT not in kinds(facts())


DEALER_SCALE = ("general", "medium", "strong", "irrational")


def test_raise_level_moves_one_step_up() -> None:
    assert raise_level("medium", DEALER_SCALE) == "strong"


def test_raise_level_stops_at_the_top() -> None:
    assert raise_level("irrational", DEALER_SCALE) == "irrational"


def test_reminder_fractions_outside_zero_and_one_are_refused() -> None:
    with pytest.raises(ValueError, match="between 0 and 1"):
        ClockSettings(reminders=(0.5, 1.0))


def test_fractional_days_are_refused() -> None:
    with pytest.raises(ValueError, match="whole number"):
        Allowance(1.5, Unit.DAYS)


# -- reminders ------------------------------------------------------------------------------------


def test_nothing_is_due_before_half_the_allowance() -> None:
    actions, _ = sweep(contact_clock(), at(2025, 9, 15, 9, 59))
    assert actions == ()


def test_reminder_at_half_the_allowance() -> None:
    actions, _ = sweep(contact_clock(), at(2025, 9, 15, 10, 0))
    assert actions == (Remind(0.5, at(2025, 9, 15, 11, 0)),)


def test_reminder_is_sent_once() -> None:
    _, after = sweep(contact_clock(), at(2025, 9, 15, 10, 0))
    actions, _ = sweep(after, at(2025, 9, 15, 10, 1))
    assert actions == ()


def test_second_reminder_at_eighty_percent() -> None:
    _, after = sweep(contact_clock(), at(2025, 9, 15, 10, 0))
    actions, _ = sweep(after, at(2025, 9, 15, 10, 36))
    assert actions == (Remind(0.8, at(2025, 9, 15, 11, 0)),)


def test_after_an_outage_only_the_latest_reminder_goes_out() -> None:
    actions, after = sweep(contact_clock(), at(2025, 9, 15, 10, 40))
    assert actions == (Remind(0.8, at(2025, 9, 15, 11, 0)),)
    assert after.reminders_sent == (0.5, 0.8)


def test_reminders_on_working_time_skip_the_lunch_break() -> None:
    clock = start(plan_of(ClockKind.FIRST_CONTACT, facts()), at(2025, 9, 15, 11, 0), CAL)
    assert next_action_at(clock, CAL) == at(2025, 9, 15, 12, 0)


def test_next_action_after_a_reminder_is_the_next_reminder() -> None:
    decision = decide(contact_clock(), at(2025, 9, 15, 10, 0), CAL)
    assert decision.next_action_at == at(2025, 9, 15, 10, 36)


# -- breach and ladder ----------------------------------------------------------------------------


def test_breach_at_the_due_time_starts_the_ladder() -> None:
    actions, _ = sweep(contact_clock(), at(2025, 9, 15, 11, 0))
    assert actions == (Breach(at(2025, 9, 15, 11, 0), timedelta(0)), Escalate(1))


def test_breach_records_how_far_overdue_in_working_time() -> None:
    actions, _ = sweep(contact_clock(), at(2025, 9, 15, 13, 45))
    assert actions[0] == Breach(at(2025, 9, 15, 11, 0), timedelta(hours=1, minutes=15))


def test_breach_is_recorded_once() -> None:
    _, after = sweep(contact_clock(), at(2025, 9, 15, 11, 0))
    actions, _ = sweep(after, at(2025, 9, 15, 11, 1))
    assert actions == ()


def test_reminders_not_sent_before_the_breach_are_dropped() -> None:
    actions, _ = sweep(contact_clock(), at(2025, 9, 15, 11, 0))
    assert not any(isinstance(a, Remind) for a in actions)


def test_step_two_follows_four_working_hours_after_step_one() -> None:
    _, after = sweep(contact_clock(), at(2025, 9, 15, 11, 0))
    assert sweep(after, at(2025, 9, 15, 16, 29))[0] == ()
    assert sweep(after, at(2025, 9, 15, 16, 30))[0] == (Escalate(2),)


def test_step_three_follows_a_working_day_after_step_two() -> None:
    _, after = sweep(contact_clock(), at(2025, 9, 15, 11, 0))
    _, after = sweep(after, at(2025, 9, 15, 16, 30))
    assert sweep(after, at(2025, 9, 16, 16, 29))[0] == ()
    assert sweep(after, at(2025, 9, 16, 16, 30))[0] == (Escalate(3),)


def test_missed_steps_go_out_in_order_after_an_outage() -> None:
    actions, _ = sweep(contact_clock(), at(2025, 9, 17, 9, 0))
    assert [a for a in actions if isinstance(a, Escalate)] == [
        Escalate(1),
        Escalate(2),
        Escalate(3),
    ]


def test_ladder_ends_after_the_last_step() -> None:
    decision = decide(contact_clock(), at(2025, 9, 17, 9, 0), CAL)
    assert decision.next_action_at is None
    assert decide(decision.after, at(2025, 9, 30, 9, 0), CAL).actions == ()


def test_rule_ladder_overrides_the_default_allowances() -> None:
    quick = ClockRule(
        "quick",
        ClockKind.FIRST_CONTACT,
        Allowance(2, Unit.HOURS),
        ladder=(Allowance(0), Allowance(30, Unit.MINUTES)),
    )
    clock = start(
        plan_of(ClockKind.FIRST_CONTACT, facts(), ClockSettings(rules=(quick,))), MONDAY_9, CAL
    )
    _, after = sweep(clock, at(2025, 9, 15, 11, 0))
    assert sweep(after, at(2025, 9, 15, 11, 30))[0] == (Escalate(2),)


def test_resolution_breach_upgrades_severity() -> None:
    actions, _ = sweep(resolution_clock(), at(2025, 9, 18, 9, 0))
    assert UpgradeSeverity() in actions


def test_first_contact_breach_does_not_upgrade_severity() -> None:
    actions, _ = sweep(contact_clock(), at(2025, 9, 15, 11, 0))
    assert UpgradeSeverity() not in actions


def test_major_complaint_reaches_the_general_manager_within_24_hours() -> None:
    plan = plan_of(ClockKind.MAJOR_REPORT, facts(is_major=True))
    clock = start(plan, at(2025, 9, 30, 16, 0), CAL)
    actions, _ = sweep(clock, at(2025, 10, 1, 16, 0))
    assert Escalate(3) in actions


# -- acting, pausing ------------------------------------------------------------------------------


def test_acting_stops_the_ladder() -> None:
    _, after = sweep(contact_clock(), at(2025, 9, 15, 11, 0))
    stopped = stop(after, at(2025, 9, 15, 14, 0), CAL).state
    assert decide(stopped, at(2025, 9, 16, 16, 30), CAL).actions == ()
    assert next_action_at(stopped, CAL) is None


def test_acting_in_time_records_no_breach() -> None:
    assert stop(contact_clock(), at(2025, 9, 15, 10, 30), CAL).breach is None


def test_acting_late_before_any_sweep_still_records_the_breach() -> None:
    stopped = stop(contact_clock(), at(2025, 9, 15, 11, 30), CAL)
    assert stopped.breach == Breach(at(2025, 9, 15, 11, 0), timedelta(minutes=30))


def test_overdue_amount_freezes_when_the_clock_stops() -> None:
    _, after = sweep(contact_clock(), at(2025, 9, 15, 11, 0))
    stopped = stop(after, at(2025, 9, 15, 14, 0), CAL).state
    assert overdue(stopped, at(2025, 9, 20, 9, 0), CAL) == timedelta(hours=1, minutes=30)


def test_pause_and_resume_keep_the_remaining_working_time() -> None:
    paused = pause(resolution_clock(), at(2025, 9, 15, 13, 30), CAL)  # 3 working hours used
    resumed = resume(paused, at(2025, 9, 17, 9, 0), CAL)
    assert resumed.due_at == at(2025, 9, 19, 15, 0)


def test_paused_clock_neither_reminds_nor_breaches() -> None:
    paused = pause(resolution_clock(), at(2025, 9, 15, 13, 30), CAL)
    decision = decide(paused, at(2025, 9, 30, 9, 0), CAL)
    assert (decision.actions, decision.next_action_at) == ((), None)


def test_reminder_passed_before_a_pause_goes_out_on_resume() -> None:
    paused = pause(resolution_clock(), at(2025, 9, 17, 9, 0), CAL)  # 15 of 22.5 hours used
    resumed = resume(paused, at(2025, 9, 22, 9, 0), CAL)
    actions, _ = sweep(resumed, at(2025, 9, 22, 9, 0))
    assert resumed.due_at is not None
    assert actions == (Remind(0.5, resumed.due_at),)


def test_restarting_a_clock_gives_the_full_allowance_again() -> None:
    plan = plan_of(ClockKind.RESOLUTION, facts())
    again = start(plan, at(2025, 9, 22, 9, 0), CAL)
    assert again.due_at == deadline(CAL, at(2025, 9, 22, 9, 0), plan.allowance)
    assert again.breached_at is None and again.steps_sent == 0


# -- the sweep as a whole -------------------------------------------------------------------------


def test_next_action_is_the_first_reminder_for_a_new_clock() -> None:
    assert next_action_at(contact_clock(), CAL) == at(2025, 9, 15, 10, 0)


sweep_times = st.lists(
    st.integers(min_value=0, max_value=60 * 24 * 6), min_size=1, max_size=40
).map(lambda minutes: [MONDAY_9 + timedelta(minutes=m) for m in sorted(minutes)])


@settings(max_examples=150, deadline=None)
@given(times=sweep_times)
def test_any_sweep_schedule_sends_each_action_at_most_once_and_steps_in_order(
    times: list[datetime],
) -> None:
    state = contact_clock()
    sent: list[object] = []
    for now in times:
        decision = decide(state, now, CAL)
        sent.extend(decision.actions)
        if decision.next_action_at is not None:
            assert decision.next_action_at > now
        state = decision.after
    assert len(sent) == len(set(sent))
    steps = [a.step for a in sent if isinstance(a, Escalate)]
    assert steps == sorted(steps) == list(range(1, len(steps) + 1))
    assert sum(isinstance(a, Breach) for a in sent) <= 1
