"""daemon.sources.imap against a real Dovecot holding a backlog far past one command line."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
from dovecot import Mailbox
from test_imap_source import Running, StatusLog

from daemon.sources.imap_settings import MailboxSettings
from daemon.values import Batch, Checkpoint, Disposition, Outcome, RawMail, Received

BACKLOG = 30_000


def small_message(i: int) -> bytes:
    return (
        f"From: customer{i}@example.cn\r\nTo: complaints@dealer.example\r\n"
        f"Subject: backlog {i}\r\nMessage-ID: <backlog-{i}@client.example>\r\n"
        f"Date: Mon, 23 Nov 2026 09:00:00 +0800\r\n\r\ncomplaint number {i}\r\n"
    ).encode()


class Tally:
    """Handler and CheckpointStore that only counts: the pipeline would dominate the time."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.uids: list[int] = []
        self.checkpoint: Checkpoint | None = None
        self.done = threading.Event()
        self.expected = 0

    def __call__(self, items: list[Received]) -> Batch:
        return Batch(tuple(self.one(i.raw, i.checkpoint) for i in items if i.checkpoint))

    def one(self, raw: RawMail, checkpoint: Checkpoint) -> Outcome:
        with self.lock:
            self.uids.append(checkpoint.uid)
            self.checkpoint = checkpoint
            if len(self.uids) >= self.expected:
                self.done.set()
        return Outcome(Disposition.FILED, ticket=f"T{checkpoint.uid}")

    def load(self, mailbox: str, folder: str) -> Checkpoint | None:
        with self.lock:
            return self.checkpoint


@pytest.mark.dovecot
@pytest.mark.slow
def test_a_mailbox_with_thirty_thousand_waiting_messages_drains_completely(
    mailbox: Mailbox, tmp_path: Path
) -> None:
    mailbox.deliver_many_to_maildir(small_message(i) for i in range(BACKLOG))
    secret = tmp_path / "password"
    secret.write_text(mailbox.password)
    settings = MailboxSettings(
        name=mailbox.user,
        host=mailbox.server.host,
        port=mailbox.server.port,
        security="none",
        username=mailbox.user,
        password_file=secret,
        idle_seconds=600,
        retry_initial_seconds=0.1,
        retry_max_seconds=0.3,
        timeout_seconds=20,
    )
    tally, status = Tally(), StatusLog()
    tally.expected = BACKLOG
    began = time.monotonic()
    running = Running([settings], tally, status)  # type: ignore[arg-type]
    try:
        assert tally.done.wait(60), (
            f"{len(tally.uids)} of {BACKLOG} handled; failures: {status.of('failed', mailbox.user)}"
        )
        drained = time.monotonic() - began
    finally:
        running.stop()
    assert sorted(tally.uids) == list(range(1, BACKLOG + 1))
    assert status.of("failed", mailbox.user) == []
    assert mailbox.count("INBOX") == 0
    assert mailbox.count("Processed") == BACKLOG
    print(f"drained {BACKLOG} in {drained:.1f}s")
