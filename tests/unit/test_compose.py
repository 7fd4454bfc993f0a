import email
from datetime import UTC, datetime
from email.header import decode_header, make_header
from email.policy import default
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from daemon.compose import Composer, RecipientError, TemplateError, encode_words, text_of
from daemon.config import OutboxSettings
from daemon.values import Notice

TEMPLATES = Path(__file__).resolve().parents[2] / "templates"
NOW = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)
SHANGHAI = ZoneInfo("Asia/Shanghai")
CONTEXT = {
    "ticket": "TS-202611-0042",
    "subject": "刹车异响",
    "customer": "a@example.cn",
    "customer_name": "张伟",
    "reply_by": datetime(2026, 11, 23, 12, 0, tzinfo=SHANGHAI),
    "service_name": "客户关爱中心",
}


def composer() -> Composer:
    return Composer(TEMPLATES, OutboxSettings(message_id_domain="dealer.example"), "zh-CN")


def ack(**context: object) -> email.message.EmailMessage:
    notice = Notice(
        "acknowledgement",
        "zh-CN",
        "a@example.cn",
        CONTEXT | context,
        ticket="TS-202611-0042",
        in_reply_to="c1@client.example",
        references=("c0@client.example",),
        auto_reply=True,
    )
    queued = composer().compose(notice, NOW, "acknowledgement")
    return email.message_from_bytes(queued.raw, policy=default)  # type: ignore[return-value]


def test_acknowledgement_carries_the_ticket_tag_and_threads_under_the_complaint():
    msg = ack()
    assert msg["Subject"].startswith("[TS-202611-0042] ")
    assert msg["In-Reply-To"] == "<c1@client.example>"
    assert msg["References"] == "<c0@client.example> <c1@client.example>"
    assert msg["Message-ID"].endswith("@dealer.example>")


def test_acknowledgement_is_marked_as_an_automatic_reply():
    msg = ack()
    assert msg["Auto-Submitted"] == "auto-replied"
    assert msg["X-Auto-Response-Suppress"] == "All"


def test_acknowledgement_body_is_chinese_with_number_and_promise():
    body = ack().get_body(preferencelist=("plain",)).get_content()
    assert "TS-202611-0042" in body
    assert "11月23日 12:00（北京时间）" in body
    assert "您好" in body


def test_customer_text_is_data_never_template_source():
    body = ack(customer_name="{{ 7*7 }}{% for x in range(3) %}x{% endfor %}")
    content = body.get_body(preferencelist=("plain",)).get_content()
    assert "{{ 7*7 }}" in content
    assert "49" not in content


def test_a_missing_template_variable_fails_loudly():
    notice = Notice("acknowledgement", "en", "a@example.cn", {"ticket": "TS-202611-0042"})
    with pytest.raises(TemplateError, match="undefined"):
        composer().render(notice)


FOLLOWUP = {
    "ticket": "TS-202611-0042",
    "subject": "s",
    "sender": "a@b",
    "sender_role": "customer",
    "text": "t",
}


def test_a_language_without_its_own_template_falls_back_to_the_default_language():
    subject, _ = composer().render(Notice("followup", "ja", "x@example.cn", FOLLOWUP))
    assert subject.startswith("客户补充来信")


def test_staff_reading_traditional_chinese_get_traditional_chinese():
    subject, _ = composer().render(Notice("followup", "zh-TW", "x@example.cn", FOLLOWUP))
    assert subject.startswith("客戶補充來信")


def test_content_language_names_the_language_the_mail_is_written_in():
    queued = composer().compose(Notice("followup", "ja", "x@example.cn", FOLLOWUP), NOW, "f")
    msg = email.message_from_bytes(queued.raw, policy=default)
    assert msg["Content-Language"] == "zh-CN"


def test_the_date_header_keeps_the_zone_of_the_time_it_is_given():
    local = NOW.astimezone(SHANGHAI)
    queued = composer().compose(Notice("followup", "en", "x@example.cn", FOLLOWUP), local, "f")
    msg = email.message_from_bytes(queued.raw, policy=default)
    assert msg["Date"] == "Mon, 23 Nov 2026 10:00:00 +0800"


def test_an_english_time_names_its_zone_and_offset():
    _, body = composer().render(Notice("acknowledgement", "en", "a@b", CONTEXT))
    assert "before 23 Nov 12:00 (Beijing time, UTC+08:00)." in body


def test_a_zone_the_table_does_not_name_is_shown_by_its_offset():
    tokyo = datetime(2026, 11, 23, 12, 0, tzinfo=ZoneInfo("Asia/Tokyo"))
    _, body = composer().render(
        Notice("acknowledgement", "zh-CN", "a@b", CONTEXT | {"reply_by": tokyo})
    )
    assert "11月23日 12:00（UTC+09:00）" in body


def _site(tmp_path: Path, labels: str) -> Composer:
    (tmp_path / "t.en.txt").write_text("Subject: {{ c | label('category') }}\n\n{{ at }}\n")
    (tmp_path / "labels.en.toml").write_text(labels, encoding="utf-8")
    return Composer(tmp_path, OutboxSettings(message_id_domain="x.example"), "en")


