"""The floor under IMAP intake: how fast bare imapclient + stdlib parsing + SQLite can go.

Starts a throwaway Dovecot (the test harness), APPENDs N messages to a fresh mailbox, then reads
them back the way the daemon does: batched UID FETCH BODY.PEEK[], parse each with the stdlib
email package, INSERT a row into SQLite and commit (per message by default, as the daemon
commits each ticket with its checkpoint). No pipeline, no classification: whatever the full
daemon achieves is measured against this.

    .venv/bin/python benchmarks/imap_floor.py                  # 10,000 messages
    .venv/bin/python benchmarks/imap_floor.py -n 2000 --json   # quicker, machine-readable
"""

from __future__ import annotations

import argparse
import email
import email.policy
import json
import sqlite3
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path

from imapclient import IMAPClient

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "integration"))

from dovecot import Dovecot  # noqa: E402  (the test harness, found through the path above)

PARAGRAPH = (
    "您好，我于上周在贵店做了车辆保养，取车后发现发动机有明显异响，"
    "多次打电话给服务顾问都没有人回复。请尽快安排处理，否则我将向厂家投诉。\n"
)


def messages(count: int) -> Iterator[bytes]:
    """Plain-text complaints of a few KB each, every one with its own Message-ID."""
    for i in range(count):
        msg = EmailMessage(policy=email.policy.SMTP)
        msg["From"] = f"customer{i}@example.cn"
        msg["To"] = "complaints@dealer.example"
        msg["Subject"] = f"投诉 #{i}：保养后发动机异响"
        msg["Date"] = format_datetime(datetime(2026, 11, 23, 9, 0, tzinfo=UTC))
        msg["Message-ID"] = make_msgid(idstring=str(i), domain="bench.example")
        msg.set_content(PARAGRAPH * 12)
        yield msg.as_bytes()


def read_back(
    server: Dovecot, user: str, password: str, batch: int, commit_every: int, database: Path
) -> dict[str, float]:
    db = sqlite3.connect(database)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute(
        "CREATE TABLE message (uid INTEGER PRIMARY KEY, message_id TEXT UNIQUE, sender TEXT,"
        " subject TEXT, body TEXT, raw BLOB)"
    )
    timings = {"fetch_seconds": 0.0, "parse_seconds": 0.0, "insert_seconds": 0.0}
    began = time.perf_counter()
    with IMAPClient(server.host, server.port, ssl=False) as client:
        client.login(user, password)
        client.select_folder("INBOX", readonly=True)
        uids = sorted(client.search("ALL"))
        pending = 0
        for start in range(0, len(uids), batch):
            chunk = uids[start : start + batch]
            t0 = time.perf_counter()
            fetched = client.fetch(chunk, ["BODY.PEEK[]"])
            t1 = time.perf_counter()
            rows = []
            for uid in chunk:
                raw = fetched[uid][b"BODY[]"]
                msg = email.message_from_bytes(raw, policy=email.policy.default)
                assert isinstance(msg, EmailMessage)
                body = msg.get_body(preferencelist=("plain",))
                text = body.get_content() if body is not None else ""
                rows.append(
                    (uid, str(msg["Message-ID"]), str(msg["From"]), str(msg["Subject"]), text, raw)
                )
            t2 = time.perf_counter()
            for row in rows:
                db.execute("INSERT INTO message VALUES (?, ?, ?, ?, ?, ?)", row)
                pending += 1
                if pending >= commit_every:
                    db.commit()
                    pending = 0
            t3 = time.perf_counter()
            timings["fetch_seconds"] += t1 - t0
            timings["parse_seconds"] += t2 - t1
            timings["insert_seconds"] += t3 - t2
        db.commit()
    timings["total_seconds"] = time.perf_counter() - began
    count = db.execute("SELECT count(*) FROM message").fetchone()[0]
    db.close()
    timings["read_back"] = count
    timings["messages_per_second"] = count / timings["total_seconds"]
    return timings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", "--messages", type=int, default=10_000)
    parser.add_argument("--append-batch", type=int, default=500, help="messages per MULTIAPPEND")
    parser.add_argument("--batch", type=int, default=50, help="messages per UID FETCH")
    parser.add_argument("--commit-every", type=int, default=1, help="messages per SQLite commit")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)

    server = Dovecot().start()
    try:
        mailbox = server.mailbox()
        planted = list(messages(args.messages))
        began = time.perf_counter()
        appended = mailbox.append_many(planted, batch=args.append_batch)
        append_seconds = time.perf_counter() - began
        with tempfile.TemporaryDirectory() as tmp:
            result = read_back(
                server,
                mailbox.user,
                mailbox.password,
                args.batch,
                args.commit_every,
                Path(tmp) / "floor.db",
            )
    finally:
        server.close()
    result = {
        "messages": appended,
        "append_seconds": append_seconds,
        "append_per_second": appended / append_seconds,
        **result,
    }
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print(
            f"APPEND  {appended} messages in {append_seconds:.1f}s "
            f"({result['append_per_second']:.0f}/s, batches of {args.append_batch})"
        )
        print(
            f"FLOOR   {result['read_back']:.0f} messages in {result['total_seconds']:.1f}s = "
            f"{result['messages_per_second']:.0f} messages/s "
            f"(fetch {result['fetch_seconds']:.1f}s, parse {result['parse_seconds']:.1f}s, "
            f"sqlite {result['insert_seconds']:.1f}s; FETCH batches of {args.batch}, "
            f"commit every {args.commit_every})"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
