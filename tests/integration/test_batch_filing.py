"""A fetched batch is filed in one transaction: straight through when every message files, else
again with each message in a savepoint of its own. One bad message fails alone, an unreachable
database commits nothing, and the mailbox checkpoint commits with the tickets of the messages
before it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from dovecot import Mailbox
from sqlalchemy import event, func, select, text
from sqlalchemy.exc import DBAPIError
from support.daemon_run import DaemonProcess, wait_until
from support.harness import Harness, write_config
from support.mail import complaint
from support.smtp_sink import SmtpSink

from daemon.pipeline import process_batch
from daemon.store.mailboxes import Checkpoints
from daemon.store.models import (
    Customer,
    Message,
    OutboxMail,
    Quarantined,
    Ticket,
    TicketClock,
    TicketEvent,
)
from daemon.values import Batch, Checkpoint, Disposition, RawMail, Received

MAILBOX, FOLDER, UIDVALIDITY = "complaints", "INBOX", 7


def fetched(h: Harness, senders: list[str], first_uid: int = 1) -> list[Received]:
    """A batch as the IMAP source hands it over: each message with its checkpoint."""
    return [
        Received(
            RawMail(complaint(f"第{uid}封投诉", sender=sender), f"imap:uid {uid}", h.clock()),
            Checkpoint(MAILBOX, FOLDER, UIDVALIDITY, uid),
        )
        for uid, sender in enumerate(senders, start=first_uid)
    ]


def checkpoint(h: Harness) -> int | None:
    saved = Checkpoints(h.store).load(MAILBOX, FOLDER)
    return None if saved is None else saved.uid


def count(
    h: Harness, model: type[Ticket] | type[Quarantined] | type[Message] | type[OutboxMail]
) -> int:
    with h.session() as s:
        return int(s.scalar(select(func.count()).select_from(model)) or 0)


def refuse_poison(h: Harness) -> None:
    """The database refuses to store a message from an address starting with "poison": late in
    filing it, after its customer and ticket rows are written, so a savepoint must undo them."""
    with h.store.transaction() as s:
        if h.store.dialect == "sqlite":
            s.execute(
                text(
                    "CREATE TRIGGER refuse_poison BEFORE INSERT ON messages"
                    " WHEN NEW.sender LIKE 'poison%' BEGIN SELECT RAISE(ABORT, 'refused'); END"
                )
            )
        else:
            s.execute(
                text(
                    "ALTER TABLE messages ADD CONSTRAINT refuse_poison"
                    " CHECK (sender NOT LIKE 'poison%')"
                )
            )


def dispositions(batch: Batch) -> list[Disposition]:
    return [o.disposition for o in batch.outcomes]


# --- one bad message fails alone -----------------------------------------------------------


def test_a_poison_message_mid_batch_is_quarantined_and_the_others_filed(harness: Harness):
    refuse_poison(harness)
    senders = ["a@example.cn", "b@example.cn", "poison@example.cn", "c@example.cn"]

    batch = process_batch(fetched(harness, senders), harness.deps)

    assert batch.error is None
    assert dispositions(batch) == [
        Disposition.FILED,
        Disposition.FILED,
        Disposition.QUARANTINED,
        Disposition.FILED,
    ]
    assert batch.outcomes[2].reason == "unstorable"
    assert count(harness, Ticket) == 3
    assert count(harness, Quarantined) == 1
    with harness.session() as s:  # nothing of the poison message outlived its savepoint
        addresses = set(s.scalars(select(Customer.address)))
    assert "poison@example.cn" not in addresses
    assert checkpoint(harness) == 4


def test_a_batch_filed_again_after_a_failure_queues_each_acknowledgement_once(
    harness: Harness,
):
    refuse_poison(harness)
    senders = ["a@example.cn", "b@example.cn", "poison@example.cn", "c@example.cn"]

    process_batch(fetched(harness, senders), harness.deps)

    with harness.session() as s:
        acknowledged = list(s.scalars(select(OutboxMail.recipient).order_by(OutboxMail.id)))
    assert acknowledged == ["a@example.cn", "b@example.cn", "c@example.cn"]


def test_a_batch_where_every_message_files_takes_no_savepoint(harness: Harness):
    statements: list[str] = []

    def seen(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        statements.append(statement)

    event.listen(harness.store.engine, "before_cursor_execute", seen)
    try:
        batch = process_batch(fetched(harness, ["a@example.cn", "b@example.cn"]), harness.deps)
    finally:
        event.remove(harness.store.engine, "before_cursor_execute", seen)

    assert dispositions(batch) == [Disposition.FILED] * 2
    assert not [s for s in statements if "SAVEPOINT" in s.upper()]


def test_a_batchs_audit_entries_and_clocks_are_written_in_one_statement_each(
    harness: Harness,
):
    statements: list[str] = []

    def seen(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        statements.append(" ".join(statement.split()).upper())

    senders = ["a@example.cn", "b@example.cn", "c@example.cn"]
    event.listen(harness.store.engine, "before_cursor_execute", seen)
    try:
        batch = process_batch(fetched(harness, senders), harness.deps)
    finally:
        event.remove(harness.store.engine, "before_cursor_execute", seen)

    assert dispositions(batch) == [Disposition.FILED] * 3
    assert len([s for s in statements if s.startswith("INSERT INTO TICKET_EVENTS")]) == 1
    assert len([s for s in statements if s.startswith("INSERT INTO CLOCKS")]) == 1
    assert len([s for s in statements if s.startswith("UPDATE TICKET_COUNTERS")]) == 1
    with harness.session() as s:
        opened = s.scalars(select(TicketEvent.ticket_id).where(TicketEvent.kind == "opened"))
        clocked = s.scalars(select(TicketClock.ticket_id).distinct())
        assert sorted(opened) == sorted(clocked) == sorted(s.scalars(select(Ticket.id)))


def test_a_message_filed_alone_takes_its_serial_without_writing_the_counter_back(
    harness: Harness,
):
    statements: list[str] = []

    def seen(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        statements.append(" ".join(statement.split()).upper())

    event.listen(harness.store.engine, "before_cursor_execute", seen)
    try:
        batch = process_batch(fetched(harness, ["a@example.cn"]), harness.deps)
    finally:
        event.remove(harness.store.engine, "before_cursor_execute", seen)

    assert dispositions(batch) == [Disposition.FILED]
    assert len([s for s in statements if "TICKET_COUNTERS" in s]) == 1  # the upsert alone


def test_a_batch_filed_again_after_a_failure_keeps_each_tickets_trail_and_clocks(
    harness: Harness,
):
    refuse_poison(harness)
    senders = ["a@example.cn", "poison@example.cn", "c@example.cn"]

    process_batch(fetched(harness, senders), harness.deps)

    with harness.session() as s:
        tickets = sorted(s.scalars(select(Ticket.id)))
        opened = s.scalars(select(TicketEvent.ticket_id).where(TicketEvent.kind == "opened"))
        clocked = s.scalars(select(TicketClock.ticket_id).distinct())
        assert len(tickets) == 2
        assert sorted(opened) == sorted(clocked) == tickets


def test_the_checkpoint_commits_once_at_the_last_message_of_the_batch(harness: Harness):
    senders = ["a@example.cn", "b@example.cn", "c@example.cn"]

    batch = process_batch(fetched(harness, senders, first_uid=10), harness.deps)

    assert dispositions(batch) == [Disposition.FILED] * 3
    assert (checkpoint(harness), count(harness, Ticket)) == (12, 3)


# --- an unreachable database: nothing of the batch is committed ----------------------------


class DiskFull:
    """The database runs out of room when a message from `full@` is written: SQLite's file is
    capped a little above its size (SQLITE_FULL), PostgreSQL answers disk_full (53100). Both
    say the database, not the message: unreachable."""

    sender = "full@example.cn"

    def __init__(self, h: Harness) -> None:
        self.h = h
        engine = h.store.engine
        if h.store.dialect == "sqlite":
            with engine.connect() as conn:
                self.pages = int(conn.exec_driver_sql("PRAGMA page_count").scalar() or 0)
            engine.dispose()
            event.listen(engine, "connect", self._cap)
            return
        with h.store.transaction() as s:
            s.execute(
                text(
                    "CREATE FUNCTION disk_full() RETURNS trigger LANGUAGE plpgsql AS"
                    " $$ BEGIN RAISE EXCEPTION 'could not extend file' USING ERRCODE = '53100';"
                    " END $$"
                )
            )
            s.execute(
                text(
                    "CREATE TRIGGER disk_full BEFORE INSERT ON customers FOR EACH ROW"
                    " WHEN (NEW.address LIKE 'full%') EXECUTE FUNCTION disk_full()"
                )
            )

    def _cap(self, dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.execute(f"PRAGMA max_page_count = {self.pages + 128}")

    def message(self, uid: int) -> RawMail:
        """On SQLite, more than the cap leaves room for."""
        text_ = "很长的投诉，" * 60_000 if self.h.store.dialect == "sqlite" else "投诉"
        return RawMail(complaint(text_, sender=self.sender), f"imap:uid {uid}", self.h.clock())

    def recover(self) -> None:
        if self.h.store.dialect == "sqlite":
            event.remove(self.h.store.engine, "connect", self._cap)
            self.h.store.engine.dispose()
            return
        with self.h.store.transaction() as s:
            s.execute(text("DROP TRIGGER disk_full ON customers"))


def test_an_unreachable_database_mid_batch_commits_nothing_and_the_batch_files_after(
    harness: Harness,
):
    full = DiskFull(harness)
    items = fetched(harness, ["a@example.cn", "b@example.cn", "x@example.cn", "c@example.cn"])
    items[2] = Received(full.message(3), items[2].checkpoint)

    with pytest.raises(DBAPIError):
        process_batch(items, harness.deps)
    assert (count(harness, Message), count(harness, Quarantined)) == (0, 0)
    assert checkpoint(harness) is None

    full.recover()
    batch = process_batch(items, harness.deps)
    assert dispositions(batch) == [Disposition.FILED] * 4
    assert (count(harness, Ticket), checkpoint(harness)) == (4, 4)


def test_an_unreachable_database_is_met_once_not_again_message_by_message(harness: Harness):
    full = DiskFull(harness)
    items = fetched(harness, ["a@example.cn", "b@example.cn", "x@example.cn"])
    items[2] = Received(full.message(3), items[2].checkpoint)
    tries: list[str] = []  # the first message's customer, each time it is written

    def seen(_conn: Any, _cursor: Any, statement: str, params: Any, *_: Any) -> None:
        values = params.values() if isinstance(params, dict) else params
        if statement.startswith("INSERT INTO customers") and "a@example.cn" in values:
            tries.append(statement)

    event.listen(harness.store.engine, "before_cursor_execute", seen)
    try:
        with pytest.raises(DBAPIError):
            process_batch(items, harness.deps)
    finally:
        event.remove(harness.store.engine, "before_cursor_execute", seen)
    full.recover()

    assert len(tries) == 1  # filed once, not again message by message after the outage


# --- a fault that might pass: the messages before it commit --------------------------------


def stall(h: Harness) -> None:
    """A fault storing a message from `stuck@`, after its customer and ticket rows are written,
    that names neither the database nor the message: the kind a second try might cure
    (SQLite: an integer overflow at run time; PostgreSQL: a serialization failure)."""
    with h.store.transaction() as s:
        if h.store.dialect == "sqlite":
            s.execute(
                text(
                    "CREATE TRIGGER stall BEFORE INSERT ON messages"
                    " WHEN NEW.sender LIKE 'stuck%'"
                    " BEGIN SELECT abs(-9223372036854775807 - 1); END"
                )
            )
        else:
            s.execute(
                text(
                    "CREATE FUNCTION stall() RETURNS trigger LANGUAGE plpgsql AS"
                    " $$ BEGIN RAISE EXCEPTION 'conflict' USING ERRCODE = '40001'; END $$"
                )
            )
            s.execute(
                text(
                    "CREATE TRIGGER stall BEFORE INSERT ON messages FOR EACH ROW"
                    " WHEN (NEW.sender LIKE 'stuck%') EXECUTE FUNCTION stall()"
                )
            )


def test_an_unclear_fault_commits_the_messages_before_it_and_the_checkpoint_stops_there(
    harness: Harness,
):
    stall(harness)
    items = fetched(harness, ["a@example.cn", "b@example.cn", "stuck@example.cn", "c@example.cn"])

    batch = process_batch(items, harness.deps)

    assert dispositions(batch) == [Disposition.FILED, Disposition.FILED]
    assert isinstance(batch.error, DBAPIError)
    assert (count(harness, Ticket), checkpoint(harness)) == (2, 2)
    assert count(harness, Quarantined) == 0
    with harness.session() as s:  # rolled back to its savepoint: no customer row left
        assert "stuck@example.cn" not in set(s.scalars(select(Customer.address)))


def test_the_source_retrying_from_the_stalled_message_quarantines_it_on_the_third_try(
    harness: Harness,
):
    stall(harness)
    items = fetched(harness, ["a@example.cn", "stuck@example.cn", "c@example.cn"])
    first = process_batch(items, harness.deps)
    second = process_batch(items[len(first.outcomes) :], harness.deps)
    third = process_batch(items[len(first.outcomes) :], harness.deps)

    assert (len(first.outcomes), len(second.outcomes)) == (1, 0)
    assert third.error is None
    assert [(o.disposition, o.reason) for o in third.outcomes] == [
        (Disposition.QUARANTINED, "repeated-failure"),
        (Disposition.FILED, ""),
    ]
    assert (count(harness, Ticket), checkpoint(harness)) == (2, 3)


# --- a real mailbox ------------------------------------------------------------------------


@pytest.mark.dovecot
def test_a_batch_of_fifty_with_one_poison_files_49_quarantines_one_and_moves_all(
    tmp_path: Path, db_url: str, sink: SmtpSink, mailbox: Mailbox, clock
):
    secret = tmp_path / "imap.password"
    secret.write_text(mailbox.password + "\n")
    table = {
        "name": "complaints",
        "host": mailbox.server.host,
        "port": mailbox.server.port,
        "security": "none",
        "username": mailbox.user,
        "password_file": str(secret),
        "poll_seconds": 3600,
        "batch_size": 50,
    }
    block = "[[mailboxes]]\n" + "".join(f"{k} = {json.dumps(v)}\n" for k, v in table.items())
    config = write_config(tmp_path, db_url, sink.port, block)
    h = Harness(config, clock)  # brings the schema up, so the trigger has a table to sit on
    try:
        refuse_poison(h)
        senders = [f"c{i}@example.cn" for i in range(50)]
        senders[25] = "poison@example.cn"
        mailbox.append_many(complaint(f"批量{i}", sender=s) for i, s in enumerate(senders))
        daemon = DaemonProcess(config, tmp_path / "complaintd.log")
        try:
            wait_until(
                lambda: mailbox.count("Processed") + mailbox.count("Quarantine") == 50,
                60,
                "all 50 moved",
            )
        finally:
            daemon.stop()
        assert (mailbox.count("Processed"), mailbox.count("Quarantine")) == (49, 1)
        assert mailbox.count("INBOX") == 0
        assert (count(h, Ticket), count(h, Quarantined)) == (49, 1)
    finally:
        h.close()
