"""Reading the next batch of saved mail in a second process while this one files the last.

Reading a message (parsing it, decoding its text) needs no database and is about a fifth of
the work of filing it, so on a machine with a second core `complaintd replay` hands it to a
reader process and files one batch while the next is read. With one core, or should the reader
die, the batches are read here as before.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import signal
import threading
import time
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool

from daemon.pipeline import Read, Reading, read
from daemon.values import Received

log = logging.getLogger(__name__)

_Read = tuple[list[Received], list[Read]]


def read_all(reading: Reading, data: list[bytes]) -> list[Read]:
    return [read(d, reading) for d in data]


def ahead(batches: Iterable[list[Received]], reading: Reading) -> Iterator[_Read]:
    """Each batch with its messages read, the next one read meanwhile in a second process."""
    reader = _Reader(reading)
    try:
        waiting: tuple[list[Received], Future[list[Read]] | None] | None = None
        for batch in batches:
            following = (batch, reader.submit(batch))
            if waiting is not None:
                yield waiting[0], reader.collect(*waiting)
            waiting = following
        if waiting is not None:
            yield waiting[0], reader.collect(*waiting)
    finally:
        reader.close()


class _Reader:
    """The reader process; without one (one core, or it stopped) batches are read here."""

    def __init__(self, reading: Reading) -> None:
        self._reading = reading
        self._pool: ProcessPoolExecutor | None = None
        if len(os.sched_getaffinity(0)) > 1:
            # Forked, the reader starts at once with everything imported; it touches nothing
            # but the bytes it is sent.
            fork = multiprocessing.get_context("fork")
            self._pool = ProcessPoolExecutor(
                1, mp_context=fork, initializer=_started, initargs=(os.getpid(),)
            )

    def submit(self, batch: list[Received]) -> Future[list[Read]] | None:
        if self._pool is None:
            return None
        try:
            return self._pool.submit(read_all, self._reading, _bytes(batch))
        except BrokenProcessPool:
            self._lost()
            return None

    def collect(self, batch: list[Received], reads: Future[list[Read]] | None) -> list[Read]:
        """The batch as the reader read it, or read here when it could not."""
        if reads is not None:
            try:
                return reads.result()
            except BrokenProcessPool:
                self._lost()
        return read_all(self._reading, _bytes(batch))

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(cancel_futures=True)

    def _lost(self) -> None:
        if self._pool is not None:  # said once: every batch after it is read here
            log.warning("the reader process stopped; the rest is read in this one")
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None


def _started(parent: int) -> None:
    """In the reader: Ctrl-C is the replay's to handle (it stops the reader), and a replay
    that is killed takes its reader with it."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    threading.Thread(target=_follow, args=(parent,), name="orphaned", daemon=True).start()


def _follow(parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(0.5)
    os._exit(0)


def _bytes(batch: list[Received]) -> list[bytes]:
    return [item.raw.data for item in batch]
