"""A staff reply through a real mailbox: `complaintd run` on Dovecot mails the assignment, the
handler's reply lands in the watched mailbox, and the ticket moves and the handler is confirmed."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from dovecot import Mailbox
from support.daemon_run import DaemonProcess, query, wait_until
from support.harness import calendar_covering_today, write_config
from support.mail import complaint
from support.org import SERVICE_MANAGER, STORE_ORG
from support.smtp_sink import Received, SmtpSink
from support.staffreply import CUSTOMER, REPAIR, replies_config, reply

pytestmark = pytest.mark.dovecot


@pytest.fixture
def daemon(tmp_path: Path, mailbox: Mailbox, sink: SmtpSink) -> Iterator[DaemonProcess]:
    (tmp_path / "imap.password").write_text(mailbox.password + "\n")
    watched = {
        "name": "intake",
        "host": mailbox.server.host,
        "port": mailbox.server.port,
        "security": "none",
        "username": mailbox.user,
        "password_file": str(tmp_path / "imap.password"),
        "timeout_seconds": 5,
        "retry_initial_seconds": 0.2,
        "retry_max_seconds": 1,
    }
    table = "[[mailboxes]]\n" + "".join(f"{k} = {json.dumps(v)}\n" for k, v in watched.items())
    extra = "\n".join((STORE_ORG, replies_config(tmp_path), table, calendar_covering_today()))
    config = write_config(tmp_path, f"sqlite:///{tmp_path / 'c.db'}", sink.port, extra)
    process = DaemonProcess(config, tmp_path / "complaintd.log")
    process.wait_for_log("complaintd ready", timeout=60)
    yield process
    if process.alive:
        process.stop()


def _mail(sink: SmtpSink, number: str, word: str) -> Received | None:
    """The mail to the service manager about ticket `number` whose subject has `word`."""
    found = [
        m
        for m in sink.to(SERVICE_MANAGER)
        if number in str(m.message["Subject"]) and word in str(m.message["Subject"])
    ]
    return found[0] if found else None


def test_a_reply_to_the_assignment_in_the_mailbox_acknowledges_the_ticket(
    daemon: DaemonProcess, mailbox: Mailbox, sink: SmtpSink, tmp_path: Path
) -> None:
    database = tmp_path / "c.db"
    mailbox.append(complaint(REPAIR, sender=CUSTOMER))
    # Each wait is on a state of this ticket, never on a count of mails: a slow outbox or a
    # mail sent twice cannot make the test read the wrong one.
    wait_until(lambda: bool(query(database, "SELECT number FROM tickets")), 60, "the ticket")
    ((number,),) = query(database, "SELECT number FROM tickets")
    wait_until(lambda: _mail(sink, number, "新投诉") is not None, 60, "the assignment mailed")
    notice = _mail(sink, number, "新投诉")
    assert notice is not None
    mailbox.append(reply(notice, "签收\n下午给客户打电话"))
    wait_until(
        lambda: query(database, "SELECT status FROM tickets") == [("acknowledged",)],
        60,
        "the ticket acknowledged",
    )
    wait_until(lambda: _mail(sink, number, "已执行") is not None, 60, "the confirmation mailed")
    confirmation = _mail(sink, number, "已执行")
    assert confirmation is not None
    assert "已签收" in confirmation.text
