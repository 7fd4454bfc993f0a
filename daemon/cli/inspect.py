"""complaintd tickets | quarantine | outbox: look at what the daemon holds."""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

from daemon import app
from daemon.cli import export
from daemon.cli.common import (
    CommandError,
    Commands,
    add_list_and_show,
    config_option,
    database,
    emit_json,
    load_settings,
    print_record,
    print_table,
    times_for,
)
from daemon.config import Settings
from daemon.deps import Run
from daemon.feeds.records import FEED_ORIGIN
from daemon.pipeline import process
from daemon.store import views
from daemon.store.models import Quarantined
from daemon.values import RawMail


def register(sub: Commands, t_sub: Commands) -> None:
    """tickets list/show (into the `tickets` group `t_sub`), quarantine and outbox."""
    parent = [config_option()]

    t_list = t_sub.add_parser("list", parents=parent, help="the newest tickets first")
    t_list.add_argument("--status", help="only tickets in this state")
    t_list.add_argument("--category", help="e.g. service, product_quality")
    t_list.add_argument("--department", help="e.g. sales, after_sales")
    t_list.add_argument("--channel", help="e.g. email, phone, on_site, manufacturer")
    t_list.add_argument(
        "--handler",
        dest="handled_by",
        metavar="PERSON",
        help="handled by this person (key or name)",
    )
    t_list.add_argument(
        "--customer", metavar="TEXT", help="part of the customer's address, name or phone"
    )
    t_list.add_argument("--case", metavar="CASE_ID", help="the ticket of a manufacturer's case")
    t_list.add_argument("--text", help="part of the subject or of any message's text")
    t_list.add_argument(
        "--opened-since", type=date.fromisoformat, metavar="DATE", help="opened on or after DATE"
    )
    t_list.add_argument(
        "--opened-until", type=date.fromisoformat, metavar="DATE", help="opened on or before DATE"
    )
    t_list.add_argument("--breached", action="store_true", help="only tickets that missed a clock")
    t_list.add_argument("--major", action="store_true", help="only major complaints")
    t_list.add_argument(
        "--limit", type=int, help=f"at most this many (default {SHOWN}; exports: all)"
    )
    t_form = t_list.add_mutually_exclusive_group()
    t_form.add_argument("--json", action="store_true", help="machine-readable output")
    t_form.add_argument(
        "--csv", action="store_true", help="every column as CSV on stdout (UTF-8, for Excel)"
    )
    t_form.add_argument("--xlsx", type=Path, metavar="FILE", help="every column into an .xlsx file")
    t_list.set_defaults(handler=_tickets_list)
    t_show = t_sub.add_parser("show", parents=parent, help="one ticket, whole")
    t_show.add_argument("number", help="e.g. TS-202611-0042")
    t_show.add_argument("--json", action="store_true", help="machine-readable output")
    t_show.set_defaults(handler=_tickets_show)

    quarantine = sub.add_parser("quarantine", help="messages that could not be filed")
    q_sub = quarantine.add_subparsers(dest="quarantine_command", required=True, metavar="ACTION")
    add_list_and_show(
        q_sub,
        parent,
        (_quarantine_list, _quarantine_show),
        listed="held messages",
        shown="one held message",
        all_help="include released ones",
    )
    q_retry = q_sub.add_parser(
        "retry", parents=parent, help="run held messages through the pipeline again"
    )
    q_retry.add_argument("ids", type=int, nargs="*", metavar="ID")
    q_retry.add_argument("--all", action="store_true", help="every held message")
    q_retry.add_argument("--json", action="store_true", help="machine-readable output")
    q_retry.set_defaults(handler=_quarantine_retry)

    outbox = sub.add_parser("outbox", help="mail queued, sent and failed")
    o_sub = outbox.add_subparsers(dest="outbox_command", required=True, metavar="ACTION")
    o_list = o_sub.add_parser("list", parents=parent, help="the newest mail first")
    o_list.add_argument("--status", choices=["pending", "sending", "sent", "failed", "suppressed"])
    o_list.add_argument("--limit", type=int, default=50)
    o_list.add_argument("--json", action="store_true", help="machine-readable output")
    o_list.set_defaults(handler=_outbox_list)


# How many tickets a listing on the terminal shows unless told otherwise.
SHOWN = 50
# The columns of the table on the terminal; exports and --json carry every column.
_TABLE = ["number", "status", "customer", "category", "severity", "handler", "opened_at", "subject"]
_EXPORTED = [
    "number",
    "status",
    "customer",
    "customer_name",
    "subject",
    "channel",
    "category",
    "department",
    "severity",
    "major",
    "breached",
    "handler",
    "handler_name",
    "manufacturer",
    "case_id",
    "opened_at",
    "updated_at",
    "closed_at",
]


