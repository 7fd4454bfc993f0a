"""complaintd retention run: drop the raw mail of long-closed tickets and anonymise their
customers, as [retention] says."""

from __future__ import annotations

import argparse

from daemon import app
from daemon.cli.clock_cmds import parse_instant
from daemon.cli.common import (
    CommandError,
    Commands,
    config_option,
    database,
    emit_json,
    load_settings,
)
from daemon.config import Settings
from daemon.retention import RetentionPolicy
from daemon.store import retention as stored


def register(sub: Commands) -> None:
    group = sub.add_parser("retention", help="personal data of closed tickets").add_subparsers(
        dest="retention_command", required=True, metavar="ACTION"
    )
    run = group.add_parser(
        "run",
        parents=[config_option()],
        help="purge raw mail and anonymise customers of tickets closed long enough ago",
    )
    run.add_argument("--dry-run", action="store_true", help="say what would change; change nothing")
    run.add_argument(
        "--at",
        default=None,
        metavar="ISO-8601",
        help="run as if it were this instant; without an offset, in [service] timezone",
    )
    run.add_argument("--json", action="store_true", help="machine-readable output")
    run.set_defaults(handler=_run)


def policy_of(settings: Settings) -> RetentionPolicy:
    r = settings.retention
    return RetentionPolicy(r.raw_mail_days, r.anonymise_days)


def _run(args: argparse.Namespace) -> int:
    _, settings = load_settings(args)
    policy = policy_of(settings)
    if policy.keeps_everything:
        raise CommandError(
            "[retention] keeps everything: set raw_mail_days or anonymise_days to purge anything"
        )
    now = parse_instant(args.at, settings.zone) if args.at else app.utc_now()
    with database(settings) as store:
        applied = stored.run(store, policy, now, dry_run=args.dry_run)
    if args.json:
        emit_json({"dry_run": args.dry_run, "at": now.isoformat(), **applied.as_json()})
        return 0
    would = "would be " if args.dry_run else ""
    print(f"raw mail {would}purged: {', '.join(applied.raw_purged) or '(none)'}")
    print(
        f"  {applied.messages} messages, {applied.attachments} attachments, "
        f"{applied.outbox} sent mails, {applied.held} held messages"
    )
    print(
        f"customers {would}anonymised: {applied.customers}"
        f" (tickets {', '.join(applied.anonymised) or '-'}),"
        f" {applied.events_rewritten} audit entries rewritten"
    )
    return 0
