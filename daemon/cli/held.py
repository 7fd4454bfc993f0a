"""complaintd held: messages kept off a ticket for review, and deciding them."""

from __future__ import annotations

import argparse
import getpass
import sys

from sqlalchemy import select

from daemon import app
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
from daemon.pipeline import drop_held, release_held
from daemon.store import views
from daemon.store.models import HeldMessage, Ticket


def register(sub: Commands) -> None:
    parent = [config_option()]
    held = sub.add_parser(
        "held", help="messages that named a ticket their sender is no party of, or were forged"
    )
    h_sub = held.add_subparsers(dest="held_command", required=True, metavar="ACTION")
    add_list_and_show(
        h_sub,
        parent,
        (_list, _show),
        listed="messages waiting for review",
        shown="one held message",
        all_help="include released and dropped ones",
    )
    for name, what, handler in (
        ("release", "file it onto the ticket it names (or as a new complaint)", _release),
        ("drop", "keep it off every ticket for good (the row stays)", _drop),
    ):
        action = h_sub.add_parser(name, parents=parent, help=what)
        action.add_argument("id", type=int)
        action.add_argument("--by", default=None, help="who decided, for the audit trail")
        action.set_defaults(handler=handler)


def _list(args: argparse.Namespace) -> int:
    _, settings = load_settings(args)
    with database(settings) as store, store.reading() as session:
        rows = views.held_list(session, args.all, times_for(settings.zone, args.json))
    if args.json:
        emit_json(rows)
    else:
        columns = ["id", "status", "reason", "ticket", "sender", "held_at", "subject"]
        print_table(rows, columns)
    return 0


def _show(args: argparse.Namespace) -> int:
    _, settings = load_settings(args)
    with database(settings) as store, store.reading() as session:
        found = session.execute(
            select(HeldMessage, Ticket.number)
            .outerjoin(Ticket, Ticket.id == HeldMessage.ticket_id)
            .where(HeldMessage.id == args.id)
        ).first()
        if found is None:
            raise CommandError(f"no held message #{args.id}; see `complaintd held list`")
        row, number = found
        raw = row.raw
        info = views.held_info(row, number, times_for(settings.zone, args.json))
    if args.raw:
        sys.stdout.buffer.write(raw)
        return 0
    print_record(info, args.json, f"complaintd held show --raw {args.id}")
    return 0


def _release(args: argparse.Namespace) -> int:
    _, settings = load_settings(args)
    with database(settings) as store:
        outcome = release_held(args.id, _actor(args), app.build(settings, store))
    if outcome is None:
        raise CommandError(f"no message #{args.id} is held; see `complaintd held list --all`")
    print(f"held #{args.id} released: {outcome.disposition.value} {outcome.ticket or ''}".rstrip())
    return 0


def _drop(args: argparse.Namespace) -> int:
    _, settings = load_settings(args)
    with database(settings) as store:
        dropped = drop_held(args.id, _actor(args), app.build(settings, store))
    if not dropped:
        raise CommandError(f"no message #{args.id} is held; see `complaintd held list --all`")
    print(f"held #{args.id} dropped")
    return 0


def _actor(args: argparse.Namespace) -> str:
    return str(args.by or f"cli:{getpass.getuser()}")
