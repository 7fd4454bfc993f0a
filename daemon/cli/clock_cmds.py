"""complaintd tickets act | sweep: act on tickets and run the clocks by hand."""

from __future__ import annotations

import argparse
import getpass
import json
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from daemon import acting, app, lifecycle, sweeps
from daemon.cli.common import (
    CommandError,
    Commands,
    config_option,
    database,
    deprecated_alias,
    emit_json,
    load_settings,
    shown_time,
)
from daemon.lifecycle import Event


def register(sub: Commands, t_sub: Commands) -> None:
    """tickets act (into the `tickets` group `t_sub`) and sweep."""
    parent = [config_option()]

    t_act = t_sub.add_parser(
        "act",
        parents=parent,
        help="record what was done on a ticket (contact, resolve, pause ...)",
        description="Apply one event of the ticket's state machine and move its clocks.",
    )
    t_act.add_argument("number", help="e.g. TS-202611-0042")
    t_act.add_argument(
        "event",
        choices=[e.value for e in Event],
        metavar="EVENT",
        help=", ".join(e.value for e in Event),
    )
    t_act.add_argument("--by", default=None, help="who acted (person key or address)")
    t_act.add_argument(
        "--cause",
        default="",
        help="why, for the audit trail; with resolve, the result the customer is told",
    )
    t_act.add_argument("--to", default=None, metavar="KEY", help="the new handler, for assign")
    t_act.add_argument(
        "--at",
        default=None,
        metavar="ISO-8601",
        help="when it was done, if earlier (e.g. a phone call logged afterwards)",
    )
    t_act.add_argument("--json", action="store_true", help="machine-readable output")
    t_act.set_defaults(handler=_tickets_act)

    sweep = sub.add_parser(
        "sweep",
        parents=parent,
        help="run one sweep of the clocks; prints each action as a JSON line",
        description="Send the reminders and escalations due at --at (default: the real time).",
    )
    sweep.add_argument(
        "--at",
        default=None,
        metavar="ISO-8601",
        help="sweep as if it were this instant; without an offset, in [service] timezone",
    )
    # The instant was --now here and --at on `tickets act`; one word for both now.
    deprecated_alias(sweep, "--now", "--at")
    sweep.add_argument("--dry-run", action="store_true", help="decide and print; record nothing")
    sweep.add_argument("--limit", type=int, default=1000, help="clocks per transaction")
    sweep.set_defaults(handler=_sweep)


def _tickets_act(args: argparse.Namespace) -> int:
    _, settings = load_settings(args)
    actor = args.by or f"cli:{getpass.getuser()}"
    cause = args.cause or "recorded with complaintd tickets act"
    now = app.utc_now()
    at = parse_instant(args.at, settings.zone, "--at") if args.at else now
    if at > now:
        raise CommandError(f"--at {args.at} is in the future", exit_code=2)
    with database(settings) as store:
        deps = app.build(settings, store)
        try:
            result = acting.act(
                deps, args.number, Event(args.event), actor, cause, at, args.to, args.cause
            )
        except (acting.ActError, lifecycle.InvalidTransition) as exc:
            raise CommandError(f"{args.number}: {exc}") from None
    if args.json:
        emit_json(result.as_json(settings.zone))
        return 0
    print(f"{result.ticket}  {result.event}: {result.before} -> {result.after}")
    for c in result.clocks:
        due = f" due {shown_time(c.due_at, settings.zone)}" if c.due_at else ""
        late = f", {_span(c.late_seconds)} late" if c.late_seconds > 0 else ""
        print(f"  {c.kind:<15} {c.change}{due}{late}")
    return 0


def _sweep(args: argparse.Namespace) -> int:
    _, settings = load_settings(args)
    now = parse_instant(args.at, settings.zone) if args.at else app.utc_now()
    if args.limit < 1:
        raise CommandError("--limit must be at least 1", exit_code=2)
    with database(settings) as store:
        report = sweeps.sweep(
            app.build(settings, store), now, dry_run=args.dry_run, limit=args.limit
        )
    for action in report.actions:
        print(json.dumps(action.as_json(settings.zone), ensure_ascii=False))
    return 0


def parse_instant(text: str, zone: ZoneInfo, option: str = "--at") -> datetime:
    """An ISO-8601 instant; one without an offset is local time in `zone`."""
    try:
        at = datetime.fromisoformat(text)
    except ValueError:
        raise CommandError(
            f"{option} {text!r} is not ISO-8601, e.g. 2026-11-23T14:00+08:00", exit_code=2
        ) from None
    return at if at.tzinfo is not None else at.replace(tzinfo=zone)


def parse_bound(text: str, zone: ZoneInfo, end: bool) -> datetime:
    """A report bound: a date is a whole local day (an end date includes its day)."""
    try:
        day = date.fromisoformat(text)
    except ValueError:
        return parse_instant(text, zone, "--since/--until")
    start = datetime.combine(day, time(0), tzinfo=zone)
    return start + timedelta(days=1) if end else start


def _span(seconds: float) -> str:
    minutes = int(seconds // 60)
    return f"{minutes // 60}:{minutes % 60:02d}"
