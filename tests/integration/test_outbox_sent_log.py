"""On SQLite, mail keeps going out while the filing of a batch holds the one write lock: what
the server accepted is written down beside the database and folded into the outbox rows, and a
crash still sends at most the one mail in flight twice."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import update
from support.clock import FakeClock
from support.harness import Harness, write_config
from support.mail import complaint
from support.smtp_sink import SmtpSink

from daemon.outbox import SentLog
from daemon.store.models import OutboxMail


@pytest.fixture
def lite(tmp_path: Path, sqlite_url: str, sink: SmtpSink, clock: FakeClock) -> Iterator[Harness]:
    h = Harness(write_config(tmp_path, sqlite_url, sink.port), clock)
    yield h
    h.close()


def _statuses(h: Harness) -> list[str]:
    return sorted(o.status for o in h.outbox())


def test_mail_goes_out_while_another_writer_holds_the_database_and_is_marked_sent_after(
    lite: Harness, sink: SmtpSink, sqlite_url: str
) -> None:
    for n in range(3):
        lite.deliver(complaint(sender=f"c{n}@example.cn"))
    sink.hold_after(1)  # the first mail waits for its 250 once the outbox has claimed them
    writer = sqlite3.connect(sqlite_url.removeprefix("sqlite:///"), isolation_level=None)
    with ThreadPoolExecutor(1) as pool:
        sending = pool.submit(lite.send_outbox)
        sink.wait_for(1, timeout=30)
        writer.execute("BEGIN IMMEDIATE")  # as a filing batch does, for the whole batch
        try:
            sink.release()
            sink.wait_for(3, timeout=30)  # each accepted and recorded while the lock is held
        finally:
            writer.execute("COMMIT")
        report = sending.result(timeout=60)
    writer.close()
    assert report.sent == 3
    assert _statuses(lite) == ["sent", "sent", "sent"]
    assert lite.store.sent_log is not None and not lite.store.sent_log.exists()


def test_mail_written_down_as_sent_before_a_crash_is_not_sent_again(
    lite: Harness, sink: SmtpSink
) -> None:
    lite.deliver(complaint(sender="ann@example.cn"))
    (row,) = lite.outbox()
    with lite.store.transaction() as s:  # a worker claimed it, sent it, wrote it down, died
        s.execute(
            update(OutboxMail).values(
                status="sending", lease_until=lite.now() + timedelta(minutes=5)
            )
        )
    assert lite.store.sent_log is not None
    SentLog(lite.store.sent_log).append(row.id, lite.now())
    lite.clock.advance(minutes=6)  # its lease has ended

    assert lite.send_outbox().sent == 0
    assert sink.to("ann@example.cn") == []
    assert _statuses(lite) == ["sent"]
