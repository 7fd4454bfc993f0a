"""Deliver queued mail over SMTP (or into a folder), with retries and backoff."""

from __future__ import annotations

import asyncio
import logging
import os
import random
import ssl
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Protocol

import aiosmtplib
from sqlalchemy import Connection
from sqlalchemy.exc import OperationalError

from daemon.config import OutboxSettings, SmtpSettings, resolve_secret
from daemon.health import Outage
from daemon.store import Store, outgoing
from daemon.store.db import BUSY_TIMEOUT_MS
from daemon.store.outgoing import Due
from daemon.values import Clock

log = logging.getLogger(__name__)


class TemporaryFailure(Exception):
    """Worth another try later: 4xx, refused connection, timeout."""


class PermanentFailure(Exception):
    """The server said no for good (5xx): keep its reply, do not retry."""


class Transport(Protocol):
    async def open(self) -> None: ...
    async def send(self, sender: str, recipient: str, raw: bytes) -> None: ...
    async def close(self) -> None: ...


class SmtpTransport:
    """One SMTP connection per batch, reopened when the server drops it."""

    def __init__(self, settings: SmtpSettings) -> None:
        self._s = settings
        self._client: aiosmtplib.SMTP | None = None

    async def open(self) -> None:
        s = self._s
        password = resolve_secret(s.password_env, s.password_file, "[smtp] password")
        client = aiosmtplib.SMTP(
            hostname=s.host,
            port=s.port,
            timeout=s.timeout_seconds,
            use_tls=s.security == "tls",
            start_tls=s.security == "starttls",
            tls_context=ssl.create_default_context() if s.security != "none" else None,
        )
        try:
            await client.connect()
            if s.username:
                await client.login(s.username, password or "")
        except aiosmtplib.SMTPResponseException as exc:
            _raise_for(exc.code, exc.message)
        except (TimeoutError, aiosmtplib.SMTPException, OSError) as exc:
            raise TemporaryFailure(f"cannot connect to {s.host}:{s.port}: {exc}") from exc
        self._client = client

    async def send(self, sender: str, recipient: str, raw: bytes) -> None:
        if self._client is None or not self._client.is_connected:
            await self.open()
        assert self._client is not None
        try:
            # RFC 6531: an internationalised address travels only with SMTPUTF8.
            options = [] if f"{sender}{recipient}".isascii() else ["SMTPUTF8"]
            await self._client.sendmail(sender, [recipient], raw, mail_options=options)
        except aiosmtplib.SMTPNotSupported as exc:
            raise PermanentFailure(f"{exc}: cannot deliver to {recipient}") from exc
        except aiosmtplib.SMTPRecipientsRefused as exc:
            refused = exc.recipients[0] if exc.recipients else None
            if refused is None:
                raise TemporaryFailure(str(exc)) from exc
            _raise_for(refused.code, refused.message)
        except aiosmtplib.SMTPResponseException as exc:
            _raise_for(exc.code, exc.message)
        except (TimeoutError, aiosmtplib.SMTPException, OSError) as exc:
            self._client = None
            raise TemporaryFailure(f"{type(exc).__name__}: {exc}") from exc

    async def close(self) -> None:
        if self._client is not None and self._client.is_connected:
            try:
                await self._client.quit()
            except (TimeoutError, aiosmtplib.SMTPException, OSError):
                self._client.close()
        self._client = None


def _raise_for(code: int, message: str) -> None:
    reply = f"{code} {message}".strip()
    if 400 <= code < 500:
        raise TemporaryFailure(reply)
    raise PermanentFailure(reply)


class FileTransport:
    """Writes each mail as an .eml file: for a trial without a mail server."""

    def __init__(self, directory: Path, clock: Clock) -> None:
        self._dir = directory
        self._clock = clock

    async def open(self) -> None:
        self._dir.mkdir(parents=True, exist_ok=True)

    async def send(self, sender: str, recipient: str, raw: bytes) -> None:
        stamp = self._clock().astimezone().strftime("%Y%m%dT%H%M%S")  # local time, as ls shows
        name = f"{stamp}-{uuid.uuid4().hex[:12]}.eml"
        tmp = self._dir / f".{name}.tmp"
        envelope = f"X-Envelope-From: {sender}\r\nX-Envelope-To: {recipient}\r\n".encode()
        await asyncio.to_thread(_write_atomically, tmp, self._dir / name, envelope + raw)

    async def close(self) -> None:
        return None


