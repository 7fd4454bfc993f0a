"""Build test messages as the bytes a mail client would send."""

from __future__ import annotations

import base64
import uuid


def complaint(
    text: str = "你们的售后服务太差了，车辆保养后发动机异响，一直没人处理。",
    *,
    sender: str = "zhang.wei@example.cn",
    name: str = "张伟",
    subject: str = "投诉：保养后发动机异响",
    charset: str = "utf-8",
    message_id: str | None = None,
    in_reply_to: str | None = None,
    headers: dict[str, str] | None = None,
) -> bytes:
    """A plain-text complaint whose headers and body are in `charset` (gbk, big5, utf-8 ...)."""

    def word(value: str) -> str:
        if value.isascii():
            return value
        return f"=?{charset}?b?{base64.b64encode(value.encode(charset)).decode()}?="

    lines = [
        f"From: {word(name)} <{sender}>" if name else f"From: {sender}",
        "To: complaints@dealer.example",
        f"Subject: {word(subject)}",
        "Date: Mon, 23 Nov 2026 09:00:00 +0800",
        f"Message-ID: {message_id or f'<{uuid.uuid4().hex}@client.example>'}",
    ]
    if in_reply_to:
        lines += [f"In-Reply-To: {in_reply_to}", f"References: {in_reply_to}"]
    lines += [f"{key}: {value}" for key, value in (headers or {}).items()]
    lines += ["MIME-Version: 1.0", f"Content-Type: text/plain; charset={charset}"]
    body = text.encode(charset)
    if charset == "utf-8":
        lines.append("Content-Transfer-Encoding: 8bit")
    else:
        lines.append("Content-Transfer-Encoding: base64")
        body = base64.encodebytes(body)
    return "\r\n".join(lines).encode("ascii") + b"\r\n\r\n" + body.replace(b"\n", b"\r\n")
