"""complaintd status: mailbox health, the outbox backlog and the quarantine, for people and
for monitoring (exit code 1 when a mailbox has been failing longer than the configured time)."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, select

from daemon import app
from daemon.cli.common import config_option, emit_json, load_settings, print_table
from daemon.store import mailboxes
from daemon.store.models import OutboxMail, Quarantined


def register(sub: Any) -> None:
    parser = sub.add_parser(
        "status",
        parents=[config_option()],
        help="mailbox health, outbox backlog, quarantine; exit 1 when a mailbox keeps failing",
    )
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    parser.set_defaults(handler=_status)


def _iso(at: datetime | None) -> str | None:
    return at.isoformat() if at else None


def _status(args: argparse.Namespace) -> int:
    _, settings = load_settings(args)
    store = app.open_store(settings)
    now = datetime.now(UTC)
    alert_after = timedelta(minutes=settings.service.mailbox_alert_minutes)
    with store.reading() as session:
        known = mailboxes.states(session)
        rows: list[dict[str, Any]] = []
        for mailbox in settings.mailboxes:
            state = known.get(mailbox.name)
            failing = state.failing_since if state else None
            alert = state is None or (failing is not None and now - failing >= alert_after)
            rows.append(
                {
                    "mailbox": mailbox.name,
                    "connected": bool(state and state.connected),
                    "last_fetch": _iso(state.last_ok_at) if state else None,
                    "waiting": state.waiting if state else None,
                    "failing_since": _iso(failing),
                    "last_error": (
                        state.last_error if state else "never reported: is the daemon running?"
                    )
                    or None,
                    "alert": alert,
                }
            )
        outbox = dict(
            session.execute(
                select(OutboxMail.status, func.count()).group_by(OutboxMail.status)
            ).all()
        )
        oldest = session.scalar(
            select(func.min(OutboxMail.created_at)).where(OutboxMail.status == "pending")
        )
        held = session.scalar(
            select(func.count()).select_from(Quarantined).where(Quarantined.status == "held")
        )
    store.dispose()
    report: dict[str, Any] = {
        "mailboxes": rows,
        "outbox": {
            "pending": outbox.get("pending", 0),
            "failed": outbox.get("failed", 0),
            "suppressed": outbox.get("suppressed", 0),
            "oldest_pending": _iso(oldest),
        },
        "quarantine_held": held or 0,
    }
    if args.json:
        emit_json(report)
    else:
        if rows:
            print_table(
                rows,
                ["mailbox", "connected", "last_fetch", "waiting", "failing_since", "last_error"],
            )
        else:
            print("no [[mailboxes]] configured")
        o = report["outbox"]
        print(
            f"\noutbox: {o['pending']} pending (oldest {o['oldest_pending'] or '-'}), "
            f"{o['failed']} failed, {o['suppressed']} suppressed"
        )
        print(
            f"quarantine: {report['quarantine_held']} held"
            + ("  (see `complaintd quarantine list`)" if held else "")
        )
    return 1 if any(r["alert"] for r in rows) else 0
