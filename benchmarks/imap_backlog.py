"""The IMAP source alone draining a large backlog: seconds and messages per second.

N small messages are written straight into a throwaway Dovecot's Maildir (the test harness),
then daemon.sources.imap.watch drains them into a handler that only counts, so the figure is
the source's (SEARCH, FETCH, MOVE) and the server's, not the pipeline's. For the whole daemon
see benchmarks/imap_daemon.py.

    .venv/bin/python benchmarks/imap_backlog.py                    # 30,000, moved to Processed
    .venv/bin/python benchmarks/imap_backlog.py -n 100000 --keep   # left in INBOX
    .venv/bin/python benchmarks/imap_backlog.py --batch-size 500 --json
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import fields
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "tests" / "integration"), str(ROOT / "tests"), str(ROOT)]

from dovecot import Dovecot  # noqa: E402  (the test harness, found through the path)
from test_imap_backlog import Tally, small_message  # noqa: E402
from test_imap_source import Running, StatusLog  # noqa: E402

from daemon.sources.imap import MailboxSettings  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-n", "--messages", type=int, default=30_000)
    default_batch = next(f.default for f in fields(MailboxSettings) if f.name == "batch_size")
    parser.add_argument("--batch-size", type=int, default=default_batch)
    parser.add_argument("--keep", action="store_true", help="processed_folder = '' (no MOVE)")
    parser.add_argument("--timeout", type=float, default=900.0)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    server = Dovecot().start()
    try:
        mb = server.mailbox()
        began = time.monotonic()
        mb.deliver_many_to_maildir(small_message(i) for i in range(args.messages))
        planted = time.monotonic() - began
        secret = server.root / "imap.password"
        secret.write_text(mb.password)
        settings = MailboxSettings(
            name=mb.user,
            host=server.host,
            port=server.port,
            security="none",
            username=mb.user,
            password_file=secret,
            batch_size=args.batch_size,
            idle_seconds=600,
            timeout_seconds=60,
            processed_folder="" if args.keep else "Processed",
            quarantine_folder="",
        )
        tally, status = Tally(), StatusLog()
        tally.expected = args.messages
        began = time.monotonic()
        running = Running([settings], tally, status)  # type: ignore[arg-type]
        drained = tally.done.wait(args.timeout)
        seconds = time.monotonic() - began
        running.stop()
    finally:
        server.close()
    result = {
        "messages": args.messages,
        "batch_size": args.batch_size,
        "moved": not args.keep,
        "planted_seconds": round(planted, 2),
        "drain_seconds": round(seconds, 2),
        "per_second": round(len(tally.uids) / seconds),
        "handled": len(tally.uids),
        "failures": status.of("failed", settings.name),
    }
    if args.json:
        print(json.dumps(result))
    else:
        print(
            f"{result['handled']} of {args.messages} handled in {seconds:.1f}s "
            f"({result['per_second']}/s; batch_size {args.batch_size}, "
            f"{'moved' if not args.keep else 'kept'}); planting took {planted:.1f}s"
        )
    return 0 if drained else 1


if __name__ == "__main__":
    sys.exit(main())
