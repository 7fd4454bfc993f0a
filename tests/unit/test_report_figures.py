"""The report's figures from plain facts: each count, rate and penalty as defined once in
daemon.reports.figures."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from daemon.reports.figures import (
    CaseFact,
    ClockFact,
    ClockPenalty,
    Facts,
    LedgerFact,
    Period,
    ReportSettings,
    SurveyFact,
    TicketFact,
    TransitionFact,
    age_bucket,
    figure_rows,
    repeat_multiplier,
    summarize,
    working_age,
)

SH = ZoneInfo("Asia/Shanghai")
# Monday 2 November to Monday 9 November 2026 (local).
PERIOD = Period(datetime(2026, 11, 2, tzinfo=SH), datetime(2026, 11, 9, tzinfo=SH), SH)
WEEKDAYS = tuple(
    d for d in (date(2026, 10, 1) + timedelta(days=i) for i in range(60)) if d.weekday() < 5
)
SETTINGS = ReportSettings(
    manager_of={"feng_yu": "zheng_hao", "wang_lei": "zheng_hao"},
    names={"feng_yu": "冯雨", "zheng_hao": "郑浩"},
)


def at(day: int, hour: int = 10) -> datetime:
    return datetime(2026, 11, day, hour, tzinfo=SH)


def ticket(tid: int, opened: datetime, status: str = "assigned", **kw: str) -> TicketFact:
    fields: dict[str, str] = {
        "category": "service",
        "department": "after_sales",
        "channel": "email",
        "severity": "medium",
        "handler": "feng_yu",
        "manufacturer": "",
    }
    fields.update(kw)
    return TicketFact(
        id=tid,
        number=f"TS-{tid}",
        status=status,
        opened_at=opened,
        closed_at=None,
        **fields,
    )


def facts(**kw: object) -> Facts:
    base = Facts((), (), (), (), (), (), WEEKDAYS)
    return replace(base, **kw)  # type: ignore[arg-type]


def test_json_has_exactly_the_contracts_top_level_keys() -> None:
    out = summarize(facts(), PERIOD, SETTINGS).as_json()
    assert list(out) == [
        "period",
        "tickets",
        "clocks",
        "satisfaction",
        "breakdown",
        "penalties",
        "zero_complaint",
        "recurring",
    ]


def test_rates_are_null_when_nothing_is_in_the_denominator() -> None:
    out = summarize(facts(), PERIOD, SETTINGS).as_json()
    assert out["satisfaction"]["rate"] is None  # type: ignore[index]
    assert all(c["on_time_rate"] is None for c in out["clocks"].values())  # type: ignore[attr-defined]


def test_tickets_opened_count_only_the_period() -> None:
    tickets = (ticket(1, at(1)), ticket(2, at(2)), ticket(3, at(8, 23)), ticket(4, at(9)))
    assert summarize(facts(tickets=tickets), PERIOD, SETTINGS).tickets.opened == 2


def test_resolved_closed_and_reopened_count_transitions_in_the_period() -> None:
    trs = (
        TransitionFact(1, at(3), "resolve", "contacted", "resolved"),
        TransitionFact(1, at(4), "reopen", "resolved", "reopened"),
        TransitionFact(1, at(5), "resolve", "reopened", "resolved"),
        TransitionFact(1, at(6), "close", "callback_done", "closed"),
        TransitionFact(2, at(10), "close", "callback_done", "closed"),
    )
    t = summarize(facts(transitions=trs), PERIOD, SETTINGS).tickets
    assert (t.resolved, t.closed, t.reopened) == (2, 1, 1)


def test_a_ticket_closed_after_the_end_was_open_at_the_end() -> None:
    closed_later = ticket(1, at(3), status="closed")
    trs = (TransitionFact(1, at(10), "close", "callback_done", "closed"),)
    t = summarize(facts(tickets=(closed_later,), transitions=trs), PERIOD, SETTINGS).tickets
    assert t.open_at_end == 1


def test_a_ticket_closed_in_the_period_is_not_open_at_the_end() -> None:
    closed = ticket(1, at(3), status="closed")
    t = summarize(facts(tickets=(closed,)), PERIOD, SETTINGS).tickets
    assert t.open_at_end == 0


@pytest.mark.parametrize(
    ("age", "bucket"), [(0, "0-1"), (1, "0-1"), (2, "1-3"), (3, "1-3"), (7, "3-7"), (8, "7+")]
)
def test_backlog_buckets_include_their_upper_bound(age: int, bucket: str) -> None:
    assert age_bucket(age) == bucket


def test_age_counts_working_days_only() -> None:
    # Friday 6 November to Monday 9: one working day (Monday).
    assert working_age(date(2026, 11, 6), date(2026, 11, 9), WEEKDAYS) == 1


def test_backlog_ages_tickets_open_at_the_end() -> None:
    # Last day Sunday 8 November; opened Thursday 29 October: 7 working days (30 Oct .. 6 Nov).
    t = summarize(facts(tickets=(ticket(1, datetime(2026, 10, 29, tzinfo=SH)),)), PERIOD, SETTINGS)
    assert t.tickets.backlog == {"0-1": 0, "1-3": 0, "3-7": 1, "7+": 0}


def test_a_clock_met_on_time_and_one_missed_give_a_rate_of_one_half() -> None:
    clocks = (ClockFact(1, "first_contact", at(3), on_time=True),)
    ledger = (LedgerFact(2, "first_contact", "feng_yu", at(4), at(4), 600.0),)
    c = summarize(facts(clocks=clocks, ledger=ledger), PERIOD, SETTINGS).clock("first_contact")
    assert (c.due, c.on_time, c.missed, c.on_time_rate) == (2, 1, 1, 0.5)


def test_a_clock_met_late_is_not_on_time() -> None:
    clocks = (ClockFact(1, "resolution", at(5), on_time=False),)
    assert summarize(facts(clocks=clocks), PERIOD, SETTINGS).clock("resolution").on_time == 0


def test_each_stop_of_a_clock_restarted_by_a_reopening_counts() -> None:
    clocks = (
        ClockFact(1, "resolution", at(2), on_time=True),
        ClockFact(1, "resolution", at(5), on_time=True),
    )
    assert summarize(facts(clocks=clocks), PERIOD, SETTINGS).clock("resolution").on_time == 2


def test_one_breach_booked_for_two_people_is_one_missed_clock() -> None:
    ledger = (
        LedgerFact(1, "resolution", "feng_yu", at(4), at(4), 60.0),
        LedgerFact(1, "resolution", "zheng_hao", at(4), at(4), 60.0),
    )
    assert summarize(facts(ledger=ledger), PERIOD, SETTINGS).clock("resolution").missed == 1


def test_satisfaction_pairs_each_question_with_its_first_answer() -> None:
    surveys = (
        SurveyFact(1, at(3), None),
        SurveyFact(1, at(4), "satisfied", 9),
        SurveyFact(1, at(4, 11), "unsatisfied", 2),  # a second answer to the same question
        SurveyFact(2, at(3), None),
        SurveyFact(2, at(5), "unsatisfied", 4),
        SurveyFact(3, at(6), None),  # no answer
    )
    s = summarize(facts(surveys=surveys), PERIOD, SETTINGS).satisfaction
    assert (s.surveyed, s.satisfied, s.unsatisfied, s.no_answer) == (3, 1, 1, 1)
    assert (s.rate, s.mean_score) == (round(1 / 3, 4), 6.5)


def test_an_answer_to_a_question_asked_before_the_period_is_not_counted() -> None:
    surveys = (SurveyFact(1, at(1), None), SurveyFact(1, at(3), "satisfied"))
    assert summarize(facts(surveys=surveys), PERIOD, SETTINGS).satisfaction.satisfied == 0


def test_a_late_resolution_costs_the_handler_and_their_manager_fifty_each() -> None:
    tickets = (ticket(1, at(2)),)
    ledger = (LedgerFact(1, "resolution", "feng_yu", at(4), at(4), 3600.0),)
    lines = summarize(facts(tickets=tickets, ledger=ledger), PERIOD, SETTINGS).penalties
    assert [(p.person, p.role, p.amount, p.tickets) for p in lines] == [
        ("feng_yu", "handler", 50, ("TS-1",)),
        ("zheng_hao", "manager", 50, ("TS-1",)),
    ]


def test_a_late_first_contact_costs_the_handler_one_hundred() -> None:
    ledger = (LedgerFact(1, "first_contact", "feng_yu", at(4), at(4), 60.0),)
    (line,) = summarize(facts(ledger=ledger), PERIOD, SETTINGS).penalties
    assert (line.person, line.amount, line.name) == ("feng_yu", 100, "冯雨")


def test_a_clock_missed_for_more_than_a_month_is_charged_twice() -> None:
    assert repeat_multiplier(31 * 86400, 30) == 2
    ledger = (LedgerFact(1, "first_contact", "feng_yu", at(4), at(4), 31 * 86400.0),)
    (line,) = summarize(facts(ledger=ledger), PERIOD, SETTINGS).penalties
    assert line.amount == 200


def test_configured_amounts_replace_the_seed_defaults() -> None:
    settings = replace(SETTINGS, penalties={"first_contact": ClockPenalty(80, 20)})
    ledger = (LedgerFact(1, "first_contact", "feng_yu", at(4), at(4), 60.0),)
    lines = summarize(facts(ledger=ledger), PERIOD, settings).penalties
    assert [p.amount for p in lines] == [80, 20]


def test_four_attitude_complaints_in_a_week_flag_the_manager_and_charge_fifty() -> None:
    tickets = tuple(ticket(i, at(3 + i % 3), handler="feng_yu") for i in range(4))
    s = summarize(facts(tickets=tickets), PERIOD, SETTINGS)
    (r,) = s.recurring
    assert (r.manager, r.complaints, r.flagged) == ("zheng_hao", 4, True)
    (line,) = s.penalties
    assert (line.person, line.clock, line.amount) == ("zheng_hao", "recurring", 50)


def test_three_attitude_complaints_are_not_over_the_threshold() -> None:
    tickets = tuple(ticket(i, at(3)) for i in range(3))
    (r,) = summarize(facts(tickets=tickets), PERIOD, SETTINGS).recurring
    assert not r.flagged


def test_zero_complaint_failures_carry_the_penalty() -> None:
    cases = (
        CaseFact(1, "oem", "C1", at(2), at(6), True),
        CaseFact(2, "oem", "C2", at(2), at(6), False),
        CaseFact(3, "oem", "C3", at(3)),
        CaseFact(4, "oem", "C4", at(1), at(6), False, 2000.0),
    )
    z = summarize(facts(cases=cases), PERIOD, SETTINGS).zero_complaint
    assert (z.opened, z.resurveyed, z.succeeded, z.failed, z.penalty) == (3, 3, 1, 2, 5000)


def test_breakdown_counts_opened_tickets_and_missed_clocks_per_value() -> None:
    tickets = (
        ticket(1, at(3), category="service"),
        ticket(2, at(3), category="repair_quality"),
        ticket(3, at(4), category="repair_quality"),
    )
    ledger = (LedgerFact(1, "first_contact", "feng_yu", at(4), at(4), 60.0),)
    rows = summarize(facts(tickets=tickets, ledger=ledger), PERIOD, SETTINGS).breakdown.rows
    assert [(r.value, r.opened, r.missed) for r in rows["category"]] == [
        ("repair_quality", 2, 0),
        ("service", 1, 1),
    ]


def test_flat_rows_hold_every_clock_figure() -> None:
    rows = figure_rows(summarize(facts(), PERIOD, SETTINGS))
    measures = {(r.item, r.measure) for r in rows if r.section == "clocks"}
    assert ("major_report", "on_time_rate") in measures
