"""IMAP mailboxes: new mail pushed by IDLE (polling where the server lacks it), raw bytes in.

One `watch` per mailbox. The blocking imapclient work runs in a thread of its own (see
bridge.py), so a slow or broken server never holds up the event loop or another mailbox. The
mailbox's settings and their checks live in imap_settings.py, the pure helpers in
imap_uids.py. For each fetched batch the pipeline
files its messages and commits the mailbox checkpoint in one transaction; only then are they
moved out of the watched folder. A crash in between leaves it in place: it is fetched again, the
pipeline's dedupe answers DUPLICATE, and it is moved then.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import select
import socket
import ssl
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, Protocol

from imapclient import IMAPClient
from imapclient.exceptions import LoginError
from imapclient.imapclient import SocketTimeout

from daemon.health import Outage
from daemon.sources import bridge, imap_auth
from daemon.sources.imap_settings import MailboxSettings as MailboxSettings
from daemon.sources.imap_uids import (
    backoff_delay,
    batches,
    chunks,
    is_bye,
    is_new_mail,
    is_trouble,
    search_windows,
    sequence_set,
    uidnext_of,
)
from daemon.values import Batch, Checkpoint, Clock, Disposition, Outcome, RawMail, Received

log = logging.getLogger(__name__)


class CheckpointStore(Protocol):
    def load(self, mailbox: str, folder: str) -> Checkpoint | None: ...


class StatusSink(Protocol):
    """Where a mailbox's health goes for `complaintd status`; called from the mailbox's thread.

    fetched(waiting): messages found in the folder but not yet handed to the pipeline when
    the report is made (0 once caught up). failed: once per distinct error, not per retry.
    alive: this worker is not stuck; at least every few seconds while it waits for mail, and
    after each message it handed over. An exception from any of these is logged and ignored:
    health reporting never stops intake.
    """

    def connected(self, mailbox: str, at: datetime) -> None: ...
    def fetched(self, mailbox: str, at: datetime, waiting: int) -> None: ...
    def failed(self, mailbox: str, at: datetime, error: str) -> None: ...
    def alive(self, mailbox: str, at: datetime) -> None: ...


# Files a fetched batch and commits its checkpoint in one transaction. Blocking, thread-safe.
Handler = Callable[[list[Received]], Batch]


async def watch(
    settings: MailboxSettings,
    handler: Handler,
    checkpoints: CheckpointStore,
    status: StatusSink,
    stop: asyncio.Event,
    clock: Clock,
    wake: Callable[[], None] | None = None,
) -> None:
    """Hand every message of one mailbox to `handler` until `stop` is set; never raises for
    server, network or login trouble (it retries). `wake` is called on the event loop after a
    batch that handled mail."""

    def start(stopping: threading.Event, notify: Callable[[], None]) -> _Worker:
        return _Worker(settings, handler, checkpoints, status, clock, stopping, notify)

    await bridge.run_in_thread(f"imap:{settings.name}", start, stop, wake)


# How long a worker in IDLE may take to notice `stop` (IDLE is checked this often).
_STOP_CHECK_SECONDS = 0.5
# While waiting for mail, StatusSink.alive is called at most this often.
_ALIVE_SECONDS = 5.0
# UIDs per FETCH of flags and sizes, and so per FETCH of bodies: bounds the metadata held at
# once and the command line. imapclient's fetch() maps the answer back to the UIDs it was
# given one by one, so FETCH takes a plain list, not ranges: at most ~11 KiB at this size,
# far below the 64 KiB servers such as Dovecot accept.
_META_CHUNK = 1000
# UIDs per MOVE / COPY / STORE / EXPUNGE command; these are sent as ranges (sequence_set).
# Handled mail is moved in groups of up to this many, or once the oldest has waited
# _MOVE_AFTER_SECONDS, and always when a drain ends: a MOVE can cost the server time in
# proportion to the folder (Dovecot's Maildir: 50 from a folder of 30,000 take ~150 ms), so
# one per FETCH batch would make a large backlog ten times slower to drain. A crash leaves at
# most one group committed but not moved; it is read again and answered DUPLICATE.
_MOVE_CHUNK = 1000
_MOVE_AFTER_SECONDS = 2.0
# UIDs per SEARCH window: its untagged answer, one line, stays far below imaplib's 1 MB limit.
_SEARCH_SPAN = 50_000
# A look that found nothing is repeated this often at most when the server announced new
# mail (EXISTS) while it ran: the announcement may be about mail the look did not yet see.
_EXISTS_RELOOKS = 2


class _ServerGone(Exception):
    """The server ended the session (BYE or a closed connection)."""


_Moves = list[tuple[int, Outcome]]


class _Worker:
    """The blocking side of one mailbox: connect, drain, idle, reconnect; runs in its thread."""

    def __init__(
        self,
        settings: MailboxSettings,
        handler: Handler,
        checkpoints: CheckpointStore,
        status: StatusSink,
        clock: Clock,
        stopping: threading.Event,
        wake: Callable[[], None],
    ) -> None:
        self.s = settings
        self._handler = handler
        self._checkpoints = checkpoints
        self._status = status
        self._clock = clock
        self._stopping = stopping
        self._wake = wake
        self._client: IMAPClient | None = None
        self._tokens: imap_auth.TokenSource | None = None
        # One log line when a run of failures starts (again when its error changes), one when
        # it ends; for the server and for the health record alike.
        self._outage = Outage(f"{settings.name}: mailbox", log, each_new_error=True)
        self._sink = Outage(f"{settings.name}: mailbox health record", log, each_new_error=True)
        self._alive_at = float("-inf")
        self._uidnext: int | None = None  # from SELECT: where this session's backlog ends
        self._ever_connected = False
        self._random = random.Random()
        self.busy = False

    # --- the reconnect loop ----------------------------------------------------------------

    def run(self) -> None:
        """Sessions until stop; any Exception (server, network, pipeline, database) ends only
        the session, which is retried with backoff: nothing else restarts this thread."""
        while not self._stopping.is_set():
            try:
                self._session()
            except Exception as exc:  # noqa: BLE001 (any fault ends only the session, which is retried)
                if self._stopping.is_set():
                    break  # errors while being stopped are ours, not the server's
                delay = self.s.retry_max_seconds
                try:
                    self._failed(exc)
                    delay = self._next_delay(exc)
                except Exception:
                    log.exception("%s: could not report a failure", self.s.name)
                self._stopping.wait(delay)

    def interrupt(self) -> None:
        """Unblock a read or write in progress (called from the event loop's thread at stop)."""
        client = self._client
        if client is not None:
            with contextlib.suppress(OSError):
                client.socket().shutdown(socket.SHUT_RDWR)

    def _failed(self, exc: Exception) -> None:
        error = _describe(exc)
        level = logging.ERROR if _is_login_failure(exc) else logging.WARNING
        if self._outage.failed(error, self._clock(), level=level) and not self._stopping.is_set():
            self._report(lambda at: self._status.failed(self.s.name, at, error))

    def _report(self, call: Callable[[datetime], None]) -> None:
        """One call to the status sink. Its failure (the database down, say) is logged once
        per distinct error and otherwise ignored: mail keeps flowing without health reports."""
        try:
            call(self._clock())
        except Exception as exc:  # noqa: BLE001 (any sink failure; see above)
            self._sink.failed(_describe(exc), self._clock())
            return
        self._sink.ok(self._clock())

    def _fetched(self, waiting: int) -> None:
        self._report(lambda at: self._status.fetched(self.s.name, at, waiting))

    def _alive(self, *, now: bool = False) -> None:
        """StatusSink.alive: always when `now`, else at most every _ALIVE_SECONDS."""
        tick = time.monotonic()
        if now or tick - self._alive_at >= _ALIVE_SECONDS:
            self._alive_at = tick
            self._report(lambda at: self._status.alive(self.s.name, at))

    def _next_delay(self, exc: Exception) -> float:
        s = self.s
        if _is_login_failure(exc):
            return s.retry_max_seconds * self._random.uniform(0.5, 1.0)
        return backoff_delay(
            self._outage.failures,
            s.retry_initial_seconds,
            s.retry_max_seconds,
            self._random.uniform(0.5, 1.0),
        )

    def _healthy(self) -> None:
        self._outage.ok(self._clock())

    # --- one connection --------------------------------------------------------------------

    def _session(self) -> None:
        client = self._connect()
        try:
            s = self.s
            moving = bool(s.processed_folder or s.quarantine_folder)
            info = client.select_folder(s.folder, readonly=not moving)
            uidvalidity = int(info[b"UIDVALIDITY"])
            self._uidnext = uidnext_of(info)
            if moving:
                self._ensure_folders(client)
            idle = client.has_capability("IDLE")
            if self._stopping.is_set():
                return
            self._report(lambda at: self._status.connected(s.name, at))
            if not self._ever_connected:
                how = "IDLE" if idle else f"polling every {s.poll_seconds:g}s"
                log.info("%s: watching %s on %s:%d (%s)", s.name, s.folder, s.host, s.port, how)
                self._ever_connected = True
            cursor = self._start(uidvalidity)
            rescan = bool(s.processed_folder)
            while not self._stopping.is_set():
                cursor = self._catch_up(client, uidvalidity, cursor, rescan)
                rescan = False
                self._healthy()
                if self._stopping.is_set():
                    break
                if idle:
                    self._idle(client)
                else:
                    self._poll(client)
        finally:
            self._client = None
            _close(client)

    def _connect(self) -> IMAPClient:
        s = self.s
        timeout = SocketTimeout(connect=s.timeout_seconds, read=s.timeout_seconds)
        context = _tls_context(s) if s.security != "none" else None
        client = IMAPClient(
            s.host, s.port, ssl=s.security == "tls", ssl_context=context, timeout=timeout
        )
        self._client = client
        try:
            if s.security == "starttls":
                client.starttls(context)
            client.normalise_times = False  # keep INTERNALDATE's zone; we convert to UTC
            if s.auth == "xoauth2" and self._tokens is None:
                self._tokens = imap_auth.token_source(s)
            imap_auth.login(client, s, self._tokens)
            if client.has_capability("ID"):
                # Some Chinese providers (NetEase among them) refuse SELECT from clients
                # that do not say who they are.
                with contextlib.suppress(IMAPClient.Error):
                    client.id_({"name": "complaintd"})
            _keep_alive(client.socket())
        except BaseException:
            self._client = None
            _close(client)
            raise
        return client

    def _ensure_folders(self, client: IMAPClient) -> None:
        for folder in {self.s.processed_folder, self.s.quarantine_folder} - {""}:
            if not client.folder_exists(folder):
                client.create_folder(folder)
                log.info("%s: created folder %s", self.s.name, folder)
                with contextlib.suppress(IMAPClient.Error):
                    client.subscribe_folder(folder)

    def _start(self, uidvalidity: int) -> int:
        """The UID below which every message is committed, for this folder's UIDVALIDITY."""
        saved = self._checkpoints.load(self.s.name, self.s.folder)
        if saved is None:
            return 0
        if saved.uidvalidity != uidvalidity:
            # A UID means nothing under another UIDVALIDITY: the folder was rebuilt. Read it
            # all again; the pipeline recognises what it has seen by Message-ID and hash.
            log.warning(
                "%s: UIDVALIDITY of %s changed from %d to %d; reading the folder again",
                self.s.name,
                self.s.folder,
                saved.uidvalidity,
                uidvalidity,
            )
            return 0
        return saved.uid

    # --- reading -----------------------------------------------------------------------

    def _catch_up(self, client: IMAPClient, uidvalidity: int, cursor: int, rescan: bool) -> int:
        """Drain, then look again until a look finds nothing new: mail that arrived during a
        drain was announced in answers we did not wait for, and IDLE will not announce it
        again. Returns the new cursor."""
        relooks = _EXISTS_RELOOKS
        while not self._stopping.is_set():
            _forget_untagged(client)
            before = cursor
            cursor = self._drain(client, uidvalidity, cursor, rescan)
            if rescan or cursor > before:
                rescan = False
                continue
            # Nothing new, but EXISTS arrived with the SEARCH answer: the server may have
            # taken the mail in after the search saw the folder. Look once more.
            if _heard_new_mail(client) and relooks > 0:
                relooks -= 1
                continue
            break
        return cursor

    def _drain(self, client: IMAPClient, uidvalidity: int, cursor: int, rescan: bool) -> int:
        """Handle every message above `cursor` (every message at all when `rescan`, so mail
        committed but not moved before a crash is moved now); returns the new cursor.

        Flags and sizes are fetched a chunk at a time, bodies a batch at a time within it, and
        moves are sent as ranges: a backlog of any size is read in bounded commands and memory
        (the UIDs themselves excepted: 100,000 of them are a few MB)."""
        committed = cursor
        uids = self._search(client, 0 if rescan else cursor)
        if not uids:
            if rescan:  # the first look of a session: report that the folder is caught up
                self._fetched(0)
            return cursor
        waiting = len(uids)
        unmoved: _Moves = []  # committed, not yet moved
        oldest = 0.0  # time.monotonic() when the first of `unmoved` was handled
        try:
            for chunk in chunks(uids, _META_CHUNK):
                if self._stopping.is_set():
                    break
                meta = client.fetch(chunk, ["FLAGS", "RFC822.SIZE"])
                todo = [
                    (uid, int(meta[uid].get(b"RFC822.SIZE", 0)))
                    for uid in chunk
                    # Committed earlier and already flagged \Deleted: copied away, awaiting
                    # expunge.
                    if uid in meta
                    and not (uid <= committed and b"\\Deleted" in meta[uid][b"FLAGS"])
                ]
                del meta
                waiting -= len(chunk) - len(todo)
                for batch in batches(todo, self.s.batch_size, self.s.batch_bytes):
                    if self._stopping.is_set():
                        break
                    if not unmoved:
                        oldest = time.monotonic()
                    before = len(unmoved)
                    self._handle_batch(client, uidvalidity, batch, max(committed, cursor), unmoved)
                    handled = len(unmoved) - before
                    committed = max([committed, *(uid for uid, _ in unmoved[before:])])
                    waiting -= len(batch)
                    if not self._stopping.is_set():
                        self._fetched(max(0, waiting))
                    if (
                        len(unmoved) >= _MOVE_CHUNK
                        or time.monotonic() - oldest >= _MOVE_AFTER_SECONDS
                    ):
                        self._file_away(client, unmoved)
                        unmoved = []
                    if handled:
                        self._wake()
        except BaseException:
            # Whatever was committed is moved now if the connection still works; otherwise it
            # stays and is recognised as a duplicate next time.
            with contextlib.suppress(Exception):
                self._file_away(client, unmoved)
            raise
        self._file_away(client, unmoved)
        return max(uids[-1], cursor)

    def _search(self, client: IMAPClient, after: int) -> list[int]:
        """Every UID above `after`, ascending. SEARCHed in windows of UIDs up to the UIDNEXT
        SELECT reported, so no answer is too long for one line; mail arriving later is found
        by the last, open window. (STATUS would give a fresher UIDNEXT, but servers are not
        meant to be asked it about the selected folder; should more than a window's worth
        arrive within one session, the line error ends the session and the next SELECT
        brings a new UIDNEXT.)"""
        found: list[int] = []
        for window in search_windows(after, self._uidnext, _SEARCH_SPAN):
            found += (int(u) for u in client.search(["UID", window]))
        # "n:*" names the last message even when its UID is below n.
        return sorted({uid for uid in found if uid > after})

    def _handle_batch(
        self,
        client: IMAPClient,
        uidvalidity: int,
        batch: list[int],
        committed: int,
        handled: _Moves,
    ) -> None:
        """Fetch one batch's bodies and hand them to the handler together, appending every
        committed message to `handled` (so a failure midway still moves those)."""
        fetched = client.fetch(batch, ["BODY.PEEK[]", "INTERNALDATE"])
        uids: list[int] = []
        items: list[Received] = []
        for uid in batch:
            item = fetched.pop(uid, None)
            if item is None or b"BODY[]" not in item:
                continue  # expunged by someone else since the search
            committed = max(committed, uid)
            raw = RawMail(
                bytes(item[b"BODY[]"]),
                self._origin(uidvalidity, uid),
                self._received_at(item.get(b"INTERNALDATE")),
            )
            uids.append(uid)
            items.append(
                Received(raw, Checkpoint(self.s.name, self.s.folder, uidvalidity, committed))
            )
        del fetched
        if not items or self._stopping.is_set():
            return
        self.busy = True
        try:
            done = self._handler(items)
        finally:
            self.busy = False
        handled.extend(zip(uids, done.outcomes, strict=False))
        self._alive(now=True)
        if done.error is not None:
            raise done.error  # the rest stay in the folder and are fetched again

    def _origin(self, uidvalidity: int, uid: int) -> str:
        return f"imap:{self.s.name}/{self.s.folder};UIDVALIDITY={uidvalidity}/;UID={uid}"

    def _received_at(self, internal: Any) -> datetime:
        """When the server took the message in; the clock if that is missing or in the future."""
        now = self._clock()
        if isinstance(internal, datetime) and internal.tzinfo is not None:
            arrived = internal.astimezone(UTC)
            if arrived <= now:
                return arrived
        return now

    # --- moving ------------------------------------------------------------------------

    def _file_away(self, client: IMAPClient, handled: _Moves) -> None:
        """Move committed messages to their folders (never before their ticket is committed)."""
        if not handled:
            return
        by_target: dict[str, _Moves] = {}
        for uid, outcome in handled:
            target = self._target(outcome)
            if target:
                by_target.setdefault(target, []).append((uid, outcome))
        for target, moves in by_target.items():
            for chunk in chunks([uid for uid, _ in moves], _MOVE_CHUNK):
                self._move(client, sequence_set(chunk), target)
            for uid, outcome in moves:
                ident = outcome.ticket or outcome.message_id or f"uid {uid}"
                log.debug(
                    "%s %s moved to %s (%s uid %d)",
                    ident,
                    outcome.disposition,
                    target,
                    self.s.name,
                    uid,
                )

    def _move(self, client: IMAPClient, uids: str, target: str) -> None:
        if client.has_capability("MOVE"):
            client.move(uids, target)
            return
        client.copy(uids, target)
        client.add_flags(uids, [b"\\Deleted"], silent=True)
        if client.has_capability("UIDPLUS"):
            client.uid_expunge(uids)
        # Without UIDPLUS a plain EXPUNGE would also remove mail someone else marked
        # \Deleted: leave ours flagged; the next rescan skips committed \Deleted mail.

    def _target(self, outcome: Outcome) -> str:
        if outcome.disposition is Disposition.QUARANTINED and self.s.quarantine_folder:
            return self.s.quarantine_folder
        return self.s.processed_folder

    # --- waiting for mail ------------------------------------------------------------------

    def _idle(self, client: IMAPClient) -> None:
        """Wait in IDLE until new mail, `idle_seconds`, or stop; a dead connection raises."""
        client.idle()
        # Says when new mail will be pushed: tests and an operator at DEBUG wait for this.
        log.debug("%s: in IDLE on %s", self.s.name, self.s.folder)
        deadline = time.monotonic() + self.s.idle_seconds
        while not self._stopping.is_set():
            self._alive()
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            responses = client.idle_check(timeout=min(_STOP_CHECK_SECONDS, remaining))
            if any(is_bye(r) for r in responses):
                raise _ServerGone("the server closed the session (BYE)")
            # An untagged NO or BAD in IDLE (Dovecot says "Internal error" when the folder is
            # deleted under us) means no more news will come: leave IDLE and look again.
            if any(is_new_mail(r) or is_trouble(r) for r in responses):
                break
            if not responses and _hung_up(client.socket()):
                raise _ServerGone("the server closed the connection")
        client.idle_done()

    def _poll(self, client: IMAPClient) -> None:
        """No IDLE: wait poll_seconds, then NOOP to keep the session and notice a dead one."""
        deadline = time.monotonic() + self.s.poll_seconds
        while not self._stopping.is_set():
            self._alive()
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                client.noop()
                return
            self._stopping.wait(min(_ALIVE_SECONDS, remaining))


def _tls_context(s: MailboxSettings) -> ssl.SSLContext:
    cafile = str(s.tls_ca_file) if s.tls_ca_file is not None else None
    return ssl.create_default_context(cafile=cafile)


def _keep_alive(sock: socket.socket) -> None:
    """TCP keepalives notice a peer that vanished without closing (NAT, a cut cable) in IDLE."""
    with contextlib.suppress(OSError, AttributeError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE, 60)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPINTVL, 20)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPCNT, 3)


