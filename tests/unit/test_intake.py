"""Raw bytes to InboundMessage: decoding, structure, threading headers, kinds, and non-mail."""

from __future__ import annotations

import base64
import hashlib
from datetime import UTC, datetime
from email.message import EmailMessage
from email.policy import SMTP

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from daemon.intake import Unreadable, parse
from daemon.values import MailKind

COMPLAINT = "你们的售后服务太差了，车辆保养后发动机异响，一直没有人处理。"
SUBJECT = "投诉：保养后发动机异响"


def mail(head: bytes, body: bytes = b"hello\n") -> bytes:
    """A message from a header block (one field per line) and a body."""
    base = b"From: Zhang Wei <zhang.wei@example.cn>\nTo: complaints@dealer.example\n"
    return base + head.strip(b"\n") + b"\n\n" + body


def multipart(*parts: EmailMessage, subtype: str = "mixed") -> EmailMessage:
    msg = EmailMessage(policy=SMTP)
    msg["From"] = "zhang.wei@example.cn"
    msg["To"] = "complaints@dealer.example"
    msg["Subject"] = "complaint"
    msg.make_mixed()
    msg.set_type(f"multipart/{subtype}")
    for part in parts:
        msg.attach(part)
    return msg


def part(body: bytes, ctype: str, charset: str | None = None, **headers: str) -> EmailMessage:
    """A leaf part with `body` sent as base64, so any bytes survive."""
    p = EmailMessage(policy=SMTP)
    params = f"; charset={charset}" if charset else ""
    p["Content-Type"] = ctype + params
    p["Content-Transfer-Encoding"] = "base64"
    for name, value in headers.items():
        p[name.replace("_", "-")] = value
    p.set_payload(base64.encodebytes(body).decode("ascii"))
    return p


# -- what is not a message -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "empty"),
        (b" \r\n\r\n\t\n", "empty"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(512), "outlook-msg"),
        (b"\x78\x9f\x3e\x22\x00\x00\x01\x90\x08\x00", "tnef"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "not-a-message"),
        (b"Hello,\n\nmy car is still broken.\n", "not-a-message"),
        (b"Note: see below\nOne: two\n\nbody\n", "not-a-message"),
    ],
)
def test_bytes_that_are_not_mail_are_unreadable_with_a_reason(data: bytes, reason: str) -> None:
    with pytest.raises(Unreadable) as caught:
        parse(data)
    assert caught.value.reason == reason and caught.value.detail


def test_nesting_deeper_than_the_parser_can_follow_is_unreadable() -> None:
    depth = 1500
    opening = b"".join(
        b"Content-Type: multipart/mixed; boundary=b%d\n\n--b%d\n" % (i, i) for i in range(depth)
    )
    closing = b"".join(b"--b%d--\n" % i for i in reversed(range(depth)))
    data = b"From: a@example.cn\nSubject: deep\n" + opening + b"\nhi\n" + closing
    with pytest.raises(Unreadable) as caught:
        parse(data)
    assert caught.value.reason == "too-deep"


def test_nesting_the_parser_can_follow_is_cut_with_a_note() -> None:
    depth = 60
    opening = b"".join(
        b"Content-Type: multipart/mixed; boundary=b%d\n\n--b%d\n" % (i, i) for i in range(depth)
    )
    closing = b"".join(b"--b%d--\n" % i for i in reversed(range(depth)))
    msg = parse(b"From: a@example.cn\nSubject: deep\n" + opening + b"\nhi\n" + closing)
    assert msg.text == "" and any("cut" in n for n in msg.notes)


def test_blank_lines_before_the_header_are_skipped() -> None:
    assert parse(b"   \r\n" + mail(b"Subject: hi")).subject == "hi"


def test_an_mbox_envelope_line_is_tolerated() -> None:
    msg = parse(b"From zhang.wei@example.cn  Mon Nov 23 09:00:00 2026\n" + mail(b"Subject: hi"))
    assert (msg.subject, msg.sender) == ("hi", "zhang.wei@example.cn")


