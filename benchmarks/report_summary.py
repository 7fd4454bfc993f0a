"""`complaintd report summary` over a year of 100,000 tickets, against `tickets list --json` on
the same database in the same run.

Builds one database (SQLite by default, or --db-url postgresql://...) with rows inserted in
bulk (Core inserts, not the pipeline): a year (2025) of tickets opened evenly, nine in ten
closed within days, each with its transitions, clocks and their stops, satisfaction question
and answer in the audit trail, a tenth of their clocks missed (ledger rows), and some
manufacturer 零抱怨 cases.
Then it times, each as its own `complaintd` process (start-up included, as a user sees it):

  summary year    report summary --json over the whole year
  summary week    report summary --json over one week in December
  list            tickets list --json (its default limit)
  list all        tickets list --json --limit <all>

and prints the seconds and the ratios of each summary to the listings. The week's report reads
the period's rows by indexed time columns, so its cost stays near the listing's however many
tickets were closed before it.

    .venv/bin/python benchmarks/report_summary.py [--tickets 100000] [--db-url URL]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import insert  # noqa: E402

from daemon import app, config  # noqa: E402
from daemon.cli.reports import summary_period  # noqa: E402
from daemon.reports import figures, gather  # noqa: E402
from daemon.reports.settings import report_settings  # noqa: E402
from daemon.store import Store, views  # noqa: E402
from daemon.store.cases import ManufacturerCase  # noqa: E402
from daemon.store.models import (  # noqa: E402
    ClockStop,
    Customer,
    MissedClock,
    Ticket,
    TicketClock,
    TicketEvent,
)
from daemon.workdays import BusinessCalendar  # noqa: E402

SH = ZoneInfo("Asia/Shanghai")
YEAR_START = datetime(2025, 1, 1, tzinfo=SH)
CHUNK = 5_000
HANDLERS = ("advisor", "retail", "care")
CATEGORIES = ("product_quality", "repair_quality", "service", "customer_issue", "other")
DEPARTMENTS = ("after_sales", "sales", "customer_care")
CHANNELS = ("email", "phone", "manufacturer", "walk_in")
SEVERITIES = ("general", "medium", "strong")
PLAN = {"rule": "bench", "allowance": {}, "reminders": [], "ladder": []}

ORG = """
[[org.people]]
key = "gm"
name = "赵刚"
email = "gm@dealer.example"
role = "general_manager"

[[org.people]]
key = "manager"
name = "郑浩"
email = "manager@dealer.example"
role = "service_manager"
department = "after_sales"
manager = "gm"

[[org.people]]
key = "care"
name = "周杰"
email = "care@dealer.example"
role = "customer_care_manager"
manager = "gm"

[[org.people]]
key = "retail"
name = "吴芳"
email = "retail@dealer.example"
role = "retail_manager"
department = "sales"
manager = "gm"

[[org.people]]
key = "advisor"
name = "冯雨"
email = "advisor@dealer.example"
role = "service_advisor"
department = "after_sales"
manager = "manager"
"""


def write_config(folder: Path, db_url: str) -> Path:
    path = folder / "config.toml"
    path.write_text(
        f"""
[database]
url = "{db_url}"

[maildir]
enabled = false

[outbox]
transport = "files"
directory = "{folder / "outbox"}"

[templates]
directory = "{ROOT / "templates"}"