def _hung_up(sock: socket.socket) -> bool:
    # imapclient's idle_check swallows EOF and returns nothing; ask the kernel instead.
    poller = select.poll()
    events = getattr(select, "POLLRDHUP", 0) | select.POLLHUP | select.POLLERR
    poller.register(sock.fileno(), events)
    return bool(poller.poll(0))


def _heard_new_mail(client: IMAPClient) -> bool:
    """Whether an EXISTS came with the answers since the last _forget_untagged."""
    with contextlib.suppress(AttributeError):
        return bool(client._imap.untagged_responses.get("EXISTS"))
    return False


def _forget_untagged(client: IMAPClient) -> None:
    # imaplib keeps every unrequested EXISTS/EXPUNGE/FETCH of a long session; drop them.
    with contextlib.suppress(AttributeError):
        client._imap.untagged_responses.clear()


def _close(client: IMAPClient) -> None:
    try:
        client.logout()
    except Exception:  # noqa: BLE001 (the connection is often already gone)
        with contextlib.suppress(Exception):
            client.shutdown()


def _is_login_failure(exc: Exception) -> bool:
    return isinstance(exc, LoginError | imap_auth.CredentialError)


def _describe(exc: Exception) -> str:
    """One line naming the failure; server replies arrive as bytes reprs, which we unwrap."""
    text = (str(exc).strip().splitlines() or [""])[0][:300]
    if text.startswith(("b'", 'b"')) and text.endswith(("'", '"')):
        text = text[2:-1]
    if isinstance(exc, _ServerGone):
        return text
    if isinstance(exc, LoginError):
        return f"login refused: {text}"
    if isinstance(exc, imap_auth.CredentialError):
        return f"no credentials: {text}"
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    if isinstance(exc, socket.gaierror):
        return f"host not found: {text}"
    if isinstance(exc, TimeoutError | socket.timeout):
        return "timed out"
    if isinstance(exc, ssl.SSLError):
        return f"TLS: {exc.reason or text}"
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
