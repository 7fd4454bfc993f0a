"""complaintd replay PATH...: feed saved mail through the pipeline and account for every message."""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path

from tqdm import tqdm
from tqdm.contrib.logging import logging_redirect_tqdm

from daemon import app
from daemon.cli.clock_cmds import parse_instant
from daemon.cli.common import CommandError, Commands, config_option, database, load_settings
from daemon.deps import Run
from daemon.pipeline import process_batch, reading_of
from daemon.sources import readahead, replay
from daemon.values import Disposition

# The JSON report's keys for each disposition; the six counts add up to "messages".
_KEYS = {
    Disposition.FILED: "filed",
    Disposition.FOLLOWUP: "followups",
    Disposition.DUPLICATE: "duplicates",
    Disposition.IGNORED: "ignored",
    Disposition.QUARANTINED: "quarantined",
    Disposition.HELD: "held",
}


_WITH_REASON = (Disposition.IGNORED, Disposition.QUARANTINED, Disposition.HELD)


def register(sub: Commands) -> None:
    parser = sub.add_parser(
        "replay",
        parents=[config_option()],
        help="file .eml files, folders of them and mbox files; prints a JSON summary",
    )
    parser.add_argument("paths", nargs="+", type=Path, metavar="PATH")
    parser.add_argument(
        "--no-mail",
        action="store_true",
        help="record tickets but queue no acknowledgement or notice (backfilling old mail)",
    )
    parser.add_argument(
        "--as-received",
        action="store_true",
        help="start each ticket's clocks at the message's own arrival time (its topmost "
        "Received: header, else Date:), not now",
    )
    parser.add_argument(
        "--at",
        default=None,
        metavar="ISO-8601",
        help="replay as if it were this instant; without an offset, in [service] timezone",
    )
    parser.set_defaults(handler=_replay)


def _replay(args: argparse.Namespace) -> int:
    missing = [str(p) for p in args.paths if not p.exists()]
    if missing:
        raise CommandError(f"no such file or folder: {', '.join(missing)}")
    _, settings = load_settings(args)
    now = parse_instant(args.at, settings.zone) if args.at else app.utc_now()
    with database(settings) as store:
        deps = app.build(settings, store, (lambda: now) if args.at else app.utc_now)
        run = Run(send_mail=not args.no_mail, as_received=args.as_received)
        # With --as-received a message arriving after `now` is not believed (see replay.arrival).
        arrived_by = now if args.as_received else None
        counts: Counter[str] = Counter(dict.fromkeys(_KEYS.values(), 0))
        reasons: Counter[str] = Counter()
        total = replay.count(args.paths) if sys.stderr.isatty() else None
        # Log lines go through the bar, above it, instead of being written over it.
        with (
            tqdm(total=total, unit="msg", disable=not sys.stderr.isatty(), file=sys.stderr) as bar,
            logging_redirect_tqdm(tqdm_class=tqdm),
        ):
            batches = replay.batches(replay.read(args.paths, arrived_by))
            try:
                for batch, reads in readahead.ahead(batches, reading_of(deps)):
                    done = process_batch(batch, deps, run, reads)
                    for outcome in done.outcomes:
                        counts[_KEYS[outcome.disposition]] += 1
                        if outcome.disposition in _WITH_REASON:
                            reasons[outcome.reason] += 1
                        bar.update()
                    if done.error is not None:
                        raise done.error
            except KeyboardInterrupt:
                # The batch in hand rolled back; every one before it is committed.
                raise CommandError(
                    f"interrupted after {sum(counts.values())} messages, which are recorded; "
                    "the same replay run again records the rest (what is recorded already "
                    "counts as a duplicate)",
                    exit_code=130,
                ) from None
    report = {"messages": sum(counts.values()), **counts, "reasons": dict(sorted(reasons.items()))}
    print(json.dumps(report, ensure_ascii=False))
    return 0
