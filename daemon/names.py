"""Who a text names: staff found in a complaint by full name, alias or e-mail address.

Names and text go through the same normalisation, so width, zero-width characters, soft hyphens
and traditional or simplified forms do not hide anybody.
"""

from __future__ import annotations

import re

from daemon.charsets import HAN
from daemon.language import normalise_text
from daemon.org import OrgSettings, Person

# A one-character name or alias (a surname, "王") would exclude staff from every complaint that
# happens to contain that character; Latin aliases need a little more because "Li" or "Bo" are
# also ordinary syllables and words.
MIN_CJK_CHARS = 2
MIN_LATIN_CHARS = 3


_CJK = HAN
_LATIN_WORD_CHAR = r"a-z0-9\u00c0-\u024f"
_EMAIL_CHAR = r"a-z0-9._%+\-"


def _fold(text: str) -> str:
    # Names and complaint text go through the same normalisation, so "郑\u200b浩", "鄭浩" and
    # full-width "ｗａｎｇ＠ｄｅａｌｅｒ" meet their plain forms.
    return normalise_text(text)


def _pattern(term: str) -> re.Pattern[str] | None:
    folded = " ".join(_fold(term).split())
    if not folded:
        return None
    if "@" in folded:
        return re.compile(rf"(?<![{_EMAIL_CHAR}]){re.escape(folded)}(?![a-z0-9_\-]|\.[a-z0-9])")
    if _CJK.search(folded):
        return re.compile(r"\s*".join(re.escape(ch) for ch in folded.replace(" ", "")))
    words = r"\s+".join(re.escape(w) for w in folded.split(" "))
    return re.compile(rf"(?<![{_LATIN_WORD_CHAR}]){words}(?![{_LATIN_WORD_CHAR}])")


def _terms(person: Person) -> tuple[str, ...]:
    return (person.name, person.email, *person.aliases)


def named_people(text: str, org: OrgSettings) -> tuple[str, ...]:
    """Keys of the people the text names, by name, alias or e-mail address, in chart order."""
    folded = _fold(text)
    spans: list[tuple[int, int, str]] = []
    for person in org.people:
        for term in _terms(person):
            pattern = _pattern(term)
            if pattern is not None:
                spans.extend((m.start(), m.end(), person.key) for m in pattern.finditer(folded))
    # "张伟明" names 张伟明, not also their colleague 张伟: a match inside a longer match of
    # somebody else's name does not count.
    named = {
        key
        for start, end, key in spans
        if not any(
            other != key and s <= start and end <= e and e - s > end - start
            for s, e, other in spans
        )
    }
    return tuple(p.key for p in org.people if p.key in named)


def short_term(term: str) -> str | None:
    folded = _fold(term).replace(" ", "")
    if "@" in folded:
        return None
    if _CJK.search(folded):
        return f"shorter than {MIN_CJK_CHARS} characters" if len(folded) < MIN_CJK_CHARS else None
    if len(folded) < MIN_LATIN_CHARS:
        return f"shorter than {MIN_LATIN_CHARS} letters"
    return None
