"""Time and memory intake spends on crafted messages, against the [tickets] message budget.

Runs each hostile message of tests/unit/test_intake_bounds.py (huge subject, 70,000-id
References, a million header fields, a huge Cc list, 200,000 MIME parts, deep nesting,
unclosed HTML tags, 8-bit text, a base64 attachment) at each size, and prints seconds
(untraced) and the traced peak of Python allocations beyond the message's own bytes, with
the budget beside them.

    .venv/bin/python benchmarks/intake_budget.py [--sizes 4,16,48]
"""

from __future__ import annotations

import argparse
import sys
import time
import tracemalloc
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests" / "unit")]

from test_intake_bounds import decide, hostile  # noqa: E402

from daemon.config import TicketSettings  # noqa: E402

MB = 1 << 20


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="4,16,48", help="message sizes in MB, comma-separated")
    args = parser.parse_args()
    budget = TicketSettings()
    print(
        f"budget: {budget.message_budget_seconds:.0f} s, "
        f"{budget.message_budget_mb} MB beyond the message's own bytes"
    )
    over = 0
    for size in (int(s) * MB for s in args.sizes.split(",")):
        for name, data in hostile(size):
            began = time.monotonic()
            outcome = decide(data)
            seconds = time.monotonic() - began
            tracemalloc.start()
            decide(data)
            peak = tracemalloc.get_traced_memory()[1] / MB
            tracemalloc.stop()
            limit = budget.message_budget_mb  # traced from after the bytes were made
            fits = seconds < budget.message_budget_seconds and peak < limit
            over += not fits
            print(
                f"{name:10s} {len(data) / MB:6.1f} MB  {seconds:6.2f} s  peak {peak:6.0f} MB"
                f" (limit {limit:4.0f})  {outcome:14s} {'ok' if fits else 'OVER BUDGET'}",
                flush=True,
            )
    return 1 if over else 0


if __name__ == "__main__":
    sys.exit(main())
