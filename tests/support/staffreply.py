"""Staff replies to our notices, as their mail clients send them back, for the reply tests."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from daemon import replytokens
from daemon.store.models import HeldMessage
from support.clock import FakeClock
from support.harness import Harness, write_config
from support.mail import complaint
from support.org import STORE_ORG
from support.smtp_sink import Received, SmtpSink

REPAIR = "车辆在贵店维修后变速箱还是漏油，售后一直拖着不处理。"
CUSTOMER = "zhang.wei@example.cn"
KEY1 = "first-reply-signing-key-0123456789"
KEY2 = "second-reply-signing-key-9876543210"


def replies_config(folder: Path, signing: str = "k1", keys: tuple[str, ...] = ("k1",),
                   extra: str = "") -> str:  # fmt: skip
    """A [replies] table with file secrets written beside the config."""
    lines = ["[replies]", f'signing_key = "{signing}"']
    for kid in keys:
        (folder / f"{kid}.key").write_text(KEY1 if kid == "k1" else KEY2, encoding="utf-8")
        lines.append(f'secrets.{kid} = {{ file = "{kid}.key" }}')
    return "\n".join(lines) + "\n" + extra


def harness(
    folder: Path, db_url: str, sink: SmtpSink, clock: FakeClock, replies: str | None = None
) -> Iterator[Harness]:
    extra = STORE_ORG + (replies if replies is not None else replies_config(folder))
    h = Harness(write_config(folder, db_url, sink.port, extra), clock)
    yield h
    h.close()


def file(h: Harness, text: str = REPAIR) -> str:
    number = h.deliver(complaint(text, sender=CUSTOMER)).ticket
    assert number is not None
    return number


def notice_to(h: Harness, sink: SmtpSink, address: str) -> Received:
    """The latest mail the sink received for `address`, after sending what is due."""
    h.send_outbox()
    got = sink.to(address)
    assert got, f"no mail to {address}"
    return got[-1]


def reply(
    notice: Received,
    text: str,
    *,
    sender: str | None = None,
    to: str | None = None,
    in_reply_to: str | None = None,
    headers: dict[str, str] | None = None,
    message_id: str | None = None,
) -> bytes:
    """A reply to `notice` as a mail client writes it: top-posted, the notice quoted below."""
    m = notice.message
    quoted = "\n".join(f"> {line}" for line in notice.text.splitlines())
    body = f"{text}\n\n在 2026-11-23 10:05，客户关爱中心 写道：\n{quoted}\n"
    lines = [
        f"From: {sender or notice.rcpt_tos[0]}",
        f"To: {to if to is not None else (m['Reply-To'] or m['From'])}",
        f"Subject: Re: {m['Subject']}",
        "Date: Mon, 23 Nov 2026 10:10:00 +0800",
        f"Message-ID: {message_id or f'<{uuid.uuid4().hex}@client.example>'}",
        f"In-Reply-To: {in_reply_to if in_reply_to is not None else m['Message-ID']}",
        f"References: {in_reply_to if in_reply_to is not None else m['Message-ID']}",
        *(f"{k}: {v}" for k, v in (headers or {}).items()),
        "MIME-Version: 1.0",
        "Content-Type: text/plain; charset=utf-8",
        "Content-Transfer-Encoding: 8bit",
    ]
    return (
        "\r\n".join(lines).encode("utf-8")
        + b"\r\n\r\n"
        + body.encode("utf-8").replace(b"\n", b"\r\n")
    )


def token_for(h: Harness, number: str, recipient: str, kid: str = "k1",
              days: float = 30) -> str:  # fmt: skip
    """A token as the composer signs one (for a recipient no notice went to)."""
    secrets = {"k1": KEY1.encode(), "k2": KEY2.encode()}
    return replytokens.issue(secrets, kid, number, recipient, h.clock() + timedelta(days=days))


def events_of(h: Harness, number: str, kind: str) -> list[dict[str, Any]]:
    """The ticket's audit entries of one kind, oldest first."""
    return [e for e in h.ticket(number)["events"] if e["kind"] == kind]


def held(h: Harness) -> list[HeldMessage]:
    with h.session() as s:
        return list(s.scalars(select(HeldMessage).order_by(HeldMessage.id)))


@pytest.fixture
def staff_desk(tmp_path: Path, db_url: str, sink: SmtpSink, clock: FakeClock) -> Iterator[Harness]:
    yield from harness(tmp_path, db_url, sink, clock)
