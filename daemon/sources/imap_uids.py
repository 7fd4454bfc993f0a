"""Pure helpers of the IMAP worker: UID sets and windows, batching, backoff, reading responses.

No sockets and no imapclient here, so each rule can be tested on plain values.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import Any


def backoff_delay(failures: int, initial: float, cap: float, jitter: float) -> float:
    """Seconds to wait after the n-th failure in a row: doubling, capped, times jitter (0.5-1)."""
    return float(min(cap, initial * 2.0 ** max(0, failures - 1)) * jitter)


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


def chunks(items: Sequence[int], size: int) -> Iterator[Sequence[int]]:
    """`items` in consecutive slices of at most `size`."""
    for start in range(0, len(items), size):
        yield items[start : start + size]


def batches(todo: Iterable[tuple[int, int]], count: int, size: int) -> Iterator[list[int]]:
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


def uidnext_of(selected: dict[bytes, Any]) -> int | None:
    """UIDNEXT from a SELECT answer, or None."""
    try:
        return int(selected[b"UIDNEXT"])
    except (KeyError, TypeError, ValueError):
        return None  # the server did not say (RFC 3501 requires it; some omit it)


def is_new_mail(response: Any) -> bool:
    return isinstance(response, tuple) and len(response) >= 2 and response[1] == b"EXISTS"


def is_bye(response: Any) -> bool:
    return isinstance(response, tuple) and len(response) >= 1 and response[0] == b"BYE"


def is_trouble(response: Any) -> bool:
    return isinstance(response, tuple) and len(response) >= 1 and response[0] in (b"NO", b"BAD")
