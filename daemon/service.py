"""The daemon: main loop, signals, sd_notify and the schedule of periodic jobs."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import schedule

from daemon import app, config, sdnotify, sweeps
from daemon.outbox import deliver_due, lease_for, make_transport
from daemon.pipeline import Deps, Run, process
from daemon.sources import imap
from daemon.sources.maildir import Maildir, drain
from daemon.store.mailboxes import Checkpoints, MailboxHealth
from daemon.values import Checkpoint, Clock, Outcome, RawMail

log = logging.getLogger(__name__)


class Worker:
    """Runs one job at a time; a kick while it runs makes it run once more afterwards.

    Every failure is caught and logged (once per distinct error) so one broken job cannot
    stop the loop or the other jobs.
    """

    def __init__(self, name: str, job: Callable[[], Awaitable[object]]) -> None:
        self.name = name
        self._job = job
        self._task: asyncio.Task[None] | None = None
        self._again = False
        self._last_error = ""

    def kick(self) -> None:
        if self._task is not None and not self._task.done():
            self._again = True
            return
        self._task = asyncio.get_running_loop().create_task(self._run(), name=self.name)

    async def _run(self) -> None:
        while True:
            self._again = False
            try:
                await self._job()
                if self._last_error:
                    log.info("%s recovered", self.name)
                    self._last_error = ""
            except Exception as exc:
                message = f"{type(exc).__name__}: {exc}"
                if message != self._last_error:
                    log.exception("%s failed: %s", self.name, message)
                else:
                    log.debug("%s failed again: %s", self.name, message)
                self._last_error = message
            if not self._again:
                return

    async def join(self) -> None:
        if self._task is not None:
            await asyncio.gather(self._task, return_exceptions=True)


class Daemon:
    def __init__(self, config_path: Path, settings: config.Settings, clock: Clock = app.utc_now):
        self._path = config_path
        self._settings = settings
        self._clock = clock
        self._stop = asyncio.Event()
        self._reload = False
        self._scheduler = schedule.Scheduler()
        self._workers: list[Worker] = []
        self._watchers: list[asyncio.Task[None]] = []
        self._deps: Deps | None = None

    # --- lifecycle -----------------------------------------------------------------------

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self._request_stop, sig)
        loop.add_signal_handler(signal.SIGHUP, self._request_reload)
        await self._start()
        sdnotify.notify("READY=1", "STATUS=filing complaints")
        log.info("complaintd ready (config %s)", self._path)
        watchdog = sdnotify.watchdog_interval()
        last_ping = 0.0
        try:
            while not self._stop.is_set():
                if self._reload:
                    await self._reload_now()
                self._scheduler.run_pending()
                if watchdog is not None and time.monotonic() - last_ping >= watchdog:
                    sdnotify.notify("WATCHDOG=1")
                    last_ping = time.monotonic()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(
                        self._stop.wait(), timeout=self._settings.service.tick_seconds
                    )
        finally:
            sdnotify.notify("STOPPING=1")
            log.info("complaintd stopping: finishing the work in hand")
            await self._halt()
            log.info("complaintd stopped")

    def _request_stop(self, sig: signal.Signals) -> None:
        log.info("%s received", sig.name)
        self._stop.set()

    def _request_reload(self) -> None:
        self._reload = True

    async def _reload_now(self) -> None:
        self._reload = False
        sdnotify.notify("RELOADING=1", f"MONOTONIC_USEC={time.monotonic_ns() // 1000}")
        try:
            # Everything the new config needs is built before the running one is stopped.
            settings = config.load(self._path)
            deps = await asyncio.to_thread(self._prepare, settings)
        except Exception as exc:  # a bad config, unreadable templates, a database gone
            log.error("reload refused, keeping the running config: %s", exc)
            sdnotify.notify("READY=1")
            return
        await self._halt()
        self._settings = settings
        self._stop = asyncio.Event()
        await self._start(deps)
        log.info("config reloaded from %s", self._path)
        sdnotify.notify("READY=1", "STATUS=filing complaints")

    # --- wiring --------------------------------------------------------------------------

    def _prepare(self, settings: config.Settings) -> Deps:
        store = app.open_store(settings)
        try:
            return app.build(settings, store, self._clock)
        except Exception:
            store.dispose()
            raise

    async def _start(self, deps: Deps | None = None) -> None:
        settings = self._settings
        if deps is None:
            deps = await asyncio.to_thread(self._prepare, settings)
        store = deps.store
        self._deps = deps
        self._scheduler.clear()
        self._workers = []

        transport = make_transport(settings.outbox, settings.smtp)
        outbox = self._worker(
            "outbox",
            lambda: deliver_due(
                store,
                transport,
                settings.outbox,
                self._clock,
                lease_for(settings.smtp),
                self._stop,
            ),
        )
        self._every(settings.outbox.poll_seconds, outbox)

        def handle(raw: RawMail) -> Outcome:
            return process(raw, deps)

        def handle_imap(raw: RawMail, checkpoint: Checkpoint) -> Outcome:
            return process(raw, deps, Run(checkpoint=checkpoint))

        checkpoints, health = Checkpoints(store), MailboxHealth(store)
        loop = asyncio.get_running_loop()
        self._watchers = [
            loop.create_task(
                imap.watch(
                    mailbox,
                    handle_imap,
                    checkpoints,
                    health,
                    self._stop,
                    self._clock,
                    wake=outbox.kick,
                ),
                name=f"mailbox {mailbox.name}",
            )
            for mailbox in settings.mailboxes
        ]

        if settings.maildir.enabled:
            maildir = Maildir(
                settings.maildir.path,
                settings.maildir.processed_folder,
                settings.maildir.quarantine_folder,
            )
            maildir.ensure()

            async def read_maildir() -> None:
                handled = await asyncio.to_thread(drain, maildir, handle, self._stop.is_set)
                if handled:
                    outbox.kick()

            self._every(settings.maildir.poll_seconds, self._worker("maildir", read_maildir))

        async def sweep() -> None:
            report = await asyncio.to_thread(sweeps.sweep, deps, self._clock())
            if report.actions:
                outbox.kick()

        self._every(settings.service.sweep_seconds, self._worker("sweep", sweep))
        for worker in self._workers:
            worker.kick()

    def _worker(self, name: str, job: Callable[[], Awaitable[object]]) -> Worker:
        worker = Worker(name, job)
        self._workers.append(worker)
        return worker

    def _every(self, seconds: int, worker: Worker) -> None:
        self._scheduler.every(seconds).seconds.do(worker.kick)

    async def _halt(self) -> None:
        """Stop starting new work and wait for the message or mail in hand."""
        self._stop.set()
        self._scheduler.clear()
        await asyncio.gather(*self._watchers, return_exceptions=True)
        await asyncio.gather(*(w.join() for w in self._workers))
        if self._deps is not None:
            self._deps.store.dispose()
            self._deps = None


def run(config_path: Path, settings: config.Settings) -> int:
    asyncio.run(Daemon(config_path, settings).run())
    return 0
