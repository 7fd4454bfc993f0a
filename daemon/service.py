"""The daemon: main loop, signals, sd_notify and the schedule of periodic jobs."""

from __future__ import annotations

import asyncio
import logging
import signal
import time
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from importlib import metadata
from pathlib import Path

import schedule

from daemon import app, config, memory, sdnotify, sweeps
from daemon.deps import Deps
from daemon.feeds import http as feeds_http
from daemon.feeds import posting as feeds_posting
from daemon.feeds import webhook as feeds_webhook
from daemon.feeds.ingest import drain_folder
from daemon.feeds.settings import WRITEBACK_WORKER, FeedSettings
from daemon.health import (
    MAILBOX,
    MAILDIR,
    OUTBOX,
    SWEEP,
    Health,
    Outage,
    describe,
)
from daemon.outbox import ServerWatch, Transport, deliver_due, lease_for, make_transport
from daemon.pipeline import process_batch
from daemon.reports import sending as report_sending
from daemon.retention import RetentionPolicy
from daemon.sources import imap
from daemon.sources.maildir import Maildir, drain
from daemon.store import calendarrows, faults, mailboxes
from daemon.store import retention as stored_retention
from daemon.store.mailboxes import Checkpoints
from daemon.values import Batch, Clock, Received
from daemon.workdays import BusinessCalendar

log = logging.getLogger(__name__)


# A worker's first retry comes after this long; each further one waits twice as long, capped.
_FIRST_RETRY_SECONDS = 1.0


async def _sleep_unless(stop: asyncio.Event, seconds: float) -> bool:
    """Wait `seconds`, or less if `stop` is set meanwhile; True when it was.

    Not asyncio.wait_for: on Python 3.11 it swallows a cancel that arrives just as the event
    is set, and a task cancelled at stop would then run on and hang the shutdown.
    """
    waiter = asyncio.ensure_future(stop.wait())
    try:
        await asyncio.wait({waiter}, timeout=seconds)
    finally:
        waiter.cancel()
    return stop.is_set()


def _report_failure(exc: Exception, own: Outage, database: Outage, at: datetime) -> None:
    """Log a failure once per outage: the database's, when it is what failed, else the worker's."""
    if faults.unreachable(exc):
        database.failed(describe(exc), at)
    else:
        own.failed(describe(exc), at, exc)


class Worker:
    """Runs one job at a time; a kick while it runs makes it run once more afterwards.

    A job that raises (the database's errors included) is retried after a capped, doubling
    delay until it succeeds or the daemon stops; its health is reported to memory, so the
    report cannot fail along with the database.
    """

    def __init__(
        self,
        name: str,
        kind: str,
        job: Callable[[], Awaitable[object]],
        health: Health,
        database: Outage,
        stop: asyncio.Event,
        clock: Clock,
        retry_max: float,
    ) -> None:
        self.name = name
        self.kind = kind
        self._job = job
        self._health = health
        self._database = database
        self._stop = stop
        self._clock = clock
        self._retry_max = retry_max
        self._outage = Outage(name, log)
        self._task: asyncio.Task[None] | None = None
        self._again = False
        health.add(name, kind, clock())

    def kick(self) -> None:
        if self._task is not None and not self._task.done():
            self._again = True
            return
        self._task = asyncio.get_running_loop().create_task(self._run(), name=self.name)

    async def _run(self) -> None:
        delay = _FIRST_RETRY_SECONDS
        while not self._stop.is_set():
            self._again = False
            self._health.busy(self.name, self.kind, self._clock())
            try:
                await self._job()
            except Exception as exc:  # noqa: BLE001 (any fault of a job, the database's included, is retried)
                at = self._clock()
                self._health.failing(self.name, self.kind, at, describe(exc))
                _report_failure(exc, self._outage, self._database, at)
                if await _sleep_unless(self._stop, delay):
                    return
                delay = min(delay * 2, self._retry_max)
                continue
            at = self._clock()
            self._health.idle(self.name, self.kind, at)
            self._outage.ok(at)
            delay = _FIRST_RETRY_SECONDS
            if not self._again:
                return

    async def join(self) -> None:
        if self._task is not None:
            await asyncio.gather(self._task, return_exceptions=True)


