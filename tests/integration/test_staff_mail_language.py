"""Staff mail reads without a glossary: words instead of keys, people by name, every time with
its zone, each person in their own language; over real SMTP and both database backends."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from support.clock import FakeClock
from support.harness import Harness, write_config
from support.mail import complaint
from support.org import CARE_MANAGER, GM, SERVICE_DIRECTOR, SERVICE_MANAGER, STORE_ORG
from support.smtp_sink import Received, SmtpSink

from daemon import sweeps

SH = ZoneInfo("Asia/Shanghai")
START = datetime(2026, 12, 1, 10, 0, tzinfo=SH)  # a Tuesday, an ordinary working day
# Threatens the media and has gone to 12315: a major complaint about a repair, after-sales.
MAJOR = "维修后变速箱还是漏油，售后一直拖着不处理。再不解决我就找媒体曝光，并向12315投诉。"
PERSON_KEYS = ("zhao_gang", "zhou_jie", "qian_hong", "zheng_hao", "feng_yu", "wang_lei")
ZONED_ZH = re.compile(r"\d{1,2}月\d{1,2}日 \d\d:\d\d（北京时间）")


def _org(**languages: str) -> str:
    """The store's org chart with some people reading another language."""
    org = STORE_ORG
    for key, language in languages.items():
        org = org.replace(f'key = "{key}"\n', f'key = "{key}"\nlanguage = "{language}"\n', 1)
    return org


def _open(tmp_path: Path, db_url: str, sink: SmtpSink, clock: FakeClock, org: str) -> Harness:
    clock.set(START)
    return Harness(write_config(tmp_path, db_url, sink.port, org), clock)


@pytest.fixture
def chinese(tmp_path: Path, db_url: str, sink: SmtpSink, clock: FakeClock) -> Iterator[Harness]:
    h = _open(tmp_path, db_url, sink, clock, _org())
    yield h
    h.close()


def _file(h: Harness) -> str:
    number = h.deliver(complaint(MAJOR, subject="维修后漏油")).ticket
    assert number is not None
    h.send_outbox()
    return number


def _sweep_until(h: Harness, until: datetime) -> None:
    while h.clock() < until:
        h.clock.set(min(h.clock() + timedelta(minutes=10), until))
        sweeps.sweep(h.deps, h.clock())
    h.send_outbox()


def _whole(mail: Received) -> str:
    return mail.message["Subject"] + "\n" + mail.text


def _all(sink: SmtpSink, address: str, word: str) -> list[Received]:
    """The mail to `address` whose subject has `word`."""
    return [m for m in sink.to(address) if word in str(m.message["Subject"])]


def _one(sink: SmtpSink, address: str, word: str) -> Received:
    (mail,) = _all(sink, address, word)
    return mail


def _keys_left(text: str, ticket: dict[str, Any]) -> list[str]:
    """Internal keys still in a rendered notice: the ticket's own and everyone's person key."""
    c = ticket["classification"]
    keys = [c["category"], c["department"], c["severity"], *c["major"]]
    keys += ["service", "after_sales", "medium", "escalated", "first_contact", *PERSON_KEYS]
    # The command customer care runs names an event; it is a command line, not prose.
    prose = re.sub(r"complaintd tickets act \S+ \w+", "", text)
    return [str(k) for k in dict.fromkeys(keys) if str(k) in prose]


def test_chinese_assignment_reminder_and_escalation_show_no_internal_key(chinese, sink):
    number = _file(chinese)
    _sweep_until(chinese, START + timedelta(hours=3))  # first contact due 12:00, step 1 after
    ticket = chinese.ticket(number)
    assert ticket["classification"]["major"]  # so the notices list its reasons
    notices = {
        "assignment": _all(sink, SERVICE_MANAGER, "新投诉待处理"),
        "reminder": _all(sink, SERVICE_MANAGER, "催办"),
        "escalation": _all(sink, SERVICE_DIRECTOR, "上报"),
        "inform": _all(sink, GM, "新投诉"),
    }
    for kind, mails in notices.items():
        assert mails, kind
        for mail in mails:
            assert _keys_left(_whole(mail), ticket) == [], kind


def test_chinese_notices_say_the_words_and_name_the_people(chinese, sink):
    _file(chinese)
    _sweep_until(chinese, START + timedelta(hours=3))
    assignment = _one(sink, SERVICE_MANAGER, "新投诉待处理").text
    assert "部门：    售后服务部" in assignment
    assert "威胁媒体曝光" in assignment and "已投诉至厂家或监管部门" in assignment
    assert "  - 首次联系客户：12月1日 12:00（北京时间） 前" in assignment
    assert "由 郑浩 处理" in _one(sink, CARE_MANAGER, "新投诉").text
    escalation = _one(sink, SERVICE_DIRECTOR, "上报").text
    assert "处理人：  郑浩 " in escalation


def test_every_time_in_staff_mail_carries_its_zone(chinese, sink):
    _file(chinese)
    _sweep_until(chinese, START + timedelta(hours=3))
    for address in (SERVICE_MANAGER, SERVICE_DIRECTOR, CARE_MANAGER):
        for mail in sink.to(address):
            text = _whole(mail)
            times = re.findall(r"\d\d:\d\d", text)
            assert times, mail.message["Subject"]
            assert len(ZONED_ZH.findall(text)) == len(times), text


def test_the_customer_is_promised_a_zoned_time_and_mail_is_dated_in_the_service_zone(chinese, sink):
    _file(chinese)
    (ack,) = sink.to("zhang.wei@example.cn")
    assert "我们的专人将于 12月1日 12:00（北京时间） 前与您联系" in ack.text
    assert ack.message["Date"] == "Tue, 01 Dec 2026 10:00:00 +0800"


def test_each_person_reads_staff_mail_in_their_own_language(tmp_path, db_url, sink, clock):
    org = _org(zheng_hao="en", qian_hong="zh-TW")
    h = _open(tmp_path, db_url, sink, clock, org)
    try:
        _file(h)
        _sweep_until(h, START + timedelta(hours=3))
        ticket_keys = ("after_sales", "first_contact", "escalated", "zheng_hao")
        english = _one(sink, SERVICE_MANAGER, "New complaint for you")
        assert "Department:  after-sales" in english.text
        assert "first contact with the customer: by 1 Dec 12:00 (Beijing time, UTC+08:00)" in (
            english.text
        )
        assert english.message["Content-Language"] == "en"
        traditional = _one(sink, SERVICE_DIRECTOR, "上報")
        assert "首次聯繫客戶" in traditional.text and "售後服務部" in traditional.text
        assert "處理人：  郑浩 " in traditional.text
        assert "12月1日 12:00（北京時間）" in traditional.text
        chinese = _one(sink, CARE_MANAGER, "新投诉")  # nobody set a language: the default
        assert "售后服务部" in chinese.text
        for mail in (english, traditional, chinese):
            assert [k for k in ticket_keys if k in _whole(mail)] == []
    finally:
        h.close()
