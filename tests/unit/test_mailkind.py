"""Telling personal mail from bounces, auto-replies and bulk mail, and finding what bounced."""

from __future__ import annotations

import pytest

from daemon.mailkind import Signals, bounced_message_ids, detect
from daemon.values import MailKind


def signals(
    *,
    headers: dict[str, str] | None = None,
    sender: str = "zhang.wei@example.cn",
    subject: str = "投诉：保养后发动机异响",
    text: str = "你们的售后服务太差了。",
    report_types: frozenset[str] = frozenset(),
    part_types: frozenset[str] = frozenset({"text/plain"}),
    embedded_ids: tuple[str, ...] = (),
) -> Signals:
    return Signals(
        headers={"from": sender, **(headers or {})},
        sender=sender,
        sender_name="",
        subject=subject,
        text=text,
        report_types=report_types,
        part_types=part_types,
        embedded_ids=embedded_ids,
    )


def test_a_complaint_is_personal_with_no_reason() -> None:
    assert detect(signals()) == (MailKind.PERSONAL, "")


def test_a_complaint_mentioning_bounced_mail_mid_subject_is_personal() -> None:
    assert detect(signals(subject="投诉：你们的邮件总是退信")) == (MailKind.PERSONAL, "")


def test_a_reply_to_a_bounce_notice_is_personal() -> None:
    assert detect(signals(subject="Re: Undelivered Mail Returned to Sender")) == (
        MailKind.PERSONAL,
        "",
    )


# -- bounces ---------------------------------------------------------------------------------------


def test_multipart_report_of_delivery_status_is_a_dsn() -> None:
    report = signals(report_types=frozenset({"delivery-status"}))
    assert detect(report) == (MailKind.BOUNCE, "dsn")


def test_delivery_status_part_without_report_type_is_a_dsn() -> None:
    report = signals(part_types=frozenset({"multipart/mixed", "message/delivery-status"}))
    assert detect(report) == (MailKind.BOUNCE, "dsn")


@pytest.mark.parametrize("sender", ["mailer-daemon@mx.example.cn", "MAILER-DAEMON", "mdaemon@x.cn"])
def test_mail_from_the_mailer_daemon_is_a_bounce(sender: str) -> None:
    assert detect(signals(sender=sender.lower())) == (MailKind.BOUNCE, "mailer-daemon")


def test_mail_from_postmaster_is_a_bounce() -> None:
    assert detect(signals(sender="postmaster@example.cn")) == (MailKind.BOUNCE, "postmaster")


@pytest.mark.parametrize(
    "subject",
    [
        "Undelivered Mail Returned to Sender",
        "Delivery Status Notification (Failure)",
        "Undeliverable: 投诉：保养后发动机异响",
        "Returned mail: see transcript for details",
        "failure notice",
        "Mail delivery failed: returning message to sender",
        "系统退信",
        "退信：投诉",
    ],
)
def test_bounce_subjects_are_bounces(subject: str) -> None:
    assert detect(signals(subject=subject, sender="robot@mx.example.cn")) == (
        MailKind.BOUNCE,
        "bounce-subject",
    )


@pytest.mark.parametrize(
    "text",
    [
        "Hi. This is the qmail-send program at mx.example.cn.\nI'm afraid I wasn't able to deliver",
        "This message was created automatically by mail delivery software.\n\nA message that you",
        "This is the mail system at host mx.example.cn.\n\nI'm sorry to have to inform you",
        "The original message was received at Mon, 23 Nov 2026 09:00:00 +0800",
        "很抱歉，您发送的邮件被退回。\n退信原因：收件人地址不存在",
        "此邮件由系统自动发出。邮件无法投递到以下地址：li@example.cn",
    ],
)
def test_bounce_texts_of_common_mtas_are_bounces(text: str) -> None:
    mail = signals(subject="Notice", sender="robot@mx.example.cn", text=text)
    assert detect(mail) == (MailKind.BOUNCE, "bounce-text")


def test_bounce_text_deep_in_a_long_body_is_not_a_signal() -> None:
    text = "我要投诉。" * 1000 + "This is the qmail-send program"
    assert detect(signals(text=text)) == (MailKind.PERSONAL, "")


def test_a_bounce_with_auto_submitted_header_stays_a_bounce() -> None:
    mail = signals(sender="mailer-daemon@mx.example.cn", headers={"auto-submitted": "auto-replied"})
    assert detect(mail) == (MailKind.BOUNCE, "mailer-daemon")


def test_null_return_path_alone_is_a_bounce() -> None:
    mail = signals(subject="Notice", sender="robot@mx.example.cn", headers={"return-path": "<>"})
    assert detect(mail) == (MailKind.BOUNCE, "null-sender")


def test_null_from_address_is_a_bounce() -> None:
    mail = signals(subject="Notice", sender="", headers={"from": '"Jetmail System" <>'})
    assert detect(mail) == (MailKind.BOUNCE, "null-sender")


def test_from_without_any_address_is_left_personal_for_the_pipeline_to_judge() -> None:
    mail = signals(sender="", headers={"from": "张伟"})
    assert detect(mail) == (MailKind.PERSONAL, "")


