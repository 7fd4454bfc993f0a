"""Manufacturer records -> cases: field mapping, dates in every form exports write them, levels,
scores, and the reasons a record is refused."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from daemon.clocks import ClockKind, ClockSettings, TicketFacts, plan_clocks
from daemon.feeds.records import (
    FeedCase,
    FeedShape,
    Rejection,
    excel_serial,
    parse_instant,
    raw_json,
    read_record,
    with_deadline,
)

SH = ZoneInfo("Asia/Shanghai")
FIELDS = {
    "case_id": "投诉单号",
    "dispatched_at": "派单时间",
    "level": "投诉级别",
    "customer_name": "客户姓名",
    "customer_phone": "联系电话",
    "customer_email": "邮箱",
    "text": "投诉内容",
    "survey_score": "满意度",
    "deadline": "要求完成时间",
}
SHAPE = FeedShape("dscrm", "faw-vw", FIELDS, SH, levels=("一般", "升级", "重要"))
# 2026-11-23 10:05 in Shanghai
DISPATCHED = datetime(2026, 11, 23, 2, 5, tzinfo=UTC)


def record(**changes: object) -> dict[str, object]:
    row: dict[str, object] = {
        "投诉单号": "DS2026112300012",
        "派单时间": "2026-11-23 10:05",
        "投诉级别": "升级",
        "客户姓名": "王先生",
        "联系电话": 13800138000.0,
        "邮箱": "",
        "投诉内容": "保养后发动机异响，4S店不处理",
        "满意度": "",
        "要求完成时间": "",
    }
    row.update(changes)
    return row


def case(**changes: object) -> FeedCase:
    result = read_record(record(**changes), SHAPE)
    assert isinstance(result, FeedCase), result
    return result


def refusal(**changes: object) -> Rejection:
    result = read_record(record(**changes), SHAPE)
    assert isinstance(result, Rejection), result
    return result


def test_a_record_maps_the_sources_columns_to_a_case():
    c = case()
    assert (c.oem, c.case_id, c.level, c.customer_name) == (
        "faw-vw",
        "DS2026112300012",
        "升级",
        "王先生",
    )
    assert c.dispatched_at == DISPATCHED
    assert c.customer_phone == "13800138000"  # a spreadsheet's float, without ".0"
    assert c.customer_email == "" and c.deadline is None and c.survey_score is None


@pytest.mark.parametrize(
    "written",
    [
        "2026-11-23 10:05",
        "2026-11-23 10:05:00",
        "2026/11/23 10:05",
        "2026-11-23T10:05:00+08:00",
        "2026-11-23T02:05:00Z",
        datetime(2026, 11, 23, 10, 5),  # noqa: DTZ001 (an Excel date cell: local, zoneless)
        46349.420138888891,  # the same as an Excel serial date number
        "46349.420138888891",  # ... exported to text
    ],
)
def test_dispatch_times_in_every_form_exports_write_them_are_the_same_instant(written):
    assert parse_instant(written, SH) == DISPATCHED  # type: ignore[arg-type]


def test_a_date_cell_without_a_time_is_local_midnight():
    assert parse_instant(date(2026, 11, 23), SH) == datetime(2026, 11, 22, 16, 0, tzinfo=UTC)


@pytest.mark.parametrize("serial", [0.0, 12.5, 1e9, float("nan")])
def test_a_number_far_from_any_plausible_date_is_no_date(serial):
    assert excel_serial(serial) is None


@pytest.mark.parametrize("written", ["昨天下午", "2026-13-40 10:00", "23/11/2026 10:05", True])
def test_an_unreadable_dispatch_time_refuses_the_record(written):
    r = refusal(派单时间=written)
    assert r.reason == "bad-date" and "派单时间" in r.detail


@pytest.mark.parametrize("column", ["投诉单号", "派单时间"])
def test_a_record_without_a_required_field_is_refused(column):
    r = refusal(**{column: "  "})
    assert r.reason == "missing-field" and column in r.detail


def test_a_renamed_column_is_schema_drift_naming_the_missing_and_the_new_column():
    row = record()
    row["投诉编号"] = row.pop("投诉单号")
    r = read_record(row, SHAPE)
    assert isinstance(r, Rejection) and r.reason == "schema-drift"
    assert "投诉单号 (case_id)" in r.detail and "投诉编号" in r.detail


def test_an_unmapped_extra_column_is_ignored_unless_the_feed_is_strict():
    row = record(经销商代码="7710012")
    assert isinstance(read_record(row, SHAPE), FeedCase)
    strict = FeedShape("dscrm", "faw-vw", FIELDS, SH, strict_columns=True)
    r = read_record(row, strict)
    assert isinstance(r, Rejection) and r.reason == "schema-drift" and "经销商代码" in r.detail


def test_a_level_the_feed_does_not_know_is_refused():
    r = refusal(投诉级别="特急")
    assert r.reason == "unknown-level" and "特急" in r.detail


def test_a_survey_score_of_six_or_less_is_a_zero_complaint_case():
    assert case(满意度=6).zero_complaint
    assert case(满意度="5.5").zero_complaint
    assert not case(满意度=7).zero_complaint
    assert not case().zero_complaint  # no survey, no zero-complaint case


def test_a_score_that_is_no_number_is_refused():
    assert refusal(满意度="很差").reason == "bad-value"


def test_only_a_deliverable_customer_address_is_kept():
    assert case(邮箱="Wang@Example.COM").customer_email == "wang@example.com"
    assert case(邮箱="无").customer_email == ""


def test_the_same_record_has_the_same_digest_and_a_changed_one_another():
    assert case().digest() == case().digest()
    assert case().digest() != case(投诉级别="重要").digest()


def test_changes_name_each_changed_field_with_before_and_after():
    before = {"level": "升级", "status": "", "dispatched_at": DISPATCHED}
    changed = case(投诉级别="重要").changes(before)
    assert changed["level"] == ("升级", "重要")
    assert "dispatched_at" not in changed


def test_the_raw_record_is_kept_as_json_with_dates_as_text():
    cell = datetime(2026, 11, 23, 10, 5)  # noqa: DTZ001 (a spreadsheet's date cell)
    text = raw_json({"派单时间": cell, "投诉单号": "A1"})
    assert text == '{"派单时间": "2026-11-23T10:05:00", "投诉单号": "A1"}'


def test_the_manufacturers_deadline_wins_over_the_close_allowance():
    settings = ClockSettings()
    plans = plan_clocks(TicketFacts("manufacturer", "service", "medium"), settings)
    deadline = DISPATCHED + timedelta(days=2, hours=3)
    moved = with_deadline(plans, DISPATCHED, deadline, settings)
    close = next(p for p in moved if p.kind is ClockKind.CLOSE)
    assert close.rule == "manufacturer-deadline"
    assert close.allowance.amount == (2 * 24 + 3) * 60
    assert [p.kind for p in moved] == [p.kind for p in plans]  # the others untouched, in order


def test_a_clock_rule_can_match_an_oem_and_its_level():
    from daemon.clocks import Allowance, ClockRule, Unit

    urgent = ClockRule(
        "faw-vw-important",
        ClockKind.FIRST_RESPONSE,
        Allowance(4, Unit.HOURS),
        oems=("faw-vw",),
        levels=("重要",),
    )
    settings = ClockSettings(rules=(urgent, *ClockSettings().rules))
    important = TicketFacts("manufacturer", "service", "medium", oem="faw-vw", level="重要")
    ordinary = TicketFacts("manufacturer", "service", "medium", oem="faw-vw", level="一般")
    assert plan_clocks(important, settings)[0].rule == "faw-vw-important"
    assert plan_clocks(ordinary, settings)[0].rule == "manufacturer-response"


def test_a_new_deadline_moves_a_running_close_clock_but_not_a_breached_one():
    from dataclasses import replace

    from daemon.clocks import start
    from daemon.feeds.records import moved_to_deadline
    from daemon.workdays import BusinessCalendar, CalendarSettings

    calendar = BusinessCalendar.from_settings(CalendarSettings())
    settings = ClockSettings()
    plans = plan_clocks(TicketFacts("manufacturer", "service", "medium"), settings)
    close = next(p for p in plans if p.kind is ClockKind.CLOSE)
    running = start(close, DISPATCHED, calendar)
    later = DISPATCHED + timedelta(days=9)

    moved = moved_to_deadline(running, later, calendar)

    assert moved is not None and moved.due_at == later and moved.started_at == DISPATCHED
    breached = replace(running, breached_at=DISPATCHED + timedelta(days=8))
    assert moved_to_deadline(breached, later, calendar) is None
