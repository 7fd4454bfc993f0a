"""One clock sweep over many open tickets: the cost must follow the due clocks, not the open ones.

Builds two SQLite databases in the same run, inserting rows in bulk (not through the pipeline):

  small   1,000 open tickets, 100 of them with a clock due now
  large   100,000 open tickets, the same 100 due

Half the due clocks owe a reminder, half are past their deadline with every ladder step due, so
a sweep queues real mail (rendered templates, outbox rows, ledger rows, audit events). Each
database gets one timed sweep; the script prints both times and their ratio (the aim is <= 2:
the sweep reads the index on clocks.next_action_at and never scans the open tickets).

    .venv/bin/python benchmarks/sweep.py [--small 1000] [--large 100000] [--due 100]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import insert  # noqa: E402

from daemon import app, clocks, config, sweeps  # noqa: E402
from daemon.clocks import ClockKind, ClockState  # noqa: E402
from daemon.deps import Deps  # noqa: E402
from daemon.store import clockrows  # noqa: E402
from daemon.store.models import Customer, Ticket, TicketClock  # noqa: E402
from daemon.values import Classification  # noqa: E402

SH = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 11, 25, 10, 0, tzinfo=SH)  # a Wednesday
CHUNK = 10_000

ORG = """
[[org.people]]
key = "gm"
name = "赵刚"
email = "gm@dealer.example"
role = "general_manager"

[[org.people]]
key = "director"
name = "钱红"
email = "director@dealer.example"
role = "service_director"
department = "after_sales"
manager = "gm"

[[org.people]]
key = "cs_director"
name = "李娜"
email = "cs@dealer.example"
role = "customer_service_director"
manager = "gm"

[[org.people]]
key = "manager"
name = "郑浩"
email = "manager@dealer.example"
role = "service_manager"
department = "after_sales"
manager = "director"

[[org.people]]
key = "care"
name = "周杰"
email = "care@dealer.example"
role = "customer_care_manager"
manager = "cs_director"

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


def build(folder: Path) -> Deps:
    path = folder / "config.toml"
    path.write_text(
        f"""
[database]
url = "sqlite:///{folder / "complaintd.db"}"

[maildir]
enabled = false

[outbox]
transport = "files"
directory = "{folder / "outbox"}"

[templates]
directory = "{ROOT / "templates"}"
{ORG}
""",
        encoding="utf-8",
    )
    settings = config.load(path)
    return app.build(settings, app.open_store(settings), lambda: NOW)


def clock_row(ticket_id: int, state: ClockState, deps: Deps) -> dict[str, Any]:
    row = TicketClock(ticket_id=ticket_id)
    clockrows.write(row, state, clocks.next_action_at(state, deps.triage.calendar))
    return {c.key: getattr(row, c.key) for c in TicketClock.__table__.columns if c.key != "id"}


def fill(deps: Deps, tickets: int, due: int) -> None:
    """`tickets` open tickets, each with a resolution clock; `due` of them due at NOW."""
    c = Classification("repair_quality", "after_sales", "general", (), (), "zh-CN")
    (plan,) = [
        p for p in deps.triage.plan(c, "email", "standard") if p.kind is ClockKind.RESOLUTION
    ]
    calendar = deps.triage.calendar
    later = clocks.start(plan, NOW, calendar)  # next action: its 50% reminder, days away
    reminder = clocks.start(plan, NOW - timedelta(days=2), calendar)  # 50% reminder due
    breached = clocks.start(plan, NOW - timedelta(days=10), calendar)  # every step due
    every = tickets // due
    with deps.store.transaction() as session:
        session.execute(
            insert(Customer),
            [{"address": f"c{i}@example.cn", "name": "", "created_at": NOW} for i in range(1000)],
        )
    for start in range(0, tickets, CHUNK):
        numbers = range(start, min(start + CHUNK, tickets))
        with deps.store.transaction() as session:
            ids = session.scalars(
                insert(Ticket).returning(Ticket.id),
                [
                    {
                        "number": f"TS-202611-{i:06d}",
                        "status": "contacted",
                        "customer_id": i % 1000 + 1,
                        "subject": f"投诉 {i}",
                        "language": "zh-CN",
                        "category": "repair_quality",
                        "department": "after_sales",
                        "severity": "general",
                        "major": [],
                        "evidence": [],
                        "handler": "advisor",
                        "handler_email": "advisor@dealer.example",
                        "excluded": [],
                        "opened_at": NOW - timedelta(days=10),
                        "updated_at": NOW,
                    }
                    for i in numbers
                ],
            ).all()
            rows = []
            for i, ticket_id in zip(numbers, ids, strict=True):
                state = later
                if i % every == 0 and i // every < due:
                    state = reminder if (i // every) % 2 == 0 else breached
                rows.append(clock_row(ticket_id, state, deps))
            session.execute(insert(TicketClock), rows)


def timed_sweep(tickets: int, due: int) -> tuple[float, sweeps.SweepReport]:
    with tempfile.TemporaryDirectory(prefix="complaintd-sweep-") as tmp:
        deps = build(Path(tmp))
        t0 = time.perf_counter()
        fill(deps, tickets, due)
        print(f"  {tickets:>7,} open tickets inserted in {time.perf_counter() - t0:.1f} s")
        t0 = time.perf_counter()
        report = sweeps.sweep(deps, NOW)
        elapsed = time.perf_counter() - t0
        deps.store.dispose()
    return elapsed, report


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--small", type=int, default=1_000)
    parser.add_argument("--large", type=int, default=100_000)
    parser.add_argument("--due", type=int, default=100)
    args = parser.parse_args()
    results = {}
    for label, tickets in (("small", args.small), ("large", args.large)):
        elapsed, report = timed_sweep(tickets, args.due)
        kinds: dict[str, int] = {}
        for a in report.actions:
            kinds[a.action] = kinds.get(a.action, 0) + 1
        print(
            f"{label:<6} {tickets:>7,} open, {report.examined} clocks examined, "
            f"actions {dict(sorted(kinds.items()))}: one sweep {elapsed * 1000:.0f} ms"
        )
        results[label] = elapsed
    print(f"ratio large/small: {results['large'] / results['small']:.2f} (aim <= 2)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