# -- auto-replies ----------------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["auto-replied", "auto-generated", "Auto-Replied (vacation)"])
def test_auto_submitted_other_than_no_is_an_auto_reply(value: str) -> None:
    mail = signals(headers={"auto-submitted": value})
    assert detect(mail) == (MailKind.AUTO_REPLY, "auto-submitted")


def test_auto_submitted_no_is_personal() -> None:
    assert detect(signals(headers={"auto-submitted": "no"})) == (MailKind.PERSONAL, "")


def test_x_autoreply_header_is_an_auto_reply() -> None:
    assert detect(signals(headers={"x-autoreply": "yes"})) == (MailKind.AUTO_REPLY, "x-autoreply")


def test_x_autorespond_header_is_an_auto_reply() -> None:
    mail = signals(headers={"x-autorespond": "Vacation"})
    assert detect(mail) == (MailKind.AUTO_REPLY, "x-autorespond")


@pytest.mark.parametrize("value", ["All", "OOF, AutoReply", "DR, RN, NRN, OOF, AutoReply"])
def test_exchange_suppress_all_or_oof_marks_automatic_mail(value: str) -> None:
    mail = signals(headers={"x-auto-response-suppress": value})
    assert detect(mail) == (MailKind.AUTO_REPLY, "x-auto-response-suppress")


@pytest.mark.parametrize("value", ["RN, NRN", "DR", "None"])
def test_exchange_suppressing_only_receipts_is_personal(value: str) -> None:
    assert detect(signals(headers={"x-auto-response-suppress": value})) == (MailKind.PERSONAL, "")


@pytest.mark.parametrize(
    "subject",
    [
        "Out of Office: 投诉：保养后发动机异响",
        "Automatic reply: complaint",
        "自动回复：投诉：保养后发动机异响",
        "自動回覆: 投訴",
        "Auto: 投诉",
        "[Auto-Reply] complaint",
        "AutoReply: complaint",
    ],
)
def test_out_of_office_subjects_are_auto_replies(subject: str) -> None:
    assert detect(signals(subject=subject)) == (MailKind.AUTO_REPLY, "auto-reply-subject")


def test_read_receipt_is_an_automatic_reply() -> None:
    mdn = signals(
        report_types=frozenset({"disposition-notification"}), headers={"return-path": "<>"}
    )
    assert detect(mdn) == (MailKind.AUTO_REPLY, "mdn")


def test_rfc3834_auto_reply_with_null_sender_is_an_auto_reply_not_a_bounce() -> None:
    mail = signals(headers={"return-path": "<>", "auto-submitted": "auto-replied"})
    assert detect(mail) == (MailKind.AUTO_REPLY, "auto-submitted")


def test_vacation_reply_with_precedence_bulk_is_an_auto_reply() -> None:
    mail = signals(subject="Out of Office", headers={"precedence": "bulk"})
    assert detect(mail)[0] is MailKind.AUTO_REPLY


# -- bulk ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["bulk", "list", "junk"])
def test_precedence_bulk_list_junk_is_bulk(value: str) -> None:
    assert detect(signals(headers={"precedence": value})) == (MailKind.BULK, f"precedence-{value}")


def test_list_id_is_bulk() -> None:
    mail = signals(headers={"list-id": "<owners.club.example.cn>"})
    assert detect(mail) == (MailKind.BULK, "list-id")


def test_list_unsubscribe_is_bulk() -> None:
    mail = signals(headers={"list-unsubscribe": "<mailto:off@news.example.cn>"})
    assert detect(mail) == (MailKind.BULK, "list-unsubscribe")


def test_arf_feedback_report_is_bulk_not_a_bounce() -> None:
    arf = signals(report_types=frozenset({"feedback-report"}), headers={"return-path": "<>"})
    assert detect(arf) == (MailKind.BULK, "feedback-report")


# -- what bounced ----------------------------------------------------------------------------------


def test_bounced_ids_come_from_the_returned_message() -> None:
    assert bounced_message_ids(signals(embedded_ids=("t-1@complaintd.example",))) == (
        "t-1@complaintd.example",
    )


def test_bounced_ids_come_from_quoted_headers_in_a_plain_bounce() -> None:
    text = (
        "--- Below this line is a copy of the message.\n\n"
        "Return-Path: <complaints@dealer.example>\n"
        "Message-ID:\n <20261123.abc@complaintd.example>\n"
        "> Message-Id: <second@complaintd.example>\n"
    )
    assert bounced_message_ids(signals(text=text)) == (
        "20261123.abc@complaintd.example",
        "second@complaintd.example",
    )


def test_the_bounce_own_message_id_is_not_a_bounced_id() -> None:
    mail = signals(
        headers={"message-id": "<bounce@mx.example.cn>"},
        text="Message-ID: <bounce@mx.example.cn>\nMessage-ID: <ours@complaintd.example>",
    )
    assert bounced_message_ids(mail) == ("ours@complaintd.example",)
