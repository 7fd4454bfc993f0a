"""The complaintd command: one sub-command per module in this package."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from daemon.cli import common
from daemon.logs import setup_logging

# Each module exposes register(subparsers); its parsers set `handler`.
_COMMAND_MODULES = ("daemon_cmds", "replay", "inspect", "held", "classify", "status", "clock_cmds")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="complaintd",
        description="Complaint-handling mail daemon.",
        parents=[common.config_option(top_level=True)],
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in _COMMAND_MODULES:
        module = __import__(f"daemon.cli.{name}", fromlist=["register"])
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command != "run":  # the daemon sets up its own logging from config
        setup_logging("WARNING")
    try:
        code: int = args.handler(args)
    except common.CommandError as exc:
        print(f"complaintd: {exc}", file=sys.stderr)
        return exc.exit_code
    except BrokenPipeError:
        return 0
    return code
