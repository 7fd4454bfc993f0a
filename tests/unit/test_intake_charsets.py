"""Whole messages through intake.parse: declared charsets kept, wrong guesses refused, and the
text route reads naming staff however the name was written."""

from __future__ import annotations

import base64
from datetime import datetime
from email.message import EmailMessage
from email.policy import SMTP
from zoneinfo import ZoneInfo

import pytest

from daemon.intake import parse
from daemon.org import OrgSettings, Person
from daemon.route import assign
from daemon.values import Classification
from tests.support.mail import complaint
from tests.support.names import chinese_names

GERMAN = "Die Hasen und die Frösche klagten über ihre mißliche Lage"


def message(
    body: bytes, content_type: str, subject: bytes = b"complaint", cte: str = "8bit"
) -> bytes:
    return (
        b"From: Zhang Wei <zhang.wei@example.cn>\r\nTo: complaints@dealer.example\r\n"
        b"Subject: " + subject + b"\r\nMIME-Version: 1.0\r\n"
        b"Content-Type: " + content_type.encode() + b"\r\n"
        b"Content-Transfer-Encoding: " + cte.encode() + b"\r\n\r\n" + body
    )


# -- display names -----------------------------------------------------------------------------


def test_gb2312_display_names_round_trip() -> None:
    wrong = []
    for name in chinese_names(2000):
        msg = parse(complaint(name=name, charset="gb2312", subject="投诉"))
        if msg.sender_name != name:
            wrong.append((name, msg.sender_name))
    assert wrong == []


def test_gb2312_display_name_with_a_utf8_body_round_trips() -> None:
    for name in ("姚栋", "谭娥", "丁婷", "丁颖"):
        word = base64.b64encode(name.encode("gb2312")).decode()
        raw = complaint(name="", subject="投诉").replace(
            b"From: zhang.wei@example.cn", f"From: =?gb2312?B?{word}?= <c@example.cn>".encode()
        )
        assert parse(raw).sender_name == name


# -- bodies ------------------------------------------------------------------------------------


@pytest.mark.parametrize("label", ["UTF-7", "utf-7", "x-unicode20utf7"])
def test_utf7_body_is_decoded_by_the_utf7_codec(label: str) -> None:
    body = b"Die Hasen und die Fr+APY-sche klagten +APw-ber ihre mi+AN8-liche Lage"
    assert parse(message(body, f"text/plain; charset={label}", cte="7bit")).text == GERMAN


def test_utf7_body_in_quoted_printable_is_decoded() -> None:
    body = b"Die Hasen und die Fr+APY-sche klagten =\r\n+APw-ber ihre mi+AN8-liche Lage"
    msg = parse(message(body, 'text/plain; charset="utf-7"', cte="quoted-printable"))
    assert msg.text == GERMAN


def test_latin_body_under_a_gb2312_label_is_not_filed_as_han() -> None:
    msg = parse(message(GERMAN.encode("latin-1"), "text/plain; charset=gb2312"))
    assert msg.text == GERMAN


def test_latin1_paragraph_in_a_utf8_body_is_read_as_latin1() -> None:
    body = "刹车异响，一直没人处理。\r\n".encode() + "Grüße aus Köln\r\n".encode("latin-1")
    msg = parse(message(body + "谢谢".encode(), "text/plain; charset=utf-8"))
    assert msg.text == "刹车异响，一直没人处理。\nGrüße aus Köln\n谢谢"


@pytest.mark.parametrize(
    ("subject", "codec"), [("粘貼扣壞了", "big5"), ("（LTE）", "big5"), ("郑浩", "gbk")]
)
def test_raw_8bit_subject_beside_a_latin1_body_is_not_latin1_debris(
    subject: str, codec: str
) -> None:
    msg = parse(message(b"hello", "text/plain; charset=iso-8859-1", subject.encode(codec)))
    assert msg.subject == subject


def test_raw_big5_subject_and_body_are_read_as_big5() -> None:
    text = "你們的售後服務太差了，車輛保養後發動機異響。"
    msg = parse(message(text.encode("big5"), "text/plain", "售後服務".encode("big5")))
    assert (msg.subject, msg.text) == ("售後服務", text)


# -- names for routing, however written -----------------------------------------------------------

NOW = datetime(2026, 5, 6, 10, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
ORG = OrgSettings(
    people=(
        Person("sun_wei", "孙伟", "sun_wei@dealer.test", "service_director", "after_sales"),
        Person(
            "zheng_hao",
            "郑浩",
            "zheng_hao@dealer.test",
            "service_manager",
            "after_sales",
            "sun_wei",
        ),
        Person("zhou_jie", "周杰", "zhou_jie@dealer.test", "customer_care_manager"),
    )
)
REPAIR = Classification("repair_quality", "after_sales", "general", (), (), "zh-CN")


def routed(raw: bytes) -> tuple[str, ...]:
    msg = parse(raw)
    return assign(REPAIR, "email", f"{msg.subject}\n{msg.text}", ORG, NOW).excluded


def test_zero_width_space_in_an_html_body_does_not_hide_a_name() -> None:
    html = "<p>服务经理郑&#8203;浩一直推脱</p>".encode()
    assert routed(message(html, "text/html; charset=utf-8")) == ("zheng_hao",)


def test_soft_hyphen_in_an_html_body_does_not_hide_a_name() -> None:
    html = "<p>服务经理郑&shy;浩一直推脱</p>".encode("gbk")
    assert routed(message(html, "text/html; charset=gbk")) == ("zheng_hao",)


def test_zero_width_character_in_an_encoded_subject_does_not_hide_a_name() -> None:
    subject = EmailMessage(policy=SMTP)
    subject["Subject"] = "投诉郑\u2060浩"
    encoded = subject.as_bytes().split(b": ", 1)[1].strip()
    assert routed(message(b"hello", "text/plain", encoded)) == ("zheng_hao",)


def test_traditional_name_in_a_big5_body_is_excluded() -> None:
    body = "服務經理鄭浩一直推託".encode("big5")
    assert routed(message(body, "text/plain; charset=big5")) == ("zheng_hao",)