# Pieces of real-world breakage; any jumble of them must parse or be Unreadable for a reason.
FRAGMENTS = (
    b"Subject: ",
    b"=?gbk?B?",
    b"zbbL3w==",
    b"?=",
    b"=?utf-8?Q?=E5=88",
    b"=?big5?Q?=A4@=B0_?=",
    "投诉".encode("gbk"),
    "投訴".encode("big5"),
    "投诉".encode(),
    b"\xff\xfe",
    b"\x00",
    b"\n",
    b"\r\n",
    b"\n\n",
    b" ",
    b";",
    b'"',
    b"<",
    b">",
    b"%",
    b"\\",
    b"Content-Type: multipart/mixed; boundary=b\n",
    b"Content-Type: text/html; charset=gb2312\n",
    b"Content-Type: message/rfc822\n",
    b"Content-Type: multipart/report; report-type=x\n",
    b"Content-Disposition: attachment; filename*0*=gbk''%B1; filename*1*=%A3\n",
    b"Content-Transfer-Encoding: base64\n",
    b"Content-Transfer-Encoding: quoted-printable\n",
    b"--b\n",
    b"--b--\n",
    b"Message-ID: <",
    b"References: <a@b> junk <",
    b"Date: Mon, 32 Foo",
    b"From: ",
    b"To: a@b.c, <@>, ",
    b"<html><meta charset=big5><script>",
    b"begin 644 x\n",
)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(FRAGMENTS), max_size=60))
def test_any_jumble_of_broken_mail_parses_or_is_unreadable_for_a_reason(parts: list[bytes]) -> None:
    try:
        msg = parse(b"From: a@example.cn\n" + b"".join(parts))
    except Unreadable as exc:
        assert exc.reason in {"empty", "not-a-message", "too-deep"}  # noqa: PT017 (either outcome is allowed)
    else:
        texts = (msg.subject, msg.text, msg.sender_name, *(a.filename for a in msg.attachments))
        for text in texts:
            assert "\x00" not in text
            text.encode("utf-8")  # raises on a lone surrogate, which no database would store


# -- charsets --------------------------------------------------------------------------------------


def test_gbk_complaint_is_decoded_exactly() -> None:
    head = b"Subject: =?gbk?B?" + base64.b64encode(SUBJECT.encode("gbk")) + b"?=\n"
    head += b"Content-Type: text/plain; charset=gbk\nContent-Transfer-Encoding: 8bit"
    msg = parse(mail(head, COMPLAINT.encode("gbk")))
    assert (msg.subject, msg.text, msg.notes) == (SUBJECT, COMPLAINT, ())


def test_gb2312_labelled_text_with_gb18030_only_characters_is_decoded_with_a_note() -> None:
    text = "朱镕基的镕字和䶮字都在里面"
    msg = parse(mail(b"Content-Type: text/plain; charset=gb2312", text.encode("gb18030")))
    assert msg.text == text
    assert msg.notes == ("charset gb2312 read as gb18030",)


def test_big5_complaint_with_an_hkscs_character_is_decoded() -> None:
    text = "你們的售後服務太差，佢講嘅嘢冇人理"
    head = b"Subject: =?big5?B?" + base64.b64encode("投訴".encode("big5")) + b"?=\n"
    head += b"Content-Type: text/plain; charset=big5"
    msg = parse(mail(head, text.encode("big5hkscs")))
    assert (msg.subject, msg.text) == ("投訴", text)


def test_utf8_complaint_is_decoded() -> None:
    head = b"Content-Type: text/plain; charset=UTF-8\nContent-Transfer-Encoding: quoted-printable"
    body = COMPLAINT.encode().hex("=").upper().encode()
    msg = parse(mail(head, b"=" + body))
    assert msg.text == COMPLAINT


def test_undeclared_8bit_gbk_body_and_raw_gbk_subject_are_decoded() -> None:
    head = b"Subject: " + SUBJECT.encode("gbk")
    msg = parse(mail(head, COMPLAINT.encode("gbk")))
    assert (msg.subject, msg.text) == (SUBJECT, COMPLAINT)
    assert "undeclared 8-bit text read as gb18030" in msg.notes


def test_raw_8bit_subject_follows_the_charset_of_the_body() -> None:
    head = "Subject: 退信通知\nContent-Type: text/plain; charset=big5".encode("big5")
    msg = parse(mail(head, "你好".encode("big5")))
    assert msg.subject == "退信通知"


def test_rfc6532_utf8_headers_are_decoded() -> None:
    head = "From: 张伟 <zhang.wei@example.cn>\nSubject: 刹车异响".encode()
    msg = parse(head + b"\n\nhi\n")
    assert (msg.sender_name, msg.subject) == ("张伟", "刹车异响")


