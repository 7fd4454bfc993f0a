"""The shell reads the injected clock, not the wall clock: `complaintd status`, the Maildir
source and the file transport each take their "now" from the Clock they are given."""

from __future__ import annotations

import asyncio
import json
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from support.clock import FakeClock
from support.harness import write_config
from support.mail import complaint
from support.smtp_sink import SmtpSink

from daemon import app, config
from daemon.cli import build_parser
from daemon.health import SourceState
from daemon.outbox import FileTransport
from daemon.sources.maildir import Maildir, drain
from daemon.store import mailboxes
from daemon.values import Batch, Disposition, Outcome, RawMail, Received

FAILED_AT = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)

MAILBOX = """
[service]
mailbox_alert_minutes = 15

[[mailboxes]]
name = "support"
host = "localhost"
security = "none"
username = "support"
password_env = "UNUSED_PASSWORD"
"""


@pytest.fixture
def status_config(tmp_path: Path, db_url: str, sink: SmtpSink) -> Path:
    """A config with one mailbox whose health row says: failing since FAILED_AT."""
    path = write_config(tmp_path, db_url, sink.port, MAILBOX)
    store = app.open_store(config.load(path), upgrade=True)
    try:
        failing = SourceState(
            name="support",
            kind="mailbox",
            last_error="connection refused",
            last_error_at=FAILED_AT,
            failing_since=FAILED_AT,
            heartbeat_at=FAILED_AT,
            changed_at=FAILED_AT,
        )
        mailboxes.save_health(store, [failing], FAILED_AT)
    finally:
        store.dispose()
    return path


def status_at(path: Path, now: datetime, capsys: pytest.CaptureFixture[str]) -> tuple[int, dict]:
    # The handler alone: main() would also set up the process's logging.
    args = build_parser(clock=lambda: now).parse_args(["status", "--json", "--config", str(path)])
    code = args.handler(args)
    return code, json.loads(capsys.readouterr().out)


def test_status_measures_how_long_a_mailbox_has_failed_to_the_injected_clock(
    status_config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    early, _ = status_at(status_config, FAILED_AT + timedelta(minutes=14), capsys)
    late, report = status_at(status_config, FAILED_AT + timedelta(minutes=16), capsys)

    assert early == 0
    assert late == 1
    (row,) = report["mailboxes"]
    assert row["alert_reason"] == "failing for 960s"
    assert report["daemon"]["alert"] == "the daemon has not reported for 960s"


def _deliver(maildir: Path, name: str, mtime: datetime, data: bytes | None = None) -> None:
    (maildir / "new").mkdir(parents=True, exist_ok=True)
    path = maildir / "new" / name
    path.write_bytes(complaint() if data is None else data)
    os.utime(path, (mtime.timestamp(), mtime.timestamp()))


def _drain_at(root: Path, clock: FakeClock) -> list[RawMail]:
    got: list[RawMail] = []

    def handle(items: list[Received]) -> Batch:
        got.extend(item.raw for item in items)
        return Batch(tuple(Outcome(Disposition.FILED) for _ in items))

    box = Maildir(root, "processed", "quarantine")
    box.ensure()
    drain(box, handle, lambda: False, clock)
    return got


def test_a_maildir_file_is_received_when_it_was_delivered(tmp_path: Path) -> None:
    clock = FakeClock(FAILED_AT)
    delivered = FAILED_AT - timedelta(hours=3)
    _deliver(tmp_path / "maildir", "1.M1P1.test", delivered)

    (raw,) = _drain_at(tmp_path / "maildir", clock)

    assert raw.received_at == delivered


def test_a_maildir_file_delivered_after_the_clocks_now_is_received_now(tmp_path: Path) -> None:
    clock = FakeClock(FAILED_AT)
    _deliver(tmp_path / "maildir", "1.M1P1.test", FAILED_AT + timedelta(days=1))

    (raw,) = _drain_at(tmp_path / "maildir", clock)

    assert raw.received_at == FAILED_AT


def test_a_maildir_file_still_empty_seconds_after_delivery_is_left_for_the_next_look(
    tmp_path: Path,
) -> None:
    clock = FakeClock(FAILED_AT)
    _deliver(tmp_path / "maildir", "1.M1P1.test", FAILED_AT - timedelta(seconds=2), b"")

    assert _drain_at(tmp_path / "maildir", clock) == []
    assert (tmp_path / "maildir" / "new" / "1.M1P1.test").exists()


def test_a_maildir_file_that_stays_empty_is_handed_over_to_be_quarantined(
    tmp_path: Path,
) -> None:
    clock = FakeClock(FAILED_AT)
    _deliver(tmp_path / "maildir", "1.M1P1.test", FAILED_AT - timedelta(minutes=5), b"")

    (raw,) = _drain_at(tmp_path / "maildir", clock)

    assert raw.data == b""


def test_the_file_transport_names_each_mail_by_the_injected_clock(tmp_path: Path) -> None:
    clock = FakeClock(FAILED_AT)
    transport = FileTransport(tmp_path / "out", clock)

    async def send() -> None:
        await transport.open()
        await transport.send("a@dealer.example", "b@example.cn", complaint())

    asyncio.run(send())

    (mail,) = (tmp_path / "out").iterdir()
    assert mail.name.startswith(FAILED_AT.astimezone().strftime("%Y%m%dT%H%M%S-"))
