"""What a reply's writer wrote: the quoted mail, signatures and device lines taken away.

Each line is marked by the first rule in RULES that fires (the table is the precedence); the
text we sent ourselves, when given, is marked first, wherever it was quoted. A reply written
above the quote keeps what is above the first quote header or signature; a reply written below
the quote (bottom-posted) keeps the lines outside the quoted blocks. Nothing is ever lost: what
is taken away is returned as `elided`, and a reply that would be empty keeps it.
"""

from __future__ import annotations

import re
import textwrap
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import Enum


class Mark(Enum):
    TEXT = "text"
    BLANK = "blank"
    HEADER = "header"  # starts a quote: an attribution line, a separator, an Outlook block
    QUOTED = "quoted"  # a '>' line
    DEVICE = "device"  # "发自我的iPhone", "Sent from my iPhone"
    SIGNATURE = "signature"  # a signature separator: what follows is the signature
    SENT = "sent"  # a line of the notice we sent, quoted back without a header


@dataclass(frozen=True, slots=True)
class Stripped:
    kept: str  # what the writer wrote; "" when the reply held nothing of theirs
    elided: str  # quotes, signatures and device lines
    kept_lines: tuple[int, ...]  # indexes into text.splitlines() of the lines in `kept`

    @property
    def body(self) -> str:
        """The text to store: the kept part, or everything when nothing would be kept."""
        return self.kept or self.elided


# Rule tests see every line (already cleaned) and an index; they return how many lines starting
# there the rule covers, 0 when it does not fire. Quote headers wrap, so they may cover several.
Test = Callable[[Sequence[str], int], int]


@dataclass(frozen=True, slots=True)
class Rule:
    name: str
    mark: Mark
    test: Test


def _line(pattern: str) -> Test:
    compiled = re.compile(pattern, re.IGNORECASE)

    def test(lines: Sequence[str], i: int) -> int:
        return 1 if compiled.search(lines[i]) else 0

    return test


def _wrapped(start: str, end: str, whole: str, most: int = 3) -> Test:
    """An attribution the client wrapped over up to `most` lines ("On … <a@b>\\nwrote:")."""
    first, last, joined = (re.compile(p, re.IGNORECASE) for p in (start, end, whole))

    def test(lines: Sequence[str], i: int) -> int:
        if not first.search(lines[i]):
            return 0
        for n in range(1, most + 1):
            if i + n > len(lines) or not lines[i + n - 1]:
                return 0
            if last.search(lines[i + n - 1]) and joined.search(" ".join(lines[i : i + n])):
                return n
        return 0

    return test


_FIELD = re.compile(
    r"^\s*\*?\s*(发件人|发送时间|发送日期|时间|日期|收件人|抄送|主题|from|sent|date|to|cc|subject)"
    r"\s*\*?\s*[:：]",
    re.IGNORECASE,
)
_FROM = re.compile(r"^\s*\*?\s*(发件人|from)\s*\*?\s*[:：]", re.IGNORECASE)


def _field_block(lines: Sequence[str], i: int) -> int:
    """An Outlook or QQ Mail header block: From/发件人 and at least one more field below."""
    if not _FROM.search(lines[i]):
        return 0
    n = 1
    fields = 1
    while i + n < len(lines) and n <= 6:
        if _FIELD.search(lines[i + n]):
            fields += 1
        elif lines[i + n]:
            break
        n += 1
    # Trailing blank lines belong to the quote, not to the block.
    while n > 1 and not lines[i + n - 1]:
        n -= 1
    return n if fields >= 2 else 0


_DATE = r"\d{1,4}\s*[-/年.]\s*\d{1,2}"  # 2025-05-05, 2025年1月14日, 14/01/2025
# Every client writes the time it quotes; "客户 1月13日来信写道：" in a note has none.
_TIME = r"\d{1,2}\s*[:：]\s*\d{2}"

RULES: tuple[Rule, ...] = (
    Rule("quoted", Mark.QUOTED, _line(r"^\s*[>＞]")),
    Rule(
        "separator",  # QQ Mail, Foxmail, Outlook, NetEase Mail Master
        Mark.HEADER,
        _line(
            r"^\s*[-—=_]{2,}\s*(原始邮件|回复的原邮件|转发的原邮件|original message|original"
            r"|replied message|forwarded message|邮件原文)\s*[-—=_]{2,}\s*$"
        ),
    ),
    Rule("rule", Mark.HEADER, _line(r"^\s*_{10,}\s*$")),  # Outlook's line above the block
    Rule("field-block", Mark.HEADER, _field_block),
    Rule(
        "wrote-zh",  # NetEase, Apple Mail, Gmail, Foxmail in Chinese: "… 写道："
        Mark.HEADER,
        _wrapped(r"\d|@|^在", r"写道\s*[:：]?\s*$", rf"{_DATE}.*{_TIME}.*写道\s*[:：]?\s*$"),
    ),
    Rule(
        "wrote-en",  # Gmail, Apple Mail, Thunderbird "On … wrote:"; NetEase "At … wrote:"
        Mark.HEADER,
        _wrapped(r"^\s*(on|at)\s", r"wrote\s*:\s*$", rf"^\s*(on|at)\s.*{_TIME}.*wrote\s*:\s*$"),
    ),
    Rule(
        "device",  # phone and desktop clients' one-line signatures
        Mark.DEVICE,
        _line(
            r"^(发自我的|来自我的)\s*\S.{0,20}$"
            r"|^从我的\s*\S.{0,16}发送$"
            r"|^(来自|发自)\s*\S{0,12}\s*(邮箱大师|邮箱|客户端|mail|app)$"
            r"|^(sent from|sent via|sent with) (my |mail for |outlook for |the )?\S.{0,30}$"
            r"|^(get|获取)\s*outlook\s*for\s*(ios|android)$"
            r"|^从\s*windows\s*版?\s*邮件\s*发送$"
        ),
    ),
    # Foxmail's default signature: the writer's own address alone on a line.
    Rule("address", Mark.DEVICE, _line(r"^<?[\w.+-]+@[\w-]+(\.[\w-]+)+>?$")),
    Rule("signature", Mark.SIGNATURE, _line(r"^(--|—{2}|-{2}—|——+)\s*$")),
)