async def supervise(
    name: str,
    kind: str,
    work: Callable[[], Awaitable[None]],
    health: Health,
    stop: asyncio.Event,
    clock: Clock,
    retry_max: float,
) -> None:
    """Run `work` until `stop`; whenever it ends early or raises, log it and start it again
    after a capped, doubling delay."""
    delay = _FIRST_RETRY_SECONDS
    while not stop.is_set():
        began = time.monotonic()
        try:
            await work()
            if stop.is_set():
                return
            error, trace = "ended on its own", None
        except Exception as exc:  # noqa: BLE001 (the database's errors included)
            error, trace = describe(exc), exc
        health.failing(name, kind, clock(), error, connected=False)
        if time.monotonic() - began > retry_max:
            delay = _FIRST_RETRY_SECONDS  # it had been running fine for a while
        log.error("%s died (%s); restarting in %.0fs", name, error, delay, exc_info=trace)
        if await _sleep_unless(stop, delay):
            return
        delay = min(delay * 2, retry_max)
        log.info("%s restarted", name)


class _BeatingTransport:
    """The outbox transport, reporting each mail as one unit of the outbox's work."""

    def __init__(self, inner: Transport, health: Health, clock: Clock) -> None:
        self._inner = inner
        self._health = health
        self._clock = clock

    async def open(self) -> None:
        await self._inner.open()

    async def send(self, sender: str, recipient: str, raw: bytes) -> None:
        self._health.busy(OUTBOX_NAME, OUTBOX, self._clock())
        await self._inner.send(sender, recipient, raw)

    async def close(self) -> None:
        await self._inner.close()


