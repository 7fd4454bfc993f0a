"""Mail in -> ticket filed -> customer acknowledged, on SQLite and PostgreSQL."""

from __future__ import annotations

from email.message import EmailMessage
from email.policy import SMTP

import pytest
from sqlalchemy import text
from support.mail import complaint

from daemon.deps import Run
from daemon.store.models import Message, OutboxMail, Quarantined, Ticket
from daemon.values import Disposition


def test_a_complaint_becomes_a_ticket_and_the_customer_is_acknowledged(harness, sink):
    outcome = harness.deliver(complaint(sender="zhang.wei@example.cn"))
    assert outcome.disposition is Disposition.FILED
    harness.send_outbox()
    (ack,) = sink.to("zhang.wei@example.cn")
    assert ack.message["Subject"].startswith(f"[{outcome.ticket}] ")
    assert outcome.ticket in ack.text
    assert ack.message["Auto-Submitted"] == "auto-replied"


def test_ticket_numbers_are_prefix_year_month_and_a_serial_that_restarts_monthly(harness):
    first = harness.deliver(complaint(subject="一")).ticket
    second = harness.deliver(complaint(subject="二")).ticket
    harness.clock.advance(days=10)  # 2026-12-03
    december = harness.deliver(complaint(subject="三")).ticket
    assert (first, second, december) == ("TS-202611-0001", "TS-202611-0002", "TS-202612-0001")


def test_acknowledgement_answers_the_customers_message(harness, sink):
    harness.deliver(complaint(message_id="<c-1@client.example>"))
    harness.send_outbox()
    (ack,) = sink.received
    assert ack.message["In-Reply-To"] == "<c-1@client.example>"


# (label on the mail, the bytes' real encoding, the text): 镕 and 䶮 are outside GB2312 yet
# mail clients label such GBK/GB18030 text "gb2312"; 㗎 is a Hong Kong (HKSCS) character.
CHARSETS = [
    ("gbk", "gbk", "我的车在贵店保养后刹车异响，要求退车！"),
    ("gb2312", "gb18030", "朱镕基路店的销售顾问态度恶劣，䶮字也要显示正确。"),
    ("big5", "big5", "貴店維修後車輛仍然漏油，請盡快處理。"),
    ("big5", "big5hkscs", "我哋架車維修咗三次都未搞掂㗎，好嬲！"),
    ("utf-8", "utf-8", "发动机故障灯亮了三次，4S店一直推脱。"),
]


@pytest.mark.parametrize(("label", "codec", "written"), CHARSETS)
def test_ticket_text_equals_what_the_customer_wrote_in_any_charset(
    harness, sink, label, codec, written
):
    big5 = "big5" in codec
    raw = complaint(
        written,
        charset=codec,
        subject="投訴處理" if big5 else "投诉处理",
        name="張偉" if big5 else "张伟",
    )
    raw = raw.replace(codec.encode(), label.encode())
    outcome = harness.deliver(raw)
    ticket = harness.ticket(outcome.ticket)
    assert ticket["messages"][0]["text"] == written
    assert ticket["subject"] in ("投訴處理", "投诉处理")
    harness.send_outbox()
    (ack,) = sink.received
    assert ack.message["Content-Language"] in ("zh-CN", "zh-TW")


def test_html_only_complaint_is_filed_as_readable_text(harness, sink):
    msg = EmailMessage(policy=SMTP)
    msg["From"] = "li.na@example.cn"
    msg["To"] = "complaints@dealer.example"
    msg["Subject"] = "投诉"
    msg["Message-ID"] = "<html-1@client.example>"
    msg.set_content(
        "<html><head><style>p{color:red}</style></head><body><p>车辆<b>变速箱</b>顿挫严重，"
        "已经第三次返修。</p><p>请尽快处理！</p></body></html>",
        subtype="html",
    )
    outcome = harness.deliver(msg.as_bytes())
    text_ = harness.ticket(outcome.ticket)["messages"][0]["text"]
    assert "车辆变速箱顿挫严重，已经第三次返修。" in text_
    assert "请尽快处理！" in text_
    assert "<" not in text_ and "color" not in text_


def test_follow_up_with_the_ticket_tag_in_the_subject_joins_the_ticket(harness):
    number = harness.deliver(complaint()).ticket
    outcome = harness.deliver(complaint("补充：今天又响了。", subject=f"Re: [{number}] 投诉"))
    assert (outcome.disposition, outcome.ticket) == (Disposition.FOLLOWUP, number)
    assert [m["text"] for m in harness.ticket(number)["messages"]][-1] == "补充：今天又响了。"
    assert harness.count(Ticket) == 1


def test_reply_to_our_acknowledgement_joins_the_ticket_by_in_reply_to(harness):
    number = harness.deliver(complaint()).ticket
    (ack,) = [o for o in harness.outbox() if o.kind == "acknowledgement"]
    reply = complaint(
        "还没有人联系我。", subject="Re: 没有编号的主题", in_reply_to=f"<{ack.message_id}>"
    )
    outcome = harness.deliver(reply)
    assert (outcome.disposition, outcome.ticket) == (Disposition.FOLLOWUP, number)


def test_reply_quoting_the_customers_own_message_id_joins_the_ticket(harness):
    number = harness.deliver(complaint(message_id="<first@client.example>")).ticket
    outcome = harness.deliver(complaint("再补充一句", in_reply_to="<first@client.example>"))
    assert outcome.ticket == number


def test_the_same_message_delivered_twice_is_recorded_once(harness, sink):
    raw = complaint(message_id="<twice@client.example>")
    first, second = harness.deliver(raw), harness.deliver(raw)
    assert (first.disposition, second.disposition) == (Disposition.FILED, Disposition.DUPLICATE)
    assert (harness.count(Ticket), harness.count(Message)) == (1, 1)
    harness.send_outbox()
    assert len(sink.to("zhang.wei@example.cn")) == 1