def test_a_site_rewords_a_key_and_the_time_in_its_own_label_table(tmp_path: Path):
    table = '[category]\nservice = "attitude and process"\n[time]\nmoment = "{day}/{month}"\n'
    at = datetime(2026, 11, 23, 12, 0, tzinfo=SHANGHAI)
    subject, body = _site(tmp_path, table).render(
        Notice("t", "en", "a@b", {"c": "service", "at": at})
    )
    assert (subject, body) == ("attitude and process", "23/11 (UTC+08:00)\n")


def test_a_key_without_a_label_is_shown_as_it_is(tmp_path: Path):
    subject, _ = _site(tmp_path, "").render(Notice("t", "en", "a@b", {"c": "newkind", "at": ""}))
    assert subject == "newkind"


def test_a_broken_label_table_fails_as_a_template_error(tmp_path: Path):
    with pytest.raises(TemplateError, match=r"labels\.en\.toml"):
        _site(tmp_path, "[category]\nservice = 3\n").render(
            Notice("t", "en", "a@b", {"c": "service", "at": ""})
        )


def test_english_acknowledgement_for_english_complaints():
    subject, body = composer().render(Notice("acknowledgement", "en", "a@b", CONTEXT))
    assert subject.startswith("We have received your complaint")
    assert "TS-202611-0042" in body


def test_a_long_chinese_subject_is_folded_into_words_that_decode_back():
    subject = "关于贵店售后服务顾问多次承诺回电却始终没有任何人联系我的投诉" * 3
    encoded = encode_words(subject)
    lines = encoded.split("\r\n ")
    assert len(lines) > 1
    assert all(len(line) <= 76 for line in lines)
    assert str(make_header(decode_header(encoded.replace("\r\n", "")))) == subject


def test_a_short_ascii_subject_stays_as_it_is():
    assert encode_words("Brake light on again") == "Brake light on again"


def test_the_composed_mail_parses_back_to_its_text():
    msg = ack()
    body = msg.get_body(preferencelist=("plain",)).get_content()
    assert "张伟" in body
    assert msg["Subject"] == "[TS-202611-0042] 已收到您的投诉：刹车异响"
    assert msg.defects == []


def test_text_of_reads_a_composed_mail_back_as_the_mime_parser_does():
    notice = Notice("acknowledgement", "zh-CN", "a@example.cn", CONTEXT, ticket="TS-202611-0042")
    raw = composer().compose(notice, NOW, "acknowledgement").raw
    parsed = email.message_from_bytes(raw, policy=default).get_body(("plain",)).get_content()
    assert text_of(raw) == parsed.replace("\r\n", "\n")
    assert "张伟" in (text_of(raw) or "")


def test_text_of_leaves_a_mail_of_another_shape_to_a_parser():
    quoted = (
        b"From: a@example.cn\r\nContent-Type: text/plain; charset=utf-8\r\n"
        b"Content-Transfer-Encoding: quoted-printable\r\n\r\nHello=20there\r\n"
    )
    assert text_of(quoted) is None


def test_a_message_id_an_ascii_header_cannot_carry_is_left_out():
    notice = Notice(
        "acknowledgement", "zh-CN", "a@example.cn", CONTEXT, in_reply_to="编号1@client.example"
    )
    queued = composer().compose(notice, NOW, "acknowledgement")
    assert queued.raw.split(b"\r\n\r\n")[0].isascii()
    assert b"In-Reply-To" not in queued.raw


# --- nothing reflected ---------------------------------------------------------------------


def test_a_ten_megabyte_subject_is_quoted_by_its_first_characters_only():
    queued = composer().compose(
        Notice("acknowledgement", "en", "a@example.cn", CONTEXT | {"subject": "A" * 10_000_000}),
        NOW,
        "acknowledgement",
    )
    msg = email.message_from_bytes(queued.raw, policy=default)
    assert len(queued.raw) < 4096
    assert "A" * 119 + "…" in msg["Subject"]
    assert "A" * 121 not in msg["Subject"]


def test_a_long_customer_name_is_quoted_at_the_same_bound():
    body = ack(customer_name="名" * 5000).get_body(preferencelist=("plain",)).get_content()
    assert "名" * 119 + "…" in body
    assert "名" * 120 not in body


def test_seventy_thousand_references_give_ours_the_last_ten():
    refs = tuple(f"r{i}@client.example" for i in range(70_000))
    notice = Notice(
        "acknowledgement", "zh-CN", "a@example.cn", CONTEXT, in_reply_to="c1@x", references=refs
    )
    msg = email.message_from_bytes(composer().compose(notice, NOW, "ack").raw, policy=default)
    carried = msg["References"].split()
    assert len(carried) == 10
    assert carried[-2:] == ["<r69999@client.example>", "<c1@x>"]


@pytest.mark.parametrize(
    "recipient", ["victim@x.test <real@sender.test>", "a@example.cn, b@example.cn", "张伟"]
)
def test_an_answer_goes_to_nothing_but_a_deliverable_address(recipient):
    notice = Notice("acknowledgement", "zh-CN", recipient, CONTEXT, auto_reply=True)
    with pytest.raises(RecipientError):
        composer().compose(notice, NOW, "acknowledgement")


def test_no_recipient_can_add_a_header_line():
    notice = Notice("acknowledgement", "zh-CN", "a@example.cn\r\nBcc: x@y.test", CONTEXT)
    with pytest.raises(RecipientError):
        composer().compose(notice, NOW, "acknowledgement")