def test_encoded_display_name_is_decoded_and_address_lower_cased() -> None:
    name = base64.b64encode("张伟".encode("gb2312"))
    msg = parse(b'From: "=?GB2312?B?' + name + b'?=" <Zhang.Wei@Example.CN>\nSubject: x\n\nhi\n')
    assert (msg.sender_name, msg.sender) == ("张伟", "zhang.wei@example.cn")


# -- HTML ------------------------------------------------------------------------------------------


def test_html_only_mail_becomes_readable_text_without_script_or_style() -> None:
    html = (
        "<html><head><style>.x{color:red}</style><script>track()</script></head><body>"
        f"<p>{COMPLAINT}</p><table><tr><td>车型</td><td>轩逸</td></tr></table></body></html>"
    )
    msg = parse(mail(b"Content-Type: text/html; charset=utf-8", html.encode()))
    assert COMPLAINT in msg.text and "轩逸" in msg.text
    assert "track" not in msg.text and "color" not in msg.text


def test_html_meta_charset_is_used_when_the_part_has_none() -> None:
    html = f'<html><head><meta charset="gb2312"></head><body>{COMPLAINT}</body></html>'
    msg = parse(mail(b"Content-Type: text/html", html.encode("gbk")))
    assert msg.text == COMPLAINT


def test_alternative_prefers_plain_text() -> None:
    msg = multipart(
        part(b"plain words", "text/plain", "utf-8"),
        part(b"<p>html words</p>", "text/html", "utf-8"),
        subtype="alternative",
    )
    assert parse(msg.as_bytes()).text == "plain words"


def test_alternative_with_blank_plain_text_uses_the_html() -> None:
    msg = multipart(
        part(b" \r\n ", "text/plain", "utf-8"),
        part("<p>刹车异响</p>".encode(), "text/html", "utf-8"),
        subtype="alternative",
    )
    assert parse(msg.as_bytes()).text == "刹车异响"


def test_images_inside_the_html_alternative_are_kept_as_attachments() -> None:
    related = multipart(
        part(b"<p>see photo</p>", "text/html", "utf-8"),
        part(b"\xff\xd8\xff\xe0jpeg", "image/jpeg", Content_ID="<p1>"),
        subtype="related",
    )
    msg = multipart(part(b"see photo", "text/plain", "utf-8"), related, subtype="alternative")
    parsed = parse(msg.as_bytes())
    assert parsed.text == "see photo"
    assert [(a.content_type, a.data) for a in parsed.attachments] == [
        ("image/jpeg", b"\xff\xd8\xff\xe0jpeg")
    ]


# -- attachments -----------------------------------------------------------------------------------


def test_attachment_with_rfc2231_gbk_filename() -> None:
    disposition = "attachment; filename*0*=gbk''%B1%A3%D1%F8; filename*1*=%B5%A5.pdf"
    msg = multipart(
        part(b"text", "text/plain", "utf-8"),
        part(b"%PDF-1.4", "application/pdf", Content_Disposition=disposition),
    )
    (attachment,) = parse(msg.as_bytes()).attachments
    assert (attachment.filename, attachment.content_type, attachment.data) == (
        "保养单.pdf",
        "application/pdf",
        b"%PDF-1.4",
    )


def test_attachment_with_rfc2047_name_parameter() -> None:
    name = "=?utf-8?B?" + base64.b64encode("照片.jpg".encode()).decode() + "?="
    msg = multipart(
        part(b"text", "text/plain", "utf-8"), part(b"jpeg", f'image/jpeg; name="{name}"')
    )
    assert parse(msg.as_bytes()).attachments[0].filename == "照片.jpg"


def test_attachment_with_raw_8bit_gbk_filename() -> None:
    body = (
        b"--b\nContent-Type: text/plain; charset=gbk\n\n" + COMPLAINT.encode("gbk") + b"\n"
        b'--b\nContent-Type: application/pdf\nContent-Disposition: attachment; filename="'
        + "维修发票.pdf".encode("gbk")
        + b'"\n\n%PDF\n--b--\n'
    )
    msg = parse(mail(b'Content-Type: multipart/mixed; boundary="b"', body))
    assert msg.attachments[0].filename == "维修发票.pdf" and msg.text == COMPLAINT