def test_a_message_without_message_id_is_deduplicated_by_its_bytes(harness):
    raw = complaint(message_id="<x@y>").replace(b"Message-ID: <x@y>\r\n", b"")
    assert b"Message-ID" not in raw
    outcomes = [harness.deliver(raw).disposition for _ in range(2)]
    assert outcomes == [Disposition.FILED, Disposition.DUPLICATE]


def test_an_auto_reply_opens_nothing_and_sends_nothing(harness, sink):
    raw = complaint(
        "I am out of the office until Monday.",
        subject="Automatic reply: 投诉",
        headers={"Auto-Submitted": "auto-replied"},
    )
    outcome = harness.deliver(raw)
    assert outcome.disposition is Disposition.IGNORED
    assert harness.count(Ticket) == 0
    assert harness.count(OutboxMail) == 0
    assert harness.count(Message) == 1  # recorded, not lost


def test_a_bounce_of_our_acknowledgement_is_linked_to_it_and_sends_nothing(harness, sink):
    number = harness.deliver(complaint(sender="gone@example.cn")).ticket
    (ack,) = harness.outbox()
    bounce = _dsn(ack.message_id, "gone@example.cn")
    outcome = harness.deliver(bounce)
    assert outcome.disposition is Disposition.IGNORED
    (ack_after,) = harness.outbox()
    assert ack_after.bounced_by is not None
    events = [e["kind"] for e in harness.ticket(number)["events"]]
    assert "delivery-failed" in events
    assert harness.count(Ticket) == 1


def test_a_message_that_is_not_mail_is_quarantined_with_its_bytes_and_reason(harness):
    junk = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(range(256)) * 4  # an Outlook .msg
    outcome = harness.deliver(junk)
    assert outcome.disposition is Disposition.QUARANTINED
    with harness.session() as s:
        (row,) = s.query(Quarantined).all()
        assert (row.raw, row.reason) == (junk, outcome.reason)


def test_a_complaint_without_a_sender_is_quarantined_not_dropped(harness):
    raw = complaint().replace(b"From: ", b"X-Old-From: ")
    outcome = harness.deliver(raw)
    assert (outcome.disposition, outcome.reason) == (Disposition.QUARANTINED, "no-sender")


def test_oversized_attachments_keep_their_name_and_size_but_not_their_bytes(harness):
    msg = EmailMessage(policy=SMTP)
    msg["From"] = "a@example.cn"
    msg["Subject"] = "投诉附照片"
    msg["Message-ID"] = "<att@client.example>"
    msg.set_content("见附件")
    msg.add_attachment(b"x" * 2000, maintype="image", subtype="jpeg", filename="小.jpg")
    msg.add_attachment(
        b"y" * (11 * 1024 * 1024), maintype="video", subtype="mp4", filename="行车记录.mp4"
    )
    outcome = harness.deliver(msg.as_bytes())
    (message,) = harness.ticket(outcome.ticket)["messages"]
    assert [(a["filename"], a["size"], a["stored"]) for a in message["attachments"]] == [
        ("小.jpg", 2000, True),
        ("行车记录.mp4", 11 * 1024 * 1024, False),
    ]


def test_backfill_without_mail_records_the_ticket_and_queues_nothing(harness):
    outcome = harness.deliver(complaint(), run=Run(send_mail=False))
    assert outcome.disposition is Disposition.FILED
    assert harness.count(OutboxMail) == 0


def test_acknowledgements_beyond_the_daily_cap_are_suppressed(harness, sink):
    cap = harness.settings.outbox.max_auto_replies_per_recipient_per_day
    for i in range(cap + 2):
        harness.deliver(complaint(f"第{i}次投诉", subject=f"投诉 {i}", sender="loop@example.cn"))
    statuses = [o.status for o in harness.outbox() if o.kind == "acknowledgement"]
    assert statuses.count("pending") == cap
    assert statuses.count("suppressed") == 2
    harness.send_outbox()
    assert len(sink.to("loop@example.cn")) == cap


def test_the_audit_trail_refuses_to_be_rewritten(harness):
    harness.deliver(complaint())
    with pytest.raises(Exception, match="append-only"), harness.store.transaction() as s:
        s.execute(text("UPDATE ticket_events SET actor = 'someone else'"))
    with pytest.raises(Exception, match="append-only"), harness.store.transaction() as s:
        s.execute(text("DELETE FROM ticket_events"))


def _dsn(original_id: str, recipient: str) -> bytes:
    return (
        "From: MAILER-DAEMON@mx.example.cn\r\n"
        "To: complaints@dealer.example\r\n"
        "Subject: Undelivered Mail Returned to Sender\r\n"
        "Message-ID: <bounce-1@mx.example.cn>\r\n"
        "MIME-Version: 1.0\r\n"
        'Content-Type: multipart/report; report-type=delivery-status; boundary="B"\r\n'
        "\r\n--B\r\nContent-Type: text/plain\r\n\r\nYour message could not be delivered.\r\n"
        "--B\r\nContent-Type: message/delivery-status\r\n\r\n"
        "Reporting-MTA: dns; mx.example.cn\r\n\r\n"
        f"Final-Recipient: rfc822; {recipient}\r\nAction: failed\r\nStatus: 5.1.1\r\n"
        "--B\r\nContent-Type: text/rfc822-headers\r\n\r\n"
        f"From: complaints@dealer.example\r\nTo: {recipient}\r\n"
        f"Message-ID: <{original_id}>\r\nSubject: ack\r\n"
        "--B--\r\n"
    ).encode()
