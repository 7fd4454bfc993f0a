"""Health of every long-running source (mailboxes, Maildir, outbox, sweeps), kept in memory.

A worker must never depend on the database to record that the database failed, so reports go
to memory first; the main loop copies them to the database whenever it can. Reports come from
any thread (a mailbox's blocking IMAP thread among them): every method takes the lock briefly,
does no I/O and never raises.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

log = logging.getLogger(__name__)

# What each source is; the persisted row keeps it so `status` can tell mailboxes from the rest.
MAILBOX, MAILDIR, OUTBOX, SWEEP = "mailbox", "maildir", "outbox", "sweep"


@dataclass(frozen=True, slots=True)
class SourceState:
    """One source's health at one moment."""

    name: str
    kind: str
    connected: bool = False
    # The last message handled, or the last look that found nothing left to do.
    last_progress_at: datetime | None = None
    # Messages (or mails) known to be waiting, the one in hand included.
    waiting: int = 0
    last_error: str = ""
    last_error_at: datetime | None = None
    # Start of the current run of failures; None while the source works.
    failing_since: datetime | None = None
    # The last sign of life of any kind.
    heartbeat_at: datetime | None = None
    # When the unit of work in hand (one message, one mail, one sweep) began; None when idle.
    busy_since: datetime | None = None
    # True once the source has sent a heartbeat while idle: only then is its silence a fault.
    beats: bool = False
    changed_at: datetime | None = None


def stuck_reason(state: SourceState, now: datetime, limit: timedelta) -> str | None:
    """Why a source counts as stuck (one unit of work, or silence, past `limit`), or None."""
    if state.busy_since is not None and now - state.busy_since > limit:
        return f"busy on one item for {_seconds(now - state.busy_since)}"
    # A failing source waits out its backoff in silence; one that works must keep beating.
    if (
        state.beats
        and state.failing_since is None
        and state.heartbeat_at is not None
        and now - state.heartbeat_at > limit
    ):
        return f"silent for {_seconds(now - state.heartbeat_at)}"
    return None


def alert_reason(
    failing_since: datetime | None,
    last_progress_at: datetime | None,
    waiting: int,
    now: datetime,
    alert_after: timedelta,
) -> str | None:
    """Why `status` should raise the alarm about a source, or None while it is fine."""
    if failing_since is not None and now - failing_since >= alert_after:
        return f"failing for {_seconds(now - failing_since)}"
    if waiting > 0 and (last_progress_at is None or now - last_progress_at >= alert_after):
        since = "ever" if last_progress_at is None else _seconds(now - last_progress_at)
        return f"{waiting} waiting and no progress for {since}"
    return None


def _seconds(span: timedelta) -> str:
    return f"{span.total_seconds():.0f}s"


def describe(exc: BaseException) -> str:
    """One short line naming a failure (no traceback, no SQL)."""
    text = (str(getattr(exc, "orig", None) or exc).strip().splitlines() or [""])[0][:300]
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


class Outage:
    """Logs a run of failures once when it starts (WARNING) and once when it ends (INFO).

    With `each_new_error`, a run whose error changes (a refused connection turning into a
    refused login) is logged again for each different error; repeats go to DEBUG either way.
    """

    def __init__(
        self, what: str, logger: logging.Logger = log, *, each_new_error: bool = False
    ) -> None:
        self.what = what
        self._log = logger
        self._each_new_error = each_new_error
        self._lock = threading.Lock()
        self.failures = 0
        self.since: datetime | None = None
        self.error = ""  # the last error logged in this run

    @property
    def failing(self) -> bool:
        return self.since is not None

    def failed(
        self,
        error: str,
        at: datetime,
        exc: BaseException | None = None,
        level: int = logging.WARNING,
    ) -> bool:
        """Count a failure; True when it was logged (at `level`, with `exc`'s traceback)."""
        with self._lock:
            self.failures += 1
            repeat = self.since is not None and (not self._each_new_error or error == self.error)
            if repeat:
                self._log.debug("%s still failing (%d): %s", self.what, self.failures, error)
                return False
            if self.since is None:
                self.since = at
            self.error = error
        self._log.log(
            level, "%s failing: %s (retrying with backoff)", self.what, error, exc_info=exc
        )
        return True

    def ok(self, at: datetime, detail: str = "") -> None:
        """End a run of failures, if one is going on; `detail` is added to its one log line."""
        with self._lock:
            since, failures = self.since, self.failures
            self.since, self.failures, self.error = None, 0, ""
        if since is not None:
            self._log.info(
                "%s working again after %d failed attempts (%s)%s",
                self.what,
                failures,
                _seconds(at - since),
                f": {detail}" if detail else "",
            )


