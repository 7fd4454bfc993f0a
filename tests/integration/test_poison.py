"""A message the database cannot take is quarantined and the mailbox moves on; a database that
cannot be reached keeps the message; one complaint delivered twice is one ticket."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from dovecot import Mailbox
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError
from support import postgres, process
from support.daemon_run import DaemonProcess, wait_until
from support.harness import Harness, write_config
from support.mail import complaint
from support.smtp_sink import Received, SmtpSink

from daemon.store.models import Customer, Message, Quarantined, Ticket
from daemon.values import Disposition

LONG_NAME = "名" * 250  # customers.name is VARCHAR(200)


def long_references() -> dict[str, str]:
    """70,000 Message-IDs, folded one per line as a mail client writes them."""
    return {"References": "\r\n ".join(f"<r{i}@client.example>" for i in range(70_000))}


def refuse_poison(h: Harness) -> None:
    """The database itself refuses any customer whose address starts with "poison"."""
    with h.store.transaction() as s:
        if h.store.dialect == "sqlite":
            s.execute(
                text(
                    "CREATE TRIGGER refuse_poison BEFORE INSERT ON customers"
                    " WHEN NEW.address LIKE 'poison%' BEGIN SELECT RAISE(ABORT, 'refused'); END"
                )
            )
        else:
            s.execute(
                text(
                    "ALTER TABLE customers ADD CONSTRAINT refuse_poison"
                    " CHECK (address NOT LIKE 'poison%')"
                )
            )


def count(h: Harness, model: type[Customer] | type[Quarantined]) -> int:
    with h.session() as s:
        return int(s.scalar(select(func.count()).select_from(model)) or 0)


# --- the two PostgreSQL poison messages, on both databases ---------------------------------


def test_a_display_name_longer_than_its_column_is_filed_cut_to_the_column(harness: Harness):
    outcome = harness.deliver(complaint(name=LONG_NAME, sender="long@example.cn"))
    assert outcome.disposition is Disposition.FILED
    with harness.session() as s:
        (name,) = s.scalars(select(Customer.name)).all()
        (stored,) = s.scalars(select(Message.sender_name)).all()
    assert name == LONG_NAME[:200]
    assert stored == LONG_NAME  # the message row has room for it


def test_seventy_thousand_references_are_filed(harness: Harness):
    outcome = harness.deliver(complaint(headers=long_references()))
    assert outcome.disposition is Disposition.FILED


def test_a_message_the_database_refuses_is_quarantined_and_the_next_is_filed(harness: Harness):
    refuse_poison(harness)
    poison = harness.deliver(complaint("第一封", sender="poison@example.cn"))
    good = harness.deliver(complaint("第二封", sender="good@example.cn"))
    assert (poison.disposition, poison.reason) == (Disposition.QUARANTINED, "unstorable")
    assert good.disposition is Disposition.FILED
    with harness.session() as s:
        (row,) = s.scalars(select(Quarantined)).all()
    assert "Integrity" in row.detail or "Check" in row.detail or "refused" in row.detail


def fail_every_message(h: Harness) -> None:
    """A fault on every insert of a message that a retry might cure, as far as we can tell."""
    with h.store.transaction() as s:
        if h.store.dialect == "sqlite":
            # Resolved when the INSERT is prepared: "no such function" (SQLITE_ERROR).
            s.execute(
                text(
                    "CREATE TRIGGER fail_all BEFORE INSERT ON messages"
                    " BEGIN SELECT no_such_function(1); END"
                )
            )
        else:
            s.execute(
                text(
                    "CREATE FUNCTION fail_all() RETURNS trigger LANGUAGE plpgsql AS"
                    " $$ BEGIN RAISE EXCEPTION 'conflict' USING ERRCODE = '40001'; END $$"
                )
            )
            s.execute(
                text(
                    "CREATE TRIGGER fail_all BEFORE INSERT ON messages"
                    " FOR EACH ROW EXECUTE FUNCTION fail_all()"
                )
            )


def cure(h: Harness) -> None:
    with h.store.transaction() as s:
        s.execute(
            text("DROP TRIGGER fail_all" + (" ON messages" if h.store.dialect != "sqlite" else ""))
        )


def test_a_message_failing_the_same_way_three_times_is_quarantined_on_the_third(
    harness: Harness,
):
    fail_every_message(harness)
    raw = complaint(sender="stuck@example.cn")
    for _ in range(2):
        with pytest.raises(DBAPIError):
            harness.deliver(raw)  # kept by its source, to be tried again
    third = harness.deliver(raw)
    cure(harness)
    after = harness.deliver(complaint(sender="next@example.cn"))
    assert (third.disposition, third.reason) == (Disposition.QUARANTINED, "repeated-failure")
    assert after.disposition is Disposition.FILED
    assert harness.count(Ticket) == 1


def test_a_message_that_fails_once_then_passes_is_filed(harness: Harness):
    fail_every_message(harness)
    raw = complaint(sender="once@example.cn")
    with pytest.raises(DBAPIError):
        harness.deliver(raw)
    cure(harness)
    assert harness.deliver(raw).disposition is Disposition.FILED
    assert count(harness, Quarantined) == 0


# --- the database unreachable --------------------------------------------------------------


@pytest.fixture
def pg_harness(tmp_path: Path, sink: SmtpSink, clock) -> Iterator[tuple[Harness, str]]:
    postgres.require()
    name, url = postgres.create()
    h = Harness(write_config(tmp_path, url, sink.port), clock)
    try:
        yield h, name
    finally:
        h.close()
        with psycopg.connect(postgres.ADMIN_DSN, autocommit=True) as conn:
            conn.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')
        postgres.drop(name)


def test_an_unreachable_database_never_gets_a_message_quarantined(pg_harness):
    h, name = pg_harness
    with psycopg.connect(postgres.ADMIN_DSN, autocommit=True) as conn:
        conn.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false')
        conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (name,)
        )
    raw = complaint(sender="patient@example.cn")
    for _ in range(4):  # more than the strikes that quarantine a message
        with pytest.raises(DBAPIError):
            h.deliver(raw)
    with psycopg.connect(postgres.ADMIN_DSN, autocommit=True) as conn:
        conn.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')
    assert h.deliver(raw).disposition is Disposition.FILED
    assert count(h, Quarantined) == 0


# --- one complaint, two mailboxes ----------------------------------------------------------


def test_one_complaint_without_message_id_delivered_to_two_mailboxes_is_one_ticket(
    harness: Harness, sink: SmtpSink
):
    written = complaint(sender="twice@example.cn", message_id="<x@y>").replace(
        b"Message-ID: <x@y>\r\n", b""
    )
    first = b"Delivered-To: complaints@dealer.example\r\nReceived: from a by mx1; x\r\n" + written
    second = b"Delivered-To: service@dealer.example\r\nReceived: from b by mx2; y\r\n" + written
    outcomes = [harness.deliver(first), harness.deliver(second)]
    assert [o.disposition for o in outcomes] == [Disposition.FILED, Disposition.DUPLICATE]
    assert harness.count(Ticket) == 1
    harness.send_outbox()
    assert len(sink.to("twice@example.cn")) == 1


# --- nothing reflected ---------------------------------------------------------------------


def acknowledgements(h: Harness, sink: SmtpSink) -> list[Received]:
    h.send_outbox()
    return [r for r in sink.received if r.message["Auto-Submitted"] == "auto-replied"]


def test_an_address_used_as_a_display_name_is_never_filed_for_nor_answered(
    harness: Harness, sink: SmtpSink
):
    raw = complaint().replace(
        b"From: =?utf-8?b?5byg5Lyf?= <zhang.wei@example.cn>",
        b"From: victim@x.test <real@sender.test>",
    )
    outcome = harness.deliver(raw)
    (ack,) = acknowledgements(harness, sink)
    assert ack.rcpt_tos == ["real@sender.test"]
    with harness.session() as s:
        assert s.scalars(select(Customer.address)).all() == ["real@sender.test"]
    assert outcome.disposition is Disposition.FILED


def test_a_full_width_address_is_answered_at_its_ascii_form(harness: Harness, sink: SmtpSink):
    raw = complaint().replace(
        b"From: =?utf-8?b?5byg5Lyf?= <zhang.wei@example.cn>",
        "From: ｖｉｃｔｉｍ＠ｘ．ｔｅｓｔ".encode(),
    )
    harness.deliver(raw)
    (ack,) = acknowledgements(harness, sink)
    assert ack.rcpt_tos == ["victim@x.test"]


def test_a_ten_megabyte_subject_and_seventy_thousand_references_give_a_small_answer(
    harness: Harness, sink: SmtpSink
):
    raw = complaint(subject="BIG", headers=long_references())
    harness.deliver(raw.replace(b"Subject: BIG", b"Subject: " + b"A" * (10 * 1024 * 1024)))
    (ack,) = acknowledgements(harness, sink)
    assert len(ack.data) < 8192
    assert len(ack.message["References"].split()) <= 10
    assert "A" * 100 in ack.message["Subject"] and "A" * 121 not in ack.message["Subject"]


# --- through a real mailbox under `complaintd run` -----------------------------------------


@pytest.fixture
def pg_url() -> Iterator[str]:
    postgres.require()
    name, url = postgres.create()
    try:
        yield url
    finally:
        postgres.drop(name)


def mailbox_config(folder: Path, url: str, mb: Mailbox, sink: SmtpSink) -> Path:
    secret = folder / "imap.password"
    secret.write_text(mb.password + "\n")
    table = {
        "name": "complaints",
        "host": mb.server.host,
        "port": mb.server.port,
        "security": "none",
        "username": mb.user,
        "password_file": str(secret),
        "poll_seconds": 3600,
        "timeout_seconds": 5,
        "retry_initial_seconds": 0.2,
        "retry_max_seconds": 1,
    }
    block = "[[mailboxes]]\n" + "".join(
        f"{k} = {json.dumps(v, ensure_ascii=False)}\n" for k, v in table.items()
    )
    return write_config(folder, url, sink.port, block)


def rows(engine: Engine, sql: str) -> list[tuple[object, ...]]:
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(text(sql))]


@pytest.mark.dovecot
def test_poison_messages_ahead_of_a_complaint_in_a_mailbox_do_not_hold_it_up(
    tmp_path: Path, pg_url: str, mailbox: Mailbox, sink: SmtpSink
):
    config = mailbox_config(tmp_path, pg_url, mailbox, sink)
    process.run("db", "upgrade", "--config", config)
    engine = create_engine(pg_url)
    try:
        with engine.begin() as conn:
            conn.execute(
                text(
                    "ALTER TABLE customers ADD CONSTRAINT refuse_poison"
                    " CHECK (address NOT LIKE 'poison%')"
                )
            )
        mailbox.append(complaint("名字太长", name=LONG_NAME, sender="long@example.cn"))
        mailbox.append(complaint("引用太多", sender="refs@example.cn", headers=long_references()))
        mailbox.append(complaint("数据库拒收", sender="poison@example.cn"))
        mailbox.append(complaint("正常投诉", sender="good@example.cn"))

        daemon = DaemonProcess(config, tmp_path / "complaintd.log")
        try:
            wait_until(lambda: len(sink.to("good@example.cn")) == 1, 60, "good acknowledged")
            wait_until(lambda: mailbox.count("INBOX") == 0, 15, "INBOX emptied")
        finally:
            daemon.stop()
        assert mailbox.count("Quarantine") == 1
        assert mailbox.count("Processed") == 3
        assert rows(engine, "SELECT reason FROM quarantine") == [("unstorable",)]
        filed = rows(engine, "SELECT address, length(name) FROM customers ORDER BY id")
        assert filed == [("long@example.cn", 200), ("refs@example.cn", 2), ("good@example.cn", 2)]
    finally:
        engine.dispose()


def test_the_acknowledgement_goes_to_reply_to_only_when_configured(
    tmp_path: Path, db_url: str, sink: SmtpSink, clock
):
    raw = complaint(headers={"Reply-To": "Zhang Wei <zhang.wei@home.example>"})
    h = Harness(
        write_config(tmp_path, db_url, sink.port, "[tickets]\nanswer_reply_to = true"), clock
    )
    try:
        h.deliver(raw)
        (ack,) = acknowledgements(h, sink)
    finally:
        h.close()
    assert ack.rcpt_tos == ["zhang.wei@home.example"]


def test_the_acknowledgement_goes_to_from_by_default_whatever_reply_to_says(
    harness: Harness, sink: SmtpSink
):
    harness.deliver(complaint(headers={"Reply-To": "victim@x.test"}))
    (ack,) = acknowledgements(harness, sink)
    assert ack.rcpt_tos == ["zhang.wei@example.cn"]
