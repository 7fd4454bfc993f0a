"""complaintd feeds import | status: manufacturer case feeds, by hand and at a glance."""

from __future__ import annotations

import argparse
import functools
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select

from daemon import app
from daemon.cli.clock_cmds import parse_instant
from daemon.cli.common import (
    CommandError,
    Commands,
    config_option,
    database,
    emit_json,
    load_settings,
    print_table,
    times_for,
)
from daemon.config import Settings
from daemon.feeds import folder, ingest
from daemon.feeds.settings import FeedSettings
from daemon.store import writeback
from daemon.store.cases import FeedState
from daemon.store.models import MailboxState
from daemon.values import Clock


def register(sub: Commands, clock: Clock = app.utc_now) -> None:
    group = sub.add_parser("feeds", help="manufacturer case feeds ([[feeds]])").add_subparsers(
        dest="feeds_command", required=True, metavar="ACTION"
    )
    parent = [config_option()]
    one = group.add_parser(
        "import",
        parents=parent,
        help="import one manufacturer export (.xlsx, .xls, .csv) by hand; the file stays put",
    )
    one.add_argument("file", type=Path)
    one.add_argument("--feed", required=True, metavar="NAME", help="the [[feeds]] it belongs to")
    one.add_argument(
        "--at",
        default=None,
        metavar="ISO-8601",
        help="file as if received at this instant; without an offset, in [service] timezone",
    )
    one.add_argument("--no-mail", action="store_true", help="record the tickets, queue no mail")
    one.add_argument("--json", action="store_true", help="machine-readable output")
    one.set_defaults(handler=_import)
    status = group.add_parser(
        "status",
        parents=parent,
        help="per feed: last import, imported, updated, quarantined, lag, last error",
    )
    status.add_argument("--json", action="store_true", help="machine-readable output")
    status.set_defaults(handler=functools.partial(_status, clock=clock))


def _feed(settings: Settings, name: str) -> FeedSettings:
    for feed in settings.feeds:
        if feed.name == name:
            return feed
    known = ", ".join(f.name for f in settings.feeds) or "none configured"
    raise CommandError(f"no feed {name!r} in [[feeds]] ({known})", exit_code=2)


def _import(args: argparse.Namespace) -> int:
    _, settings = load_settings(args)
    feed = _feed(settings, args.feed)
    now = app.utc_now()
    at = parse_instant(args.at, settings.zone, "--at") if args.at else now
    path: Path = args.file
    if not path.is_file():
        raise CommandError(f"{path}: no such file", exit_code=2)
    with database(settings) as store:
        deps = app.build(settings, store, lambda: at)
        try:
            items = folder.read_file(path)
        except (folder.Unreadable, OSError) as exc:
            ingest.record_failure(deps, feed.name, path.name, str(exc))
            raise CommandError(f"{path}: {exc}") from None
        report = ingest.ingest(items, feed, deps, path.name, mail=not args.no_mail)
    result = {
        "feed": report.feed,
        "file": str(path),
        "imported": report.imported,
        "updated": report.updated,
        "unchanged": report.unchanged,
        "quarantined": report.refused,
        "tickets": list(report.tickets),
    }
    if args.json:
        emit_json(result)
        return 0
    print(
        f"{path.name} ({feed.name}): {report.imported} new, {report.updated} updated, "
        f"{report.unchanged} unchanged, {report.refused} quarantined"
    )
    if report.refused:
        print("  see `complaintd quarantine list`")
    return 0


def _status(args: argparse.Namespace, clock: Clock) -> int:
    _, settings = load_settings(args)
    now = clock()
    with database(settings) as store, store.reading() as session:
        states = {s.feed: s for s in session.scalars(select(FeedState))}
        posts = writeback.counts(session)
        health = {
            s.mailbox: s
            for s in session.scalars(
                select(MailboxState).where(
                    MailboxState.mailbox.in_([f.worker for f in settings.feeds])
                )
            )
        }
    show = times_for(settings.zone, args.json)
    minutes = settings.service.mailbox_alert_minutes
    rows = [
        _row(f, states.get(f.name), health.get(f.worker), now, show, minutes)
        for f in settings.feeds
    ]
    for row in rows:  # write-back posts waiting, and refused by the manufacturer
        row["writeback_pending"] = posts.get((row["feed"], "pending"), 0)
        row["writeback_failed"] = posts.get((row["feed"], "failed"), 0)
    if args.json:
        emit_json(rows)
        return 0
    if not rows:
        print("no [[feeds]] configured")
        return 0
    for row in rows:
        row["lag"] = _span(row["lag_seconds"])
    print_table(
        rows,
        ["feed", "oem", "kind", "last_import", "imported", "updated", "quarantined", "lag",
         "writeback_failed", "last_error"],
    )  # fmt: skip
    return 0


def _row(
    feed: FeedSettings,
    state: FeedState | None,
    worker: MailboxState | None,
    now: datetime,
    show: Any,
    alert_minutes: float,
) -> dict[str, Any]:
    newest = state.newest_dispatched_at if state else None
    error, error_at = (state.last_error, state.last_error_at) if state else ("", None)
    # The worker failing now (the folder unreadable, the database gone) says more than the
    # last file that failed.
    worker_at = worker.last_error_at if worker and worker.failing_since else None
    if worker is not None and worker_at is not None and (error_at is None or worker_at > error_at):
        error, error_at = worker.last_error, worker_at
    return {
        "feed": feed.name,
        "oem": feed.oem,
        "kind": feed.kind,
        "last_import": show(state.last_import_at) if state else None,
        "last_source": (state.last_source or None) if state else None,
        "imported": state.imported if state else 0,
        "updated": state.updated if state else 0,
        "quarantined": state.quarantined if state else 0,
        "newest_dispatched_at": show(newest),
        "lag_seconds": round((now - newest).total_seconds()) if newest else None,
        "last_error": error or None,
        "last_error_at": show(error_at),
        "cursor": (state.cursor or None) if state else None,
        "failing_since": show(failing_since(state, worker)),
        "alert": feed_alert(feed, state, worker, now, alert_minutes),
    }


def failing_since(state: FeedState | None, worker: MailboxState | None) -> datetime | None:
    """Since when the feed has failed without a success: its imports (a file, a poll, a
    notification that cannot be read) or its worker, whichever began first."""
    found = [
        at
        for at in (
            state.failing_since if state else None,
            worker.failing_since if worker else None,
        )
        if at is not None
    ]
    return min(found, default=None)


def feed_alert(
    feed: FeedSettings,
    state: FeedState | None,
    worker: MailboxState | None,
    now: datetime,
    default_minutes: float,
) -> str | None:
    """Why `complaintd status` should raise the alarm about a feed: failing for longer than
    its alert_minutes (else [service] mailbox_alert_minutes); None while it is fine."""
    since = failing_since(state, worker)
    limit = timedelta(minutes=feed.alert_minutes or default_minutes)
    if since is None or now - since < limit:
        return None
    return f"failing for {(now - since).total_seconds():.0f}s (alert after {limit})"


def _span(seconds: int | None) -> str:
    if seconds is None:
        return "-"
    minutes = max(seconds, 0) // 60
    days, minutes = divmod(minutes, 24 * 60)
    return (f"{days}d " if days else "") + f"{minutes // 60}h{minutes % 60:02d}m"