# Spaces a client may write, as plain spaces; invisible marks, as nothing. One replace per
# pair: several times faster than str.translate on a line of Chinese.
_CLEAN = (("&nbsp;", " "), ("\u00a0", " "), ("\u3000", " "), ("\u200b", ""), ("\ufeff", ""))


def _cleaned(text: str) -> list[str]:
    """The text's lines (as str.splitlines() cuts them) with their spacing made plain."""
    for old, new in _CLEAN:
        text = text.replace(old, new)
    return [line.strip() for line in text.splitlines()]


def _sent_key(cleaned: str) -> str:
    """A cleaned line of our notice as it looks once quoted: without '>' marks or spacing."""
    return "".join(cleaned.lstrip(">＞ ").split())


# A run of notice lines this long is a quote; a shorter one may be the writer's own commands
# that the notice happens to list ("签收", "已联系").
_SENT_RUN_LINES = 2
_SENT_RUN_CHARS = 24


def _mark_sent(cleaned: Sequence[str], sent: str) -> set[int]:
    """Lines quoting our notice verbatim: runs that follow the notice line by line."""
    notice = [k for k in map(_sent_key, _cleaned(sent)) if k]
    where: dict[str, set[int]] = {}
    for position, key in enumerate(notice):
        where.setdefault(key, set()).add(position)
    marked: set[int] = set()
    run: list[int] = []
    at: set[int] = set()  # where in the notice the run may have reached
    keys = [_sent_key(line) for line in cleaned]
    for i, key in enumerate([*keys, "\0"]):
        if not key and i < len(cleaned):
            continue  # blank lines come and go as the notice is quoted
        found = where.get(key, set())
        following = {p for p in found if p - 1 in at}
        if run and following:
            run.append(i)
            at = following
            continue
        chars = sum(len(keys[j]) for j in run)
        if len(run) >= _SENT_RUN_LINES and chars >= _SENT_RUN_CHARS:
            marked.update(run)
        run, at = ([i], found) if found else ([], set())
    return marked


def marks(text: str, sent: str | None = None, rules: Sequence[Rule] = RULES) -> list[Mark]:
    """The mark of each line of `text`."""
    cleaned = _cleaned(text)
    result = [Mark.BLANK if not c else Mark.TEXT for c in cleaned]
    ours = _mark_sent(cleaned, sent) if sent else set()
    for i in ours:
        result[i] = Mark.SENT
    i = 0
    while i < len(cleaned):
        if result[i] is not Mark.TEXT:
            i += 1
            continue
        for rule in rules:
            n = rule.test(cleaned, i)
            if n:
                for j in range(i, i + n):
                    result[j] = rule.mark
                i += n
                break
        else:
            i += 1
    return result


_CUT = (Mark.HEADER, Mark.SIGNATURE, Mark.SENT)


def strip_reply(text: str, sent: str | None = None, rules: Sequence[Rule] = RULES) -> Stripped:
    """Split a reply's text into what its writer wrote and what they quoted or signed.

    `sent` is the text of the notice the reply answers, taken away wherever it was quoted.
    """
    lines = text.splitlines()
    marked = marks(text, sent, rules)
    cut = next((i for i, m in enumerate(marked) if m in _CUT), len(lines))
    if any(m is Mark.TEXT for m in marked[:cut]) or cut == len(lines):
        keep = {i for i in range(cut) if marked[i] in (Mark.TEXT, Mark.BLANK)}
    else:
        keep = _below_the_quote(marked)
    kept = _trimmed(sorted(keep), marked)
    taken = set(kept)
    elided = [line for i, line in enumerate(lines) if i not in taken]
    return Stripped(
        textwrap.dedent("\n".join(lines[i] for i in kept)),
        "\n".join(elided).strip("\n"),
        tuple(kept),
    )


def _below_the_quote(marked: Sequence[Mark]) -> set[int]:
    """A bottom-posted reply: the text outside quoted blocks, up to a signature."""
    keep: set[int] = set()
    seen_text = False
    for i, mark in enumerate(marked):
        if mark is Mark.SIGNATURE and seen_text:
            break
        if mark is Mark.TEXT:
            seen_text = True
            keep.add(i)
        elif mark is Mark.BLANK and seen_text:
            keep.add(i)
    return keep


def _trimmed(indexes: Sequence[int], marked: Sequence[Mark]) -> list[int]:
    """Without blank lines at either end."""
    kept = list(indexes)
    while kept and marked[kept[0]] is Mark.BLANK:
        kept.pop(0)
    while kept and marked[kept[-1]] is Mark.BLANK:
        kept.pop()
    return kept
