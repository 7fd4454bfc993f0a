"""Who a text names: staff found in a complaint by full name, alias, e-mail address, or a title
and surname ("王经理", "张师傅", "Manager Wang") that points at them.

Names and text go through the same normalisation, so width, zero-width characters, soft hyphens
and traditional or simplified forms do not hide anybody. A title and surname shared by several
people names all of them: confidentiality cannot pick one, so every candidate is excluded and
the ambiguity is reported for customer care to look at.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from daemon.charsets import HAN
from daemon.language import normalise_text
from daemon.org import OrgSettings, Person
from daemon.values import Ambiguity as Ambiguity  # the routing result carries it

# A one-character name or alias (a surname, "王") would exclude staff from every complaint that
# happens to contain that character; Latin aliases need a little more because "Li" or "Bo" are
# also ordinary syllables and words.
MIN_CJK_CHARS = 2
MIN_LATIN_CHARS = 3

# How customers address staff whatever their role: a courtesy title fits anybody, so "王经理"
# may mean a sales consultant as well as a manager. Longest first, so "王总经理" is read whole.
GENERAL_TITLES_ZH: tuple[str, ...] = (
    "总经理",
    "总监",
    "经理",
    "主管",
    "主任",
    "顾问",
    "专员",
    "师傅",
    "老师",
    "总",
)
GENERAL_TITLES_EN: tuple[str, ...] = ("mr", "mrs", "ms", "miss", "manager", "director")


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


# Two-character surnames: without them "欧阳娜" would be addressed as "欧经理".
COMPOUND_SURNAMES: frozenset[str] = _words(
    "欧阳 司马 诸葛 上官 东方 皇甫 尉迟 公孙 慕容 长孙 宇文 司徒 令狐 夏侯 轩辕 端木 "
    "独孤 南宫 西门 百里 呼延 万俟 闻人 澹台 公冶 申屠 太史 钟离 宗政 濮阳 淳于 单于 "
    "仲孙 赫连 第五 左丘 东郭 子车 谷梁 拓跋 完颜 纳兰"
)

# "总" begins ordinary nouns: "提高总体" is "raise overall", not Manager Gao. A verb after it
# ("赵总是不会管的", "赵总说") is left a title: confidentiality prefers excluding too many.
_NOT_AFTER_ZONG = "体结共算部数计额之归价台店量"

# Words whose last character is also a surname: "这周经理不在" is about this week, "一张工单"
# about a sheet, "售后经理" about a department. The role titles of the chart add their own.
_WORDS_ENDING_IN_A_SURNAME: frozenset[str] = _words(
    "这周 上周 下周 本周 每周 一周 两周 提高 很高 太高 最高 更高 一张 两张 几张 紧张 主张 "
    "开张 对方 双方 我方 官方 贵方 厂方 店方 一方 甲方 乙方 由于 对于 关于 至于 终于 等于 "
    "属于 宝马 修车 买车 新车 提车 试车 开车 用车 验车 交车 看车 洗车 换车 退车 售后 前后 "
    "之后 以后 最后 然后 客服 明白 空白 定金 押金 现金 资金 租金 黄金"
)

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


# -- title and surname ------------------------------------------------------------------------


def surname_zh(name: str) -> str:
    """The Chinese surname of a Chinese full name ("欧阳娜" -> "欧阳"); "" for any other name."""
    folded = _fold(name).replace(" ", "")
    if not 2 <= len(folded) <= 4 or not all(_CJK.match(ch) for ch in folded):
        return ""
    if len(folded) >= 3 and folded[:2] in COMPOUND_SURNAMES:
        return folded[:2]
    return folded[0]


def surname_en(person: Person) -> str:
    """The family name of the person's Latin full name or alias ("Kevin Zheng" -> "zheng")."""
    for term in (person.name, *person.aliases):
        words = _fold(term).split()
        if len(words) >= 2 and "@" not in term and not _CJK.search(term):
            return words[-1]
    return ""


def role_title(title_zh: str) -> str:
    """How a role is used as a title after a surname: 服务顾问 -> 顾问, 维修技师 -> 技师."""
    folded = _fold(title_zh).replace(" ", "")
    general = next((t for t in GENERAL_TITLES_ZH if folded.endswith(t) and len(t) > 1), "")
    return general or folded[-2:]


def titles_of(person: Person, org: OrgSettings) -> tuple[str, ...]:
    """The Chinese titles a customer may put after the person's surname, longest first."""
    role = next((r for r in org.roles if r.key == person.role), None)
    own = role_title(role.title_zh) if role is not None and role.title_zh else ""
    found = {*GENERAL_TITLES_ZH, *([own] if own else [])}
    return tuple(sorted(found, key=lambda t: (-len(t), t)))


