"""Count parsed messages whose filed text shows decoding debris: U+FFFD or Latin-1 mojibake.

Usage: .venv/bin/python benchmarks/charset_debris.py [CORPUS_EMAILS_DIR] [--list]

The default directory is ../shared/corpus/emails. Each file goes through intake.parse; the
subject, sender name, body text and text attachments are checked. A file is counted once.
"""

from __future__ import annotations

import re
import sys
from collections import Counter
from pathlib import Path

from daemon.charsets import HAN_CLASS
from daemon.intake import Unreadable, parse

# Lead bytes of Big5/GBK shown as Latin-1 symbols (¤j®a»¡), runs of accented capitals from
# double-byte or KOI8 text (ÔÅÓÔ), UTF-8 shown as Latin-1 (Ã©, â€™), and C1 control characters.
_SYMBOLS = "\u00a1-\u00bf\u00d7\u00f7"
_DEBRIS = re.compile(
    rf"(?:[{_SYMBOLS}].?){{3}}|[\u00c0-\u00ff]{{4}}|[\u00c2\u00c3][\u0080-\u00bf]|\u00e2\u20ac"
    r"|[\u0080-\u009f]"
)
# A Latin word with a Han character inside it (Fr岣he): Latin-1 bytes read as GBK or Big5.
_HAN_IN_LATIN = re.compile(f"[A-Za-z][{HAN_CLASS}]{{1,2}}[A-Za-z]")


def damaged(text: str) -> str:
    """'fffd', 'latin1', 'han-in-latin' or '' for a piece of filed text."""
    if "\ufffd" in text:
        return "fffd"
    if _DEBRIS.search(text):
        return "latin1"
    return "han-in-latin" if _HAN_IN_LATIN.search(text) else ""


def main() -> None:
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    root = Path(args[0]) if args else Path("../shared/corpus/emails")
    show = "--list" in sys.argv
    counts: Counter[str] = Counter()
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        try:
            msg = parse(path.read_bytes())
        except Unreadable:
            counts["unreadable"] += 1
            continue
        counts["parsed"] += 1
        pieces = [msg.subject, msg.sender_name, msg.text]
        kinds = {k for k in map(damaged, pieces) if k}
        for kind in sorted(kinds):
            counts[kind] += 1
        if kinds:
            counts["damaged"] += 1
            if show:
                print(path.relative_to(root), ",".join(sorted(kinds)))
    print(dict(sorted(counts.items())))


if __name__ == "__main__":
    main()