def test_attachment_filename_loses_directory_parts() -> None:
    body = (
        b"--b\nContent-Type: text/plain\n\nx\n--b\nContent-Type: text/plain\n"
        b'Content-Disposition: attachment; filename="C:\\tmp\\a.txt"\n\ny\n--b--\n'
    )
    msg = parse(mail(b'Content-Type: multipart/mixed; boundary="b"', body))
    assert msg.attachments[0].filename == "a.txt"


def test_text_part_marked_as_attachment_is_an_attachment_not_text() -> None:
    msg = multipart(
        part(b"body", "text/plain", "utf-8"),
        part(b"log lines", "text/plain", "utf-8", Content_Disposition="attachment"),
    )
    parsed = parse(msg.as_bytes())
    assert parsed.text == "body" and parsed.attachments[0].data == b"log lines"


def test_forwarded_message_is_appended_readably() -> None:
    inner = mail(
        b"Subject: =?utf-8?B?" + base64.b64encode("刹车".encode()) + b"?=\n"
        b"Message-ID: <orig@client.example>",
        "刹车失灵".encode(),
    )
    body = (
        b"--b\nContent-Type: text/plain\n\nplease see below\n"
        b"--b\nContent-Type: message/rfc822\n\n" + inner + b"\n--b--\n"
    )
    msg = parse(mail(b'Content-Type: multipart/mixed; boundary="b"', body))
    assert msg.text.startswith("please see below\n\n---------- Forwarded message ----------\n")
    assert "Subject: 刹车\n" in msg.text and msg.text.endswith("刹车失灵")


def test_base64_encoded_forwarded_message_is_decoded_before_reading() -> None:
    inner = mail(b"Subject: inner\nMessage-ID: <orig@client.example>", "刹车失灵".encode())
    body = (
        b"--b\nContent-Type: message/rfc822\nContent-Transfer-Encoding: base64\n\n"
        + base64.encodebytes(inner)
        + b"--b--\n"
    )
    msg = parse(mail(b'Content-Type: multipart/mixed; boundary="b"', body))
    assert "Subject: inner\n" in msg.text and msg.text.endswith("刹车失灵")


def test_delivery_status_fields_are_an_attachment_not_a_forwarded_message() -> None:
    body = (
        b"--r\nContent-Type: text/plain\n\nfailed\n"
        b"--r\nContent-Type: message/delivery-status\n\nReporting-MTA: dns; mx.example.cn\n\n"
        b"Final-Recipient: rfc822; li@example.cn\nAction: failed\n--r--\n"
    )
    head = b'Content-Type: multipart/report; report-type=delivery-status; boundary="r"'
    msg = parse(mail(head, body))
    assert msg.text == "failed"
    assert [a.content_type for a in msg.attachments] == ["message/delivery-status"]
    assert b"Action: failed" in msg.attachments[0].data


# -- malformed MIME --------------------------------------------------------------------------------


@pytest.mark.parametrize("cte", [b"7-bit", b"plain", b"8 bits", b"", b"x-unknown"])
def test_odd_transfer_encodings_leave_the_text_as_sent(cte: bytes) -> None:
    head = b"Content-Type: text/plain; charset=gbk\nContent-Transfer-Encoding: " + cte
    assert parse(mail(head, COMPLAINT.encode("gbk"))).text == COMPLAINT


def test_base64_with_bad_padding_and_odd_spelling_is_decoded() -> None:
    encoded = base64.b64encode(COMPLAINT.encode()).rstrip(b"=")
    head = b"Content-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding:  Base64 "
    assert parse(mail(head, encoded)).text == COMPLAINT


def test_multipart_without_boundary_parameter_recovers_its_parts() -> None:
    body = (
        b"--xyz\nContent-Type: text/plain\n\nthe text\n"
        b"--xyz\nContent-Type: image/png\n\npng\n--xyz--\n"
    )
    msg = parse(mail(b"Content-Type: multipart/mixed", body))
    assert msg.text == "the text" and [a.content_type for a in msg.attachments] == ["image/png"]


def test_multipart_with_no_boundary_at_all_is_read_as_text() -> None:
    assert parse(mail(b"Content-Type: multipart/mixed", b"just words\n")).text == "just words"


def test_multiple_content_type_headers_use_the_first() -> None:
    head = b"Content-Type: text/plain; charset=gbk\nContent-Type: text/html; charset=utf-8"
    assert parse(mail(head, COMPLAINT.encode("gbk"))).text == COMPLAINT


