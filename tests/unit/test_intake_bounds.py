"""Intake bounds what one message can make us store, send or spend: addresses, header lists,
subjects, text, parts; and it recognises one message delivered to several mailboxes."""

from __future__ import annotations

import time
import tracemalloc
from collections.abc import Iterator

import pytest

from daemon.addresses import addr_spec
from daemon.config import TicketSettings
from daemon.intake import Unreadable, parse

HEAD = b"To: complaints@dealer.example\r\nDate: Mon, 23 Nov 2026 09:00:00 +0800\r\n"
MB = 1 << 20


def mail(head: bytes, body: bytes = b"brake noise\r\n", sender: bytes = b"z@example.cn") -> bytes:
    return b"From: " + sender + b"\r\n" + HEAD + head.strip(b"\r\n") + b"\r\n\r\n" + body


def from_(value: str) -> bytes:
    return mail(b"Subject: complaint", sender=value.encode("utf-8"))


# --- who we answer -------------------------------------------------------------------------


def test_an_address_written_as_the_display_name_is_not_the_sender() -> None:
    msg = parse(from_("victim@x.test <real@sender.test>"))
    assert (msg.sender, msg.sender_name) == ("real@sender.test", "victim@x.test")


def test_an_address_in_a_quoted_or_encoded_display_name_is_not_the_sender() -> None:
    quoted = parse(from_('"victim@x.test" <real@sender.test>'))
    encoded = parse(from_("=?utf-8?b?dmljdGltQHgudGVzdA==?= <real@sender.test>"))
    assert quoted.sender == encoded.sender == "real@sender.test"


def test_a_full_width_address_is_folded_to_the_address_it_reads_as() -> None:
    assert parse(from_("ｖｉｃｔｉｍ＠ｘ．ｔｅｓｔ")).sender == "victim@x.test"


@pytest.mark.parametrize(
    "value", ["@example.cn", "a@b..cn", "<a b@example.cn>", '"q"@example.cn', "a@1.2.3.4", "张伟"]
)
def test_a_from_without_a_deliverable_address_leaves_no_sender(value: str) -> None:
    assert parse(from_(value)).sender == ""


def test_an_address_with_a_line_break_is_never_deliverable() -> None:
    assert addr_spec("a@example.cn\r\nBcc: x@y.test") is None


def test_a_sloppy_from_with_one_bare_address_still_has_its_sender() -> None:
    msg = parse(from_("Zhang Wei zhang@example.cn"))
    assert (msg.sender, msg.sender_name) == ("zhang@example.cn", "Zhang Wei")


def test_reply_to_is_answered_only_when_configured() -> None:
    msg = parse(mail(b"Subject: s\r\nReply-To: Li <li@example.cn>"))
    assert msg.answer_address() == "z@example.cn"
    assert msg.answer_address(prefer_reply_to=True) == "li@example.cn"


def test_an_undeliverable_reply_to_falls_back_to_from() -> None:
    msg = parse(mail(b"Subject: s\r\nReply-To: victim@x.test <>"))
    assert msg.answer_address(prefer_reply_to=True) == "z@example.cn"


# --- bounded fields ------------------------------------------------------------------------


def references(count: int, fold: bytes = b" ") -> bytes:
    return b"References: " + fold.join(b"<r%d@x.test>" % i for i in range(count))


@pytest.mark.parametrize("fold", [b" ", b"\r\n "])
def test_seventy_thousand_references_keep_the_thread_root_and_the_latest(fold: bytes) -> None:
    msg = parse(mail(references(70_000, fold)))
    assert msg.references[0] == "r0@x.test"
    assert msg.references[-1] == "r69999@x.test"
    assert len(msg.references) == 20


def test_in_reply_to_keeps_a_few_ids() -> None:
    ids = b" ".join(b"<p%d@x.test>" % i for i in range(1000))
    assert len(parse(mail(b"In-Reply-To: " + ids)).in_reply_to) == 5


def test_a_ten_megabyte_subject_is_cut_to_a_thousand_characters() -> None:
    msg = parse(mail(b"Subject: " + b"A" * (10 * MB)))
    assert msg.subject == "A" * 1000
    assert msg.text == "brake noise"


def test_a_three_hundred_character_name_is_cut_for_the_message_row() -> None:
    msg = parse(from_("名" * 300 + " <z@example.cn>"))
    assert msg.sender_name == "名" * 300


def test_header_fields_past_the_limit_are_not_read_and_the_body_survives() -> None:
    junk = b"\r\n".join(b"X-Junk-%d: v" % i for i in range(200_000))
    msg = parse(mail(junk + b"\r\nSubject: late"))
    assert msg.subject == ""
    assert msg.text == "brake noise"
    assert any("header cut" in note for note in msg.notes)


def test_text_past_the_limit_is_cut_with_a_note() -> None:
    msg = parse(mail(b"Subject: s", "投诉".encode() * 600_000))
    assert len(msg.text) == 1_000_000
    assert any("text cut" in note for note in msg.notes)


