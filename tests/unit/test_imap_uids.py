"""Pure IMAP helpers: UID sets as ranges, SEARCH in bounded windows, reconnect backoff."""

from __future__ import annotations

import pytest

from daemon.sources.imap_uids import backoff_delay, search_windows, sequence_set


def expand(sequence: str) -> list[int]:
    """The UIDs a sequence set without "*" names, as a server reads it."""
    uids: list[int] = []
    for part in sequence.split(","):
        first, _, last = part.partition(":")
        low, high = sorted((int(first), int(last or first)))
        uids += range(low, high + 1)
    return uids


def test_consecutive_uids_become_one_range() -> None:
    assert sequence_set([1, 2, 3, 4]) == "1:4"


def test_gaps_split_ranges_and_single_uids_stand_alone() -> None:
    assert sequence_set([1, 2, 3, 5, 7, 8, 10]) == "1:3,5,7:8,10"


def test_unsorted_and_repeated_uids_are_sorted_and_named_once() -> None:
    assert sequence_set([9, 3, 4, 3, 10, 1]) == "1,3:4,9:10"


def test_a_hundred_thousand_waiting_uids_fit_in_a_few_bytes() -> None:
    assert sequence_set(range(1, 100_001)) == "1:100000"


def test_every_uid_given_is_named_and_no_other() -> None:
    uids = [u for u in range(1, 5000) if u % 7 not in (2, 3) or u % 11 == 0]
    assert expand(sequence_set(uids)) == uids


def test_an_empty_set_is_refused() -> None:
    with pytest.raises(ValueError, match="at least one"):
        sequence_set([])


def test_uid_zero_is_refused() -> None:
    with pytest.raises(ValueError, match="start at 1"):
        sequence_set([0, 1])


def test_a_search_below_the_window_size_is_one_open_window() -> None:
    assert search_windows(after=41, uidnext=100, span=50_000) == ["42:*"]


def test_without_uidnext_the_search_is_one_open_window() -> None:
    assert search_windows(after=0, uidnext=None, span=10) == ["1:*"]


def test_a_long_uid_range_is_searched_in_windows_ending_open() -> None:
    assert search_windows(after=0, uidnext=26, span=10) == ["1:10", "11:20", "21:*"]


def test_windows_cover_every_uid_up_to_uidnext_exactly_once() -> None:
    windows = search_windows(after=123, uidnext=100_000, span=7_000)
    closed = [expand(w) for w in windows[:-1]]
    last_low = int(windows[-1].split(":")[0])
    covered = [u for w in closed for u in w] + list(range(last_low, 100_000))
    assert covered == list(range(124, 100_000))
    assert all(len(w) == 7_000 for w in closed)
    assert 100_000 - last_low <= 7_000


def test_reconnect_delays_double_up_to_the_cap_and_keep_their_jitter() -> None:
    delays = [backoff_delay(n, initial=2, cap=60, jitter=1.0) for n in range(1, 8)]
    assert delays == [2, 4, 8, 16, 32, 60, 60]
    assert backoff_delay(3, initial=2, cap=60, jitter=0.5) == 4