def _write_atomically(tmp: Path, final: Path, data: bytes) -> None:
    with open(tmp, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    tmp.rename(final)


def make_transport(outbox: OutboxSettings, smtp: SmtpSettings, clock: Clock) -> Transport:
    if outbox.transport == "files":
        return FileTransport(outbox.directory, clock)
    return SmtpTransport(smtp)


@dataclass(frozen=True, slots=True)
class DeliveryReport:
    sent: int = 0
    retrying: int = 0
    failed: int = 0


class ServerWatch(Outage):
    """The mail server's outages, kept across delivery passes so one is logged once when it
    starts and once when it ends, not once per mail and attempt."""

    def __init__(self) -> None:
        super().__init__("mail server", log)


class SentLog:
    """Mail the server accepted, written down right after its 250 in a file beside the SQLite
    database, where the filing batch's write lock does not reach; folded into the outbox rows
    in one transaction at the end of each batch and before any mail is claimed, so a crash
    still sends at most the one mail in flight twice."""

    def __init__(self, path: Path) -> None:
        self.path = path
        # Another writer held the database when a mail of this batch was to be marked: the
        # rest of the batch is written down here at once, not after a wait for the lock each.
        self.busy = False

    def append(self, row_id: int, at: datetime) -> None:
        # One write(2) of one line: once it returns, a crash of the daemon cannot lose it.
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.write(fd, f"{row_id} {at.isoformat()}\n".encode())
        finally:
            os.close(fd)

    def entries(self) -> list[tuple[int, datetime]]:
        """What is written down; a line cut short by a crash is no record of a 250."""
        try:
            text = self.path.read_text(encoding="ascii", errors="replace")
        except FileNotFoundError:
            return []
        found = []
        for line in text.splitlines():
            row, _, at = line.partition(" ")
            try:
                found.append((int(row), datetime.fromisoformat(at)))
            except ValueError:
                continue
        return found

    def clear(self) -> None:
        self.path.unlink(missing_ok=True)


# How long a sent mail's row waits for SQLite's write lock before the mail is written down in the
# SentLog instead: a moment covers another worker's short write, not a filing batch.
_MOMENT_MS = 5


def retry_delay(attempts: int, settings: OutboxSettings, jitter: float) -> timedelta:
    """Exponential backoff from the initial delay, capped; jitter in [0, 1) spreads retries."""
    base = settings.retry_initial_seconds * (2 ** max(attempts - 1, 0))
    capped = min(base, settings.retry_max_seconds)
    return timedelta(seconds=capped * (0.9 + 0.2 * jitter))


def lease_for(smtp: SmtpSettings) -> timedelta:
    """How long a claimed mail stays ours: a little more than one slow send.

    Once half of it is spent, the next recorded result renews the lease of the rest of the
    batch, so a worker killed mid-batch hands its mail back within this time, not after the
    whole batch's worth.
    """
    return timedelta(seconds=2 * smtp.timeout_seconds + 5)


async def deliver_due(
    store: Store,
    transport: Transport,
    settings: OutboxSettings,
    clock: Clock,
    lease: timedelta,
    stop: asyncio.Event | None = None,
    watch: ServerWatch | None = None,
) -> DeliveryReport:
    """Send every due row once; each result is recorded before the next mail goes out (see
    SentLog), so a crash can send at most the one mail in flight twice.

    Pass the same `watch` to every pass so an outage spanning passes is logged once.
    """
    watch = watch or ServerWatch()
    try:
        return await _deliver(store, transport, settings, clock, lease, stop, watch)
    finally:
        # Each claim folds what the batch before it wrote down; what the last one did, now.
        await asyncio.to_thread(_fold, store)


async def _deliver(
    store: Store,
    transport: Transport,
    settings: OutboxSettings,
    clock: Clock,
    lease: timedelta,
    stop: asyncio.Event | None,
    watch: ServerWatch,
) -> DeliveryReport:
    sent = retrying = failed = 0
    while stop is None or not stop.is_set():
        claimed_at = clock()
        batch = await asyncio.to_thread(_claim, store, claimed_at, settings.batch_size, lease)
        if not batch:
            break
        held_until = claimed_at + lease
        sent_log = _sent_log(store)
        try:
            await transport.open()
        except (TemporaryFailure, PermanentFailure) as exc:
            watch.failed(str(exc), clock())
            await asyncio.to_thread(_retry_all, store, batch, settings, clock(), str(exc))
            return DeliveryReport(sent, retrying + len(batch), failed)
        try:
            # Only one mail's bytes are in memory, read when its turn comes.
            following = await asyncio.to_thread(_raw_of, store, batch[0])
            for index, due in enumerate(batch):
                raw, following = following, None
                if stop is not None and stop.is_set():
                    await asyncio.to_thread(_release, store, batch[index:])
                    break
                after = batch[index + 1] if index + 1 < len(batch) else None
                if raw is None:  # taken back from us (our lease ran out): not ours to send
                    if after is not None:
                        following = await asyncio.to_thread(_raw_of, store, after)
                    continue
                outcome = await _send_one(transport, settings, due, raw)
                del raw
                now = clock()
                rest = [d.id for d in batch[index + 1 :]] if now + lease / 2 >= held_until else []
                following = await asyncio.to_thread(
                    _record, store, due, outcome, settings, now, rest, lease, after, sent_log
                )
                if rest:
                    held_until = now + lease
                if isinstance(outcome, TemporaryFailure):
                    watch.failed(str(outcome), now)
                elif watch.failing:
                    waiting = await asyncio.to_thread(_waiting, store)
                    watch.ok(now, f"{waiting} mails waiting")
                sent += outcome is None
                failed += isinstance(outcome, PermanentFailure)
                retrying += isinstance(outcome, TemporaryFailure)
        finally:
            await transport.close()
        if len(batch) < settings.batch_size:
            break
    return DeliveryReport(sent, retrying, failed)


async def _send_one(
    transport: Transport, settings: OutboxSettings, due: Due, raw: bytes
) -> TemporaryFailure | PermanentFailure | None:
    try:
        await transport.send(settings.from_address, due.recipient, raw)
    except (TemporaryFailure, PermanentFailure) as exc:
        return exc
    return None


def _claim(store: Store, now: datetime, limit: int, lease: timedelta) -> list[Due]:
    """Fold the mail written down as sent into its rows, then claim: a row sent before a crash
    is never handed out again when its lease ends."""
    sent_log = _sent_log(store)
    with store.transaction() as session:
        if sent_log is not None:
            outgoing.mark_sent_many(session, sent_log.entries())
        claimed = outgoing.claim_due(session, now, limit, lease)
    if sent_log is not None:
        sent_log.clear()
    return claimed


def _fold(store: Store) -> None:
    """Record the batch's mail written down as sent, in one transaction."""
    sent_log = _sent_log(store)
    if sent_log is None:
        return
    entries = sent_log.entries()
    if entries:
        with store.transaction() as session:
            outgoing.mark_sent_many(session, entries)
    sent_log.clear()


def _sent_log(store: Store) -> SentLog | None:
    path = store.sent_log
    return SentLog(path) if path is not None else None


def _raw_of(store: Store, due: Due) -> bytes | None:
    with store.autocommit() as conn:
        return outgoing.raw_of(conn, due.id)


def _waiting(store: Store) -> int:
    with store.reading() as session:
        return outgoing.waiting(session)


def _release(store: Store, rows: list[Due]) -> None:
    with store.transaction() as session:
        outgoing.release(session, [due.id for due in rows])


def _retry_all(
    store: Store, rows: list[Due], settings: OutboxSettings, now: datetime, error: str
) -> None:
    with store.transaction() as session:
        for due in rows:
            _note(session, due, TemporaryFailure(error), settings, now)


def _record(
    store: Store,
    due: Due,
    outcome: TemporaryFailure | PermanentFailure | None,
    settings: OutboxSettings,
    now: datetime,
    rest: Sequence[int],
    lease: timedelta,
    after: Due | None = None,
    sent_log: SentLog | None = None,
) -> bytes | None:
    """Record one attempt before anything else is sent, by a statement committed on its own
    (on SQLite, a mail sent while another writer holds the database goes to the SentLog), then
    read the next mail's bytes (None when there is none, or it is no longer ours): one trip to
    the database per mail."""
    with store.autocommit() as conn:
        if outcome is None and sent_log is not None:
            if sent_log.busy or not _marked_at_once(conn, due, now):
                sent_log.busy = True
                sent_log.append(due.id, now)
                log.info("%s sent to %s", due.message_id, due.recipient)
        else:
            _note(conn, due, outcome, settings, now)
        if rest:
            outgoing.renew(conn, rest, now + lease)
        return outgoing.raw_of(conn, after.id) if after is not None else None


def _marked_at_once(conn: Connection, due: Due, now: datetime) -> bool:
    """Mark a sent mail in its SQLite row unless another writer (the filing of a batch) holds
    the database beyond a moment; False then, and the SentLog has it instead."""
    conn.exec_driver_sql(f"PRAGMA busy_timeout={_MOMENT_MS}")
    try:
        outgoing.mark_sent(conn, due.id, now)
    except OperationalError as exc:
        conn.rollback()
        if "locked" not in str(exc):
            raise
        return False
    finally:
        conn.exec_driver_sql(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    log.info("%s sent to %s", due.message_id, due.recipient)
    return True


def _note(
    session: outgoing.Db,
    due: Due,
    outcome: TemporaryFailure | PermanentFailure | None,
    settings: OutboxSettings,
    now: datetime,
) -> None:
    """Record one attempt's result: sent, failed for good, or due again after a backoff.

    A temporary failure is logged per mail at DEBUG only: the outage itself is logged once by
    ServerWatch, and a mail that never gets through is logged when it is given up.
    """
    if outcome is None:
        outgoing.mark_sent(session, due.id, now)
        log.info("%s sent to %s", due.message_id, due.recipient)
    elif isinstance(outcome, PermanentFailure):
        outgoing.mark_failed(session, due.id, str(outcome))
        log.error("%s to %s failed: %s", due.message_id, due.recipient, outcome)
    elif now - due.created_at >= timedelta(hours=settings.give_up_after_hours):
        outgoing.mark_failed(session, due.id, f"gave up after {due.attempts + 1} tries: {outcome}")
        log.error("%s to %s given up: %s", due.message_id, due.recipient, outcome)
    else:
        delay = retry_delay(due.attempts + 1, settings, random.random())
        outgoing.mark_retry(session, due.id, now + delay, str(outcome))
        log.debug(
            "%s to %s will retry in %ds: %s",
            due.message_id,
            due.recipient,
            delay.total_seconds(),
            outcome,
        )