def test_content_type_without_subtype_reads_as_plain_text() -> None:
    assert parse(mail(b"Content-Type: text", b"words\n")).text == "words"


def test_a_header_the_stdlib_chokes_on_does_not_stop_parsing() -> None:
    # email.policy.default raises IndexError reading this Message-ID.
    msg = parse(mail(b"Message-ID: <[foo]@bar>\nSubject: fine"))
    assert (msg.message_id, msg.subject) == ("[foo]@bar", "fine")


def test_rfc2231_charset_parameter_that_makes_the_stdlib_raise_is_read() -> None:
    # Message.get_payload() raises TypeError on this part: its charset param is a tuple.
    msg = parse(mail(b"Content-Type: text/plain; charset*=utf-8''gbk", COMPLAINT.encode("gbk")))
    assert msg.text == COMPLAINT


def test_a_200_kb_header_parses() -> None:
    msg = parse(mail(b"X-Junk: " + b"a" * 200_000 + b"\nSubject: big header"))
    assert msg.subject == "big header"


def test_nul_bytes_never_reach_the_text() -> None:
    assert parse(mail(b"Subject: a\x00b", b"x\x00y\n")).text == "xy"


def test_line_ends_are_normalised_and_trailing_whitespace_stripped() -> None:
    data = mail(b"Subject: x", b"line one\nline two  \n\n  \n").replace(b"\n", b"\r\n")
    assert parse(data).text == "line one\nline two"


# -- identity and threading ------------------------------------------------------------------------


def test_the_addresses_it_was_delivered_to_are_read_in_the_order_servers_name_them() -> None:
    head = (
        b"Envelope-To: desk@dealer.example\nDelivered-To: complaints+abc@dealer.example\n"
        b"X-Original-To:  complaints@dealer.example \nDelivered-To: other@dealer.example\n"
    )
    assert parse(mail(head)).delivered_to == (
        "complaints+abc@dealer.example",
        "other@dealer.example",
        "complaints@dealer.example",
        "desk@dealer.example",
    )


def test_message_id_loses_its_angle_brackets() -> None:
    assert parse(mail(b"Message-ID:  <abc.1@client.example> ")).message_id == "abc.1@client.example"


@pytest.mark.parametrize("head", [b"Subject: no id", b"Message-ID: <>", b"Message-ID:   "])
def test_missing_or_empty_message_id_is_none(head: bytes) -> None:
    assert parse(mail(head)).message_id is None


def test_in_reply_to_and_references_are_tuples_despite_junk() -> None:
    head = (
        b"In-Reply-To: <t-1@complaintd.example> (sent by Zhang)\n"
        b'References: <a@x> garbage "quoted"\n <t-1@complaintd.example>'
    )
    msg = parse(mail(head))
    assert msg.in_reply_to == ("t-1@complaintd.example",)
    assert msg.references == ("a@x", "t-1@complaintd.example")


def test_recipients_are_to_and_cc_lower_cased_without_repeats() -> None:
    data = (
        b"From: a@example.cn\nTo: Service <Service@Dealer.Example>, boss@dealer.example\n"
        b"Cc: SERVICE@dealer.example, undisclosed-recipients:;\nSubject: x\n\nhi\n"
    )
    assert parse(data).recipients == ("service@dealer.example", "boss@dealer.example")


def test_missing_from_gives_an_empty_sender() -> None:
    msg = parse(b"To: complaints@dealer.example\nSubject: x\n\nhi\n")
    assert (msg.sender, msg.sender_name) == ("", "")


def test_date_is_parsed_to_aware_utc() -> None:
    msg = parse(mail(b"Date: Mon, 23 Nov 2026 09:30:00 +0800"))
    assert msg.sent_at == datetime(2026, 11, 23, 1, 30, tzinfo=UTC)


@pytest.mark.parametrize(
    "value",
    [b"yesterday", b"Mon, 35 Nov 2026 09:30:00 +0800", b"Mon, 23 Nov 2026 09:30:00 +9999", b""],
)
def test_unparsable_date_is_none(value: bytes) -> None:
    assert parse(mail(b"Date: " + value)).sent_at is None


def test_sha256_is_of_the_raw_bytes() -> None:
    data = mail(b"Subject: x")
    assert parse(data).sha256 == hashlib.sha256(data).hexdigest()


# -- kinds -----------------------------------------------------------------------------------------


