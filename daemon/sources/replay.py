"""Offline replay: .eml files, folders of them and mbox files, read without moving anything."""

from __future__ import annotations

import logging
import mailbox
import os
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email.parser import BytesHeaderParser
from email.policy import compat32
from email.utils import parsedate_to_datetime
from pathlib import Path

from daemon.values import RawMail, Received

log = logging.getLogger(__name__)


def is_mbox(path: Path) -> bool:
    """An mbox starts with a 'From ' separator line; a single message does not."""
    if path.suffix.lower() in {".eml", ".msg"}:
        return False
    try:
        with open(path, "rb") as fh:
            head = fh.read(5)
    except OSError:
        return False
    return head == b"From "


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


def read(paths: Sequence[Path], as_received_by: datetime | None = None) -> Iterator[RawMail]:
    """The messages in `paths`, one RawMail each; an mbox yields one per message. Each is
    stamped with its file's time, or with `as_received_by` given (the replay's "now"), with
    its own arrival time (see arrival)."""
    for path in files_under(paths):
        received = datetime.fromtimestamp(path.stat().st_mtime, UTC)
        if is_mbox(path):
            box = mailbox.mbox(path, create=False)
            try:
                for index, key in enumerate(box.keys()):
                    origin = f"replay:{path}#{index + 1}"
                    yield _stamped(box.get_bytes(key), origin, received, as_received_by)
            finally:
                box.close()
        else:
            yield _stamped(path.read_bytes(), f"replay:{path}", received, as_received_by)


def _stamped(data: bytes, origin: str, received: datetime, now: datetime | None) -> RawMail:
    if now is None:
        return RawMail(data, origin, received)
    found = arrival(data, now)
    if found.problem:
        used = f"its {found.header} header" if found.header else f"now ({now.isoformat()})"
        log.warning("%s: %s; filed as received at %s", origin, found.problem, used)
    return RawMail(data, origin, found.at)


@dataclass(frozen=True, slots=True)
class Arrival:
    """When a saved message arrived, which header says so, and why none could be used."""

    at: datetime  # aware, UTC
    header: str  # "Received", "Date", or "" (now)
    problem: str = ""  # for a warning when a header was there but could not be used


def arrival(data: bytes, now: datetime) -> Arrival:
    """The message's arrival time: the date of its topmost `Received:` header (the last hop,
    our own server's), else its `Date:`, else `now`. A header whose date cannot be read is
    passed over; a time after `now` is not believed, and `now` is used instead."""
    headers = BytesHeaderParser(policy=compat32).parsebytes(data, headersonly=True)
    problems: list[str] = []
    candidates: list[tuple[str, str]] = []
    hops = headers.get_all("Received") or []
    if hops:
        topmost = str(hops[0])
        candidates.append(("Received", topmost.rpartition(";")[2] if ";" in topmost else ""))
    date_header = headers.get("Date")
    if date_header is not None:
        candidates.append(("Date", str(date_header)))
    for name, text in candidates:
        at = _parse_date(text)
        if at is None:
            shown = " ".join(text.split())[:80]
            problems.append(f"{name} date {shown!r} unreadable" if shown else f"{name} has no date")
            continue
        if at > now:
            problems.append(f"{name} date {at.isoformat()} is in the future")
            return Arrival(now, "", "; ".join(problems))
        return Arrival(at, name, "; ".join(problems))
    if not candidates:
        problems.append("no Received or Date header")
    return Arrival(now, "", "; ".join(problems))


def _parse_date(text: str) -> datetime | None:
    try:
        at = parsedate_to_datetime(" ".join(text.split()))
    except (TypeError, ValueError, IndexError):
        return None
    # "-0000" (or no zone) says the zone is unknown: read it as UTC, the likeliest.
    return (at if at.tzinfo is not None else at.replace(tzinfo=UTC)).astimezone(UTC)


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
