"""How often undeclared GBK or Big5 snippets of n characters are read back right by guess().

Usage: .venv/bin/python benchmarks/charset_guess.py [CORPUS_DIR]

Snippets are cut from the complaint corpus (../shared/corpus/complaints, Simplified); the Big5
ones are turned Traditional through the pair table of daemon.language, and skipped when Big5
cannot hold them. Prints n, codec, snippets tried and the share read right.
"""

from __future__ import annotations

import csv
import random
import sys
from pathlib import Path

from daemon.charsets import guess
from daemon.language import CHARACTER_PAIRS, NAME_PAIRS

TO_TRADITIONAL = {pair[0]: pair[1] for pair in (*CHARACTER_PAIRS.split(), *NAME_PAIRS.split())}


def main() -> None:
    root = Path(sys.argv[1]) if len(sys.argv) > 1 else Path("../shared/corpus")
    with (root / "complaints" / "cocc-train.csv").open(encoding="utf-8", newline="") as f:
        texts = [row["text"] for row in csv.DictReader(f)]
    rng = random.Random(1)
    for n in (2, 3, 4, 6, 10, 20):
        for codec in ("gbk", "big5"):
            right = tried = 0
            for _ in range(1500):
                text = rng.choice(texts)
                if len(text) < n:
                    continue
                start = rng.randrange(len(text) - n + 1)
                snippet = text[start : start + n]
                if codec == "big5":
                    snippet = "".join(TO_TRADITIONAL.get(ch, ch) for ch in snippet)
                try:
                    data = snippet.encode(codec)
                except UnicodeEncodeError:
                    continue
                if data.isascii():
                    continue
                tried += 1
                right += guess(data).text == snippet
            print(f"{n:>3} {codec:<5} {tried:>5} {right / tried:.3f}")


if __name__ == "__main__":
    main()