def _title_alternation(titles: tuple[str, ...]) -> str:
    parts = [
        f"{re.escape(t)}(?![{_NOT_AFTER_ZONG}])" if t == "总" else re.escape(t) for t in titles
    ]
    return "(?:" + "|".join(parts) + ")"


def _not_names(org: OrgSettings) -> frozenset[str]:
    """Two-character words that end in a surname character without being one."""
    words = set(_WORDS_ENDING_IN_A_SURNAME)
    for role in org.roles:
        folded = _fold(role.title_zh).replace(" ", "")
        stem = folded[: -len(role_title(role.title_zh))] if folded else ""
        if len(stem) >= 2:
            words.add(stem[-2:])
    return frozenset(words)


# -- matching ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Naming:
    """Who a text names, and the titles it used that fit more than one person."""

    people: tuple[str, ...]  # person keys, chart order; every candidate of an ambiguity too
    ambiguous: tuple[Ambiguity, ...] = ()


@dataclass(frozen=True, slots=True)
class _Matcher:
    pattern: re.Pattern[str]
    people: tuple[str, ...]  # one for a name, alias or address; the candidates of a title
    by_title: bool = False


@lru_cache(maxsize=8)
def _matchers(org: OrgSettings) -> tuple[tuple[_Matcher, ...], frozenset[str]]:
    """The chart's patterns, built once per chart: a config reload brings a new chart."""
    out: list[_Matcher] = []
    for person in org.people:
        for term in _terms(person):
            pattern = _pattern(term)
            if pattern is not None:
                out.append(_Matcher(pattern, (person.key,)))
    # Each surname with each title is one pattern whose candidates are every person it fits.
    by_title: dict[tuple[str, str], list[str]] = {}
    for person in org.people:
        surname = surname_zh(person.name)
        if surname:
            for title in titles_of(person, org):
                by_title.setdefault((surname, title), []).append(person.key)
        latin = surname_en(person)
        if latin:
            for title in GENERAL_TITLES_EN:
                by_title.setdefault((latin, title), []).append(person.key)
    grouped: dict[tuple[str, tuple[str, ...]], list[str]] = {}
    for (surname, title), fits in by_title.items():
        grouped.setdefault((surname, tuple(dict.fromkeys(fits))), []).append(title)
    for (surname, keys), titles in grouped.items():
        if _CJK.match(surname):
            ordered = tuple(sorted(titles, key=lambda t: (-len(t), t)))
            pattern = re.compile(re.escape(surname) + _title_alternation(ordered))
        else:
            words = "|".join(re.escape(t) for t in sorted(titles, key=len, reverse=True))
            pattern = re.compile(
                rf"(?<![{_LATIN_WORD_CHAR}])(?:{words})\.?\s+{re.escape(surname)}"
                rf"(?![{_LATIN_WORD_CHAR}])"
            )
        out.append(_Matcher(pattern, keys, by_title=True))
    return tuple(out), _not_names(org)


def find_named(text: str, org: OrgSettings) -> Naming:
    """Who the text names, by name, alias, address or title and surname, in chart order."""
    folded = _fold(text)
    matchers, not_names = _matchers(org)
    spans: list[tuple[int, int, tuple[str, ...]]] = []
    for m in matchers:
        for found in m.pattern.finditer(folded):
            start = found.start()
            if m.by_title and start > 0 and folded[start - 1 : start + 1] in not_names:
                continue
            spans.append((start, found.end(), m.people))
    # "张伟明" names 张伟明, not also their colleague 张伟: a match inside a longer match of
    # somebody else's name does not count.
    kept = [
        (start, end, keys)
        for start, end, keys in spans
        if not any(
            other != keys and s <= start and end <= e and e - s > end - start
            for s, e, other in spans
        )
    ]
    named = {key for _, _, keys in kept for key in keys}
    ambiguous = {(folded[start:end], keys): None for start, end, keys in kept if len(keys) > 1}
    order = {p.key: i for i, p in enumerate(org.people)}
    return Naming(
        tuple(p.key for p in org.people if p.key in named),
        tuple(
            Ambiguity(term, tuple(sorted(keys, key=order.__getitem__))) for term, keys in ambiguous
        ),
    )


def named_people(text: str, org: OrgSettings) -> tuple[str, ...]:
    """Keys of the people the text names, by name, alias, address or title and surname, in
    chart order; a title and surname that fits several people names all of them."""
    return find_named(text, org).people


def short_term(term: str) -> str | None:
    folded = _fold(term).replace(" ", "")
    if "@" in folded:
        return None
    if _CJK.search(folded):
        return f"shorter than {MIN_CJK_CHARS} characters" if len(folded) < MIN_CJK_CHARS else None
    if len(folded) < MIN_LATIN_CHARS:
        return f"shorter than {MIN_LATIN_CHARS} letters"
    return None