class Health:
    """Every source's health in memory; the IMAP StatusSink for all mailboxes at once."""

    def __init__(self, on_news: Callable[[], None] | None = None) -> None:
        self._lock = threading.Lock()
        self._states: dict[str, SourceState] = {}
        # Called (from the reporting thread) on a change worth telling at once: a source
        # appearing, connecting, failing or recovering, so the database need not wait for the
        # next routine copy.
        self._on_news = on_news

    def add(self, name: str, kind: str, at: datetime) -> None:
        """Start tracking a source (its first report would do the same)."""
        with self._lock:
            if name in self._states:
                return
            self._states[name] = SourceState(name, kind, heartbeat_at=at, changed_at=at)
        self._tell()

    def snapshot(self) -> tuple[SourceState, ...]:
        with self._lock:
            return tuple(self._states.values())

    def get(self, name: str) -> SourceState | None:
        with self._lock:
            return self._states.get(name)

    def stuck(self, now: datetime, limit: timedelta) -> list[tuple[str, str]]:
        """(source, why) for every source stuck past `limit`."""
        found = ((s.name, stuck_reason(s, now, limit)) for s in self.snapshot())
        return [(name, why) for name, why in found if why is not None]

    # --- daemon.sources.imap.StatusSink ----------------------------------------------------

    def connected(self, mailbox: str, at: datetime) -> None:
        self._change(mailbox, MAILBOX, at, connected=True, failing_since=None)

    def fetched(self, mailbox: str, at: datetime, waiting: int) -> None:
        def apply(s: SourceState) -> SourceState:
            # The message in hand (if any) still waits until the pipeline returns.
            in_hand = 1 if s.busy_since is not None else 0
            return dataclasses.replace(
                s,
                connected=True,
                waiting=max(waiting, in_hand),
                last_progress_at=at,
                failing_since=None,
            )

        self._apply(mailbox, MAILBOX, at, apply)

    def failed(self, mailbox: str, at: datetime, error: str) -> None:
        self.failing(mailbox, MAILBOX, at, error, connected=False)

    def alive(self, mailbox: str, at: datetime) -> None:
        self._change(mailbox, MAILBOX, at, beats=True)

    # --- any source ------------------------------------------------------------------------

    def busy(self, name: str, kind: str, at: datetime, message: bool = False) -> None:
        """A unit of work (one message, one mail, one sweep) begins; a received `message` in
        hand is work waiting until it is dealt with."""
        self._apply(
            name,
            kind,
            at,
            lambda s: dataclasses.replace(
                s, busy_since=at, waiting=max(s.waiting, 1) if message else s.waiting
            ),
        )

    def handled(self, name: str, kind: str, at: datetime) -> None:
        """A message was dealt with (filed, ignored, quarantined): that is progress."""
        self._apply(
            name,
            kind,
            at,
            lambda s: dataclasses.replace(
                s,
                busy_since=None,
                waiting=max(0, s.waiting - 1),
                last_progress_at=at,
                failing_since=None,
            ),
        )

    def idle(self, name: str, kind: str, at: datetime, caught_up: bool = True) -> None:
        """The work in hand ended; `caught_up` when nothing is left waiting."""

        def apply(s: SourceState) -> SourceState:
            if not caught_up:
                return dataclasses.replace(s, busy_since=None)
            return dataclasses.replace(
                s,
                busy_since=None,
                connected=True,
                waiting=0,
                last_progress_at=at,
                failing_since=None,
            )

        self._apply(name, kind, at, apply)

    def failing(
        self, name: str, kind: str, at: datetime, error: str, connected: bool = True
    ) -> None:
        self._apply(
            name,
            kind,
            at,
            lambda s: dataclasses.replace(
                s,
                connected=connected,
                busy_since=None,
                last_error=error[:2000],
                last_error_at=at,
                failing_since=s.failing_since or at,
            ),
        )

    # --- the lock ----------------------------------------------------------------------------

    def _change(self, name: str, kind: str, at: datetime, **values: object) -> None:
        self._apply(name, kind, at, lambda s: dataclasses.replace(s, **values))  # type: ignore[arg-type]

    def _apply(
        self, name: str, kind: str, at: datetime, change: Callable[[SourceState], SourceState]
    ) -> None:
        try:
            with self._lock:
                known = self._states.get(name)
                before = known or SourceState(name, kind)
                after = change(before)
                self._states[name] = dataclasses.replace(after, heartbeat_at=at, changed_at=at)
            if known is None or _headline(before) != _headline(after):
                self._tell()
        except Exception:  # a report must never take its reporter down
            log.exception("%s: health report dropped", name)

    def _tell(self) -> None:
        if self._on_news is not None:
            try:
                self._on_news()
            except Exception:  # the listener gone (a closed loop at stop) is not our fault
                log.debug("health news not delivered", exc_info=True)


def _headline(s: SourceState) -> tuple[bool, bool, str]:
    return s.connected, s.failing_since is not None, s.last_error