def test_mime_parts_past_the_limit_are_not_parsed() -> None:
    parts = b"".join(b"--b\r\nContent-Type: text/plain\r\n\r\nx%d\r\n" % i for i in range(50_000))
    msg = parse(mail(b"Content-Type: multipart/mixed; boundary=b", parts + b"--b--\r\n"))
    assert msg.text.count("x") <= 500
    assert any("MIME" in note for note in msg.notes)


# --- one complaint, several deliveries -----------------------------------------------------

WRITTEN = (
    b"From: Zhang Wei <zhang@example.cn>\r\nTo: complaints@dealer.example\r\n"
    b"Subject: =?utf-8?b?5oqV6K+J?=\r\nDate: Mon, 23 Nov 2026 09:00:00 +0800\r\n"
    b"Content-Type: text/plain; charset=utf-8\r\n\r\n" + "刹车异响".encode() + b"\r\n"
)


def delivered(mailbox: bytes, relay: bytes) -> bytes:
    return (
        b"Delivered-To: " + mailbox + b"\r\nReceived: from " + relay + b" by mx.dealer.example;"
        b" Mon, 23 Nov 2026 09:00:0" + relay[-1:] + b" +0800\r\n" + WRITTEN
    )


def test_one_complaint_without_message_id_delivered_to_two_mailboxes_has_one_key() -> None:
    first = parse(delivered(b"complaints@dealer.example", b"relay1"))
    second = parse(delivered(b"service@dealer.example", b"relay2"))
    assert first.sha256 != second.sha256
    assert first.dedupe_key == second.dedupe_key


@pytest.mark.parametrize(
    ("old", "new"),
    [
        (b"Date: Mon, 23 Nov 2026 09:00:00", b"Date: Mon, 23 Nov 2026 10:00:00"),
        ("刹车异响".encode(), "刹车又响".encode()),
        (b"=?utf-8?b?5oqV6K+J?=", b"complaint"),
        (b"zhang@example.cn", b"li@example.cn"),
    ],
)
def test_a_change_in_what_the_sender_wrote_changes_the_key(old: bytes, new: bytes) -> None:
    assert parse(WRITTEN).dedupe_key != parse(WRITTEN.replace(old, new)).dedupe_key


def test_a_message_id_still_decides_the_key_when_there_is_one() -> None:
    msg = parse(b"Message-ID: <m1@client.example>\r\n" + WRITTEN)
    assert msg.dedupe_key == "mid:m1@client.example"


# --- the budget ----------------------------------------------------------------------------


def hostile(size: int) -> Iterator[tuple[str, bytes]]:
    """Crafted messages of about `size` bytes, each aimed at one stage of intake."""
    yield "subject", mail(b"Subject: " + b"A" * size)
    yield "references", mail(references(size // 20, b"\r\n "))
    yield "fields", mail(b"".join(b"X-H%d: v\r\n" % i for i in range(size // 12)))
    yield "cc-list", mail(b"Cc: " + b", ".join(b"u%d@x.test" % i for i in range(size // 12)))
    part = b"--b\r\nContent-Type: text/plain\r\n\r\nx\r\n"
    yield "parts", mail(b"Content-Type: multipart/mixed; boundary=b", part * (size // len(part)))
    nest = b"".join(
        b"--b%d\r\nContent-Type: multipart/mixed; boundary=b%d\r\n\r\n" % (i, i + 1)
        for i in range(size // 60)
    )
    yield "nesting", mail(b"Content-Type: multipart/mixed; boundary=b0", nest)
    yield "open-tags", mail(b"Content-Type: text/html", b"<" * size)
    yield "html", mail(b"Content-Type: text/html; charset=utf-8", "<i>投诉".encode() * (size // 9))
    yield "8bit", mail(b"Content-Type: text/plain", bytes(range(128, 256)) * (size // 128))
    b64 = b"Content-Type: application/pdf; name=a.pdf\r\nContent-Transfer-Encoding: base64\r\n"
    yield "base64", mail(b64, b"QUFB\r\n" * (size // 6))


def decide(data: bytes) -> str:
    """What intake makes of the bytes: parsed, or unreadable (quarantined) for a reason."""
    try:
        return parse(data, TicketSettings().message_budget_mb).kind.value
    except Unreadable as exc:
        return exc.reason


def test_every_hostile_message_is_decided_within_the_time_and_memory_budget() -> None:
    budget = TicketSettings()
    # Past 4 MB only the parser's share grows, and it reads 16 MB at most (the benchmark
    # benchmarks/intake_budget.py runs these at 48 MB): a text part is decoded up to 4 MB, the
    # header up to 1 MB.
    size = 4 * MB
    worst: dict[str, tuple[float, float]] = {}
    for name, data in hostile(size):
        began = time.monotonic()
        decide(data)
        seconds = time.monotonic() - began
        tracemalloc.start()
        decide(data)
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        worst[name] = (seconds, peak / MB)
    print({name: f"{s:.2f} s, {m:.0f} MB" for name, (s, m) in worst.items()})
    slowest = max(worst.items(), key=lambda item: item[1][0])
    largest = max(worst.items(), key=lambda item: item[1][1])
    assert slowest[1][0] < budget.message_budget_seconds, slowest
    # The message's own bytes were allocated before tracing: the peak is all on top of them.
    assert largest[1][1] < budget.message_budget_mb, largest
