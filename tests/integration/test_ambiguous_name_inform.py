"""A complaint naming "王经理" when two people fit: both are kept off the ticket, the choice is
audited, and the customer-care manager's notice asks them, in their language, whom the customer
meant. Real SMTP sink, SQLite and PostgreSQL, fake clock."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from support.clock import FakeClock
from support.harness import Harness, write_config
from support.mail import complaint
from support.org import ADVISOR, CARE_MANAGER, STORE_ORG
from support.smtp_sink import Received, SmtpSink

SECOND_WANG_EMAIL = "wang.qiang@dealer.example"
SECOND_WANG = f"""
[[org.people]]
key = "wang_qiang"
name = "王强"
email = "{SECOND_WANG_EMAIL}"
role = "service_advisor"
department = "after_sales"
manager = "zheng_hao"
"""
UNSURE = "王经理答应免费换机油，结果结账时全收了钱。维修质量也差。"
LINE_ZH = "称呼“王经理”可能指：王磊、王强；均已回避，请核实客户所指。"
LINE_EN = (
    '"王经理" may mean 王磊 or 王强; all are kept off this ticket — please check whom the '
    "customer meant."
)


def _desk(folder: Path, db_url: str, sink: SmtpSink, clock: FakeClock, org: str) -> Harness:
    return Harness(write_config(folder, db_url, sink.port, org + SECOND_WANG), clock)


@pytest.fixture
def desk(tmp_path: Path, db_url: str, sink: SmtpSink, clock: FakeClock) -> Iterator[Harness]:
    h = _desk(tmp_path, db_url, sink, clock, STORE_ORG)
    yield h
    h.close()


def _file(h: Harness, text: str) -> str:
    number = h.deliver(complaint(text, subject="维修")).ticket
    assert number is not None
    h.send_outbox()
    return number


def _about(sink: SmtpSink, address: str, number: str) -> list[Received]:
    return [m for m in sink.to(address) if number in str(m.message["Subject"])]


def test_the_care_managers_notice_asks_whom_an_ambiguous_title_meant(
    desk: Harness, sink: SmtpSink
) -> None:
    number = _file(desk, UNSURE)
    (told,) = _about(sink, CARE_MANAGER, number)
    assert LINE_ZH in told.text
    assert "wang_lei" not in told.text and "wang_qiang" not in told.text


def test_both_candidates_are_kept_off_the_ticket_and_the_choice_audited(
    desk: Harness, sink: SmtpSink
) -> None:
    number = _file(desk, UNSURE)
    ticket = desk.ticket(number)
    assert ticket["assignment"]["excluded"] == ["wang_lei", "wang_qiang"]
    unsure = [e["detail"] for e in ticket["events"] if e["kind"] == "ambiguous-name"]
    assert unsure == [{"term": "王经理", "people": ["wang_lei", "wang_qiang"]}]
    assert _about(sink, ADVISOR, number) == [] and _about(sink, SECOND_WANG_EMAIL, number) == []


def test_a_complaint_without_an_ambiguous_title_asks_nothing(desk: Harness, sink: SmtpSink) -> None:
    number = _file(desk, "车辆在贵店维修后变速箱还是漏油，售后一直拖着不处理。")
    (told,) = _about(sink, CARE_MANAGER, number)
    assert "可能指" not in told.text


def test_an_english_reading_care_manager_is_asked_in_english(
    tmp_path: Path, db_url: str, sink: SmtpSink, clock: FakeClock
) -> None:
    english = STORE_ORG.replace(
        'role = "customer_care_manager"\n', 'role = "customer_care_manager"\nlanguage = "en"\n', 1
    )
    h = _desk(tmp_path, db_url, sink, clock, english)
    try:
        number = _file(h, UNSURE)
    finally:
        h.close()
    (told,) = _about(sink, CARE_MANAGER, number)
    assert LINE_EN in told.text
