"""The outage run: `complaintd run` on a real Dovecot keeps filing through database outages.

For each database (SQLite and PostgreSQL): a daemon watches a throwaway Dovecot mailbox while N
complaints are appended at a steady pace; K times the database is taken away for T seconds
(SQLite: the database file and its WAL made immutable; PostgreSQL: connections refused and the
daemon's sessions terminated), then given back. Reported per database:

  recovery_s   for each outage, seconds from its end until every complaint appended so far is
               filed (the aim: within 2 x the retry cap, with no restart)
  lost         complaints never filed once the run is over
  duplicated   complaints filed more than once, and acknowledgements sent more than once
  restarts     the daemon must still be the process it started as

    .venv/bin/python benchmarks/outage.py                     # N=200, K=3, T=10 s, cap 5 s
    .venv/bin/python benchmarks/outage.py -n 60 -k 2 -t 5 --cap 2 --json
    .venv/bin/python benchmarks/outage.py --only postgresql
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "tests" / "integration"), str(ROOT / "tests"), str(ROOT)]

from dovecot import Dovecot, Mailbox  # noqa: E402  (the test harness, found through the path)
from support import postgres  # noqa: E402
from support.daemon_run import DaemonProcess  # noqa: E402
from support.harness import write_config  # noqa: E402
from support.mail import complaint  # noqa: E402
from support.smtp_sink import SmtpSink  # noqa: E402
from test_supervision import Database  # noqa: E402


def config(folder: Path, db: Database, mb: Mailbox, sink: SmtpSink, cap: float) -> Path:
    secret = folder / "imap.password"
    secret.write_text(mb.password + "\n")
    return write_config(
        folder,
        db.url,
        sink.port,
        f"""
[service]
retry_max_seconds = {cap}

[[mailboxes]]
name = "bench"
host = "{mb.server.host}"
port = {mb.server.port}
security = "none"
username = "{mb.user}"
password_file = "{secret}"
poll_seconds = 3600
timeout_seconds = 10
retry_initial_seconds = 0.5
retry_max_seconds = {cap}
""",
    )


class Feeder(threading.Thread):
    """Appends `count` complaints, one every `pace` seconds, each from its own customer."""

    def __init__(self, mb: Mailbox, count: int, pace: float) -> None:
        super().__init__(daemon=True)
        self.mb, self.count, self.pace = mb, count, pace
        self.sent = 0
        self._lock = threading.Lock()

    def run(self) -> None:
        for i in range(self.count):
            self.mb.append(
                complaint(sender=f"c{i:05d}@example.cn", message_id=f"<outage-{i:05d}@bench>")
            )
            with self._lock:
                self.sent = i + 1
            time.sleep(self.pace)

    def appended(self) -> int:
        with self._lock:
            return self.sent


def filed(db: Database) -> int:
    return db.count("messages")


def wait_filed(db: Database, target: int, timeout: float) -> float | None:
    began = time.monotonic()
    while time.monotonic() - began < timeout:
        if filed(db) >= target:
            return time.monotonic() - began
        time.sleep(0.05)
    return None


def one_database(
    kind: str, dovecot: Dovecot, sink: SmtpSink, n: int, k: int, t: float, cap: float
) -> dict[str, Any]:
    folder = Path(tempfile.mkdtemp(prefix=f"outage-{kind}-"))
    if kind == "sqlite":
        db = Database("sqlite", f"sqlite:///{folder / 'complaintd.db'}", folder)
        name = ""
    else:
        name, url = postgres.create()
        db = Database("postgresql", url, folder, name)
    mb = dovecot.mailbox()
    sink.clear()
    daemon = DaemonProcess(config(folder, db, mb, sink, cap), folder / "complaintd.log")
    recoveries: list[float | None] = []
    try:
        daemon.wait_for_log("complaintd ready", timeout=60)
        daemon.wait_for_log("bench: watching INBOX", timeout=30)
        pid = daemon.pid
        # The outages fall inside the feeding: spread them evenly over it.
        pace = max(0.01, (k * (t + 2 * cap) + 2.0) / n)
        feeder = Feeder(mb, n, pace)
        feeder.start()
        gap = (n * pace) / (k + 1)
        for _ in range(k):
            time.sleep(max(0.0, gap - t))
            db.fail()
            time.sleep(t)
            db.recover()
            waiting = feeder.appended()
            recoveries.append(wait_filed(db, waiting, 120))
        feeder.join()
        drained = wait_filed(db, n, 300)
        time.sleep(2)  # let the last acknowledgements leave
        senders = Counter(
            ",".join(r.rcpt_tos)
            for r in sink.received
            if str(r.message["Subject"]).startswith("[TS-")
        )
        rows = db.count("messages")
        distinct = _scalar(db, "SELECT count(DISTINCT message_id) FROM messages")
        log = daemon.output()
        return {
            "database": kind,
            "complaints": n,
            "outages": k,
            "outage_s": t,
            "retry_cap_s": cap,
            "recovery_s": [None if r is None else round(r, 2) for r in recoveries],
            "max_recovery_s": max((round(r, 2) for r in recoveries if r is not None), default=None),
            "drained": drained is not None,
            "lost": n - distinct,
            "duplicated": rows - distinct,
            "acks": sum(senders.values()),
            "missing_acks": n - len(senders),
            "duplicate_acks": sum(c - 1 for c in senders.values() if c > 1),
            "restarted": not daemon.alive or daemon.pid != pid,
            "database_outage_lines": log.count("database failing"),
            "database_recovery_lines": log.count("database working again"),
        }
    finally:
        db.recover()
        daemon.stop()
        db.close()
        if name:
            postgres.drop(name)


def _scalar(db: Database, sql: str) -> int:
    import sqlalchemy

    with sqlalchemy.create_engine(db.url).connect() as conn:
        return int(conn.execute(sqlalchemy.text(sql)).scalar_one())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=200, help="complaints appended")
    parser.add_argument("-k", type=int, default=3, help="outages per database")
    parser.add_argument("-t", type=float, default=10.0, help="seconds each outage lasts")
    parser.add_argument("--cap", type=float, default=5.0, help="retry cap, seconds")
    parser.add_argument("--only", choices=["sqlite", "postgresql"])
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    kinds = [args.only] if args.only else ["sqlite", "postgresql"]
    dovecot = Dovecot().start()
    sink = SmtpSink().start()
    results = []
    try:
        for kind in kinds:
            results.append(one_database(kind, dovecot, sink, args.n, args.k, args.t, args.cap))
    finally:
        sink.stop()
        dovecot.close()
    if args.json:
        print(json.dumps(results, indent=2))
    else:
        for r in results:
            print(
                f"{r['database']:<10} n={r['complaints']} outages={r['outages']}x{r['outage_s']}s"
                f" cap={r['retry_cap_s']}s  recovery {r['recovery_s']} s"
                f" (max {r['max_recovery_s']})  lost {r['lost']}  duplicated {r['duplicated']}"
                f"  acks {r['acks']} (missing {r['missing_acks']},"
                f" duplicates {r['duplicate_acks']})"
                f"  restarted {r['restarted']}  outage log lines"
                f" {r['database_outage_lines']}/{r['database_recovery_lines']}"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
