"""Outbox delivery over real SMTP: retries on 4xx, failure on 5xx, never twice once sent."""

from __future__ import annotations

import asyncio
import email
from datetime import timedelta
from email.policy import default

from sqlalchemy import update
from support.harness import Harness, write_config
from support.mail import complaint
from support.smtp_sink import SmtpSink, free_port

from daemon.config import OutboxSettings
from daemon.outbox import FileTransport, deliver_due, lease_for, make_transport, retry_delay
from daemon.store.models import OutboxMail


def _ack(harness: Harness) -> OutboxMail:
    (row,) = [o for o in harness.outbox() if o.kind == "acknowledgement"]
    return row


def test_a_451_is_retried_later_and_then_delivered(harness, sink):
    harness.deliver(complaint(sender="ann@example.cn"))
    sink.answer("451 4.3.0 try again later")
    first = harness.send_outbox()
    row = _ack(harness)
    assert (first.retrying, row.status, row.attempts) == (1, "pending", 1)
    assert "451" in row.last_error
    assert row.next_attempt_at > harness.now()

    assert harness.send_outbox().sent == 0  # not due yet: no hammering the server
    harness.clock.set(row.next_attempt_at)
    assert harness.send_outbox().sent == 1
    assert len(sink.to("ann@example.cn")) == 1
    assert _ack(harness).status == "sent"


def test_a_550_marks_the_mail_failed_with_the_servers_reply(harness, sink):
    harness.deliver(complaint(sender="nobody@example.cn"))
    sink.answer("550 5.1.1 mailbox unavailable")
    report = harness.send_outbox()
    row = _ack(harness)
    assert (report.failed, row.status) == (1, "failed")
    assert row.last_error.startswith("550") and "mailbox unavailable" in row.last_error
    harness.clock.advance(days=3)
    harness.send_outbox()
    assert sink.received == [] and _ack(harness).status == "failed"


def test_a_refused_connection_is_a_temporary_failure(tmp_path, sqlite_url, clock):
    harness = Harness(write_config(tmp_path, sqlite_url, free_port()), clock)
    harness.deliver(complaint())
    report = harness.send_outbox()
    row = _ack(harness)
    assert (report.retrying, row.status) == (1, "pending")
    assert "cannot connect" in row.last_error
    harness.close()


def test_a_mail_recorded_as_sent_is_never_sent_again(harness, sink):
    harness.deliver(complaint(sender="ann@example.cn"))
    harness.send_outbox()
    harness.clock.advance(hours=5)
    with harness.store.transaction() as s:  # even if it looked due again
        s.execute(update(OutboxMail).values(next_attempt_at=harness.now() - timedelta(hours=1)))
    harness.send_outbox()
    assert len(sink.to("ann@example.cn")) == 1


def test_a_mail_still_failing_after_the_give_up_time_is_marked_failed(harness, sink):
    harness.deliver(complaint())
    give_up = harness.settings.outbox.give_up_after_hours
    harness.clock.advance(hours=give_up + 1)
    sink.answer("421 4.7.0 closing connection")
    harness.send_outbox()
    row = _ack(harness)
    assert row.status == "failed"
    assert "gave up" in row.last_error and "421" in row.last_error


def test_a_crashed_workers_claimed_mail_is_sent_once_its_lease_ends(harness, sink):
    harness.deliver(complaint(sender="ann@example.cn"))
    with harness.store.transaction() as s:
        s.execute(
            update(OutboxMail).values(
                status="sending", lease_until=harness.now() + timedelta(minutes=5)
            )
        )
    assert harness.send_outbox().sent == 0
    harness.clock.advance(minutes=6)
    assert harness.send_outbox().sent == 1
    assert len(sink.to("ann@example.cn")) == 1


def _from_internationalised_address() -> bytes:
    return complaint(sender="ann@example.cn").replace(b"ann@example.cn", "安妮@example.cn".encode())


def test_an_internationalised_address_is_acknowledged_over_smtputf8(tmp_path, sqlite_url, clock):
    eai_sink = SmtpSink(smtputf8=True).start()
    harness = Harness(write_config(tmp_path, sqlite_url, eai_sink.port), clock)
    try:
        harness.deliver(_from_internationalised_address())
        assert harness.send_outbox().sent == 1
        (mail,) = eai_sink.to("安妮@example.cn")
        assert mail.message["To"] == "安妮@example.cn"
    finally:
        harness.close()
        eai_sink.stop()


def test_an_internationalised_address_fails_plainly_on_a_server_without_smtputf8(harness, sink):
    harness.deliver(_from_internationalised_address())
    assert harness.send_outbox().failed == 1
    row = _ack(harness)
    assert row.status == "failed" and "SMTPUTF8" in row.last_error


def test_backoff_doubles_and_is_capped():
    s = OutboxSettings(retry_initial_seconds=60, retry_max_seconds=600)
    delays = [retry_delay(n, s, jitter=0.5).total_seconds() for n in (1, 2, 3, 4, 5, 6)]
    assert delays == [60, 120, 240, 480, 600, 600]


def test_file_transport_writes_one_eml_per_mail(tmp_path, sqlite_url, clock):
    config_path = write_config(tmp_path, sqlite_url, 25)
    config_path.write_text(
        config_path.read_text().replace(
            'transport = "smtp"', f'transport = "files"\ndirectory = "{tmp_path / "out"}"'
        )
    )
    harness = Harness(config_path, clock)
    harness.deliver(complaint(sender="ann@example.cn"))
    transport = make_transport(harness.settings.outbox, harness.settings.smtp, harness.clock)
    assert isinstance(transport, FileTransport)
    lease = lease_for(harness.settings.smtp)
    asyncio.run(deliver_due(harness.store, transport, harness.settings.outbox, clock, lease))
    (written,) = (tmp_path / "out").glob("*.eml")
    msg = email.message_from_bytes(written.read_bytes(), policy=default)
    assert msg["X-Envelope-To"] == "ann@example.cn"
    assert msg["Subject"].startswith("[TS-202611-0001]")
    harness.close()
