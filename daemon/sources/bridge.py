"""Running a blocking source worker in a thread of its own, stopped from the event loop.

A source whose client library blocks (imapclient, a feed poller) runs its loop in a thread, so
a slow or broken server never holds up the event loop or another source. The bridge starts
the thread, hands the worker a stop event and a wake callback that is safe to call from the
thread, and at stop gives the worker a grace period before cutting its connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import Callable
from typing import Any, Protocol

log = logging.getLogger(__name__)

# How long a stopping worker may take to finish on its own, and again after interrupt().
_GRACE_SECONDS = 1.5
# While the worker is busy (an item in the pipeline) after the grace, look this often.
_BUSY_CHECK_SECONDS = 0.5


class Blocking(Protocol):
    """The thread side of a source.

    run: work until the stop event is set; exceptions end the source (ordinary server trouble
    is the worker's to retry). interrupt: unblock a read or write in progress; called from the
    event loop's thread. busy: an item is being handed over, so the worker is waited for
    however long that takes (a ticket is never cut off halfway).
    """

    @property
    def busy(self) -> bool: ...

    def run(self) -> None: ...

    def interrupt(self) -> None: ...


# Builds the worker from the stop event it must watch and a wake callback it may call.
Start = Callable[[threading.Event, Callable[[], None]], Blocking]


async def run_in_thread(
    name: str,
    start: Start,
    stop: asyncio.Event,
    wake: Callable[[], None] | None = None,
) -> None:
    """Run the worker `start` builds in a thread named `name` until `stop` is set or it ends.
    `wake` is run on the event loop whenever the worker calls its wake callback. The worker's
    exception, if any, is raised here."""
    loop = asyncio.get_running_loop()
    stopping = threading.Event()

    def notify() -> None:
        if wake is not None:
            with contextlib.suppress(RuntimeError):  # the loop closed under a lingering thread
                loop.call_soon_threadsafe(wake)

    worker = start(stopping, notify)
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
        except BaseException as exc:  # noqa: BLE001 (reported to the awaiting task, not swallowed)
            error = exc
        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(settle, error)

    thread = threading.Thread(target=run, name=name, daemon=True)
    thread.start()
    stopped: asyncio.Future[bool] = asyncio.ensure_future(stop.wait())
    try:
        waiters: list[asyncio.Future[Any]] = [finished, stopped]
        await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
    finally:
        stopped.cancel()
        stopping.set()
        await _wind_down(worker, finished, name)
    if finished.done() and not finished.cancelled():
        error = finished.exception()
        if error is not None:
            raise error


async def _wind_down(worker: Blocking, finished: asyncio.Future[None], name: str) -> None:
    """Give the worker a moment to finish (log out, say); then cut its connection. An item in
    the pipeline is always waited for; a blocked connect() is not (the thread exits when it
    returns)."""
    done, _ = await asyncio.wait({finished}, timeout=_GRACE_SECONDS)
    if done:
        return
    worker.interrupt()
    done, _ = await asyncio.wait({finished}, timeout=_GRACE_SECONDS)
    while not done and worker.busy:
        done, _ = await asyncio.wait({finished}, timeout=_BUSY_CHECK_SECONDS)
    if not done:
        log.debug("%s: left a blocked connection attempt behind at stop", name)
