"""An SMTP server on loopback that records every envelope and answers as told."""

from __future__ import annotations

import asyncio
import email
import email.policy
import socket
import threading
import time
from collections import deque
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller


@dataclass(frozen=True)
class Received:
    mail_from: str
    rcpt_tos: list[str]
    data: bytes

    @property
    def message(self) -> EmailMessage:
        msg = email.message_from_bytes(self.data, policy=email.policy.default)
        assert isinstance(msg, EmailMessage)
        return msg

    @property
    def text(self) -> str:
        body = self.message.get_body(preferencelist=("plain",))
        assert body is not None
        return str(body.get_content())


class _Handler:
    def __init__(self, sink: SmtpSink) -> None:
        self.sink = sink

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 (aiosmtpd's hook name)
        with self.sink.lock:
            if self.sink.replies:
                reply = self.sink.replies.popleft()
                self.sink.refused.append(reply)
                return reply
            self.sink.received.append(
                Received(envelope.mail_from, list(envelope.rcpt_tos), bytes(envelope.content))
            )
            hold = self.sink.hold_at is not None and len(self.sink.received) >= self.sink.hold_at
        while hold and not self.sink.released.is_set():
            # Accepted and recorded, but the 250 is not said yet: a crash of the client now is
            # the "delivered but not marked sent" case.
            await asyncio.sleep(0.01)
        return "250 OK queued"


class SmtpSink:
    """Start with start(); `replies` queues answers (e.g. '451 try later') for the next mails."""

    def __init__(self, *, smtputf8: bool = False) -> None:
        self.lock = threading.Lock()
        self.received: list[Received] = []
        self.refused: list[str] = []
        self.replies: deque[str] = deque()
        self.hold_at: int | None = None
        self.released = threading.Event()
        self.port = free_port()
        self._controller = Controller(
            _Handler(self), hostname="127.0.0.1", port=self.port, enable_SMTPUTF8=smtputf8
        )

    def start(self) -> SmtpSink:
        self._controller.start()
        return self

    def stop(self) -> None:
        self._controller.stop()

    def answer(self, *replies: str) -> None:
        """The next mails get these replies, in order, instead of 250."""
        with self.lock:
            self.replies.extend(replies)

    def hold_after(self, count: int) -> None:
        """Keep the `count`-th mail and every later one waiting for its 250 until release()."""
        with self.lock:
            self.hold_at = count
            self.released.clear()

    def release(self) -> None:
        with self.lock:
            self.hold_at = None
        self.released.set()

    def clear(self) -> None:
        with self.lock:
            self.received.clear()
            self.refused.clear()
            self.replies.clear()
            self.hold_at = None
        self.released.set()

    def to(self, address: str) -> list[Received]:
        with self.lock:
            return [r for r in self.received if address in r.rcpt_tos]

    def wait_for(self, count: int, timeout: float = 10.0) -> list[Received]:
        """Block until at least `count` mails arrived; fail with what did arrive."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if len(self.received) >= count:
                    return list(self.received)
            time.sleep(0.02)
        with self.lock:
            got = [(r.rcpt_tos, r.message["Subject"]) for r in self.received]
        raise AssertionError(f"expected {count} mails within {timeout}s, got {len(got)}: {got}")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