def ticket_filter(args: argparse.Namespace, settings: Settings) -> views.TicketFilter:
    """The listing's filters from its options; dates are whole days in the service's zone."""
    zone = settings.zone

    def start_of(day: date) -> datetime:
        return datetime.combine(day, time(), zone).astimezone(UTC)

    return views.TicketFilter(
        status=args.status,
        category=args.category,
        department=args.department,
        channel=args.channel,
        handlers=_handler_keys(args.handled_by, settings) if args.handled_by else (),
        customer=args.customer,
        case_id=args.case,
        text=args.text,
        opened_since=start_of(args.opened_since) if args.opened_since else None,
        opened_until=start_of(args.opened_until + timedelta(days=1)) if args.opened_until else None,
        breached=args.breached,
        major=args.major,
    )


def _handler_keys(given: str, settings: Settings) -> tuple[str, ...]:
    """The person keys `given` names: a key, a name or an alias; itself when nobody fits (a
    person since removed from [org] still handled old tickets)."""
    wanted = given.strip().casefold()
    keys = tuple(
        p.key
        for p in settings.org.people
        if wanted in {p.key.casefold(), p.name.casefold(), *(a.casefold() for a in p.aliases)}
    )
    return keys or (given.strip(),)


def _tickets_list(args: argparse.Namespace) -> int:
    _, settings = load_settings(args)
    if args.limit is not None and args.limit < 1:
        raise CommandError("--limit must be at least 1", exit_code=2)
    exporting = bool(args.csv or args.xlsx)
    limit = args.limit if args.limit is not None else (None if exporting else SHOWN)
    wanted = ticket_filter(args, settings)
    with database(settings) as store, store.reading() as session:
        show = times_for(settings.zone, args.json or exporting)
        rows = views.ticket_list(session, wanted, limit, show)
        matching = views.ticket_count(session, wanted)
    names = {p.key: p.name for p in settings.org.people}
    for row in rows:
        row["handler_name"] = names.get(row["handler"], "")
    left_out = matching - len(rows)
    # On stderr in every form: --json and --csv stay what scripts already read.
    if left_out > 0:
        print(
            f"{matching} matched: {len(rows)} shown, {left_out} more left out by --limit {limit}",
            file=sys.stderr,
        )
    else:
        print(f"{matching} matched", file=sys.stderr)
    if args.json:
        emit_json(rows)
    elif args.csv:
        sys.stdout.flush()
        sys.stdout.buffer.write(export.csv_bytes(rows, _EXPORTED))
    elif args.xlsx:
        export.write_xlsx(rows, _EXPORTED, args.xlsx, "tickets")
        print(f"{len(rows)} tickets written to {args.xlsx}", file=sys.stderr)
    else:
        print_table(rows, _TABLE)
    return 0


def _tickets_show(args: argparse.Namespace) -> int:
    _, settings = load_settings(args)
    with database(settings) as store, store.reading() as session:
        detail = views.ticket_detail(session, args.number, times_for(settings.zone, args.json))
    if detail is None:
        raise CommandError(f"no ticket {args.number}; `complaintd tickets list` shows the numbers")
    if args.json:
        emit_json(detail)
        return 0
    _print_ticket(detail)
    return 0


def _print_ticket(d: dict[str, Any]) -> None:
    c, a = d["classification"], d["assignment"]
    print(f"{d['number']}  [{d['status']}]  {d['subject']}")
    print(f"customer:  {d['customer']['address']} {d['customer']['name']}".rstrip())
    print(f"opened:    {d['opened_at']}   updated: {d['updated_at']}")
    major = f"   MAJOR: {', '.join(c['major'])}" if c["major"] else ""
    print(
        f"category:  {c['category']} / {c['department']} / {c['severity']}{major}"
        f"   (by {c['source']})"
    )
    for e in c["evidence"]:
        print(f"  why: {e['target']} <- {e['phrase']!r} ({e['weight']})")
    print(f"handler:   {a['handler'] or '(unassigned)'} {a['handler_email']}".rstrip())
    if a["excluded"]:
        print(f"excluded:  {', '.join(a['excluded'])} (named in the complaint)")
    case = d.get("manufacturer")
    if case:
        level = f" {case['level']}" if case["level"] else ""
        print(
            f"case:      {case['oem']} {case['case_id']}{level}, dispatched {case['dispatched_at']}"
        )
    for clock in d.get("clocks", []):
        print(f"clock:     {clock['kind']:<15} due {clock['due_at']}  {clock['state']}")
    for m in d["messages"]:
        print(f"\n--- {m['received_at']}  {m['from']}  ({m['disposition']})")
        print(m["text"])
        for att in m["attachments"]:
            print(f"    [attachment] {att['filename']} {att['content_type']} {att['size']} bytes")
    print("\nevents:")
    for e in d["events"]:
        print(f"  {e['at']}  {e['kind']:<16} {e['actor']}  {_detail(e['detail'])}".rstrip())
    print("mail:")
    for o in d["outbox"]:
        print(
            f"  {o['created_at']}  {o['kind']:<16} {o['to']}  {o['status']} {o['error']}".rstrip()
        )