# Health rows of the workers that are not mailboxes are named for their config section, which
# no sensible mailbox name looks like.
MAILDIR_NAME, OUTBOX_NAME, SWEEP_NAME = "[maildir]", "[outbox]", "[sweep]"
RETENTION_NAME, RETENTION_SECONDS = "[retention]", 24 * 3600
# The kind of a manufacturer feed's worker; each is named "[feed NAME]" (FeedSettings.worker).
FEED = "feed"
MAIN_LOOP = "main loop"
# How often the stuck check runs when systemd asks for no watchdog.
_STUCK_CHECK_SECONDS = 5.0


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
        self._health = Health()
        self._database = Outage("database", log)
        self._news = asyncio.Event()
        self._reporting = Outage("health report", log)
        self._ticked = time.monotonic()
        # Kept across reloads, so a mail server outage spanning one is logged once.
        self._mail_server = ServerWatch()

    # --- lifecycle -----------------------------------------------------------------------

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self._request_stop, sig)
        loop.add_signal_handler(signal.SIGHUP, self._request_reload)
        await self._start()
        sdnotify.notify("READY=1", "STATUS=filing complaints")
        log.info("complaintd ready (config %s)", self._path)
        watchdog = loop.create_task(self._watch_for_stuck(), name="watchdog")
        reporter = loop.create_task(self._report_health(), name="health")
        try:
            while not self._stop.is_set():
                self._ticked = time.monotonic()
                if self._reload:
                    await self._reload_now()
                self._scheduler.run_pending()
                await _sleep_unless(self._stop, self._settings.service.tick_seconds)
        finally:
            watchdog.cancel()
            reporter.cancel()
            await asyncio.gather(reporter, return_exceptions=True)
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
        except Exception as exc:  # noqa: BLE001 (a bad config, unreadable templates, a database gone)
            log.error("reload refused, keeping the running config: %s", exc)
            sdnotify.notify("READY=1")
            return
        await self._halt()
        self._settings = settings
        self._stop = asyncio.Event()
        await self._start(deps)
        log.info("config reloaded from %s", self._path)
        app.warn_of_config_gaps(settings)
        sdnotify.notify("READY=1", "STATUS=filing complaints")

    # --- health --------------------------------------------------------------------------

    async def _report_health(self) -> None:
        """Copy the in-memory health to the database every tick, and at once on news (a source
        connecting or failing), one copy at a time."""
        while True:
            await _sleep_unless(self._news, self._settings.service.tick_seconds)
            self._news.clear()
            if self._deps is not None:
                await self._write_health(self._deps)

    async def _write_health(self, deps: Deps) -> None:
        sources = self._health.snapshot()
        try:
            await asyncio.to_thread(mailboxes.save_health, deps.store, sources, self._clock())
        except Exception as exc:  # noqa: BLE001 (never let the report of a fault become one)
            _report_failure(exc, self._reporting, self._database, self._clock())
            return
        at = self._clock()
        self._database.ok(at)
        self._reporting.ok(at)

    def _stuck(self) -> list[tuple[str, str]]:
        limit = self._settings.service.stuck_seconds
        found: list[tuple[str, str]] = self._health.stuck(self._clock(), timedelta(seconds=limit))
        quiet = time.monotonic() - self._ticked
        if quiet > limit:
            found.insert(0, (MAIN_LOOP, f"no turn for {quiet:.0f}s"))
        return found

    async def _watch_for_stuck(self) -> None:
        """Feed systemd's watchdog while nothing is stuck; stop feeding (so systemd restarts
        the service) while something is."""
        interval = sdnotify.watchdog_interval()
        held: set[str] = set()
        while True:
            stuck = self._stuck()
            names = {name for name, _ in stuck}
            for name, why in stuck:
                if name not in held:
                    log.error(
                        "%s stuck (%s)%s",
                        name,
                        why,
                        ": no longer feeding the watchdog, so systemd restarts complaintd"
                        if interval is not None
                        else "",
                    )
            for name in held - names:
                log.info("%s moving again", name)
            held = names
            if not stuck and interval is not None:
                sdnotify.notify("WATCHDOG=1")
            await asyncio.sleep(interval if interval is not None else _STUCK_CHECK_SECONDS)

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
        self._deps = deps
        self._scheduler.clear()
        try:
            await asyncio.to_thread(recalendar, deps, self._clock())
        except Exception as exc:  # noqa: BLE001 (the clocks keep their due times until the next start)
            log.error("calendar not compared with the recorded one: %s", describe(exc))
        self._workers = []
        # A reload may have dropped a mailbox: report only what runs now.
        loop = asyncio.get_running_loop()

        def news() -> None:
            loop.call_soon_threadsafe(self._news.set)

        self._health = Health(on_news=news)
        outbox = self._start_outbox(deps)
        self._watchers = [self._watch_mailbox(m, deps, outbox) for m in settings.mailboxes]
        if settings.maildir.enabled:
            self._start_maildir(deps, outbox)
        self._start_feeds(deps, outbox)
        self._start_upkeep(deps, outbox)
        for each in self._workers:
            each.kick()

    def _worker(self, name: str, kind: str, job: Callable[[], Awaitable[object]]) -> Worker:
        """A worker the scheduler kicks, reporting to this start's health."""
        made = Worker(
            name,
            kind,
            job,
            self._health,
            self._database,
            self._stop,
            self._clock,
            self._settings.service.retry_max_seconds,
        )
        self._workers.append(made)
        return made

    def _supervised(
        self, name: str, kind: str, work: Callable[[], Awaitable[None]], task: str
    ) -> asyncio.Task[None]:
        """A worker that runs until stopped (an IMAP watch, a webhook), restarted on failure."""
        retry_max = self._settings.service.retry_max_seconds
        health, stop, clock = self._health, self._stop, self._clock
        return asyncio.get_running_loop().create_task(
            supervise(name, kind, work, health, stop, clock, retry_max), name=task
        )

    def _start_outbox(self, deps: Deps) -> Worker:
        settings, clock, health = self._settings, self._clock, self._health
        transport = _BeatingTransport(
            make_transport(settings.outbox, settings.smtp, clock), health, clock
        )
        outbox = self._worker(
            OUTBOX_NAME,
            OUTBOX,
            lambda: deliver_due(
                deps.store,
                transport,
                settings.outbox,
                clock,
                lease_for(settings.smtp),
                self._stop,
                self._mail_server,
            ),
        )
        self._every(settings.outbox.poll_seconds, outbox)
        return outbox

    def _watch_mailbox(
        self, mailbox: imap.MailboxSettings, deps: Deps, outbox: Worker
    ) -> asyncio.Task[None]:
        clock, health = self._clock, self._health
        health.add(mailbox.name, MAILBOX, clock())
        checkpoints = Checkpoints(deps.store)

        def handle(items: list[Received]) -> Batch:
            return _tracked(health, mailbox.name, MAILBOX, clock, items, deps)

        def work() -> Awaitable[None]:
            return imap.watch(
                mailbox, handle, checkpoints, health, self._stop, clock, wake=outbox.kick
            )

        return self._supervised(mailbox.name, MAILBOX, work, f"mailbox {mailbox.name}")

    def _start_maildir(self, deps: Deps, outbox: Worker) -> None:
        settings, clock, stop = self._settings.maildir, self._clock, self._stop
        health = self._health
        maildir = Maildir(settings.path, settings.processed_folder, settings.quarantine_folder)
        maildir.ensure()

        def handle(items: list[Received]) -> Batch:
            return _tracked(health, MAILDIR_NAME, MAILDIR, clock, items, deps)

        async def read_maildir() -> None:
            handled = await asyncio.to_thread(drain, maildir, handle, stop.is_set, clock)
            if handled:
                outbox.kick()

        self._every(settings.poll_seconds, self._worker(MAILDIR_NAME, MAILDIR, read_maildir))

    def _start_feeds(self, deps: Deps, outbox: Worker) -> None:
        settings, clock, stop, health = self._settings, self._clock, self._stop, self._health

        def handled(feed: FeedSettings) -> Callable[[], None]:
            return lambda: health.handled(feed.worker, FEED, clock())

        def read_feed(feed: FeedSettings) -> Callable[[], Awaitable[None]]:
            async def read() -> None:
                done = await asyncio.to_thread(drain_folder, feed, deps, stop.is_set, handled(feed))
                if done:
                    outbox.kick()

            return read

        def poll_feed(feed: FeedSettings) -> Callable[[], Awaitable[None]]:
            async def poll() -> None:
                done = await feeds_http.poll_feed(feed, deps, handled(feed))
                if done.records:
                    outbox.kick()

            return poll

        def receive_feed(feed: FeedSettings) -> asyncio.Task[None]:
            health.add(feed.worker, FEED, clock())

            def delivered() -> None:
                health.handled(feed.worker, FEED, clock())
                outbox.kick()

            hooks = feeds_webhook.Hooks(
                listening=lambda: health.idle(feed.worker, FEED, clock()),
                delivered=delivered,
                failed=lambda error: health.failing(feed.worker, FEED, clock(), error),
            )

            def work() -> Awaitable[None]:
                return feeds_webhook.serve(feed, deps, stop, hooks)

            return self._supervised(feed.worker, FEED, work, feed.worker)

        for feed in settings.feeds:
            if feed.kind == "folder":
                self._every(feed.poll_seconds, self._worker(feed.worker, FEED, read_feed(feed)))
            elif feed.kind == "http":
                self._every(feed.poll_seconds, self._worker(feed.worker, FEED, poll_feed(feed)))
            elif feed.kind == "webhook":
                self._watchers.append(receive_feed(feed))
        if any(f.writeback_url for f in settings.feeds):

            def posted() -> None:
                health.handled(WRITEBACK_WORKER, FEED, clock())

            async def write_back() -> None:
                await feeds_posting.deliver_due(deps, stop, posted)

            # Posts wait in their table like mail in the outbox, and are looked for as often.
            posting = self._worker(WRITEBACK_WORKER, FEED, write_back)
            self._every(settings.outbox.poll_seconds, posting)

    def _start_upkeep(self, deps: Deps, outbox: Worker) -> None:
        """The timed work: clock sweeps, retention, the weekly and monthly reports."""
        settings, clock = self._settings, self._clock

        async def sweep() -> None:
            report = await asyncio.to_thread(sweeps.sweep, deps, clock())
            if report.actions:
                outbox.kick()

        self._every(settings.service.sweep_seconds, self._worker(SWEEP_NAME, SWEEP, sweep))

        kept = RetentionPolicy(settings.retention.raw_mail_days, settings.retention.anonymise_days)
        if not kept.keeps_everything:  # daily, and once at each start

            async def retain() -> None:
                done = await asyncio.to_thread(stored_retention.run, deps.store, kept, clock())
                if done.tickets:
                    log.info("%s retention: %s", " ".join(done.tickets), done.as_json())

            self._every(RETENTION_SECONDS, self._worker(RETENTION_NAME, SWEEP, retain))

        async def send_reports() -> None:  # the weekly and monthly reports, once per period
            if await asyncio.to_thread(report_sending.send_due, deps, clock()):
                outbox.kick()

        report_seconds = report_sending.mail_settings(settings).check_seconds
        self._every(report_seconds, self._worker("[reports]", "report", send_reports))

    def _every(self, seconds: int, worker: Worker) -> None:
        self._scheduler.every(seconds).seconds.do(worker.kick)

    async def _halt(self) -> None:
        """Stop starting new work and wait for the message or mail in hand."""
        self._stop.set()
        self._scheduler.clear()
        await asyncio.gather(*self._watchers, return_exceptions=True)
        await asyncio.gather(*(w.join() for w in self._workers))
        if self._deps is not None:
            # The last word on health before the workers' rows go quiet.
            await self._write_health(self._deps)
            self._deps.store.dispose()
            self._deps = None


