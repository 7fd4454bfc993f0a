"""Lines per second of the quote stripper over the reply fixtures, against splitting lines alone.

Reads every fixture in tests/fixtures/replies (the '+ '/'- ' marks taken off), then times, in the
same run, a plain `str.splitlines` pass over them (the floor any line-based reader pays) and
`daemon.quoting.strip_reply` (with the notice sidecar where there is one). Prints lines, seconds and
lines per second for each, and how many times the baseline the stripper costs.

    .venv/bin/python benchmarks/quoting.py [--rounds 200]
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from daemon import quoting  # noqa: E402

FIXTURES = ROOT / "tests" / "fixtures" / "replies"


def _replies() -> list[tuple[str, str | None]]:
    replies = []
    for path in sorted(FIXTURES.glob("*/*.txt")):
        if path.name.endswith((".sent.txt", ".kept.txt")):
            continue
        marked = path.read_text(encoding="utf-8").splitlines()
        text = "\n".join(line[2:] if line[:1] in "+-" else line for line in marked)
        sent_path = path.with_name(path.stem + ".sent.txt")
        sent = sent_path.read_text(encoding="utf-8") if sent_path.exists() else None
        replies.append((text, sent))
    return replies


def _timed(rounds: int, work: Callable[[], object]) -> float:
    start = time.perf_counter()
    for _ in range(rounds):
        work()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=200)
    args = parser.parse_args()
    replies = _replies()
    lines = sum(len(text.splitlines()) for text, _ in replies) * args.rounds

    def baseline() -> None:
        for text, _ in replies:
            text.splitlines()

    def stripper() -> None:
        for text, sent in replies:
            quoting.strip_reply(text, sent)

    stripper()  # compile the rules' patterns outside the timing
    base = _timed(args.rounds, baseline)
    took = _timed(args.rounds, stripper)
    print(f"{len(replies)} replies x {args.rounds} rounds = {lines} lines")
    print(f"splitlines   {base:8.3f} s  {lines / base:>14,.0f} lines/s")
    print(f"strip        {took:8.3f} s  {lines / took:>14,.0f} lines/s  ({took / base:,.0f}x)")


if __name__ == "__main__":
    main()
