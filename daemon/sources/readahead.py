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
    # Forked, the reader starts at once with everything imported; it touches nothing but the
    # bytes it is sent.
    reader = None
    if len(os.sched_getaffinity(0)) > 1:
        fork = multiprocessing.get_context("fork")
        reader = ProcessPoolExecutor(
            1, mp_context=fork, initializer=_started, initargs=(os.getpid(),)
        )
    try:
        waiting: tuple[list[Received], Future[list[Read]] | None] | None = None
        for batch in batches:
            following = (batch, _submit(reader, batch, reading))
            if waiting is not None:
                yield _collected(*waiting, reading)
            waiting = following
        if waiting is not None:
            yield _collected(*waiting, reading)
    finally:
        if reader is not None:
            reader.shutdown(cancel_futures=True)


def _started(parent: int) -> None:
    """In the reader: Ctrl-C is the replay's to handle (it stops the reader), and a replay
    that is killed takes its reader with it."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    threading.Thread(target=_follow, args=(parent,), name="orphaned", daemon=True).start()


def _follow(parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(0.5)
    os._exit(0)


def _submit(
    reader: ProcessPoolExecutor | None, batch: list[Received], reading: Reading
) -> Future[list[Read]] | None:
    if reader is None:
        return None
    try:
        return reader.submit(read_all, reading, _bytes(batch))
    except BrokenProcessPool:  # reported as the batch in flight was collected
        return None


def _collected(batch: list[Received], reads: Future[list[Read]] | None, reading: Reading) -> _Read:
    """The batch read by the reader, or here when there is none (any more)."""
    if reads is not None:
        try:
            return batch, reads.result()
        except BrokenProcessPool:
            log.warning("the reader process stopped; the rest is read in this one")
    return batch, read_all(reading, _bytes(batch))


def _bytes(batch: list[Received]) -> list[bytes]:
    return [item.raw.data for item in batch]
