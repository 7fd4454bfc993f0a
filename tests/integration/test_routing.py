"""Classify, route and notify end to end: the right manager gets the complaint, the accused
never does, and a major complaint reaches the general manager at once."""

from __future__ import annotations

from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path

import pytest
from support.clock import FakeClock
from support.harness import Harness, write_config
from support.mail import complaint
from support.org import (
    ADVISOR,
    CARE_MANAGER,
    GM,
    RETAIL_MANAGER,
    SERVICE_DIRECTOR,
    SERVICE_MANAGER,
    STORE_ORG,
    absence,
)
from support.smtp_sink import SmtpSink


def _harness(
    tmp_path: Path, db_url: str, sink: SmtpSink, clock: FakeClock, extra: str = ""
) -> Harness:
    return Harness(write_config(tmp_path, db_url, sink.port, STORE_ORG + extra), clock)


@pytest.fixture
def store(tmp_path: Path, db_url: str, sink: SmtpSink, clock: FakeClock) -> Iterator[Harness]:
    h = _harness(tmp_path, db_url, sink, clock)
    yield h
    h.close()


def _recipients(sink: SmtpSink) -> set[str]:
    return {address for mail in sink.received for address in mail.rcpt_tos}


REPAIR = "车辆在贵店维修后变速箱还是漏油，售后一直拖着不处理。"


def test_an_after_sales_complaint_reaches_the_service_manager_with_the_evidence(store, sink):
    number = store.deliver(complaint(REPAIR, subject="维修后漏油")).ticket
    store.send_outbox()
    (notice,) = sink.to(SERVICE_MANAGER)
    assert notice.message["Subject"].startswith(f"[{number}] ")
    body = notice.text
    assert REPAIR in body
    assert "维修质量类" in body or "产品质量类" in body
    assert "漏油" in body  # the evidence: which phrases fired
    assert "首次联系客户" in body  # the deadline that applies


def test_a_sales_complaint_reaches_the_retail_manager(store, sink):
    store.deliver(
        complaint(
            "提车时销售顾问承诺的赠品和保险优惠都没有兑现，购车合同也不给。",
            subject="购车承诺不兑现",
        )
    )
    store.send_outbox()
    assert sink.to(RETAIL_MANAGER)
    assert not sink.to(SERVICE_MANAGER)


def test_the_customer_care_manager_is_informed_of_every_new_complaint(store, sink):
    store.deliver(complaint(REPAIR))
    store.send_outbox()
    (inform,) = sink.to(CARE_MANAGER)
    assert REPAIR in inform.text


def test_a_reply_to_the_assignment_notice_joins_the_ticket(store, sink):
    number = store.deliver(complaint(REPAIR)).ticket
    store.send_outbox()
    (notice,) = sink.to(SERVICE_MANAGER)
    reply = complaint(
        "已联系客户，明天到店检查。",
        sender=SERVICE_MANAGER,
        name="郑浩",
        subject=f"Re: {notice.message['Subject']}",
        in_reply_to=notice.message["Message-ID"],
    )
    assert store.deliver(reply).ticket == number


def test_the_accused_employee_receives_nothing_even_as_the_default_handler(store, sink):
    text = "售后经理郑浩态度恶劣，维修后漏油还骂人，我要投诉他。"
    number = store.deliver(complaint(text, subject="投诉售后经理")).ticket
    store.send_outbox()
    assert SERVICE_MANAGER not in _recipients(sink)
    ticket = store.ticket(number)
    assert ticket["assignment"]["excluded"] == ["zheng_hao"]
    assert ticket["assignment"]["handler_email"] == SERVICE_DIRECTOR  # his manager handles it
    assert sink.to(SERVICE_DIRECTOR)


def test_an_employee_named_by_alias_is_excluded_and_the_customers_follow_up_skips_them(store, sink):
    number = store.deliver(complaint("郑经理答应今天回电，到现在也没有消息。维修质量太差。")).ticket
    store.deliver(complaint("补充：郑经理还是没回电。", subject=f"Re: [{number}] 投诉"))
    store.send_outbox()
    assert SERVICE_MANAGER not in _recipients(sink)
    assert len(sink.to(SERVICE_DIRECTOR)) == 2  # the assignment and the follow-up


