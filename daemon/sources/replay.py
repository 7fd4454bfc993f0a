"""Offline replay: .eml files, folders of them and mbox files, read without moving anything."""

from __future__ import annotations

import mailbox
import os
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path

from daemon.values import RawMail, Received


def is_mbox(path: Path) -> bool:
    """An mbox starts with a 'From ' separator line; a single message does not."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(5)
    except OSError:
        return False
    return head == b"From " and path.suffix.lower() not in {".eml", ".msg"}


def files_under(paths: Sequence[Path]) -> list[Path]:
    """Every regular file named or found below a named folder, in a stable order."""
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            for folder, dirs, names in os.walk(path):
                dirs.sort()
                found.extend(Path(folder) / n for n in sorted(names) if not n.startswith("."))
        else:
            found.append(path)
    return found


def read(paths: Sequence[Path]) -> Iterator[RawMail]:
    """The messages in `paths`, one RawMail each; an mbox yields one per message."""
    for path in files_under(paths):
        received = datetime.fromtimestamp(path.stat().st_mtime, UTC)
        if is_mbox(path):
            box = mailbox.mbox(path, create=False)
            try:
                for index, key in enumerate(box.keys()):
                    yield RawMail(box.get_bytes(key), f"replay:{path}#{index + 1}", received)
            finally:
                box.close()
        else:
            yield RawMail(path.read_bytes(), f"replay:{path}", received)


def count(paths: Sequence[Path]) -> int:
    """How many messages `read` will yield (for a progress bar)."""
    total = 0
    for path in files_under(paths):
        if is_mbox(path):
            box = mailbox.mbox(path, create=False)
            try:
                total += len(box)
            finally:
                box.close()
        else:
            total += 1
    return total


# `complaintd replay` files this many messages (or about this many bytes) per transaction.
BATCH_SIZE = 100
BATCH_BYTES = 32 * 1024 * 1024


def batches(mails: Iterable[RawMail]) -> Iterator[list[Received]]:
    """`mails` in batches of at most BATCH_SIZE messages or about BATCH_BYTES bytes."""
    batch: list[Received] = []
    size = 0
    for raw in mails:
        batch.append(Received(raw))
        size += len(raw.data)
        if len(batch) >= BATCH_SIZE or size >= BATCH_BYTES:
            yield batch
            batch, size = [], 0
    if batch:
        yield batch