[calendar]
holidays = [2025-01-01, 2026-01-01, 2027-01-01]
{ORG}
""",
        encoding="utf-8",
    )
    return path


def transition(tid: int, at: datetime, event: str, source: str | None, target: str,
               stop: tuple[str, ...] = ()) -> dict[str, Any]:  # fmt: skip
    detail: dict[str, Any] = {"event": event, "from": source, "to": target, "cause": "bench"}
    detail["clocks"] = {"stop": list(stop)} if stop else {}
    return {"ticket_id": tid, "at": at, "actor": "bench", "kind": "transition", "detail": detail}


def clock(tid: int, kind: str, start: datetime, hours: float, stopped: datetime | None,
          missed: bool) -> dict[str, Any]:  # fmt: skip
    due = start + timedelta(hours=hours)
    return {
        "ticket_id": tid,
        "kind": kind,
        "plan": PLAN,
        "started_at": start,
        "budget_seconds": hours * 3600,
        "spent_seconds": 0.0,
        "running_since": None if stopped else start,
        "due_at": due,
        "paused_at": None,
        "stopped_at": stopped,
        "reminders_sent": [],
        "steps_sent": 0,
        "breached_at": due if missed else None,
        "next_action_at": None,
    }


def fill(store: Store, tickets: int) -> None:
    """`tickets` tickets opened evenly over 2025 (a few rows per ticket in every table)."""
    step = timedelta(days=365) / tickets
    with store.transaction() as session:
        session.execute(
            insert(Customer),
            [{"address": f"c{i}@example.cn", "name": "", "created_at": YEAR_START}
             for i in range(2000)],
        )  # fmt: skip
    for first in range(0, tickets, CHUNK):
        numbers = range(first, min(first + CHUNK, tickets))
        opened = [YEAR_START + step * i for i in numbers]
        closed = [i % 10 != 0 for i in numbers]
        with store.transaction() as session:
            ids = session.scalars(
                insert(Ticket).returning(Ticket.id),
                [
                    {
                        "number": f"TS-{at:%Y%m}-{i:06d}",
                        "status": "closed" if done else "contacted",
                        "customer_id": i % 2000 + 1,
                        "subject": f"投诉 {i}",
                        "language": "zh-CN",
                        "channel": CHANNELS[i % 4],
                        "category": CATEGORIES[i % 5],
                        "department": DEPARTMENTS[i % 3],
                        "severity": SEVERITIES[i % 3],
                        "major": [],
                        "evidence": [],
                        "handler": HANDLERS[i % 3],
                        "handler_email": "",
                        "excluded": [],
                        "opened_at": at,
                        "updated_at": at + timedelta(days=3),
                        "closed_at": at + timedelta(days=3) if done else None,
                    }
                    for i, at, done in zip(numbers, opened, closed, strict=True)
                ],
            ).all()
            events: list[dict[str, Any]] = []
            clocks: list[dict[str, Any]] = []
            ledger: list[dict[str, Any]] = []
            cases: list[dict[str, Any]] = []
            for i, tid, at, done in zip(numbers, ids, opened, closed, strict=True):
                missed = i % 10 == 3
                contact, resolve = at + timedelta(hours=1), at + timedelta(days=2)
                events += [
                    transition(tid, at, "open", None, "assigned"),
                    transition(
                        tid, contact, "contact", "assigned", "contacted", ("first_contact",)
                    ),
                ]
                clocks.append(clock(tid, "first_contact", at, 2, contact, False))
                clocks.append(clock(tid, "resolution", at, 24, resolve if done else None, missed))
                if missed:
                    ledger.append({"ticket_id": tid, "clock": "resolution", "rule": "bench",
                                   "person": HANDLERS[i % 3], "due_at": at + timedelta(hours=24),
                                   "breached_at": at + timedelta(hours=24),
                                   "overdue_seconds": 86400.0})  # fmt: skip
                if done:
                    close = at + timedelta(days=3)
                    events += [
                        transition(tid, resolve, "resolve", "contacted", "resolved",
                                   ("resolution",)),
                        {"ticket_id": tid, "at": resolve, "actor": "bench", "kind": "customer-mail",
                         "detail": {"what": "satisfaction", "by": "bench", "to": "c@example.cn",
                                    "outbox": None, "status": "pending"}},
                        {"ticket_id": tid, "at": resolve + timedelta(hours=5), "actor": "c",
                         "kind": "satisfaction",
                         "detail": {"verdict": "satisfied" if i % 7 else "unsatisfied",
                                    "score": 9 if i % 7 else 3, "said": "bench"}},
                        transition(tid, close - timedelta(hours=1), "callback", "resolved",
                                   "callback_done", ("callback",)),
                        transition(tid, close, "close", "callback_done", "closed", ("close",)),
                    ]  # fmt: skip
                if i % 100 == 5:
                    cases.append({
                        "oem": "faw-vw", "case_id": f"DS{i}", "ticket_id": tid, "feed": "bench",
                        "dispatched_at": at, "zero_complaint": True,
                        "digest": hashlib.sha256(str(i).encode()).hexdigest(),
                        "created_at": at, "updated_at": at,
                        "zero_complaint_result": ("success", "failure", None)[i % 3],
                        "resurveyed_at": at + timedelta(days=7) if i % 3 != 2 else None,
                        "zero_complaint_penalty": 3000.0 if i % 3 == 1 else None,
                    })  # fmt: skip
            session.execute(insert(TicketEvent), events)
            session.execute(insert(TicketClock), clocks)
            stops = [
                {
                    "ticket_id": c["ticket_id"],
                    "clock": c["kind"],
                    "stopped_at": c["stopped_at"],
                    "on_time": c["breached_at"] is None,
                }
                for c in clocks
                if c["stopped_at"] is not None
            ]
            if stops:
                session.execute(insert(ClockStop), stops)
            if ledger:
                session.execute(insert(MissedClock), ledger)
            if cases:
                session.execute(insert(ManufacturerCase), cases)


def timed(config_path: Path, *args: str) -> tuple[float, bytes]:
    """One complaintd process, timed from start to exit; its standard output."""
    command = [sys.executable, "-m", "daemon.cli", "--config", str(config_path), *args]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    t0 = time.perf_counter()
    done = subprocess.run(command, capture_output=True, env=env, cwd=ROOT, check=False)
    elapsed = time.perf_counter() - t0
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(args)} failed:\n{done.stderr.decode()}")
    return elapsed, done.stdout


def in_process(path: Path, since: date, until: date) -> tuple[float, float]:
    """The summary's own work (queries and counting) and the full listing's, without the
    process start-up: seconds each."""
    settings = config.load(path)
    store = app.open_store(settings)
    period = summary_period(since.isoformat(), until.isoformat(), settings.zone, app.utc_now())
    calendar = BusinessCalendar.from_settings(settings.calendar)
    t0 = time.perf_counter()
    with store.reading() as session:
        facts = gather.gather(session, period, calendar)
    figures.summarize(facts, period, report_settings(settings.reports, settings.org))
    summary = time.perf_counter() - t0
    t0 = time.perf_counter()
    with store.reading() as session:
        views.ticket_list(session, views.TicketFilter(), None)
    listing = time.perf_counter() - t0
    store.dispose()
    return summary, listing


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tickets", type=int, default=100_000)
    parser.add_argument("--db-url", default=None, help="an empty database (default: SQLite)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="complaintd-report-") as tmp:
        folder = Path(tmp)
        url = args.db_url or f"sqlite:///{folder / 'complaintd.db'}"
        path = write_config(folder, url)
        store = app.open_store(config.load(path))
        t0 = time.perf_counter()
        fill(store, args.tickets)
        store.dispose()
        print(f"{args.tickets:,} tickets over 2025 inserted in {time.perf_counter() - t0:.1f} s")
        runs = {
            "summary year": ("report", "summary", "--since", "2025-01-01",
                             "--until", "2025-12-31", "--json"),
            "summary week": ("report", "summary", "--since", "2025-12-08",
                             "--until", "2025-12-14", "--json"),
            "list": ("tickets", "list", "--json"),
            "list all": ("tickets", "list", "--json", "--limit", str(args.tickets)),
        }  # fmt: skip
        seconds: dict[str, float] = {}
        for label, command in runs.items():
            elapsed, out = timed(path, *command)
            seconds[label] = elapsed
            note = ""
            if label.startswith("summary"):
                counts = json.loads(out)["tickets"]
                note = f"  (opened {counts['opened']:,}, open at end {counts['open_at_end']:,})"
            print(f"{label:<13} {elapsed:7.2f} s{note}")
        for since, until in ((date(2025, 1, 1), date(2025, 12, 31)),
                             (date(2025, 12, 8), date(2025, 12, 14))):  # fmt: skip
            own, listed = in_process(path, since, until)
            print(f"in process, {since} to {until}: summary {own:.2f} s, "
                  f"full listing {listed:.2f} s, ratio {own / listed:.2f}")  # fmt: skip
    for summary in ("summary year", "summary week"):
        for listing in ("list", "list all"):
            ratio = seconds[summary] / seconds[listing]
            print(f"ratio {summary} / {listing}: {ratio:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