def _detail(detail: object) -> str:
    """An event's detail as `key: value` pairs, lists joined, for people reading the history."""
    if not detail:
        return ""
    if not isinstance(detail, dict):
        return str(detail)
    parts = []
    for key, value in detail.items():
        if isinstance(value, list):
            value = ", ".join(str(v) for v in value) or "-"
        elif isinstance(value, dict):
            value = _detail(value)
        parts.append(f"{key}: {'-' if value is None else value}")
    return "; ".join(parts)


def _quarantine_list(args: argparse.Namespace) -> int:
    _, settings = load_settings(args)
    with database(settings) as store, store.reading() as session:
        rows = views.quarantine_list(session, args.all, times_for(settings.zone, args.json))
    if args.json:
        emit_json(rows)
    else:
        print_table(rows, ["id", "status", "reason", "received_at", "bytes", "origin", "detail"])
    return 0


def _quarantine_show(args: argparse.Namespace) -> int:
    _, settings = load_settings(args)
    with database(settings) as store, store.reading() as session:
        row = session.get(Quarantined, args.id)
        if row is None:
            raise CommandError(
                f"no quarantined message #{args.id}; see `complaintd quarantine list`"
            )
        raw = row.raw
        info = views.quarantine_info(row, times_for(settings.zone, args.json))
    if args.raw:
        sys.stdout.buffer.write(raw)
        return 0
    print_record(info, args.json, f"complaintd quarantine show --raw {args.id}")
    return 0


def _quarantine_retry(args: argparse.Namespace) -> int:
    if not args.ids and not args.all:
        # A usage error, as argparse's own: exit 2.
        raise CommandError("quarantine retry: name the ids to retry, or pass --all", exit_code=2)
    _, settings = load_settings(args)
    results = []
    with database(settings) as store:
        deps = app.build(settings, store)
        with store.reading() as session:
            held = [
                (row.id, RawMail(row.raw, row.origin, row.received_at))
                for row in session.query(Quarantined).filter(Quarantined.status == "held")
                if args.all or row.id in args.ids
            ]
        # A manufacturer's record is no mail: the corrected export is imported again instead.
        records = [(i, raw) for i, raw in held if raw.origin.startswith(FEED_ORIGIN)]
        held = [(i, raw) for i, raw in held if not raw.origin.startswith(FEED_ORIGIN)]
        for row_id, _ in records:
            why = (
                "a manufacturer's record: import the corrected export (complaintd feeds "
                "import), or have the manufacturer send the case again (http, webhook, mail)"
            )
            results.append({"id": row_id, "disposition": "held", "reason": why, "ticket": None})
        for row_id, raw in held:
            outcome = process(raw, deps, Run(retry_of=row_id))
            results.append(
                {
                    "id": row_id,
                    "disposition": outcome.disposition.value,
                    "reason": outcome.reason,
                    "ticket": outcome.ticket,
                }
            )
    missing = set(args.ids) - {row_id for row_id, _ in held + records}
    for row_id in sorted(missing):
        results.append(
            {"id": row_id, "disposition": "unknown", "reason": "not held", "ticket": None}
        )
    if args.json:
        emit_json(results)
    else:
        print_table(results, ["id", "disposition", "reason", "ticket"])
    return 1 if missing else 0


def _outbox_list(args: argparse.Namespace) -> int:
    _, settings = load_settings(args)
    with database(settings) as store, store.reading() as session:
        rows = views.outbox_list(
            session, args.status, args.limit, times_for(settings.zone, args.json)
        )
    if args.json:
        emit_json(rows)
    else:
        print_table(
            rows, ["id", "ticket", "kind", "to", "status", "attempts", "created_at", "error"]
        )
    return 0
