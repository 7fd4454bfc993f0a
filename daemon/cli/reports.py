"""complaintd report missed | summary: the figures management reads."""

from __future__ import annotations

import argparse
import csv
import sys
from datetime import date, datetime, time
from pathlib import Path
from zoneinfo import ZoneInfo

from daemon import app, route
from daemon.cli.clock_cmds import parse_bound
from daemon.cli.common import (
    CommandError,
    Commands,
    config_option,
    database,
    emit_json,
    load_settings,
    print_table,
    shown_time,
    times_for,
)
from daemon.reports import figures, gather
from daemon.store import views


def register(sub: Commands) -> Commands:
    """The `report` group; returned so other modules can add their reports to it."""
    parent = [config_option()]
    report = sub.add_parser("report", help="reports for management")
    r_sub: Commands = report.add_subparsers(dest="report_command", required=True, metavar="ACTION")
    missed = r_sub.add_parser(
        "missed", parents=parent, help="missed clocks per person and clock (for penalties)"
    )
    _bounds(missed, "breaches")
    missed.add_argument("--tickets", action="store_true", help="one line per breach instead")
    missed.add_argument("--json", action="store_true", help="machine-readable output")
    missed.set_defaults(handler=_report_missed)

    summary = r_sub.add_parser(
        "summary",
        parents=parent,
        help="tickets, on-time and satisfaction rates, penalties for a period",
        description="The desk's figures for a period (default: this month up to now).",
    )
    _bounds(summary, "the period")
    out = summary.add_mutually_exclusive_group()
    out.add_argument("--json", action="store_true", help="machine-readable output")
    out.add_argument("--csv", action="store_true", help="one figure per line, as CSV")
    out.add_argument("--xlsx", type=Path, metavar="FILE", help="write a spreadsheet")
    summary.set_defaults(handler=_report_summary)
    return r_sub


def _bounds(parser: argparse.ArgumentParser, what: str) -> None:
    parser.add_argument(
        "--since", default=None, metavar="DATE", help=f"{what} from this day (or instant) on"
    )
    parser.add_argument(
        "--until",
        default=None,
        metavar="DATE",
        help=f"{what} up to and including this day (or before this instant)",
    )


def _report_missed(args: argparse.Namespace) -> int:
    _, settings = load_settings(args)
    zone = settings.zone
    since = parse_bound(args.since, zone, end=False) if args.since else None
    until = parse_bound(args.until, zone, end=True) if args.until else None
    with database(settings) as store, store.reading() as session:
        if args.tickets:
            rows = views.missed_list(session, since, until, times_for(zone, args.json))
        else:
            rows = views.missed_report(session, since, until)
    for row in rows:
        person = route.find_person(settings.org, row["person"])
        row["name"] = person.name if person else ""
    if args.json:
        emit_json(rows)
        return 0
    if since or until:
        print(_period(since, until, zone))
    if args.tickets:
        print_table(rows, ["ticket", "clock", "person", "name", "due_at", "overdue_hours"])
    else:
        print_table(rows, ["person", "name", "clock", "missed", "tickets", "overdue_hours"])
    return 0


def _period(since: datetime | None, until: datetime | None, zone: ZoneInfo) -> str:
    """The bounds a report counted, in the service's zone; a day named in --until is included,
    so its bound is the next midnight."""
    parts = ["breaches"]
    if since:
        parts.append(f"from {shown_time(since, zone)}")
    parts.append(f"before {shown_time(until, zone)}" if until else "up to now")
    return " ".join(parts)


def summary_period(
    since: str | None, until: str | None, zone: ZoneInfo, now: datetime
) -> figures.Period:
    """--since/--until as a Period: by default from the first of this month up to now."""
    end = parse_bound(until, zone, end=True) if until else now
    if since:
        start = parse_bound(since, zone, end=False)
    else:
        last = end.astimezone(zone).date()
        start = datetime.combine(date(last.year, last.month, 1), time(0), zone)
    if start >= end:
        raise CommandError("--since must come before --until", exit_code=2)
    return figures.Period(start, end, zone)


