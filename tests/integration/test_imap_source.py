"""daemon.sources.imap against a real Dovecot: push, moves, crashes, outages, XOAUTH2."""

from __future__ import annotations

import asyncio
import email
import hashlib
import json
import logging
import socket
import ssl
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import pytest
from dovecot import Dovecot, Mailbox
from support.mail import complaint

from daemon.sources import imap
from daemon.sources.imap import watch
from daemon.sources.imap_settings import MailboxSettings
from daemon.values import Batch, Checkpoint, Disposition, Outcome, RawMail, Received


def utc_now() -> datetime:
    return datetime.now(UTC)


# --- a pipeline and status table in miniature ----------------------------------------------


@dataclass
class Handled:
    raw: RawMail
    checkpoint: Checkpoint
    outcome: Outcome
    at: float = field(default_factory=time.time)  # comparable with LogRecord.created

    @property
    def subject(self) -> str:
        return str(email.message_from_bytes(self.raw.data)["Subject"])


class Ledger:
    """Handler and CheckpointStore at once: dedupe by Message-ID (else hash), and the
    checkpoint stored with the outcome under one lock, as the real pipeline does in one
    transaction. Subjects containing "quarantine" are quarantined."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.keys: set[str] = set()
        self.handled: list[Handled] = []
        self.checkpoints: dict[tuple[str, str], Checkpoint] = {}

    def __call__(self, items: list[Received]) -> Batch:
        """A fetched batch, one message at a time; a raise leaves the batch unfiled."""
        outcomes = []
        for item in items:
            assert item.checkpoint is not None
            outcomes.append(self.one(item.raw, item.checkpoint))
        return Batch(tuple(outcomes))

    def one(self, raw: RawMail, checkpoint: Checkpoint) -> Outcome:
        msg = email.message_from_bytes(raw.data)
        mid = str(msg.get("Message-ID", "")).strip().strip("<>") or None
        key = mid or hashlib.sha256(raw.data).hexdigest()
        with self.lock:
            if key in self.keys:
                outcome = Outcome(Disposition.DUPLICATE, "duplicate", message_id=mid)
            elif "quarantine" in str(msg.get("Subject", "")).lower():
                outcome = Outcome(Disposition.QUARANTINED, "test", message_id=mid)
            else:
                ticket = f"TS-202611-{len(self.keys) + 1:04d}"
                outcome = Outcome(Disposition.FILED, ticket=ticket, message_id=mid)
            self.keys.add(key)
            self.checkpoints[(checkpoint.mailbox, checkpoint.folder)] = checkpoint
            self.handled.append(Handled(raw, checkpoint, outcome))
        return outcome

    def load(self, mailbox: str, folder: str) -> Checkpoint | None:
        with self.lock:
            return self.checkpoints.get((mailbox, folder))

    def commit_earlier(self, data: bytes, checkpoint: Checkpoint) -> None:
        """As if this message had been filed before a crash, checkpoint included."""
        mid = str(email.message_from_bytes(data)["Message-ID"]).strip("<>")
        with self.lock:
            self.keys.add(mid)
            self.checkpoints[(checkpoint.mailbox, checkpoint.folder)] = checkpoint

    def for_mailbox(self, name: str) -> list[Handled]:
        with self.lock:
            return [h for h in self.handled if h.checkpoint.mailbox == name]

    def wait_for(
        self, count: int, mailbox: str | None = None, timeout: float = 5.0
    ) -> list[Handled]:
        deadline = time.monotonic() + timeout
        while True:
            with self.lock:
                got = [h for h in self.handled if mailbox in (None, h.checkpoint.mailbox)]
            if len(got) >= count or time.monotonic() > deadline:
                break
            time.sleep(0.01)
        assert len(got) >= count, f"expected {count} handled, got {[h.subject for h in got]}"
        return got


@dataclass
class StatusLog:
    events: list[tuple[str, str, Any]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def connected(self, mailbox: str, at: datetime) -> None:
        self._add("connected", mailbox, at)

    def fetched(self, mailbox: str, at: datetime, waiting: int) -> None:
        self._add("fetched", mailbox, waiting)

    def failed(self, mailbox: str, at: datetime, error: str) -> None:
        self._add("failed", mailbox, error)

    def alive(self, mailbox: str, at: datetime) -> None:
        self._add("alive", mailbox, at)

    def _add(self, kind: str, mailbox: str, value: Any) -> None:
        with self.lock:
            self.events.append((kind, mailbox, value))

    def of(self, kind: str, mailbox: str) -> list[Any]:
        with self.lock:
            return [v for k, m, v in self.events if k == kind and m == mailbox]

    def wait_for(self, kind: str, mailbox: str, count: int = 1, timeout: float = 5.0) -> list[Any]:
        deadline = time.monotonic() + timeout
        while len(self.of(kind, mailbox)) < count and time.monotonic() < deadline:
            time.sleep(0.01)
        got = self.of(kind, mailbox)
        assert len(got) >= count, f"expected {count} {kind} for {mailbox}, got {self.events}"
        return got


class Running:
    """watch() for some mailboxes on an event loop in a background thread, as the daemon runs it."""

    def __init__(
        self,
        mailboxes: list[MailboxSettings],
        ledger: Ledger,
        status: StatusLog,
        wake: Callable[[], None] | None = None,
    ) -> None:
        self.loop = asyncio.new_event_loop()
        self.started = threading.Event()
        self.errors: list[BaseException] = []
        self._stop: asyncio.Event | None = None

        async def main() -> None:
            self._stop = asyncio.Event()
            self.started.set()
            results = await asyncio.gather(
                *(watch(m, ledger, ledger, status, self._stop, utc_now, wake) for m in mailboxes),
                return_exceptions=True,
            )
            self.errors += [r for r in results if isinstance(r, BaseException)]

        self.thread = threading.Thread(target=self.loop.run_until_complete, args=(main(),))
        self.thread.start()
        self.started.wait(5)

    def stop(self, timeout: float = 10.0) -> float:
        """Set stop; returns how long watch() took to return."""
        began = time.monotonic()
        if self._stop is not None and self.thread.is_alive():
            self.loop.call_soon_threadsafe(self._stop.set)
        self.thread.join(timeout)
        assert not self.thread.is_alive(), "watch() did not return after stop"
        self.loop.close()
        assert not self.errors, self.errors
        return time.monotonic() - began


@pytest.fixture
def ledger() -> Ledger:
    return Ledger()


@pytest.fixture
def status() -> StatusLog:
    return StatusLog()


@pytest.fixture
def settings_for(tmp_path: Path) -> Callable[..., MailboxSettings]:
    """MailboxSettings for a test mailbox: plain IMAP on loopback, fast retries."""

    def make(mb: Mailbox, password: str | None = None, **overrides: Any) -> MailboxSettings:
        secret = tmp_path / f"{mb.user}.password"
        secret.write_text(password if password is not None else mb.password)
        base = MailboxSettings(
            name=mb.user,
            host=mb.server.host,
            port=mb.server.port,
            security="none",
            username=mb.user,
            password_file=secret,
            poll_seconds=600,
            retry_initial_seconds=0.1,
            retry_max_seconds=0.3,
            timeout_seconds=5,
        )
        return replace(base, **overrides)

    return make


@pytest.fixture
def run(ledger: Ledger, status: StatusLog) -> Iterator[Callable[..., Running]]:
    started: list[Running] = []

    def start(*mailboxes: MailboxSettings, wake: Callable[[], None] | None = None) -> Running:
        running = Running(list(mailboxes), ledger, status, wake)
        started.append(running)
        return running

    yield start
    for running in started:
        if running.thread.is_alive():
            running.stop()


def subjects(mb: Mailbox, folder: str) -> list[str]:
    return [str(email.message_from_bytes(m)["Subject"]) for m in mb.messages(folder)]


@pytest.fixture
def idling(caplog: pytest.LogCaptureFixture) -> Callable[..., None]:
    """Waits until a mailbox's worker says it is in IDLE (after `since`, a time.time()): it has
    dealt with everything it found and waits for news from the server."""
    caplog.set_level(logging.DEBUG, logger="daemon.sources.imap")

    def wait(name: str, since: float = 0.0, timeout: float = 5.0) -> None:
        wait_until(
            lambda: any(
                r.created >= since and r.getMessage().startswith(f"{name}: in IDLE")
                for r in list(caplog.records)
            ),
            timeout,
        )

    return wait


def logged(caplog: pytest.LogCaptureFixture, text: str) -> bool:
    return any(text in r.getMessage() for r in list(caplog.records))


def wait_until(predicate: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.02)


# --- push, moves, flags ----------------------------------------------------------------------


@pytest.mark.dovecot
def test_mail_appended_while_idling_reaches_the_handler_within_two_seconds(
    mailbox, settings_for, run, ledger, idling
):
    run(settings_for(mailbox, poll_seconds=600))
    idling(mailbox.user)
    appended = time.monotonic()
    mailbox.append(complaint(subject="idle-push"))
    (handled,) = ledger.wait_for(1, timeout=2.0)
    assert time.monotonic() - appended < 2.0
    assert handled.subject == "idle-push"


@pytest.mark.dovecot
def test_a_message_already_read_in_outlook_is_still_processed(mailbox, settings_for, run, ledger):
    mailbox.append(complaint(subject="read-by-someone"), seen=True)
    run(settings_for(mailbox))
    (handled,) = ledger.wait_for(1)
    assert handled.outcome.disposition is Disposition.FILED
    wait_until(lambda: mailbox.count("Processed") == 1)
    assert mailbox.count("INBOX") == 0


@pytest.mark.dovecot
def test_fetching_leaves_unread_mail_unread(mailbox, settings_for, run, ledger):
    mailbox.append(complaint(subject="unread"))
    run(settings_for(mailbox))
    ledger.wait_for(1)
    wait_until(lambda: mailbox.count("Processed") == 1)
    (flags,) = mailbox.flags("Processed")
    assert b"\\Seen" not in flags


@pytest.mark.dovecot
def test_a_quarantined_message_moves_to_the_quarantine_folder(mailbox, settings_for, run, ledger):
    mailbox.append(complaint(subject="please quarantine me"))
    mailbox.append(complaint(subject="a normal complaint"))
    run(settings_for(mailbox))
    ledger.wait_for(2)
    wait_until(lambda: mailbox.count("INBOX") == 0)
    assert subjects(mailbox, "Quarantine") == ["please quarantine me"]
    assert subjects(mailbox, "Processed") == ["a normal complaint"]


@pytest.mark.dovecot
def test_the_handler_gets_the_bytes_and_a_checkpoint_for_each_uid(
    mailbox, settings_for, run, ledger
):
    data = complaint(subject="bytes")
    uid = mailbox.append(data)
    run(settings_for(mailbox))
    (handled,) = ledger.wait_for(1)
    assert handled.raw.data == data
    assert handled.checkpoint == Checkpoint(mailbox.user, "INBOX", mailbox.uidvalidity(), uid)
    assert handled.raw.origin.endswith(f";UID={uid}")
    assert handled.raw.received_at.tzinfo is not None


@pytest.mark.dovecot
def test_wake_is_called_after_a_batch_that_handled_mail(mailbox, settings_for, run, ledger):
    woken = threading.Event()
    mailbox.append(complaint())
    run(settings_for(mailbox), wake=woken.set)
    ledger.wait_for(1)
    assert woken.wait(2)


@pytest.mark.dovecot
def test_stop_is_honoured_within_two_seconds_while_idling(mailbox, settings_for, run, idling):
    running = run(settings_for(mailbox))
    idling(mailbox.user)
    assert running.stop() < 2.0


def test_a_server_that_never_answers_does_not_hold_up_stop(settings_for, run, tmp_path):
    with socket.socket() as silent:  # accepts connections, never sends a greeting
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        port = silent.getsockname()[1]
        settings = MailboxSettings(
            name="silent",
            host="127.0.0.1",
            port=port,
            security="none",
            username="x",
            password_env="UNUSED",
            timeout_seconds=30,
        )
        running = run(settings)
        silent.settimeout(5)
        held, _ = silent.accept()  # the worker has connected and waits for the greeting
        with held:
            assert running.stop() < 4.0


@pytest.mark.dovecot
def test_a_large_backlog_is_fetched_in_batches_and_waiting_counts_down(
    mailbox, settings_for, run, ledger, status
):
    mailbox.append_many(complaint(subject=f"backlog {i}") for i in range(12))
    run(settings_for(mailbox, batch_size=5))
    ledger.wait_for(12)
    assert status.wait_for("fetched", mailbox.user, 3)[:3] == [7, 2, 0]
    assert [h.checkpoint.uid for h in ledger.handled] == list(range(1, 13))


class AppendingLedger(Ledger):
    """A Ledger that, while handling the message with subject `trigger`, has another client
    APPEND `arrival`: new mail that reaches the server in the middle of a drain."""

    def __init__(self, mailbox: Mailbox, trigger: str, arrival: bytes) -> None:
        super().__init__()
        self.mailbox, self.trigger, self.arrival = mailbox, trigger, arrival
        self.times: list[float] = []  # time.monotonic() of each handling

    def one(self, raw: RawMail, checkpoint: Checkpoint) -> Outcome:
        outcome = super().one(raw, checkpoint)
        self.times.append(time.monotonic())
        if self.handled[-1].subject == self.trigger:
            self.mailbox.append(self.arrival)
        return outcome


@pytest.mark.dovecot
@pytest.mark.parametrize("trigger", ["backlog 0", "backlog 11"], ids=["first", "last"])
def test_mail_appended_during_a_drain_is_handed_over_right_after_the_drain(
    mailbox, settings_for, status, trigger
):
    mailbox.append_many(complaint(subject=f"backlog {i}") for i in range(12))
    ledger = AppendingLedger(mailbox, trigger, complaint(subject="arrived during the drain"))
    running = Running([settings_for(mailbox, batch_size=5, idle_seconds=600)], ledger, status)
    try:
        handled = ledger.wait_for(13, timeout=5.0)
    finally:
        running.stop()
    assert handled[-1].subject == "arrived during the drain"
    # Right after the backlog's last message, not at the next arrival or IDLE renewal.
    assert ledger.times[-1] - ledger.times[-2] < 2.0


@pytest.mark.dovecot
def test_a_status_sink_that_raises_does_not_stop_the_worker(mailbox, settings_for, ledger, caplog):
    class DatabaseDown(StatusLog):
        def _add(self, kind: str, mailbox: str, value: Any) -> None:
            super()._add(kind, mailbox, value)
            raise RuntimeError("database is down")

    caplog.set_level(logging.DEBUG, logger="daemon.sources.imap")
    status = DatabaseDown()
    mailbox.append(complaint(subject="before"))
    running = Running([settings_for(mailbox)], ledger, status)
    try:
        ledger.wait_for(1)
        status.wait_for("alive", mailbox.user)  # idling
        mailbox.append(complaint(subject="after"))
        handled = ledger.wait_for(2)
    finally:
        running.stop()  # asserts watch() did not end with an exception
    assert [h.subject for h in handled] == ["before", "after"]
    about = [r for r in caplog.records if "mailbox health record" in r.getMessage()]
    (warning,) = [r for r in about if r.levelno >= logging.WARNING]
    assert "database is down" in warning.getMessage()
    assert len(about) > 1, "later failures are logged at DEBUG"


@pytest.mark.dovecot
def test_a_pipeline_failure_keeps_the_message_and_later_mail_waits_behind_it(
    mailbox, settings_for, caplog
):
    class Outage(Ledger):
        """The database refuses the first two attempts at "first"; health cannot be
        recorded either, as when the one database holds both."""

        attempts = 0

        def one(self, raw: RawMail, checkpoint: Checkpoint) -> Outcome:
            if b"Subject: first" in raw.data and self.attempts < 2:
                self.attempts += 1
                raise ConnectionRefusedError("database unreachable")
            return super().one(raw, checkpoint)

    class DatabaseDown(StatusLog):
        def _add(self, kind: str, mailbox: str, value: Any) -> None:
            super()._add(kind, mailbox, value)
            raise RuntimeError("database is down")

    caplog.set_level(logging.DEBUG, logger="daemon.sources.imap")
    ledger, status = Outage(), DatabaseDown()
    mailbox.append_many([complaint(subject="first"), complaint(subject="second")])
    running = Running([settings_for(mailbox)], ledger, status)
    try:
        handled = ledger.wait_for(2)
    finally:
        running.stop()
    assert ledger.attempts == 2
    assert [(h.subject, h.outcome.disposition) for h in handled] == [
        ("first", Disposition.FILED),
        ("second", Disposition.FILED),
    ]
    assert status.of("failed", mailbox.user) == ["connection refused"]
    wait_until(lambda: mailbox.count("INBOX") == 0)


@pytest.mark.dovecot
def test_alive_is_reported_after_each_handled_batch(
    mailbox, settings_for, run, ledger, status, monkeypatch
):
    monkeypatch.setattr(imap, "_ALIVE_SECONDS", 600.0)  # only the batches report
    mailbox.append_many([complaint(subject=f"m{i}") for i in range(3)])
    run(settings_for(mailbox, batch_size=1))
    ledger.wait_for(3)
    assert len(status.wait_for("alive", mailbox.user, 3)) >= 3


@pytest.mark.dovecot
@pytest.mark.parametrize("server", ["dovecot", "dovecot_without_idle"])
def test_alive_is_reported_every_few_seconds_while_waiting_for_mail(
    server, settings_for, run, status, monkeypatch, request
):
    monkeypatch.setattr(imap, "_ALIVE_SECONDS", 0.2)
    mb = request.getfixturevalue(server).mailbox()
    run(settings_for(mb, poll_seconds=600, idle_seconds=600))
    status.wait_for("fetched", mb.user)
    seen = len(status.of("alive", mb.user))
    status.wait_for("alive", mb.user, seen + 3, timeout=3.0)


@pytest.mark.dovecot
def test_a_backlog_wider_than_one_search_and_fetch_is_read_and_moved_in_pieces(
    mailbox, settings_for, run, ledger, monkeypatch
):
    monkeypatch.setattr(imap, "_SEARCH_SPAN", 4)
    monkeypatch.setattr(imap, "_META_CHUNK", 5)
    monkeypatch.setattr(imap, "_MOVE_CHUNK", 2)
    mailbox.append_many(complaint(subject=f"backlog {i}") for i in range(13))
    run(settings_for(mailbox))
    handled = ledger.wait_for(13)
    assert [h.checkpoint.uid for h in handled] == list(range(1, 14))
    wait_until(lambda: mailbox.count("Processed") == 13)
    assert mailbox.count("INBOX") == 0


# --- crashes and checkpoints -----------------------------------------------------------------


@pytest.mark.dovecot
def test_a_message_committed_but_not_moved_before_a_crash_is_moved_exactly_once(
    mailbox, settings_for, run, ledger
):
    data = complaint(subject="committed before the crash")
    uid = mailbox.append(data)
    ledger.commit_earlier(data, Checkpoint(mailbox.user, "INBOX", mailbox.uidvalidity(), uid))
    mailbox.append(complaint(subject="new after the crash"))
    run(settings_for(mailbox))
    handled = ledger.wait_for(2)
    assert [(h.subject, h.outcome.disposition) for h in handled] == [
        ("committed before the crash", Disposition.DUPLICATE),
        ("new after the crash", Disposition.FILED),
    ]
    wait_until(lambda: mailbox.count("INBOX") == 0)
    assert sorted(subjects(mailbox, "Processed")) == [
        "committed before the crash",
        "new after the crash",
    ]


@pytest.mark.dovecot
def test_committed_mail_already_copied_and_flagged_deleted_is_not_handled_again(
    mailbox, settings_for, run, ledger, dovecot, idling
):
    data = complaint(subject="copied, flagged, not yet expunged")
    uid = mailbox.append(data)
    with dovecot.client(mailbox.account) as c:
        c.select_folder("INBOX")
        c.add_flags([uid], [b"\\Deleted"])
    ledger.commit_earlier(data, Checkpoint(mailbox.user, "INBOX", mailbox.uidvalidity(), uid))
    mailbox.append(complaint(subject="next"))
    run(settings_for(mailbox))
    (handled,) = ledger.wait_for(1)
    idling(mailbox.user, since=handled.at)  # the drain is over: nothing more will come
    assert [h.subject for h in ledger.handled] == ["next"]
    assert subjects(mailbox, "Processed") == ["next"]


@pytest.mark.dovecot
def test_with_moving_off_the_checkpoint_keeps_mail_from_being_read_twice(
    mailbox, settings_for, run, ledger, status, idling
):
    settings = settings_for(mailbox, processed_folder="", quarantine_folder="")
    mailbox.append_many([complaint(subject="one"), complaint(subject="two")])
    first = run(settings)
    ledger.wait_for(2)
    first.stop()
    run(settings)  # the daemon started again
    status.wait_for("connected", mailbox.user, 2)
    mailbox.append(complaint(subject="three"))
    idling(mailbox.user, since=ledger.wait_for(3)[-1].at)  # the drain is over
    assert [h.subject for h in ledger.handled] == ["one", "two", "three"]
    assert subjects(mailbox, "INBOX") == ["one", "two", "three"]
    assert mailbox.folders() == ["INBOX"]


@pytest.mark.dovecot
def test_a_uidvalidity_change_hands_old_mail_over_again_and_keeps_it(
    mailbox, settings_for, run, ledger, status
):
    settings = settings_for(mailbox, folder="Complaints", processed_folder="", quarantine_folder="")
    mailbox.create_folder("Complaints")
    mailbox.append_many([complaint(subject="old 1"), complaint(subject="old 2")], "Complaints")
    first = run(settings)
    ledger.wait_for(2)
    first.stop()
    old = ledger.load(mailbox.user, "Complaints")
    mailbox.recreate_folder("Complaints")
    mailbox.append(complaint(subject="new"), "Complaints")
    run(settings)
    handled = ledger.wait_for(5)
    again = [(h.subject, h.outcome.disposition) for h in handled[2:]]
    assert again == [
        ("old 1", Disposition.DUPLICATE),
        ("old 2", Disposition.DUPLICATE),
        ("new", Disposition.FILED),
    ]
    new = ledger.load(mailbox.user, "Complaints")
    assert old is not None and new is not None
    assert new.uidvalidity == mailbox.uidvalidity("Complaints") != old.uidvalidity
    assert subjects(mailbox, "Complaints") == ["old 1", "old 2", "new"]


# --- outages and failures --------------------------------------------------------------------


@pytest.mark.dovecot
def test_after_dovecot_restarts_mail_that_arrived_meanwhile_is_delivered(
    own_dovecot, settings_for, run, ledger, status, caplog
):
    caplog.set_level(logging.DEBUG, logger="daemon.sources.imap")
    mb = own_dovecot.mailbox()
    run(settings_for(mb))
    status.wait_for("fetched", mb.user)
    own_dovecot.stop()
    mb.deliver_to_maildir(complaint(subject="arrived while the server was down"))
    wait_until(lambda: logged(caplog, "still failing"))  # a reconnect failed again
    own_dovecot.start()
    (handled,) = ledger.wait_for(1, timeout=5)
    assert handled.subject == "arrived while the server was down"
    failures = status.of("failed", mb.user)
    assert failures.count("connection refused") == 1
    retries = [r for r in caplog.records if "still failing" in r.getMessage()]
    assert retries, "expected repeated failures to be logged at DEBUG"
    assert all(r.levelno == logging.DEBUG for r in retries)
    assert status.wait_for("connected", mb.user, 2)
    wait_until(lambda: any("working again" in r.getMessage() for r in caplog.records))
    (recovered,) = [r for r in caplog.records if "working again" in r.getMessage()]
    assert recovered.levelno == logging.INFO


@pytest.mark.dovecot
def test_a_wrong_password_on_one_mailbox_does_not_delay_another(
    dovecot, settings_for, run, ledger, status, caplog
):
    caplog.set_level(logging.DEBUG, logger="daemon.sources.imap")
    good, bad = dovecot.mailbox(), dovecot.mailbox()
    bad.append(complaint(subject="never read"))
    run(settings_for(bad, password="wrong"), settings_for(good))
    status.wait_for("fetched", good.user)
    appended = time.monotonic()
    good.append(complaint(subject="for the good mailbox"))
    (_handled,) = ledger.wait_for(1, mailbox=good.user, timeout=2.0)
    assert time.monotonic() - appended < 2.0
    wait_until(lambda: logged(caplog, f"{bad.user}: mailbox still failing"))  # the bad one retried
    (error,) = status.of("failed", bad.user)
    assert error.startswith("login refused")
    about_bad = [r for r in caplog.records if bad.user in r.getMessage()]
    assert [r.levelno for r in about_bad if r.levelno >= logging.WARNING] == [logging.ERROR]
    assert any("still failing" in r.getMessage() for r in about_bad), "no retry happened"
    assert "wrong" not in caplog.text
    assert ledger.for_mailbox(bad.user) == []
    assert bad.count("INBOX") == 1


@pytest.mark.dovecot
def test_without_idle_the_folder_is_polled_every_poll_seconds(
    dovecot_without_idle, settings_for, run, ledger, status, caplog
):
    caplog.set_level(logging.INFO, logger="daemon.sources.imap")
    mb = dovecot_without_idle.mailbox()
    run(settings_for(mb, poll_seconds=0.5))
    status.wait_for("fetched", mb.user)
    mb.append(complaint(subject="polled"))
    (handled,) = ledger.wait_for(1, timeout=1.5)
    assert handled.subject == "polled"
    assert "polling every 0.5s" in caplog.text


# --- security and login ----------------------------------------------------------------------


@pytest.mark.dovecot
@pytest.mark.parametrize("security", ["tls", "starttls"])
def test_tls_and_starttls_connect_when_the_certificate_is_trusted(
    mailbox, settings_for, run, ledger, security
):
    port = mailbox.server.tls_port if security == "tls" else mailbox.server.port
    mailbox.append(complaint(subject=f"over {security}"))
    run(settings_for(mailbox, security=security, port=port, tls_ca_file=mailbox.server.ca_file))
    (handled,) = ledger.wait_for(1)
    assert handled.subject == f"over {security}"


@pytest.mark.dovecot
def test_an_untrusted_certificate_is_refused_and_reported(mailbox, settings_for, run, status):
    run(settings_for(mailbox, security="tls", port=mailbox.server.tls_port))
    (error,) = status.wait_for("failed", mailbox.user)
    assert error.startswith("TLS: CERTIFICATE_VERIFY_FAILED")


@pytest.mark.dovecot
def test_xoauth2_login_with_a_token_file(mailbox, settings_for, run, ledger, tmp_path):
    token = tmp_path / "token"
    token.write_text(mailbox.server.introspection.grant(mailbox.user) + "\n")
    mailbox.append(complaint(subject="via token file"))
    run(settings_for(mailbox, auth="xoauth2", password_file=None, token_file=token))
    (handled,) = ledger.wait_for(1)
    assert handled.subject == "via token file"


@pytest.mark.dovecot
def test_xoauth2_login_with_a_token_command(mailbox, settings_for, run, ledger):
    token = mailbox.server.introspection.grant(mailbox.user)
    command = (sys.executable, "-c", f"print({token!r})")
    mailbox.append(complaint(subject="via token command"))
    run(settings_for(mailbox, auth="xoauth2", password_file=None, token_command=command))
    (handled,) = ledger.wait_for(1)
    assert handled.subject == "via token command"


@pytest.mark.dovecot
def test_a_rejected_token_is_reported_as_a_refused_login(
    mailbox, settings_for, run, status, tmp_path
):
    token = tmp_path / "token"
    token.write_text("expired-token")
    run(settings_for(mailbox, auth="xoauth2", password_file=None, token_file=token))
    (error,) = status.wait_for("failed", mailbox.user)
    assert error.startswith("login refused")


class FakeEntra:
    """A Microsoft Entra tenant on loopback HTTPS: OpenID discovery and the client-credentials
    token endpoint, handing out one access token to one app."""

    def __init__(self, server: Dovecot, tenant: str, client_id: str, secret: str, token: str):
        self.requests: list[dict[str, list[str]]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                base = f"https://127.0.0.1:{outer.port}/{tenant}"
                if self.path != f"/{tenant}/v2.0/.well-known/openid-configuration":
                    return self._send(404, {"error": "not_found"})
                self._send(
                    200,
                    {
                        "issuer": f"{base}/v2.0",
                        "authorization_endpoint": f"{base}/oauth2/v2.0/authorize",
                        "token_endpoint": f"{base}/oauth2/v2.0/token",
                    },
                )
                return None

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                form = parse_qs(self.rfile.read(length).decode())
                outer.requests.append(form)
                if form.get("client_id") != [client_id] or form.get("client_secret") != [secret]:
                    return self._send(
                        401,
                        {
                            "error": "invalid_client",
                            "error_description": "AADSTS7000215: bad secret",
                        },
                    )
                self._send(200, {"token_type": "Bearer", "expires_in": 3599, "access_token": token})
                return None

            def _send(self, code: int, body: dict[str, Any]) -> None:
                data = json.dumps(body).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(server.ca_file, server.root / "key.pem")
        self._http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._http.socket = context.wrap_socket(self._http.socket, server_side=True)
        self.port = self._http.server_address[1]
        self.authority = f"https://127.0.0.1:{self.port}/{tenant}"
        threading.Thread(target=self._http.serve_forever, daemon=True).start()

    def close(self) -> None:
        self._http.shutdown()
        self._http.server_close()


@pytest.mark.dovecot
@pytest.mark.parametrize("secret_given", ["right", "wrong"])
def test_xoauth2_with_msal_client_credentials(
    mailbox, settings_for, run, ledger, status, monkeypatch, tmp_path, secret_given
):
    server = mailbox.server
    entra = FakeEntra(
        server,
        "contoso.partner.onmschina.cn",
        "app-id",
        "right",
        server.introspection.grant(mailbox.user),
    )
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(server.ca_file))  # trust the fake tenant
    secret = tmp_path / "client-secret"
    secret.write_text(secret_given)
    mailbox.append(complaint(subject="via MSAL"))
    try:
        run(
            settings_for(
                mailbox,
                auth="xoauth2",
                password_file=None,
                client_id="app-id",
                client_secret_file=secret,
                authority=entra.authority,
                cloud="china",
            )
        )
        if secret_given == "right":
            (handled,) = ledger.wait_for(1)
            assert handled.subject == "via MSAL"
            assert entra.requests[0]["scope"] == ["https://partner.outlook.cn/.default"]
            assert entra.requests[0]["grant_type"] == ["client_credentials"]
        else:
            (error,) = status.wait_for("failed", mailbox.user)
            assert error.startswith("no credentials: token from https://127.0.0.1")
            assert "invalid_client" in error and "right" not in error
    finally:
        entra.close()
