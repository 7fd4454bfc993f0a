"""complaintd status: the health of every source, the outbox backlog and the quarantine, for
people and for monitoring (exit code 1 when intake is failing, stuck or unwatched)."""

from __future__ import annotations

import argparse
import functools
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError

from daemon import app, config
from daemon.cli.common import (
    CommandError,
    Commands,
    config_option,
    emit_json,
    json_time,
    load_settings,
    print_table,
    shown_time,
)
from daemon.cli.feeds import failing_since, feed_alert
from daemon.config import Settings, database_url
from daemon.events import Kind
from daemon.feeds.settings import WRITEBACK_WORKER
from daemon.health import alert_reason, describe
from daemon.store import mailboxes
from daemon.store.cases import FeedState
from daemon.store.db import Store
from daemon.store.models import MailboxState, OutboxMail, Quarantined, Ticket, TicketEvent
from daemon.values import Clock
from daemon.workdays import BusinessCalendar, Concern, calendar_concerns

_NEVER = "never reported: is the daemon running?"

# Notices that reached nobody (an unfilled role, everyone absent or named) are counted over
# this window, and the newest few listed, so a gap in the org chart shows before it costs.
UNHEARD_WINDOW = timedelta(days=7)
UNHEARD_SHOWN = 5


def register(sub: Commands, clock: Clock = app.utc_now) -> None:
    """complaintd status; ages (failing how long, silent how long) are measured to clock()."""
    parser = sub.add_parser(
        "status",
        parents=[config_option()],
        help="health of mailboxes and workers, outbox backlog, quarantine; "
        "exit 1 when intake is failing, stuck or unwatched",
    )
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    parser.set_defaults(handler=functools.partial(_status, clock=clock))


def _iso(at: datetime | None) -> str | None:
    return at.isoformat() if at else None


@dataclass(frozen=True, slots=True)
class _Facts:
    """What the database says, read in one go."""

    states: dict[str, MailboxState]
    outbox: dict[str, int]
    oldest_pending: datetime | None
    held: int
    unheard_count: int
    unheard: list[tuple[str, datetime, dict[str, Any]]]  # newest first: number, at, detail
    feeds: dict[str, FeedState]  # what each manufacturer feed did, by feed name


def _read(settings: Settings, now: datetime) -> _Facts:
    # Read only, never migrate or even check migrations (that takes SQLite's write lock):
    # status must answer while the daemon, or something stuck, holds the database.
    store = Store(database_url(settings), echo=settings.database.echo)
    try:
        with store.reading() as session:
            states = mailboxes.states(session)
            outbox = {
                str(status): int(count)
                for status, count in session.execute(
                    select(OutboxMail.status, func.count()).group_by(OutboxMail.status)
                ).all()
            }
            oldest = session.scalar(
                select(func.min(OutboxMail.created_at)).where(OutboxMail.status == "pending")
            )
            held = session.scalar(
                select(func.count()).select_from(Quarantined).where(Quarantined.status == "held")
            )
            recent = (TicketEvent.kind == Kind.UNHEARD.value) & (
                TicketEvent.at >= now - UNHEARD_WINDOW
            )
            unheard_count = session.scalar(
                select(func.count()).select_from(TicketEvent).where(recent)
            )
            unheard = [
                (str(number), at, dict(detail or {}))
                for number, at, detail in session.execute(
                    select(Ticket.number, TicketEvent.at, TicketEvent.detail)
                    .join(Ticket, Ticket.id == TicketEvent.ticket_id)
                    .where(recent)
                    .order_by(TicketEvent.at.desc(), TicketEvent.id.desc())
                    .limit(UNHEARD_SHOWN)
                ).all()
            ]
            feeds = {f.feed: f for f in session.scalars(select(FeedState))}
    finally:
        store.dispose()
    return _Facts(states, outbox, oldest, int(held or 0), int(unheard_count or 0), unheard, feeds)


def _source_row(
    name: str, state: MailboxState | None, now: datetime, alert_after: timedelta
) -> dict[str, Any]:
    if state is None:
        return {
            "connected": False,
            "last_fetch": None,
            "waiting": None,
            "failing_since": None,
            "last_error": _NEVER,
            "alert": True,
            "alert_reason": _NEVER,
        }
    why = alert_reason(state.failing_since, state.last_ok_at, state.waiting, now, alert_after)
    return {
        "connected": bool(state.connected),
        "last_fetch": _iso(state.last_ok_at),
        "waiting": state.waiting,
        "failing_since": _iso(state.failing_since),
        "last_error": state.last_error or None,
        "alert": why is not None,
        "alert_reason": why,
    }


