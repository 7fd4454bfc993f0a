"""complaintd report send: send or preview a weekly or monthly report by hand."""

from __future__ import annotations

import argparse
import getpass
import json
from pathlib import Path

from daemon import app
from daemon.addresses import addr_spec
from daemon.cli.clock_cmds import parse_instant
from daemon.cli.common import CommandError, Commands, config_option, database, load_settings
from daemon.reports.schedule import ReportKind, latest_due, parse_period


def register(r_sub: Commands) -> None:
    """`report send`, into the `report` group `r_sub`."""
    send = r_sub.add_parser(
        "send",
        parents=[config_option()],
        help="send (or preview) the weekly or monthly report by mail",
        description=(
            "Send one period's report to its configured recipients, recorded so the daemon does "
            "not send it again; with --to, a copy to those addresses only, not recorded."
        ),
    )
    send.add_argument("kind", choices=[k.value for k in ReportKind], help="weekly or monthly")
    send.add_argument(
        "--period",
        default=None,
        metavar="PERIOD",
        help="e.g. 2025-W14 or 2025-03, or any date in it (default: the latest one due)",
    )
    send.add_argument(
        "--to", action="append", default=[], metavar="ADDRESS", help="send only to this address"
    )
    send.add_argument(
        "--dry-run", action="store_true", help="compose and list the mails; send and record nothing"
    )
    send.add_argument(
        "--save",
        type=Path,
        default=None,
        metavar="FOLDER",
        help="with --dry-run: also write each mail there as an .eml file",
    )
    send.add_argument(
        "--at",
        default=None,
        metavar="ISO-8601",
        help="as if it were this instant (which period is the latest due)",
    )
    send.add_argument("--json", action="store_true", help="machine-readable output")
    send.set_defaults(handler=_send)


def _send(args: argparse.Namespace) -> int:
    # Imported here: the report's workbook and charts are no cost to other commands.
    from daemon.reports import sending

    _, settings = load_settings(args)
    kind = ReportKind(args.kind)
    now = parse_instant(args.at, settings.zone, "--at") if args.at else app.utc_now()
    to = tuple(_address(a) for a in args.to)
    with database(settings) as store:
        deps = app.build(settings, store)
        calendar = deps.triage.calendar
        if args.period:
            try:
                period = parse_period(kind, args.period, calendar)
            except ValueError as exc:
                raise CommandError(str(exc), exit_code=2) from None
        else:
            found = latest_due(kind, now, calendar)
            if found is None:
                raise CommandError(f"no {kind} report fell due in the last year")
            period = found
        outcome = sending.send(
            deps, kind, period, now, f"cli:{getpass.getuser()}", to, args.dry_run
        )
    if outcome.already_sent_at is not None:
        raise CommandError(
            f"the {kind} report {period.key} was already sent at "
            f"{outcome.already_sent_at.astimezone(settings.zone):%Y-%m-%d %H:%M %z}; "
            "use --to ADDRESS to send a copy"
        )
    if args.save is not None and args.dry_run:
        args.save.mkdir(parents=True, exist_ok=True)
        for n, mail in enumerate(outcome.mails, start=1):
            (args.save / f"{kind}-{period.key}-{n}.eml").write_bytes(mail.raw)
    verb = "would send" if args.dry_run else "queued"
    if args.json:
        print(
            json.dumps(
                {
                    "kind": kind.value,
                    "period": period.key,
                    "first": period.first.isoformat(),
                    "last": period.last.isoformat(),
                    "sent": outcome.sent,
                    "mails": [
                        {"to": m.recipient, "subject": m.subject, "bytes": len(m.raw)}
                        for m in outcome.mails
                    ],
                },
                ensure_ascii=False,
                indent=2,
            )
        )
        return 0
    print(f"{kind} report {period.key} ({period.first} to {period.last}): {verb}")
    for mail in outcome.mails:
        print(f"  {mail.recipient}  {mail.subject}  ({len(mail.raw) // 1024} KiB)")
    if not outcome.mails:
        print("  nobody to send it to: see [reports.mail] roles and [org] people")
    return 0


def _address(text: str) -> str:
    found = addr_spec(text)
    if not found:
        raise CommandError(f"--to {text!r} is not a mail address", exit_code=2)
    return found