# The distribution each calendar source is installed as: a new version may bring new days.
_SOURCE_DISTRIBUTIONS = {"chinesecalendar": "chinesecalendar", "holidays": "holidays"}


def source_versions(calendar: BusinessCalendar) -> str:
    """The calendar sources in use with their installed versions, e.g. 'chinesecalendar 1.11.0'."""
    found = []
    for source in calendar.settings.sources:
        try:
            found.append(f"{source} {metadata.version(_SOURCE_DISTRIBUTIONS[source])}")
        except metadata.PackageNotFoundError:
            found.append(f"{source} (not installed)")
    return ", ".join(found)


def recalendar(deps: Deps, now: datetime) -> calendarrows.Recalendared:
    """At start and on reload: when the effective calendar differs from the one the open
    clocks were computed on, move their due times onto it (each move audited on its ticket)
    and log one line saying what changed."""
    calendar = deps.triage.calendar
    done = calendarrows.recompute_if_changed(
        deps.store, calendar, source_versions(calendar), now, calendar.local_date(now)
    )
    if done.recomputed:
        numbers = sorted({number for number, _ in done.moved})
        shown = ", ".join(numbers[:10]) + (
            f" and {len(numbers) - 10} more" if len(numbers) > 10 else ""
        )
        # Moved deadlines are worth an operator's eye; a recompute that moved nothing is not.
        log.log(
            logging.WARNING if done.moved else logging.INFO,
            "calendar compared with the one the open clocks were computed on (%s): "
            "%d open clock(s) recomputed, %d due time(s) moved%s",
            done.change.summary(),
            done.recomputed,
            len(done.moved),
            f" on {shown}" if shown else "",
        )
    elif done.change.versions[0] not in ("", done.change.versions[1]):
        log.info("calendar sources updated (%s): no recorded day changed", done.change.summary())
    return done


def _tracked(
    health: Health, name: str, kind: str, clock: Clock, items: list[Received], deps: Deps
) -> Batch:
    """A batch through the pipeline, each message reported as a unit of its source's work."""
    health.busy(name, kind, clock(), message=True)
    try:
        batch = process_batch(items, deps)
    except BaseException:
        health.idle(name, kind, clock(), caught_up=False)
        raise
    for _ in batch.outcomes:
        health.handled(name, kind, clock())
    if batch.error is not None:
        health.idle(name, kind, clock(), caught_up=False)
    return batch


def run(config_path: Path, settings: config.Settings) -> int:
    memory.return_large_buffers()
    asyncio.run(Daemon(config_path, settings).run())
    return 0
