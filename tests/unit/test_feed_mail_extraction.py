"""A manufacturer's notification mail -> records: recognised by sender and subject, fields from
labelled lines (full- or half-width colon), HTML tables (a header row, label/value rows) and the
feed's own patterns; a mail with no case id is refused with the reason. And what the
manufacturer's words mean: statuses, the zero-complaint re-survey, blanks in a later record."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from support.feedmail import MAIL_FEED, PORTAL, REPAIR, lines, notification, table

from daemon import config, intake
from daemon.feeds.mailfeed import MailShape, extract, recognises
from daemon.feeds.records import (
    CLOSE_PATH,
    MANUFACTURER_FIELDS,
    FeedCase,
    FeedShape,
    Meaning,
    Rejection,
    ZeroComplaintResult,
    meaning_of,
    merged,
    read_record,
    resurvey_result,
)
from daemon.lifecycle import Event, Status, apply

FIELDS = {
    "case_id": "投诉单号",
    "dispatched_at": "派单时间",
    "level": "投诉级别",
    "customer_name": "客户姓名",
    "customer_phone": "联系电话",
    "text": "投诉内容",
    "survey_score": "满意度",
    "status": "状态",
    "resurvey_score": "回访得分",
}
SHAPE = MailShape("dscrm-mail", ("*@dscrm.faw-vw.example",), ("投诉.*(派单|更新)",), FIELDS, {})
CASES = FeedShape("dscrm-mail", "faw-vw", FIELDS, ZoneInfo("Asia/Shanghai"))


def records(raw: bytes, shape: MailShape = SHAPE) -> list[dict[str, object]]:
    found = extract(shape, raw, intake.parse(raw).text)
    assert not isinstance(found, Rejection), found
    return [dict(r) for r in found]


def test_a_portal_mail_is_recognised_by_its_sender_and_subject() -> None:
    assert recognises(SHAPE, PORTAL, "【DSCRM】投诉派单通知 DS1")
    assert recognises(SHAPE, "NoReply@DSCRM.faw-vw.example", "投诉单更新")


def test_the_right_sender_with_another_subject_is_not_a_notification() -> None:
    assert not recognises(SHAPE, PORTAL, "系统维护通知")


def test_a_customer_writing_the_same_subject_is_not_a_notification() -> None:
    assert not recognises(SHAPE, "wang@example.cn", "投诉派单通知")


@pytest.mark.parametrize("colon", ["：", ":", " ： "])
def test_labelled_lines_give_the_fields_with_either_colon(colon: str) -> None:
    (found,) = records(notification(lines(case_id="DS7", colon=colon)))
    assert found["投诉单号"] == "DS7"
    assert found["派单时间"] == "2026-11-23 10:00"
    assert found["投诉内容"] == REPAIR
    assert found["满意度"] is None  # every mapped column is there, None when the mail is silent


def test_a_table_with_a_header_row_gives_one_record_per_value_row() -> None:
    page = table(
        [
            ["投诉单号", "派单时间", "投诉级别", "投诉内容"],
            ["DS1", "2026-11-23 10:00", "一般", "异响"],
            ["DS2", "2026/11/23 11:00", "重要", "漏油"],
        ]
    )
    found = records(notification(page, html=True))
    assert [(r["投诉单号"], r["投诉级别"], r["投诉内容"]) for r in found] == [
        ("DS1", "一般", "异响"),
        ("DS2", "重要", "漏油"),
    ]


def test_label_value_rows_in_a_gbk_table_give_the_fields() -> None:
    page = table(
        [
            ["投诉单号：", "DS9"],
            ["派单时间", "2026-11-23 10:00"],
            ["客户姓名", "李女士", "联系电话", "13900139000"],
        ]
    )
    (found,) = records(notification(page, html=True, charset="gbk"))
    assert found["投诉单号"] == "DS9"
    assert found["客户姓名"] == "李女士"
    assert found["联系电话"] == "13900139000"


def test_the_feeds_own_pattern_wins_over_a_labelled_line() -> None:
    shape = MailShape("x", SHAPE.senders, (), FIELDS, {"case_id": r"单号[:：]?\s*(?P<value>DS\d+)"})
    body = "您的投诉单号 DS123 已派发\n派单时间：2026-11-23 10:00"
    (found,) = records(notification(body), shape)
    assert found["投诉单号"] == "DS123"


def test_a_mail_without_a_case_id_is_refused_with_the_reason() -> None:
    raw = notification("您有新的投诉，请登录系统查看。")
    found = extract(SHAPE, raw, intake.parse(raw).text)
    assert isinstance(found, Rejection)
    assert found.reason == "unparseable" and "投诉单号" in found.detail


def test_a_notification_record_reads_as_a_case_with_chinese_dates_and_scores() -> None:
    raw = notification(lines(dispatched="2026年11月23日 10:00", score="5分"))
    (found,) = records(raw)
    case = read_record(found, CASES)
    assert isinstance(case, FeedCase)
    assert case.dispatched_at == datetime(2026, 11, 23, 2, 0, tzinfo=UTC)
    assert case.survey_score == 5.0 and case.zero_complaint


def test_status_words_mean_what_the_feeds_table_says() -> None:
    table_ = {"已结案": "closed", "已升级": "escalated"}
    assert meaning_of("已结案", table_) is Meaning.CLOSED
    assert meaning_of(" 已升级 ", table_) is Meaning.ESCALATED
    assert meaning_of("处理中", table_) is None


def test_each_close_path_is_a_walk_the_ticket_table_allows_to_closed() -> None:
    for start, path in CLOSE_PATH.items():
        state: Status = start
        for event in path:
            state = apply(state, event).target
        assert state is Status.CLOSED, start
    assert Event.CONTACT not in {e for p in CLOSE_PATH.values() for e in p}


def _case(score: float | None, resurvey: float | None = None) -> FeedCase:
    at = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)
    zero = score is not None and score <= 6
    return FeedCase(
        "faw-vw", "DS1", at, survey_score=score, zero_complaint=zero, resurvey_score=resurvey
    )


def test_a_resurvey_above_the_threshold_is_a_zero_complaint_success() -> None:
    assert resurvey_result(_case(5, 9), None, 6.0) is ZeroComplaintResult.SUCCESS


def test_a_resurvey_at_the_threshold_is_a_failure() -> None:
    assert resurvey_result(_case(5, 6), None, 6.0) is ZeroComplaintResult.FAILURE


def test_a_resurvey_verdict_in_words_settles_the_case_without_a_score() -> None:
    assert resurvey_result(_case(4), Meaning.UNSATISFIED, 6.0) is ZeroComplaintResult.FAILURE
    assert resurvey_result(_case(4), Meaning.SATISFIED, 6.0) is ZeroComplaintResult.SUCCESS


def test_a_case_that_was_never_a_zero_complaint_has_no_resurvey_result() -> None:
    assert resurvey_result(_case(9, 3), None, 6.0) is None


def test_a_later_short_record_keeps_what_it_leaves_blank_and_the_zero_complaint() -> None:
    before = {name: getattr(_case(5), name) for name in MANUFACTURER_FIELDS}
    before |= {"text": REPAIR, "customer_name": "王先生"}
    later = FeedCase("faw-vw", "DS1", _case(5).dispatched_at, status="已回访", survey_score=9)
    out = merged(later, before, 6.0)
    assert out.text == REPAIR and out.customer_name == "王先生"
    assert out.status == "已回访" and out.survey_score == 9 and out.zero_complaint


# -- [[feeds]] of kind mail ---------------------------------------------------------------------


def parse(text: str) -> config.Settings:
    return config.parse(text, Path("/etc/complaintd/config.toml"))


def test_the_mail_feed_of_the_tests_is_a_valid_config() -> None:
    (feed,) = parse(MAIL_FEED).feeds
    assert feed.kind == "mail" and feed.senders == ("*@dscrm.faw-vw.example",)
    assert feed.statuses["已结案"] == "closed" and feed.alert_minutes == 30


def test_a_mail_feed_without_senders_is_refused() -> None:
    with pytest.raises(config.ConfigError, match="needs `senders`"):
        parse(MAIL_FEED.replace('senders = ["*@dscrm.faw-vw.example"]\n', ""))


def test_a_status_meaning_we_do_not_know_is_refused() -> None:
    with pytest.raises(config.ConfigError, match="statuses"):
        parse(MAIL_FEED.replace('"已升级" = "escalated"', '"已升级" = "raised"'))


def test_a_pattern_that_is_no_regular_expression_is_refused() -> None:
    with pytest.raises(config.ConfigError, match=r"patterns\.case_id"):
        parse(MAIL_FEED + '\n[feeds.patterns]\ncase_id = "单号(DS"\n')
