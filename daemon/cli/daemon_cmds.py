"""complaintd run | check-config | db upgrade | db status."""

from __future__ import annotations

import argparse
import functools
import json
import sys

from daemon import app, config
from daemon.cli.common import CommandError, Commands, config_option, load_settings
from daemon.compose import Composer
from daemon.logs import setup_logging
from daemon.store import Store
from daemon.store.db import reporting
from daemon.values import Clock
from daemon.workdays import BusinessCalendar, calendar_concerns


def register(sub: Commands, clock: Clock = app.utc_now) -> None:
    parent = [config_option()]
    run = sub.add_parser("run", parents=parent, help="run the daemon in the foreground")
    run.set_defaults(handler=_run)

    check = sub.add_parser(
        "check-config",
        parents=parent,
        help="validate the config and print the effective settings, secrets masked",
    )
    check.set_defaults(handler=functools.partial(_check, clock=clock))

    db = sub.add_parser("db", help="database schema")
    db_sub = db.add_subparsers(dest="db_command", required=True, metavar="ACTION")
    db_sub.add_parser("upgrade", parents=parent, help="apply pending migrations").set_defaults(
        handler=_upgrade
    )
    db_sub.add_parser("status", parents=parent, help="is the schema up to date?").set_defaults(
        handler=_db_status
    )


def _run(args: argparse.Namespace) -> int:
    path, settings = load_settings(args)
    setup_logging(settings.service.log_level)
    app.warn_of_provisional_calendar(settings, app.utc_now())
    app.warn_of_config_gaps(settings)
    # Imported here: the daemon's workers (mail, HTTP, reports) are no cost to other commands.
    from daemon import service

    try:
        return service.run(path, settings)
    except config.ConfigError as exc:
        raise CommandError(str(exc), exit_code=78) from None


def _check(args: argparse.Namespace, clock: Clock = app.utc_now) -> int:
    _, settings = load_settings(args)
    composer = Composer(
        settings.templates.directory, settings.outbox, settings.service.default_language
    )
    try:
        app.check_templates(composer, settings)
    except config.ConfigError as exc:
        raise CommandError(str(exc), exit_code=78) from None
    print(json.dumps(config.masked(settings), ensure_ascii=False, indent=2))
    # Warnings, not refusals: a chart is filled in one person at a time.
    for gap in config.warnings(settings):
        print(f"complaintd: warning: {gap}", file=sys.stderr)
    _warn_of_provisional_calendar(settings, clock)
    return 0


def _warn_of_provisional_calendar(settings: config.Settings, clock: Clock) -> None:
    # A warning, not a refusal: the config is valid, and next year's notice may not be out yet.
    calendar = BusinessCalendar.from_settings(settings.calendar)
    for concern in calendar_concerns(calendar, calendar.local_date(clock())):
        print(f"complaintd: warning: {concern.message()}", file=sys.stderr)


def _upgrade(args: argparse.Namespace) -> int:
    _, settings = load_settings(args)
    app.open_store(settings, upgrade=True).dispose()
    print("database schema is up to date")
    return 0


def _db_status(args: argparse.Namespace) -> int:
    _, settings = load_settings(args)
    url = config.database_url(settings)
    with reporting(url, app.database_setting(settings)):
        store = Store(url)
        try:
            pending = store.pending_migrations()
        finally:
            store.dispose()
    print("migrations pending: run `complaintd db upgrade`" if pending else "up to date")
    return 1 if pending else 0
