"""The crash run: complaints dropped into a Maildir while `complaintd run` is SIGKILLed at random
moments, then left to drain. Counts what a crash costs, on SQLite and PostgreSQL:

  lost          complaints neither filed nor quarantined
  filed twice   complaints stored on more than one message row or ticket
  dup acks      acknowledgements the SMTP sink received again (same Message-ID)
  extra acks    complaints acknowledged by more than one distinct mail
  missing acks  complaints never acknowledged
  at risk       per kill, mails the server had accepted that were not yet marked sent (the most)
  drain         seconds from the last restart until every complaint is filed and every mail sent

    .venv/bin/python benchmarks/crash.py [--complaints 1000] [--kills 20] [--db sqlite postgresql]

The SMTP timeout is 5 s, so a killed worker's claimed mail comes back after its 15 s lease.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

from sqlalchemy import create_engine, text

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "tests"), str(ROOT)]

from support import postgres  # noqa: E402  (the test harness, found through the path)
from support.daemon_run import DaemonProcess  # noqa: E402
from support.harness import write_config  # noqa: E402
from support.mail import complaint  # noqa: E402
from support.smtp_sink import SmtpSink  # noqa: E402

TEXTS = [
    "车辆保养后发动机异响，多次到店都没有解决",
    "销售顾问承诺的赠品至今没有兑现，态度很差",
    "变速箱顿挫严重，已经第三次返修",
    "维修后刹车异响，要求给一个书面说明",
    "提车时发现漆面有划痕，要求更换或者赔偿",
]


def _drop(maildir: Path, n: int, rng: random.Random) -> None:
    data = complaint(
        f"{rng.choice(TEXTS)}。第{n}号投诉。",
        sender=f"crash{n}@example.cn",
        subject=f"投诉{n}：{rng.choice(TEXTS)[:10]}",
        message_id=f"<crash-{n}@client.example>",
    )
    name = f"{1700000000 + n}.M{n}P1.bench"
    (maildir / "tmp" / name).write_bytes(data)
    os.rename(maildir / "tmp" / name, maildir / "new" / name)


def _feed(maildir: Path, count: int, seconds: float, seed: int) -> None:
    """Complaints arrive spread over `seconds`, so kills land in filing as well as in sending."""
    rng = random.Random(seed)
    for n in range(count):
        _drop(maildir, n, rng)
        time.sleep(seconds / count)


def _rows(url: str, sql: str) -> list[tuple[object, ...]]:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return [tuple(r) for r in conn.execute(text(sql))]
    finally:
        engine.dispose()


def _one(url: str, sql: str) -> int:
    ((value,),) = _rows(url, sql)
    return int(str(value or 0))


def _drained(url: str, maildir: Path, count: int) -> bool:
    if any((maildir / "new").iterdir()) or any((maildir / "cur").iterdir()):
        return False
    try:
        filed = _one(url, "SELECT count(DISTINCT message_id) FROM messages")
        quarantined = _one(url, "SELECT count(*) FROM quarantine")
        busy = _one(url, "SELECT count(*) FROM outbox WHERE status IN ('pending', 'sending')")
    except Exception:  # noqa: BLE001 (the schema is not there yet)
        return False
    return filed + quarantined >= count and busy == 0


def _unmarked(url: str, sink: SmtpSink) -> set[str]:
    """Mails the server has accepted that the daemon has not marked sent: the ones a crash can
    make us send twice."""
    with sink.lock:
        accepted = {str(r.message["Message-ID"]).strip("<>") for r in sink.received}
    try:
        rows = _rows(url, "SELECT message_id FROM outbox WHERE status <> 'sent'")
    except Exception:  # noqa: BLE001 (the schema is not there yet)
        return set()
    return accepted & {str(mid) for (mid,) in rows}


def _figures(url: str, sink: SmtpSink, complaints: int) -> dict[str, int]:
    per_id = [
        (int(str(rows)), int(str(tickets)))
        for _, rows, tickets in _rows(
            url,
            "SELECT message_id, count(*), count(DISTINCT ticket_id) FROM messages "
            "WHERE message_id LIKE 'crash-%' GROUP BY message_id",
        )
    ]
    quarantined = _one(url, "SELECT count(*) FROM quarantine")
    acks = [r for r in sink.received if r.rcpt_tos[0].startswith("crash")]
    by_id = Counter(r.message["Message-ID"] for r in acks)
    distinct = {(r.rcpt_tos[0], str(r.message["Message-ID"])) for r in acks}
    per_customer = Counter(rcpt for rcpt, _ in distinct)
    return {
        "lost": complaints - len(per_id) - quarantined,
        "quarantined": quarantined,
        "filed twice": sum(1 for rows, tickets in per_id if max(rows, tickets) > 1),
        "dup acks": sum(n - 1 for n in by_id.values()),
        "extra acks": sum(n - 1 for n in per_customer.values()),
        "missing acks": complaints - len(per_customer),
    }


def run(db: str, complaints: int, kills: int, seed: int) -> dict[str, object]:
    rng = random.Random(seed)
    folder = Path(tempfile.mkdtemp(prefix=f"complaintd-crash-{db}-"))
    pg_name = ""
    if db == "sqlite":
        url = f"sqlite:///{folder / 'complaintd.db'}"
    else:
        pg_name, url = postgres.create()
    sink = SmtpSink().start()
    try:
        config = write_config(folder, url, sink.port)
        config.write_text(
            config.read_text()
            .replace("retry_initial_seconds = 60", "retry_initial_seconds = 1")
            .replace("retry_max_seconds = 600", "retry_max_seconds = 5")
        )
        maildir = folder / "maildir"
        for sub in ("tmp", "new", "cur"):
            (maildir / sub).mkdir(parents=True, exist_ok=True)
        feed_seconds = max(10.0, complaints / 40)
        feeder = threading.Thread(
            target=_feed, args=(maildir, complaints, feed_seconds, seed), daemon=True
        )
        log = folder / "complaintd.log"
        daemon = DaemonProcess(config, log)
        feeder.start()
        at_risk: list[int] = []
        seen: set[str] = set()  # still unmarked from an earlier kill: its lease has not run out
        for _ in range(kills):
            time.sleep(rng.uniform(0.3, 2 * feed_seconds / kills))
            daemon.kill()
            unmarked = _unmarked(url, sink)
            at_risk.append(len(unmarked - seen))
            seen |= unmarked
            daemon = DaemonProcess(config, log)
        feeder.join()
        began = time.monotonic()
        while not _drained(url, maildir, complaints):
            if time.monotonic() - began > 900:
                raise SystemExit(f"{db}: not drained within 900 s; see {log}")
            time.sleep(0.2)
        drain = time.monotonic() - began
        time.sleep(1.0)  # a mail in flight when the queue emptied reaches the sink
        daemon.stop()
        return {
            "complaints": complaints,
            "kills": kills,
            **_figures(url, sink, complaints),
            "most at risk per kill": max(at_risk, default=0),
            "drain s": round(drain, 1),
        }
    finally:
        sink.stop()
        if pg_name:
            postgres.drop(pg_name)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--complaints", type=int, default=1000)
    parser.add_argument("--kills", type=int, default=20)
    parser.add_argument("--db", nargs="+", default=["sqlite", "postgresql"])
    parser.add_argument("--seed", type=int, default=9)
    args = parser.parse_args()
    for db in args.db:
        result = run(db, args.complaints, args.kills, args.seed)
        print(db.ljust(11), "  ".join(f"{k}={v}" for k, v in result.items()), flush=True)


if __name__ == "__main__":
    main()