def _report_summary(args: argparse.Namespace) -> int:
    _, settings = load_settings(args)
    period = summary_period(args.since, args.until, settings.zone, app.utc_now())
    with database(settings) as store, store.reading() as session:
        summary = gather.summary_of(session, period, settings)
    if args.json:
        emit_json(summary.as_json())
    elif args.csv:
        _write_csv(summary)
    elif args.xlsx:
        write_xlsx(summary, args.xlsx)
        print(f"wrote {args.xlsx}")
    else:
        _print_summary(summary)
    return 0


def _write_csv(summary: figures.Summary) -> None:
    out = csv.writer(sys.stdout, lineterminator="\n")
    out.writerow(["section", "item", "measure", "value"])
    for r in figures.figure_rows(summary):
        out.writerow([r.section, r.item, r.measure, "" if r.value is None else r.value])


def write_xlsx(summary: figures.Summary, path: Path) -> None:
    """The figures as a workbook: one sheet per section, one figure per row."""
    from openpyxl import Workbook  # only this output needs it
    from openpyxl.worksheet.worksheet import Worksheet

    book = Workbook()
    sheets: dict[str, Worksheet] = {}
    first = book.active
    for r in figures.figure_rows(summary):
        name = r.section.replace("breakdown.", "by ")[:31]
        sheet = sheets.get(name)
        if sheet is None:
            if first is not None and not sheets:
                sheet = first
                sheet.title = name
            else:
                sheet = book.create_sheet(name)
            sheet.append(["item", "measure", "value"])
            sheets[name] = sheet
        sheet.append([r.item, r.measure, r.value])
    try:
        book.save(path)
    except OSError as exc:
        raise CommandError(f"cannot write {path}: {exc.strerror or exc}") from None


def _rate(value: float | None) -> str:
    return "-" if value is None else f"{value:.1%}"


def _print_summary(s: figures.Summary) -> None:
    zone = s.period.zone
    print(f"period {shown_time(s.period.since, zone)} to {shown_time(s.period.until, zone)}")
    t = s.tickets
    print(
        f"tickets: opened {t.opened}, resolved {t.resolved}, closed {t.closed}, "
        f"reopened {t.reopened}, open at the end {t.open_at_end}"
    )
    print("backlog by age (working days): " + ", ".join(f"{k}: {v}" for k, v in t.backlog.items()))
    print()
    print_table(
        [{**c.as_json(), "clock": c.kind, "on_time_rate": _rate(c.on_time_rate)} for c in s.clocks],
        ["clock", "due", "on_time", "missed", "on_time_rate"],
    )
    sat = s.satisfaction
    print(
        f"\nsatisfaction: surveyed {sat.surveyed}, satisfied {sat.satisfied}, unsatisfied "
        f"{sat.unsatisfied}, no answer {sat.no_answer}, rate {_rate(sat.rate)}, mean score "
        f"{'-' if sat.mean_score is None else sat.mean_score}"
    )
    for dim, rows in s.breakdown.rows.items():
        print(f"\nby {dim}")
        print_table(
            [{**r.as_json(), "value": r.value or "-"} for r in rows], ["value", "opened", "missed"]
        )
    print("\npenalties")
    print_table(
        [{**p.as_json(), "tickets": " ".join(p.tickets)} for p in s.penalties],
        ["person", "name", "role", "clock", "missed", "amount", "tickets"],
    )
    if s.penalties:
        print(f"total {s.penalty_total}")
    z = s.zero_complaint
    print(
        f"\n零抱怨: opened {z.opened}, re-surveyed {z.resurveyed}, succeeded {z.succeeded}, "
        f"failed {z.failed}, penalty {z.penalty}"
    )
    print("\nattitude and process complaints this week, per manager")
    print_table(
        [{**r.as_json(), "flagged": "yes" if r.flagged else ""} for r in s.recurring],
        ["manager", "name", "complaints", "threshold", "flagged"],
    )
