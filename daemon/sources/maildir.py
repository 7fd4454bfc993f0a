"""A Maildir folder (new/ and cur/), as a local MTA or getmail delivers it: raw bytes in."""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from daemon.values import Disposition, Outcome, RawMail

log = logging.getLogger(__name__)

Handler = Callable[[RawMail], Outcome]


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


def drain(maildir: Maildir, handle: Handler, should_stop: Callable[[], bool]) -> int:
    """Hand every waiting file to the pipeline; returns how many were handled.

    A file moves only after `handle` returns its committed outcome: when `handle` raises (the
    database is down) the file stays where it is and the error goes to the caller, who retries.
    """
    handled = 0
    for path in maildir.waiting():
        if should_stop():
            break
        try:
            data = path.read_bytes()
            received = datetime.fromtimestamp(path.stat().st_mtime, UTC)
        except FileNotFoundError:
            continue  # another instance took it
        raw = RawMail(data, f"maildir:{path}", received)
        outcome = handle(raw)
        with contextlib.suppress(FileNotFoundError):  # another instance moved it
            maildir.done(path, outcome)
        handled += 1
    return handled