def test_a_normal_personal_complaint_stays_personal() -> None:
    head = b"Subject: =?utf-8?B?" + base64.b64encode(SUBJECT.encode()) + b"?=\nMessage-ID: <c@x>"
    msg = parse(mail(head, COMPLAINT.encode()))
    assert (msg.kind, msg.kind_reason, msg.bounced_message_ids) == (MailKind.PERSONAL, "", ())


def test_dsn_is_a_bounce_naming_the_returned_message_id() -> None:
    body = (
        b"--r\nContent-Type: text/plain\n\nDelivery failed.\n"
        b"--r\nContent-Type: message/delivery-status\n\nReporting-MTA: dns; mx.example.cn\n\n"
        b"Final-Recipient: rfc822; li@example.cn\nAction: failed\nStatus: 5.1.1\n"
        b"--r\nContent-Type: message/rfc822\n\nFrom: complaints@dealer.example\n"
        b"Message-ID: <t-42@complaintd.example>\nSubject: ack\n\nThanks\n--r--\n"
    )
    head = (
        b'Content-Type: multipart/report; report-type=delivery-status; boundary="r"\n'
        b"Message-ID: <dsn@mx.example.cn>"
    )
    msg = parse(b"From: MAILER-DAEMON@mx.example.cn\n" + head + b"\n\n" + body)
    assert (msg.kind, msg.kind_reason) == (MailKind.BOUNCE, "dsn")
    assert msg.bounced_message_ids == ("t-42@complaintd.example",)


def test_dsn_returning_only_headers_names_the_message_id() -> None:
    body = (
        b"--r\nContent-Type: message/delivery-status\n\nAction: failed\n"
        b"--r\nContent-Type: text/rfc822-headers\n\nFrom: complaints@dealer.example\n"
        b"Message-Id:\n <t-7@complaintd.example>\n--r--\n"
    )
    head = b'Content-Type: multipart/report; report-type=delivery-status; boundary="r"'
    assert parse(mail(head, body)).bounced_message_ids == ("t-7@complaintd.example",)


def test_plain_text_bounce_with_quoted_message_id() -> None:
    body = (
        b"Hi. This is the qmail-send program at mx.example.cn.\n"
        b"I'm afraid I wasn't able to deliver your message to the following addresses.\n\n"
        b"--- Below this line is a copy of the message.\n\n"
        b"Return-Path: <complaints@dealer.example>\n"
        b"Message-ID: <t-9@complaintd.example>\nSubject: ack\n\nThanks\n"
    )
    msg = parse(b"From: robot@mx.example.cn\nSubject: failure report\n\n" + body)
    assert (msg.kind, msg.kind_reason) == (MailKind.BOUNCE, "bounce-text")
    assert msg.bounced_message_ids == ("t-9@complaintd.example",)


def test_chinese_plain_text_bounce_from_postmaster() -> None:
    head = "Subject: 系统退信\nContent-Type: text/plain; charset=gb2312".encode("gbk")
    body = "很抱歉，您发送的邮件被退回。\n退信原因：收件人不存在".encode("gbk")
    msg = parse(b"From: postmaster@sina.example\n" + head + b"\n\n" + body)
    assert (msg.kind, msg.subject) == (MailKind.BOUNCE, "系统退信")


def test_out_of_office_reply_is_an_auto_reply() -> None:
    head = "Subject: 自动回复：投诉\nAuto-Submitted: auto-replied".encode()
    msg = parse(mail(head))
    assert (msg.kind, msg.kind_reason) == (MailKind.AUTO_REPLY, "auto-submitted")


def test_read_receipt_is_an_auto_reply() -> None:
    body = (
        b"--r\nContent-Type: text/plain\n\nYour message was displayed.\n"
        b"--r\nContent-Type: message/disposition-notification\n\n"
        b"Final-Recipient: rfc822; li@example.cn\n"
        b"Disposition: manual-action/MDN-sent-manually; displayed\n"
        b"--r--\n"
    )
    head = b'Content-Type: multipart/report; report-type=disposition-notification; boundary="r"'
    assert parse(mail(head, body)).kind_reason == "mdn"


def test_mailing_list_mail_is_bulk() -> None:
    msg = parse(mail(b"List-Id: <owners.example.cn>\nSubject: newsletter"))
    assert (msg.kind, msg.kind_reason) == (MailKind.BULK, "list-id")
