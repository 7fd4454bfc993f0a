"""complaintd calendar show YEAR: the days off and make-up workdays deadlines are counted on,
and who vouches for them."""

from __future__ import annotations

import argparse
from typing import Any

from daemon.cli.common import Commands, config_option, emit_json, load_settings, print_table
from daemon.workdays import BusinessCalendar, DayKind, source_label


def register(sub: Commands) -> None:
    group = sub.add_parser("calendar", help="the working calendar").add_subparsers(
        dest="calendar_command", required=True, metavar="ACTION"
    )
    show = group.add_parser(
        "show",
        parents=[config_option()],
        help="a year's days off and make-up workdays, their source, and whether the year is "
        "covered or provisional",
    )
    show.add_argument("year", type=int)
    show.add_argument("--json", action="store_true", help="machine-readable output")
    show.set_defaults(handler=_show)


def _show(args: argparse.Namespace) -> int:
    # Without a config file the defaults apply: the packages alone, no override table.
    _, settings = load_settings(args, required=False)
    calendar = BusinessCalendar.from_settings(settings.calendar)
    coverage = calendar.coverage(args.year)
    days = [
        {
            "date": day.date.isoformat(),
            "weekday": day.date.strftime("%a"),
            "kind": day.kind.value,  # "holiday" (a day off) or "makeup" (a make-up workday)
            "source": source_label(day.source),
            "name": day.name or None,
        }
        for day in calendar.days_off_and_makeup(args.year)
    ]
    report: dict[str, Any] = {
        "year": args.year,
        "provisional": coverage.provisional,
        "covered_by": coverage.covered_by,
        "days": days,
    }
    if args.json:
        emit_json(report)
        return 0
    labels = {DayKind.HOLIDAY.value: "day off", DayKind.MAKEUP.value: "make-up workday"}
    print_table([d | {"kind": labels[str(d["kind"])]} for d in days], list(days[0]) if days else [])
    if coverage.provisional:
        print(
            f"\n{args.year}: PROVISIONAL, estimated days off and no make-up workdays; add the "
            "State Council's days to the [calendar] holidays/workdays override table, or "
            "upgrade chinesecalendar"
        )
    else:
        print(f"\n{args.year}: covered by {coverage.covered_by}")
    return 0
