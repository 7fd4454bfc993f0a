"""Options and error handling shared by every sub-command."""

from __future__ import annotations

import argparse
import json
import os
import sys
import unicodedata
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from sqlalchemy.exc import InterfaceError, OperationalError, ProgrammingError

from daemon import app, config
from daemon.config import Settings, database_url
from daemon.store import Store
from daemon.store.db import Unavailable, explain


class Commands(Protocol):
    """Where a module adds its sub-commands: the top level of complaintd, or a group such as
    `complaintd tickets` that several modules add actions to (what add_subparsers returns)."""

    def add_parser(self, name: str, **kwargs: Any) -> argparse.ArgumentParser: ...


# What a sub-command runs: its parsed arguments in, an exit code out.
Handler = Callable[[argparse.Namespace], int]


def shown_time(at: datetime | None, zone: ZoneInfo) -> str:
    """An instant in a listing: the service's zone, to the minute, with its offset; "-" for none."""
    return at.astimezone(zone).strftime("%Y-%m-%d %H:%M%z") if at else "-"


def json_time(at: datetime | None, zone: ZoneInfo) -> str | None:
    """An instant in --json output: ISO-8601 in the service's zone, with its offset."""
    return at.astimezone(zone).isoformat() if at else None


def times_for(zone: ZoneInfo, as_json: bool) -> Callable[[datetime | None], str | None]:
    """How one command's output writes instants: json_time for --json, shown_time for text."""
    if as_json:
        return lambda at: json_time(at, zone)
    return lambda at: shown_time(at, zone)


# What a database that went away, or was never right, raises partway through a command: the
# server stopped or dropped the connection, a table or a grant is missing, the file is locked.
# Not IntegrityError or DataError: those are faults of the command, worth their traceback.
_UNUSABLE = (OperationalError, ProgrammingError, InterfaceError)


@contextmanager
def database(settings: Settings) -> Iterator[Store]:
    """The database for one command's work, closed afterwards. A failure to reach or use it,
    at opening or at any later statement, becomes db.Unavailable: one line with the URL
    (password hidden), the cause and what to do, and exit 1."""
    store = app.open_store(settings)  # reports its own failures the same way
    try:
        yield store
    except _UNUSABLE as exc:
        url, setting = database_url(settings), app.database_setting(settings)
        raise Unavailable(explain(url, exc, setting)) from None
    finally:
        store.dispose()


class CommandError(Exception):
    """A failure to report in one line, saying what to do next."""

    def __init__(self, message: str, exit_code: int = 1) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def config_option(top_level: bool = False) -> argparse.ArgumentParser:
    """--config, accepted before or after the sub-command."""
    parent = argparse.ArgumentParser(add_help=False)
    parent.add_argument(
        "--config",
        type=Path,
        metavar="PATH",
        default=None if top_level else argparse.SUPPRESS,
        help="config file (default: $COMPLAINTD_CONFIG, else ./config.toml, "
        "else /etc/complaintd/config.toml)",
    )
    return parent


def deprecated_alias(parser: argparse.ArgumentParser, old: str, new: str) -> None:
    """Accept `old` as a hidden spelling of the option `new` (already added): its value goes
    where `new`'s would, with a one-line note on stderr."""
    dest = new.lstrip("-").replace("-", "_")
    parser.add_argument(old, dest=dest, action=_Renamed, new=new, help=argparse.SUPPRESS)


class _Renamed(argparse.Action):
    """An option kept under its old name; see deprecated_alias."""

    def __init__(self, option_strings: list[str], dest: str, new: str, **kwargs: Any) -> None:
        super().__init__(option_strings, dest, **kwargs)
        self.new = new

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: Any,
        option_string: str | None = None,
    ) -> None:
        print(f"complaintd: {option_string} is deprecated; use {self.new}", file=sys.stderr)
        setattr(namespace, self.dest, values)


def add_list_and_show(
    group: Any,
    parent: list[argparse.ArgumentParser],
    handlers: tuple[Handler, Handler],
    listed: str,
    shown: str,
    all_help: str,
) -> None:
    """`list [--all] [--json]` and `show ID [--raw] [--json]`: the review of kept messages."""
    on_list, on_show = handlers
    listing = group.add_parser("list", parents=parent, help=listed)
    listing.add_argument("--all", action="store_true", help=all_help)
    listing.add_argument("--json", action="store_true", help="machine-readable output")
    listing.set_defaults(handler=on_list)
    one = group.add_parser("show", parents=parent, help=shown)
    one.add_argument("id", type=int)
    one.add_argument("--raw", action="store_true", help="write the raw bytes to stdout")
    one.add_argument("--json", action="store_true", help="machine-readable output")
    one.set_defaults(handler=on_show)


def config_path(args: argparse.Namespace) -> tuple[Path, bool]:
    """The config file to read, and whether the user named it explicitly."""
    return config.config_path(args.config, os.environ)


def load_settings(args: argparse.Namespace, required: bool = True) -> tuple[Path, Settings]:
    """The validated settings; without a config file, defaults when the command allows it."""
    path, explicit = config_path(args)
    if not path.exists() and not explicit and not required:
        return path, Settings()
    try:
        return path, config.load(path)
    except config.ConfigError as exc:
        raise CommandError(str(exc), exit_code=78) from None  # EX_CONFIG


def emit_json(data: object) -> None:
    print(json.dumps(data, ensure_ascii=False, indent=2))


def print_record(info: dict[str, Any], as_json: bool, raw_command: str) -> None:
    """One kept message's facts, as JSON or as aligned lines, with how to get its raw bytes."""
    if as_json:
        emit_json(info)
        return
    for key, value in info.items():
        print(f"{key + ':':<13}{'-' if value is None else value}")
    print(f"\nthe raw bytes: {raw_command}")


def print_table(rows: list[dict[str, Any]], columns: list[str]) -> None:
    """A plain aligned table; wide CJK characters count as two columns."""
    if not rows:
        print("(none)")
        return
    cells = [[_cell(row.get(c)) for c in columns] for row in rows]
    widths = [max(_width(c), *(_width(line[i]) for line in cells)) for i, c in enumerate(columns)]
    print("  ".join(_pad(c.upper(), w) for c, w in zip(columns, widths, strict=True)).rstrip())
    for line in cells:
        print("  ".join(_pad(v, w) for v, w in zip(line, widths, strict=True)).rstrip())


def _cell(value: object) -> str:
    if value is None:
        return "-"
    if isinstance(value, list):
        return ",".join(str(v) for v in value) or "-"
    text = str(value).replace("\n", " ")
    return text if _width(text) <= 48 else _clip(text, 47) + "…"


def _width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _clip(text: str, width: int) -> str:
    out, used = [], 0
    for ch in text:
        used += 2 if unicodedata.east_asian_width(ch) in "WF" else 1
        if used > width:
            break
        out.append(ch)
    return "".join(out)


def _pad(text: str, width: int) -> str:
    return text + " " * (width - _width(text))
