"""IMAP mailboxes: new mail pushed by IDLE (polling where the server lacks it), raw bytes in.

One `watch` per mailbox. The blocking imapclient work runs in a thread of its own, so a slow or
broken server never holds up the event loop or another mailbox. For each message the pipeline
files it and commits the mailbox checkpoint in one transaction; only then is the message moved
out of the watched folder. A crash in between leaves it in place: it is fetched again, the
pipeline's dedupe answers DUPLICATE, and it is moved then.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import random
import select
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal, Protocol

from imapclient import IMAPClient
from imapclient.exceptions import LoginError
from imapclient.imapclient import SocketTimeout

from daemon.sources import imap_auth
from daemon.values import Checkpoint, Clock, ConfigPath, Disposition, Outcome, RawMail

log = logging.getLogger(__name__)

Security = Literal["tls", "starttls", "none"]


@dataclass(frozen=True, slots=True)
class MailboxSettings:
    """One [[mailboxes]] table: where the mailbox is, how to log in, which folders to use.

    security: "tls" (implicit TLS, usually port 993), "starttls" (port 143, upgraded before
    login; refused if the server does not offer it) or "none" (loopback hosts only).

    auth = "password": the password comes from password_env (an environment variable) or
    password_file (a file holding only the password); it is never written in config.toml.

    auth = "xoauth2": a bearer token from exactly one of
      token_file     a file another program keeps fresh (read at every login);
      token_command  argv of a program printing a token on stdout, e.g. ["/usr/local/bin/tok"];
      client_id      OAuth2 client credentials through MSAL, with tenant (or a full authority
                     URL), client_secret_env or client_secret_file, and cloud:
        cloud = "global": authority https://login.microsoftonline.com/<tenant>,
                          scope https://outlook.office365.com/.default, host outlook.office365.com
        cloud = "china":  Microsoft 365 operated by 21Vianet (世纪互联):
                          authority https://login.partner.microsoftonline.cn/<tenant>,
                          scope https://partner.outlook.cn/.default, host partner.outlook.cn
      The app registration needs the Office 365 Exchange Online application permission
      IMAP.AccessAsApp with admin consent, and its service principal must be given access to
      the mailbox in Exchange (New-ServicePrincipal, Add-MailboxPermission); username is the
      mailbox address.

    Other servers: Tencent Exmail imap.exmail.qq.com (hwimap.exmail.qq.com abroad) and Aliyun
    Mail imap.qiye.aliyun.com take the address and the client-specific password
    (客户端专用密码 / 客户端授权密码) on 993 with TLS; Gmail imap.gmail.com takes an app
    password, or XOAUTH2 through token_command; Exchange Server and Dovecot take a password.

    folder is watched. Handled mail moves to processed_folder, quarantined mail to
    quarantine_folder (created when missing); "" leaves the mail where it is (quarantine_folder
    = "" sends quarantined mail to processed_folder). With processed_folder = "" the checkpoint
    alone keeps the daemon from reading a message twice.

    poll_seconds is used only when the server lacks IDLE. idle_seconds: IDLE is re-issued this
    often (servers may end an IDLE after 30 minutes). retry_*: reconnect delays after a failure,
    doubling from retry_initial_seconds up to retry_max_seconds, with jitter; a refused login
    waits retry_max_seconds straight away, so a wrong password does not lock the account.
    A FETCH asks for at most batch_size messages (never more than 1,000) or about batch_bytes.
    timeout_seconds bounds connecting and each command (IDLE excepted).
    """

    name: str
    host: str
    port: int = 993
    security: Security = "tls"
    username: str = ""
    auth: Literal["password", "xoauth2"] = "password"
    password_env: str | None = None
    password_file: ConfigPath | None = None
    token_file: ConfigPath | None = None
    token_command: tuple[str, ...] = ()
    client_id: str = ""
    client_secret_env: str | None = None
    client_secret_file: ConfigPath | None = None
    tenant: str = ""
    cloud: Literal["global", "china"] = "global"
    authority: str = ""  # overrides the cloud's sign-in host + tenant
    scope: str = ""  # overrides the cloud's default scope
    tls_ca_file: ConfigPath | None = None  # a private CA; the system's CAs otherwise
    folder: str = "INBOX"
    processed_folder: str = "Processed"
    quarantine_folder: str = "Quarantine"
    poll_seconds: float = 60.0
    idle_seconds: float = 25 * 60.0
    batch_size: int = 50
    batch_bytes: int = 32 * 1024 * 1024
    timeout_seconds: float = 60.0
    retry_initial_seconds: float = 2.0
    retry_max_seconds: float = 300.0


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


# Files the message and commits the checkpoint in one transaction. Blocking and thread-safe.
Handler = Callable[[RawMail, Checkpoint], Outcome]


def check_mailbox(m: MailboxSettings) -> list[str]:
    """Problems with one [[mailboxes]] table, each naming the key (no I/O, secrets unread)."""
    where = f"[[mailboxes]] {m.name!r}"
    problems: list[str] = []
    if not m.name.strip():
        problems.append("[[mailboxes]] name: must not be empty")
    if not m.host.strip():
        problems.append(f"{where} host: must not be empty")
    if not 1 <= m.port <= 65535:
        problems.append(f"{where} port: {m.port} is not a TCP port")
    if m.security == "none" and not is_loopback(m.host):
        problems.append(
            f"{where} security: 'none' would send the login in clear to {m.host}; "
            "use 'tls' or 'starttls' ('none' is for loopback hosts only)"
        )
    if not m.username:
        problems.append(f"{where} username: must not be empty")
    if m.auth == "password":
        problems += _one_of(
            where, "password", password_env=m.password_env, password_file=m.password_file
        )
    else:
        sources = {
            "token_file": m.token_file,
            "token_command": m.token_command,
            "client_id": m.client_id,
        }
        problems += _one_of(where, "xoauth2 token source", **sources)
        if m.client_id:
            if not (m.tenant or m.authority):
                problems.append(f"{where} tenant: client_id needs tenant (or authority)")
            problems += _one_of(
                where,
                "client secret",
                client_secret_env=m.client_secret_env,
                client_secret_file=m.client_secret_file,
            )
    for key in ("processed_folder", "quarantine_folder"):
        if getattr(m, key) == m.folder:
            problems.append(f"{where} {key}: must differ from folder {m.folder!r}")
    positive = (
        "poll_seconds",
        "idle_seconds",
        "batch_size",
        "batch_bytes",
        "timeout_seconds",
        "retry_initial_seconds",
        "retry_max_seconds",
    )
    problems += [
        f"{where} {key}: must be greater than 0" for key in positive if getattr(m, key) <= 0
    ]
    if m.idle_seconds > 29 * 60:
        problems.append(f"{where} idle_seconds: servers end IDLE after 30 minutes; use <= 1740")
    if m.retry_max_seconds < m.retry_initial_seconds:
        problems.append(f"{where} retry_max_seconds: must be >= retry_initial_seconds")
    return problems


def _one_of(where: str, what: str, **keys: object) -> list[str]:
    given = [key for key, value in keys.items() if value]
    if len(given) == 1:
        return []
    names = " or ".join(keys)
    if not given:
        return [f"{where} {what}: set {names}"]
    return [f"{where} {what}: set only one of {', '.join(given)}"]


def check_mailboxes(mailboxes: Sequence[MailboxSettings]) -> list[str]:
    """check_mailbox for each, plus names that must be unique (checkpoints are keyed by name)."""
    problems = [p for m in mailboxes for p in check_mailbox(m)]
    seen: set[str] = set()
    for m in mailboxes:
        if m.name in seen:
            problems.append(f"[[mailboxes]] name: {m.name!r} is used twice")
        seen.add(m.name)
    return problems


def is_loopback(host: str) -> bool:
    """True for localhost and loopback addresses; names are not resolved."""
    if host.lower() in ("localhost", "localhost.localdomain"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def backoff_delay(failures: int, initial: float, cap: float, jitter: float) -> float:
    """Seconds to wait after the n-th failure in a row: doubling, capped, times jitter (0.5-1)."""
    return float(min(cap, initial * 2.0 ** max(0, failures - 1)) * jitter)


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
    loop = asyncio.get_running_loop()
    stopping = threading.Event()

    def notify() -> None:
        if wake is not None:
            with contextlib.suppress(RuntimeError):  # the loop closed under a lingering thread
                loop.call_soon_threadsafe(wake)

    worker = _Worker(settings, handler, checkpoints, status, clock, stopping, notify)
    finished: asyncio.Future[None] = loop.create_future()

    def settle(error: BaseException | None) -> None:
        if not finished.done():
            if error is None:
                finished.set_result(None)
            else:
                finished.set_exception(error)

    def run() -> None:
        error: BaseException | None = None
        try:
            worker.run()
        except BaseException as exc:  # reported to the awaiting task, not swallowed
            error = exc
        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(settle, error)

    thread = threading.Thread(target=run, name=f"imap:{settings.name}", daemon=True)
    thread.start()
    stopped: asyncio.Future[bool] = asyncio.ensure_future(stop.wait())
    try:
        waiters: list[asyncio.Future[Any]] = [finished, stopped]
        await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
    finally:
        stopped.cancel()
        stopping.set()
        await _wind_down(worker, finished, settings.name)
    if finished.done() and not finished.cancelled():
        error = finished.exception()
        if error is not None:
            raise error


# How long a blocked worker may take to notice `stop` (IDLE is checked this often).
_STOP_CHECK_SECONDS = 0.5
_STOP_GRACE_SECONDS = 1.5
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


async def _wind_down(worker: _Worker, finished: asyncio.Future[None], name: str) -> None:
    """Give the worker a moment to log out; then cut its socket. A message in the pipeline is
    always waited for; a connect() in progress is not (the thread exits when it returns)."""
    done, _ = await asyncio.wait({finished}, timeout=_STOP_GRACE_SECONDS)
    if done:
        return
    worker.interrupt()
    done, _ = await asyncio.wait({finished}, timeout=_STOP_GRACE_SECONDS)
    while not done and worker.in_handler:
        done, _ = await asyncio.wait({finished}, timeout=_STOP_CHECK_SECONDS)
    if not done:
        log.debug("%s: left a blocked connection attempt behind at stop", name)


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
        self._failures = 0
        self._last_error = ""
        self._sink_error = ""
        self._alive_at = float("-inf")
        self._uidnext: int | None = None  # from SELECT: where this session's backlog ends
        self._ever_connected = False
        self._random = random.Random()
        self.in_handler = False

    # --- the reconnect loop ----------------------------------------------------------------

    def run(self) -> None:
        """Sessions until stop; any Exception (server, network, pipeline, database) ends only
        the session, which is retried with backoff: nothing else restarts this thread."""
        while not self._stopping.is_set():
            try:
                self._session()
            except Exception as exc:
                if self._stopping.is_set():
                    break  # errors while being stopped are ours, not the server's
                delay = self.s.retry_max_seconds
                try:
                    self._failed(exc)
                    delay = self._next_delay(exc)
                except Exception:  # noqa: BLE001 (reporting a failure must not end the thread)
                    log.exception("%s: could not report a failure", self.s.name)
                self._stopping.wait(delay)

    def interrupt(self) -> None:
        """Unblock a read or write in progress (called from the event loop's thread at stop)."""
        client = self._client
        if client is not None:
            with contextlib.suppress(OSError):
                client.socket().shutdown(socket.SHUT_RDWR)

    def _failed(self, exc: Exception) -> None:
        self._failures += 1
        error = _describe(exc)
        if error == self._last_error:
            log.debug("%s: still failing (attempt %d): %s", self.s.name, self._failures, error)
            return
        self._last_error = error
        level = logging.ERROR if _is_login_failure(exc) else logging.WARNING
        log.log(level, "%s: %s (retrying with backoff)", self.s.name, error)
        if not self._stopping.is_set():
            self._report("failed", lambda at: self._status.failed(self.s.name, at, error))

    def _report(self, what: str, call: Callable[[datetime], None]) -> None:
        """One call to the status sink. Its failure (the database down, say) is logged once
        per distinct error and otherwise ignored: mail keeps flowing without health reports."""
        try:
            call(self._clock())
        except Exception as exc:  # noqa: BLE001 (any sink failure; see above)
            error = _describe(exc)
            if error != self._sink_error:
                self._sink_error = error
                log.warning("%s: cannot record mailbox health (%s): %s", self.s.name, what, error)
            else:
                log.debug("%s: still cannot record mailbox health (%s)", self.s.name, what)
            return
        if self._sink_error:
            log.info("%s: recording mailbox health again", self.s.name)
            self._sink_error = ""

    def _fetched(self, waiting: int) -> None:
        self._report("fetched", lambda at: self._status.fetched(self.s.name, at, waiting))

    def _alive(self, *, now: bool = False) -> None:
        """StatusSink.alive: always when `now`, else at most every _ALIVE_SECONDS."""
        tick = time.monotonic()
        if now or tick - self._alive_at >= _ALIVE_SECONDS:
            self._alive_at = tick
            self._report("alive", lambda at: self._status.alive(self.s.name, at))

    def _next_delay(self, exc: Exception) -> float:
        s = self.s
        if _is_login_failure(exc):
            return s.retry_max_seconds * self._random.uniform(0.5, 1.0)
        return backoff_delay(
            self._failures,
            s.retry_initial_seconds,
            s.retry_max_seconds,
            self._random.uniform(0.5, 1.0),
        )

    def _healthy(self) -> None:
        if self._last_error:
            log.info("%s: working again after %d failed attempts", self.s.name, self._failures)
        self._failures = 0
        self._last_error = ""

    # --- one connection --------------------------------------------------------------------

    def _session(self) -> None:
        client = self._connect()
        try:
            s = self.s
            moving = bool(s.processed_folder or s.quarantine_folder)
            info = client.select_folder(s.folder, readonly=not moving)
            uidvalidity = int(info[b"UIDVALIDITY"])
            self._uidnext = _uidnext(info)
            if moving:
                self._ensure_folders(client)
            idle = client.has_capability("IDLE")
            if self._stopping.is_set():
                return
            self._report("connected", lambda at: self._status.connected(s.name, at))
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
            for chunk in _chunks(uids, _META_CHUNK):
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
                for batch in _batches(todo, self.s.batch_size, self.s.batch_bytes):
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
        """Fetch one batch's bodies and hand each to the handler, appending every committed
        message to `handled` as it goes (so a failure midway still moves those)."""
        fetched = client.fetch(batch, ["BODY.PEEK[]", "INTERNALDATE"])
        for uid in batch:
            item = fetched.pop(uid, None)  # each body can be freed once it is handled
            if item is None or b"BODY[]" not in item:
                continue  # expunged by someone else since the search
            if self._stopping.is_set():
                break
            committed = max(committed, uid)
            checkpoint = Checkpoint(self.s.name, self.s.folder, uidvalidity, committed)
            raw = RawMail(
                bytes(item[b"BODY[]"]),
                self._origin(uidvalidity, uid),
                self._received_at(item.get(b"INTERNALDATE")),
            )
            self.in_handler = True
            try:
                outcome = self._handler(raw, checkpoint)
            finally:
                self.in_handler = False
            handled.append((uid, outcome))
            self._alive(now=True)

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
            for chunk in _chunks([uid for uid, _ in moves], _MOVE_CHUNK):
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
        deadline = time.monotonic() + self.s.idle_seconds
        while not self._stopping.is_set():
            self._alive()
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            responses = client.idle_check(timeout=min(_STOP_CHECK_SECONDS, remaining))
            if any(_is_bye(r) for r in responses):
                raise _ServerGone("the server closed the session (BYE)")
            # An untagged NO or BAD in IDLE (Dovecot says "Internal error" when the folder is
            # deleted under us) means no more news will come: leave IDLE and look again.
            if any(_is_new_mail(r) or _is_trouble(r) for r in responses):
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


def sequence_set(uids: Iterable[int]) -> str:
    """UIDs as an IMAP sequence set of ranges, e.g. [1, 2, 3, 5, 7, 8] -> "1:3,5,7:8".

    Sorted and deduplicated first. A backlog numbered without gaps becomes one range however
    long it is; the worst case (no two UIDs adjacent) is as long as the plain list."""
    parts: list[str] = []
    first = last = -1
    for uid in sorted(set(uids)):
        if uid < 1:
            raise ValueError(f"UIDs start at 1, not {uid}")
        if uid == last + 1:
            last = uid
            continue
        if first > 0:
            parts.append(_span(first, last))
        first = last = uid
    if first > 0:
        parts.append(_span(first, last))
    if not parts:
        raise ValueError("an IMAP sequence set names at least one message")
    return ",".join(parts)


def _span(first: int, last: int) -> str:
    return str(first) if first == last else f"{first}:{last}"


def search_windows(after: int, uidnext: int | None, span: int) -> list[str]:
    """UID ranges to SEARCH for every message above `after`, each at most `span` UIDs wide
    up to `uidnext` (unknown: None); the last is open ("n:*") for mail arriving meanwhile."""
    if span < 1:
        raise ValueError(f"span must be at least 1, not {span}")
    windows: list[str] = []
    low = after + 1
    while uidnext is not None and uidnext - low > span:
        windows.append(f"{low}:{low + span - 1}")
        low += span
    windows.append(f"{low}:*")
    return windows


def _chunks(items: Sequence[int], size: int) -> Iterator[Sequence[int]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _batches(todo: Iterable[tuple[int, int]], count: int, size: int) -> Iterator[list[int]]:
    """UIDs in order, grouped by at most `count` messages or about `size` bytes."""
    batch: list[int] = []
    total = 0
    for uid, octets in todo:
        if batch and (len(batch) >= count or total + octets > size):
            yield batch
            batch, total = [], 0
        batch.append(uid)
        total += octets
    if batch:
        yield batch


def _uidnext(selected: dict[bytes, Any]) -> int | None:
    try:
        return int(selected[b"UIDNEXT"])
    except (KeyError, TypeError, ValueError):
        return None  # the server did not say (RFC 3501 requires it; some omit it)


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


def _is_new_mail(response: Any) -> bool:
    return isinstance(response, tuple) and len(response) >= 2 and response[1] == b"EXISTS"


def _is_bye(response: Any) -> bool:
    return isinstance(response, tuple) and len(response) >= 1 and response[0] == b"BYE"


def _is_trouble(response: Any) -> bool:
    return isinstance(response, tuple) and len(response) >= 1 and response[0] in (b"NO", b"BAD")


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
