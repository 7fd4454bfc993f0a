"""The complaintd command: one sub-command per module in this package."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from daemon import app
from daemon.cli import (
    calendar,
    classify,
    clock_cmds,
    common,
    daemon_cmds,
    feeds,
    held,
    inspect,
    replay,
    report_send,
    reports,
    retention,
    status,
)
from daemon.config import ConfigError
from daemon.logs import setup_logging
from daemon.store.db import Unavailable
from daemon.values import Clock


def build_parser(clock: Clock = app.utc_now) -> argparse.ArgumentParser:
    """Every sub-command, registered in the order `complaintd --help` lists them. Each module's
    register() adds its commands; their parsers set `handler`. `complaintd tickets` is one
    group with actions from two modules, so it is made here and handed to both. `clock` is
    the time `complaintd status` measures ages against."""
    parser = argparse.ArgumentParser(
        prog="complaintd",
        description="Complaint-handling mail daemon.",
        parents=[common.config_option(top_level=True)],
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    daemon_cmds.register(sub, clock)
    replay.register(sub)
    tickets = sub.add_parser("tickets", help="list and show tickets").add_subparsers(
        dest="tickets_command", required=True, metavar="ACTION"
    )
    inspect.register(sub, tickets)
    held.register(sub)
    classify.register(sub)
    status.register(sub, clock)
    clock_cmds.register(sub, tickets)
    report_send.register(reports.register(sub))
    calendar.register(sub)
    feeds.register(sub, clock)
    retention.register(sub)
    return parser


def main(argv: Sequence[str] | None = None, clock: Clock = app.utc_now) -> int:
    parser = build_parser(clock)
    args = parser.parse_args(argv)
    if args.command != "run":  # the daemon sets up its own logging from config
        setup_logging("WARNING")
    try:
        code: int = args.handler(args)
    except common.CommandError as exc:
        print(f"complaintd: {exc}", file=sys.stderr)
        return exc.exit_code
    except Unavailable as exc:
        print(f"complaintd: {exc}", file=sys.stderr)
        return 1
    except ConfigError as exc:
        print(f"complaintd: {exc}", file=sys.stderr)
        return 78  # EX_CONFIG
    except BrokenPipeError:
        return 0
    except KeyboardInterrupt:  # Ctrl-C: stopped as asked, no trace to read
        print("complaintd: interrupted", file=sys.stderr)
        return 130
    return code
