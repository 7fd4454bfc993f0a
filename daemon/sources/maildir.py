"""A Maildir folder (new/ and cur/), as a local MTA or getmail delivers it: raw bytes in."""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from daemon.values import Batch, Clock, Disposition, Outcome, RawMail, Received

log = logging.getLogger(__name__)

# Files a batch of messages in one transaction (see pipeline.process_batch).
Handler = Callable[[list[Received]], Batch]

# A batch is at most this many files or about this many bytes: one transaction each, with
# the files' bytes in memory until it commits.
BATCH_SIZE = 100
BATCH_BYTES = 32 * 1024 * 1024

# A file copied straight into new/ (by hand, not through tmp/) can be seen before its bytes
# are: an empty file this young is left for the next look rather than quarantined as empty.
EMPTY_GRACE = timedelta(seconds=30)


@dataclass(frozen=True, slots=True)
class Maildir:
    root: Path
    processed: str  # Maildir++ subfolder names, without the leading dot
    quarantine: str

    def ensure(self) -> None:
        """Create the folder tree (a fresh install starts with none)."""
        for base in (
            self.root,
            self.root / f".{self.processed}",
            self.root / f".{self.quarantine}",
        ):
            for sub in ("new", "cur", "tmp"):
                (base / sub).mkdir(parents=True, exist_ok=True)

    def waiting(self) -> Iterator[Path]:
        """Files not yet handled, oldest delivery first (Maildir names start with the time)."""
        for sub in ("new", "cur"):
            folder = self.root / sub
            try:
                names = sorted(os.listdir(folder))
            except FileNotFoundError:
                continue
            for name in names:
                if not name.startswith("."):
                    yield folder / name

    def done(self, path: Path, outcome: Outcome) -> None:
        """Move a handled file out of the way, only after its outcome is committed."""
        folder = (
            self.quarantine if outcome.disposition is Disposition.QUARANTINED else self.processed
        )
        base_name = path.name.split(":", 1)[0]
        target = self.root / f".{folder}" / "cur" / f"{base_name}:2,S"
        os.replace(path, target)


def drain(maildir: Maildir, handle: Handler, should_stop: Callable[[], bool], clock: Clock) -> int:
    """Hand every waiting file to the pipeline, a batch at a time; returns how many were
    handled.

    A file moves only after `handle` returns its committed outcome: when `handle` raises (the
    database is down) or stops partway, the files left stay where they are and the error goes
    to the caller, who retries.
    """
    handled = 0
    batch: list[tuple[Path, Received]] = []
    size = 0
    for path in maildir.waiting():
        if should_stop():
            break
        try:
            data = path.read_bytes()
            delivered = datetime.fromtimestamp(path.stat().st_mtime, UTC)
        except FileNotFoundError:
            continue  # another instance took it
        if not data and clock() - delivered < EMPTY_GRACE:
            continue
        received = _received_at(delivered, clock())
        batch.append((path, Received(RawMail(data, f"maildir:{path}", received))))
        size += len(data)
        if len(batch) >= BATCH_SIZE or size >= BATCH_BYTES:
            handled += _handle(maildir, handle, batch)
            batch, size = [], 0
    if batch and not should_stop():  # on stop the files read stay for the next start
        handled += _handle(maildir, handle, batch)
    return handled


def _handle(maildir: Maildir, handle: Handler, batch: list[tuple[Path, Received]]) -> int:
    """File one batch and move its committed files; raise what stopped it, if anything."""
    done = handle([item for _, item in batch])
    for (path, _), outcome in zip(batch, done.outcomes, strict=False):
        with contextlib.suppress(FileNotFoundError):  # another instance moved it
            maildir.done(path, outcome)
    if done.error is not None:
        raise done.error
    return len(done.outcomes)


def _received_at(delivered: datetime, now: datetime) -> datetime:
    """When the file was delivered (its mtime); `now` if that is in the future, as after a
    copy that kept another machine's times: a complaint cannot arrive after it is read."""
    return delivered if delivered <= now else now