def _status(args: argparse.Namespace, clock: Clock) -> int:
    _, settings = load_settings(args)
    now = clock()
    alert_after = timedelta(minutes=settings.service.mailbox_alert_minutes)
    try:
        facts = _read(settings, now)
    except (SQLAlchemyError, OSError) as exc:
        raise CommandError(f"database unreachable: {describe(exc)}") from None
    known = facts.states

    rows = [
        {"mailbox": m.name} | _source_row(m.name, known.get(m.name), now, alert_after)
        for m in settings.mailboxes
    ]
    worker_names = (["[maildir]"] if settings.maildir.enabled else []) + ["[outbox]", "[sweep]"]
    worker_names += [feed.worker for feed in settings.feeds]  # "[feed NAME]"
    worker_names += [WRITEBACK_WORKER] if any(f.writeback_url for f in settings.feeds) else []
    # Health rows from before workers reported theirs name mailboxes only: judge what exists.
    workers = [
        {"worker": name} | _source_row(name, known[name], now, alert_after)
        for name in worker_names
        if name in known
    ]

    feeds = _feed_rows(settings, facts, now)

    reported = [s.reported_at for s in known.values() if s.reported_at is not None]
    last_report = max(reported) if reported else None
    if last_report is None:
        daemon_alert: str | None = _NEVER if known or settings.mailboxes else None
    elif now - last_report >= alert_after:
        quiet = (now - last_report).total_seconds()
        daemon_alert = f"the daemon has not reported for {quiet:.0f}s"
    else:
        daemon_alert = None

    report: dict[str, Any] = {
        "mailboxes": rows,
        "workers": workers,
        "feeds": feeds,
        "daemon": {"last_report": _iso(last_report), "alert": daemon_alert},
        "outbox": {
            "pending": facts.outbox.get("pending", 0),
            "failed": facts.outbox.get("failed", 0),
            "suppressed": facts.outbox.get("suppressed", 0),
            "oldest_pending": _iso(facts.oldest_pending),
        },
        "quarantine_held": facts.held,
        "calendar": _calendar_report(settings, now),
        "config_warnings": config.warnings(settings),
        "unheard": {
            "days": UNHEARD_WINDOW.days,
            "count": facts.unheard_count,
            "newest": [
                {
                    "ticket": number,
                    "at": json_time(at, settings.zone),
                    "what": detail.get("what", ""),
                    "clock": detail.get("clock", ""),
                    "step": detail.get("step"),
                    "why": detail.get("why", ""),
                }
                for number, at, detail in facts.unheard
            ],
        },
    }
    if args.json:
        emit_json(report)
    else:
        _print(report, settings.zone)
    alerts = [r["alert"] for r in rows + workers] + [daemon_alert is not None]
    alerts += [f["alert"] is not None for f in feeds]
    alerts += [c["level"] == Concern.FAIL for c in report["calendar"]]
    return 1 if any(alerts) else 0


def _feed_rows(settings: Settings, facts: _Facts, now: datetime) -> list[dict[str, Any]]:
    """Each manufacturer feed: failing since when, and the alert once that is too long."""
    rows = []
    for feed in settings.feeds:
        state, worker = facts.feeds.get(feed.name), facts.states.get(feed.worker)
        minutes = settings.service.mailbox_alert_minutes
        rows.append(
            {
                "feed": feed.name,
                "kind": feed.kind,
                "failing_since": _iso(failing_since(state, worker)),
                "last_error": (state.last_error or None) if state else None,
                "alert": feed_alert(feed, state, worker, now, minutes),
            }
        )
    return rows


def _print(report: dict[str, Any], zone: ZoneInfo) -> None:
    columns = ["connected", "last_fetch", "waiting", "failing_since", "last_error", "alert_reason"]
    if report["mailboxes"]:
        print_table(report["mailboxes"], ["mailbox", *columns])
    else:
        print("no [[mailboxes]] configured")
    if report["workers"]:
        print()
        print_table(report["workers"], ["worker", *columns])
    for feed in report["feeds"]:
        if feed["alert"]:
            print(f"feed {feed['feed']}: ALERT: {feed['alert']}: {feed['last_error'] or '-'}")
    daemon = report["daemon"]
    print(f"\ndaemon: last report {daemon['last_report'] or '-'}", end="")
    print(f"  ALERT: {daemon['alert']}" if daemon["alert"] else "")
    o = report["outbox"]
    print(
        f"outbox: {o['pending']} pending (oldest {o['oldest_pending'] or '-'}), "
        f"{o['failed']} failed, {o['suppressed']} suppressed"
    )
    held = report["quarantine_held"]
    print(f"quarantine: {held} held" + ("  (see `complaintd quarantine list`)" if held else ""))
    for concern in report["calendar"]:
        level = "ALERT" if concern["level"] == Concern.FAIL else "WARNING"
        print(f"calendar: {level}: {concern['message']}")
    for gap in report["config_warnings"]:
        print(f"config: WARNING: {gap}")
    _print_unheard(report["unheard"], zone)


def _print_unheard(unheard: dict[str, Any], zone: ZoneInfo) -> None:
    count, days = unheard["count"], unheard["days"]
    if not count:
        print(f"reached nobody: none in the last {days} days")
        return
    print(
        f"reached nobody: WARNING: {count} notice(s) in the last {days} days "
        "(see `complaintd tickets show NUMBER`)"
    )
    rows = [
        {
            "ticket": n["ticket"],
            "at": shown_time(datetime.fromisoformat(n["at"]), zone),
            "what": n["what"] + (f" step {n['step']}" if n["step"] else ""),
            "clock": n["clock"] or None,
            "why": n["why"],
        }
        for n in unheard["newest"]
    ]
    print_table(rows, ["ticket", "at", "what", "clock", "why"])


def _calendar_report(settings: Settings, now: datetime) -> list[dict[str, Any]]:
    """Provisional years near enough to matter: a warning from 1 October of the year before,
    an alert (exit 1) from 1 December, while the State Council's notice is due or overdue."""
    calendar = BusinessCalendar.from_settings(settings.calendar)
    return [
        {"year": c.year, "level": c.level.value, "message": c.message()}
        for c in calendar_concerns(calendar, calendar.local_date(now))
    ]
