"""The outbox through outages and crashes: an outage is logged once, a crash sends at most the
mail in flight twice (with its own Message-ID), and only one mail's bytes are held at a time."""

from __future__ import annotations

import asyncio
import logging
import os
import re
import tracemalloc
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from support.clock import FakeClock
from support.daemon_run import DaemonProcess, wait_until
from support.harness import Harness, write_config
from support.mail import complaint
from support.smtp_sink import SmtpSink

from daemon.outbox import ServerWatch, deliver_due, lease_for, make_transport
from daemon.store import outgoing

OUTAGE_LOG = "mail server failing"
RECOVERY_LOG = "mail server working again"


def _pass(h: Harness, watch: ServerWatch) -> None:
    transport = make_transport(h.settings.outbox, h.settings.smtp, h.clock)
    lease = lease_for(h.settings.smtp)
    asyncio.run(deliver_due(h.store, transport, h.settings.outbox, h.clock, lease, watch=watch))


def _outbox_lines(records: list[logging.LogRecord]) -> list[logging.LogRecord]:
    return [r for r in records if r.name == "daemon.outbox" and r.levelno >= logging.INFO]


def test_an_outage_with_many_queued_mails_is_logged_once_and_its_end_once(
    tmp_path: Path, db_url: str, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    server = SmtpSink()  # its port is chosen, nothing listens on it yet
    h = Harness(write_config(tmp_path, db_url, server.port), clock)
    try:
        for n in range(20):
            h.deliver(complaint(f"第{n}封投诉：发动机异响。", sender=f"c{n}@example.cn"))
        watch = ServerWatch()
        with caplog.at_level(logging.DEBUG, logger="daemon.outbox"):
            for _ in range(4):  # the outage outlasts several retries of every mail
                _pass(h, watch)
                clock.advance(minutes=30)
            server.start()
            _pass(h, watch)
        assert len(server.received) == 20
        lines = [(r.levelname, r.message) for r in _outbox_lines(caplog.records)]
        lines = [(level, m) for level, m in lines if " sent to " not in m]
        assert [level for level, _ in lines] == ["WARNING", "INFO"]
        assert OUTAGE_LOG in lines[0][1] and "cannot connect" in lines[0][1]
        assert RECOVERY_LOG in lines[1][1] and re.search(r"\d+ mails waiting", lines[1][1])
    finally:
        h.close()
        server.stop()


def test_a_server_answering_4xx_to_every_mail_is_one_warning_not_one_per_mail(
    harness: Harness, sink: SmtpSink, caplog: pytest.LogCaptureFixture
) -> None:
    for n in range(10):
        harness.deliver(complaint(f"第{n}封投诉：刹车异响。", sender=f"d{n}@example.cn"))
    sink.answer(*["451 4.3.0 try again later"] * 10)
    with caplog.at_level(logging.DEBUG, logger="daemon.outbox"):
        _pass(harness, ServerWatch())
    warnings = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 1 and "451" in warnings[0].message
    assert sum("will retry" in r.message for r in caplog.records) == 10  # at DEBUG, per mail


def _maildir_drop(maildir: Path, data: bytes, name: str) -> None:
    for sub in ("tmp", "new", "cur"):
        (maildir / sub).mkdir(parents=True, exist_ok=True)
    (maildir / "tmp" / name).write_bytes(data)
    os.rename(maildir / "tmp" / name, maildir / "new" / name)


def _fast_config(tmp_path: Path, db_url: str, smtp_port: int) -> Path:
    """Retries within a second or two and a short lease (SMTP timeout 1 s), for a process test."""
    path = write_config(tmp_path, db_url, smtp_port)
    path.write_text(
        path.read_text()
        .replace("retry_initial_seconds = 60", "retry_initial_seconds = 0.5")
        .replace("retry_max_seconds = 600", "retry_max_seconds = 1")
        .replace("timeout_seconds = 5", "timeout_seconds = 1")
    )
    return path


@pytest.fixture
def logged(tmp_path: Path) -> Iterator[list[DaemonProcess]]:
    """Daemons started by a test; any still running at the end is killed."""
    started: list[DaemonProcess] = []
    yield started
    for d in started:
        d.kill()


def test_a_running_daemon_logs_an_smtp_outage_once_and_its_end_once(
    tmp_path: Path, sqlite_url: str, logged: list[DaemonProcess]
) -> None:
    server = SmtpSink()
    config = _fast_config(tmp_path, sqlite_url, server.port)
    for n in range(15):
        _maildir_drop(tmp_path / "maildir", complaint(sender=f"e{n}@example.cn"), f"m{n}.eml")
    daemon = DaemonProcess(config, tmp_path / "complaintd.log")
    logged.append(daemon)
    try:
        daemon.wait_for_log(OUTAGE_LOG)
        db = tmp_path / "complaintd.db"
        wait_until(  # every mail has failed more than once: the outage spans many passes
            lambda: _scalar(sqlite_url, "SELECT min(attempts) FROM outbox") >= 3,
            timeout=30,
            what="three attempts per mail",
        )
        server.start()
        server.wait_for(15, timeout=30)
        daemon.wait_for_log(RECOVERY_LOG)
        daemon.stop()
        out = daemon.output()
        assert out.count(OUTAGE_LOG) == 1, out
        assert out.count(RECOVERY_LOG) == 1, out
        assert "will retry" not in out  # per-mail detail is DEBUG
        assert db.exists()
    finally:
        server.stop()


def _alive(daemon: DaemonProcess) -> bool:
    assert daemon.alive, f"daemon exited:\n{daemon.output()[-3000:]}"
    return True


def _scalar(url: str, sql: str) -> int:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return int(conn.execute(text(sql)).scalar() or 0)
    finally:
        engine.dispose()


def test_a_daemon_killed_after_the_server_accepted_a_mail_sends_only_that_mail_again(
    tmp_path: Path, db_url: str, sink: SmtpSink, logged: list[DaemonProcess]
) -> None:
    config = _fast_config(tmp_path, db_url, sink.port)
    total, k = 8, 3
    for n in range(total):
        _maildir_drop(tmp_path / "maildir", complaint(sender=f"f{n}@example.cn"), f"m{n}.eml")
    sink.hold_after(k)  # the k-th mail is accepted, and its 250 not said
    first = DaemonProcess(config, tmp_path / "complaintd.log")
    logged.append(first)
    sink.wait_for(k, timeout=60)
    first.kill()
    sink.release()
    marked = _scalar(db_url, "SELECT count(*) FROM outbox WHERE status = 'sent'")
    assert marked == k - 1  # every mail before the one in flight was marked at its 250

    second = DaemonProcess(config, tmp_path / "complaintd.log")
    logged.append(second)
    wait_until(
        lambda: (
            _alive(second)
            and _scalar(db_url, "SELECT count(*) FROM outbox WHERE status = 'sent'") == total
        ),
        timeout=60,
        what="every acknowledgement marked sent",
    )
    second.stop()
    ids = Counter(r.message["Message-ID"] for r in sink.received)
    assert len(ids) == total
    twice = [mid for mid, n in ids.items() if n > 1]
    assert len(twice) <= 1 and sum(ids.values()) <= total + 1
    if twice:
        assert twice == [sink.received[k - 1].message["Message-ID"]]


def test_a_batch_of_large_mails_is_sent_holding_one_at_a_time(
    tmp_path: Path, db_url: str, clock: FakeClock
) -> None:
    # Written to files, so what is measured is the daemon's side alone, not a server's buffers.
    path = write_config(tmp_path, db_url, 25)
    path.write_text(
        path.read_text().replace(
            'transport = "smtp"', f'transport = "files"\ndirectory = "{tmp_path / "out"}"'
        )
    )
    h = Harness(path, clock)
    size, count = 2_000_000, 8
    line = b"x" * 76 + b"\r\n"
    with h.store.transaction() as session:
        for n in range(count):
            raw = b"Subject: big\r\n\r\n" + line * (size // len(line))
            mail = outgoing.Queued("probe", f"big{n}@example.cn", f"big{n}@t", "big", raw, False)
            cap = outgoing.DailyCap(100, "customer")
            outgoing.enqueue(session, mail, None, clock(), clock(), cap)
            del raw
    tracemalloc.start()
    try:
        _pass(h, ServerWatch())
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
        h.close()
    assert len(list((tmp_path / "out").glob("*.eml"))) == count
    assert peak < 4 * size, f"peak {peak / 1e6:.0f} MB for {count} mails of {size / 1e6:.0f} MB"


def _memory_mb(pid: int) -> dict[str, float]:
    status = Path(f"/proc/{pid}/status").read_text()
    return {
        key: int(re.search(rf"{key}:\s+(\d+) kB", status).group(1)) / 1024  # type: ignore[union-attr]
        for key in ("VmRSS", "VmHWM")
    }


def test_a_daemon_that_sent_large_mails_returns_to_its_idle_memory(
    tmp_path: Path, sqlite_url: str, sink: SmtpSink, logged: list[DaemonProcess]
) -> None:
    size_mb, count = 8, 6
    config = write_config(tmp_path, sqlite_url, sink.port)
    daemon = DaemonProcess(config, tmp_path / "complaintd.log")
    logged.append(daemon)
    daemon.wait_for_log("complaintd ready")
    wait_until(lambda: _scalar(sqlite_url, "SELECT count(*) FROM outbox") == 0, 5, "schema")
    idle = _memory_mb(daemon.pid)["VmRSS"]
    engine = create_engine(sqlite_url)
    line = b"x" * 76 + b"\r\n"
    with engine.begin() as conn:
        for n in range(count):
            raw = b"Subject: big\r\n\r\n" + line * (size_mb * 1_000_000 // len(line))
            conn.execute(
                text(
                    "INSERT INTO outbox (kind, recipient, message_id, subject, raw, status,"
                    " auto_reply, attempts, next_attempt_at, last_error, created_at)"
                    " VALUES ('probe', :r, :m, 'big', :raw, 'pending', 0, 0, :t, '', :t)"
                ),
                {"r": f"big{n}@example.cn", "m": f"big{n}@t", "raw": raw, "t": "2000-01-01"},
            )
    engine.dispose()
    sink.wait_for(count, timeout=60)
    wait_until(
        lambda: _scalar(sqlite_url, "SELECT count(*) FROM outbox WHERE status = 'sent'") == count,
        timeout=30,
        what="every large mail marked sent",
    )
    after = _memory_mb(daemon.pid)
    assert after["VmHWM"] - idle < 10 * size_mb, after  # bounded by one mail, not the batch
    assert after["VmRSS"] - idle < 3 * size_mb, after  # and given back