def test_an_advisor_named_in_a_complaint_is_excluded_but_their_manager_still_handles_it(
    store, sink
):
    number = store.deliver(complaint("服务顾问王磊不接电话，维修进度一问三不知。")).ticket
    store.send_outbox()
    assert ADVISOR not in _recipients(sink)
    assert store.ticket(number)["assignment"]["handler_email"] == SERVICE_MANAGER


def test_a_major_complaint_reaches_the_general_manager_at_once(store, sink):
    text = "刹车失灵差点出事故！你们再不处理我就找媒体曝光，并向12315投诉。"
    number = store.deliver(complaint(text, subject="刹车失灵")).ticket
    store.send_outbox()
    (to_gm,) = sink.to(GM)
    assert to_gm.message["Subject"].startswith(f"[{number}] 【重大投诉】")
    major = store.ticket(number)["classification"]["major"]
    assert {"safety", "media", "escalated"} <= set(major)  # escalated: went to 12315


def test_an_ordinary_complaint_does_not_trouble_the_general_manager(store, sink):
    store.deliver(complaint("保养等待时间太长，休息区也没有热水。"))
    store.send_outbox()
    assert not sink.to(GM)


def test_a_repeat_complaint_by_the_same_customer_is_major(store, sink, clock):
    store.deliver(complaint("空调不制冷。", subject="空调"))
    clock.advance(days=3)
    number = store.deliver(complaint("空调修了还是不制冷。", subject="又是空调")).ticket
    assert "repeat" in store.ticket(number)["classification"]["major"]


def test_an_absent_manager_is_replaced_by_the_deputy_and_the_delegation_is_audited(
    tmp_path, db_url, sink, clock
):
    leave = absence(
        "zheng_hao", "feng_yu", "2026-11-20T00:00:00+08:00", "2026-11-30T00:00:00+08:00"
    )
    h = _harness(tmp_path, db_url, sink, clock, leave)
    number = h.deliver(complaint(REPAIR)).ticket
    h.send_outbox()
    assert not sink.to(SERVICE_MANAGER)
    assert sink.to("feng.yu@dealer.example")
    events = h.ticket(number)["events"]
    (delegated,) = [e for e in events if e["kind"] == "delegated"]
    assert delegated["detail"]["absent"] == "zheng_hao"
    assert delegated["detail"]["deputy"] == "feng_yu"
    h.close()


def test_tickets_show_gives_the_classification_its_evidence_and_the_assignment(store):
    number = store.deliver(complaint(REPAIR)).ticket
    ticket = store.ticket(number)
    assert ticket["classification"]["category"] in ("repair_quality", "product_quality")
    assert ticket["classification"]["department"] == "after_sales"
    assert any(e["phrase"] == "漏油" for e in ticket["classification"]["evidence"])
    assert ticket["assignment"]["handler"] == "zheng_hao"
    assert [c["kind"] for c in ticket["clocks"]] == ["first_contact", "resolution"]


def _with_text_attachment(body: str, attached: str, filename: str = "经过.txt") -> bytes:
    msg = EmailMessage()
    msg["From"] = "张伟 <zhang.wei@example.cn>"
    msg["To"] = "complaints@dealer.example"
    msg["Subject"] = "投诉：维修后漏油"
    msg["Message-ID"] = "<attached-name@client.example>"
    msg.set_content(body)
    msg.add_attachment(
        attached.encode("gb18030"),
        maintype="text",
        subtype="plain",
        filename=filename,
        params={"charset": "gbk"},
    )
    return msg.as_bytes()


def test_an_employee_named_only_in_a_text_attachment_is_excluded(store, sink):
    mail = _with_text_attachment(
        "维修后变速箱还是漏油，经过见附件。", "接待我的是售后经理郑浩，他说漏油是正常的。"
    )
    number = store.deliver(mail).ticket
    store.send_outbox()
    assert store.ticket(number)["assignment"]["excluded"] == ["zheng_hao"]
    assert SERVICE_MANAGER not in _recipients(sink)


def test_a_name_split_by_a_zero_width_space_still_excludes_the_employee(store, sink):
    number = store.deliver(complaint("售后经理郑\u200b浩态度恶劣，维修后漏油还骂人。")).ticket
    store.send_outbox()
    assert store.ticket(number)["assignment"]["excluded"] == ["zheng_hao"]
    assert SERVICE_MANAGER not in _recipients(sink)
