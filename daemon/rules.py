"""Rule text -> RuleSet: the weighted phrase rules of the classifier, parsed and checked.

A rule file (daemon/data/rules.toml and any [classifier] extra_rules) is TOML: [defaults],
[categories] and [[rules]], each rule naming a target ("category:service", "department:sales",
"severity:strong", "major:media"), a weight, and phrases or regular expressions. This module
reads no files: the caller hands it each file's name and text.
"""

from __future__ import annotations

import re
import tomllib
import unicodedata
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from daemon.charsets import HAN
from daemon.language import nfkc
from daemon.values import ConfigPath

INTENSITIES = ("general", "medium", "strong", "irrational")
TARGET_KINDS = ("category", "department", "severity", "major")
RULES_FORMAT = 1


@dataclass(frozen=True, slots=True)
class ClassifierSettings:
    """[classifier] in config.toml."""

    # More rule files in the format of daemon/data/rules.toml, applied after it in this order.
    extra_rules: tuple[ConfigPath, ...] = ()
    # A model written by `complaintd train`: it then decides the category; rules do the rest.
    model: ConfigPath | None = None
    # Mildest first. The dealer scale (seed 002 part 5); a bank uses ("low", "medium", "high").
    severity_scale: tuple[str, ...] = ("general", "medium", "strong", "irrational")
    # A customer's earlier complaints within this many days make a new one a repeat complaint.
    repeat_window_days: int = 30
    repeat_min_earlier: int = 1
    # Customers complaining about one matter that make it a group complaint (seed 003).
    group_min_customers: int = 3
    # A major complaint is at least this intense (one of INTENSITIES).
    major_min_intensity: str = "medium"

    def __post_init__(self) -> None:
        scale = self.severity_scale
        if len(scale) < 2 or len(set(scale)) != len(scale):
            raise ValueError("severity_scale needs at least two distinct levels, mildest first")
        if self.major_min_intensity not in INTENSITIES:
            raise ValueError(f"major_min_intensity must be one of {', '.join(INTENSITIES)}")
        if self.repeat_window_days < 1 or self.repeat_min_earlier < 1:
            raise ValueError("repeat_window_days and repeat_min_earlier must be at least 1")
        if self.group_min_customers < 2:
            raise ValueError("group_min_customers must be at least 2")


@dataclass(frozen=True, slots=True)
class Phrase:
    key: str  # normalised form that is searched for
    shown: str  # as written in the rule file, for the evidence
    target: str
    weight: float
    # Latin-script phrases must stand as whole words ("fire" is not in "misfire"); a trailing
    # "*" in the rule file accepts any ending. Chinese is written without spaces: substring.
    boundary: re.Pattern[str] | None


@dataclass(frozen=True, slots=True)
class Pattern:
    regex: re.Pattern[str]
    target: str
    weight: float


@dataclass(frozen=True, slots=True)
class RuleSet:
    """Rules from the shipped file and any extra files, ready to match."""

    categories: tuple[str, ...]  # in priority order: ties go to the earlier one
    category_departments: Mapping[str, str]
    default_category: str
    default_department: str
    category_threshold: float
    phrases: tuple[Phrase, ...]
    patterns: tuple[Pattern, ...]
    settings: ClassifierSettings = field(default_factory=ClassifierSettings)
    # Positions in `phrases` by each phrase's first two characters: a text is only checked for
    # phrases whose opening it contains, which keeps a 10,000-row CSV to seconds.
    index: Mapping[str, tuple[int, ...]] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        index: dict[str, list[int]] = defaultdict(list)
        for position, phrase in enumerate(self.phrases):
            index[phrase.key[:2]].append(position)
        object.__setattr__(self, "index", {k: tuple(v) for k, v in index.items()})


class RulesError(ValueError):
    """A rule file that cannot be used; the message names the file and the rule."""


def parse_rules(
    sources: Sequence[tuple[str, str]], settings: ClassifierSettings = ClassifierSettings()
) -> RuleSet:
    """A rule set from (name, TOML text) pairs; later files add to and override earlier ones."""
    categories: dict[str, str] = {}
    defaults: dict[str, Any] = {}
    # Keyed by (target, phrase): a phrase listed again for the same target takes the new weight,
    # so a local file can re-weigh a shipped phrase, or silence it with weight 0.
    phrases: dict[tuple[str, str], Phrase] = {}
    patterns: list[Pattern] = []
    origins: dict[str, str] = {}  # target -> the first rule naming it, for error messages
    for name, text in sources:
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise RulesError(f"{name}: not valid TOML: {exc}") from None
        _merge_file(name, data, categories, defaults, phrases, patterns, origins)
    if not categories:
        raise RulesError("no [categories] defined in any rule file")
    default_category = str(defaults.get("category", next(iter(categories))))
    if default_category not in categories:
        raise RulesError(f"[defaults] category {default_category!r} is not in [categories]")
    for target, where in origins.items():
        kind, _, value = target.partition(":")
        if kind == "category" and value not in categories:
            raise RulesError(f"{where}: target {target!r}: no such category in [categories]")
    return RuleSet(
        categories=tuple(categories),
        category_departments=dict(categories),
        default_category=default_category,
        default_department=str(defaults.get("department", "after_sales")),
        category_threshold=float(defaults.get("category_threshold", 1.0)),
        phrases=tuple(p for p in phrases.values() if p.weight != 0),
        patterns=tuple(patterns),
        settings=settings,
    )


def _merge_file(
    name: str,
    data: dict[str, Any],
    categories: dict[str, str],
    defaults: dict[str, Any],
    phrases: dict[tuple[str, str], Phrase],
    patterns: list[Pattern],
    origins: dict[str, str],
) -> None:
    version = data.get("format", RULES_FORMAT)
    if version != RULES_FORMAT:
        raise RulesError(
            f"{name}: format = {version!r}; this complaintd reads format {RULES_FORMAT}"
        )
    unknown = set(data) - {"format", "defaults", "categories", "rules"}
    if unknown:
        raise RulesError(f"{name}: unknown top-level keys: {', '.join(sorted(unknown))}")
    given_defaults = data.get("defaults", {})
    bad = set(given_defaults) - {"category", "department", "category_threshold"}
    if bad:
        raise RulesError(f"{name}: [defaults]: unknown keys: {', '.join(sorted(bad))}")
    defaults.update(given_defaults)
    for category, info in data.get("categories", {}).items():
        if not isinstance(info, dict) or not isinstance(info.get("department", ""), str):
            raise RulesError(f'{name}: [categories] {category}: expected {{ department = "..." }}')
        categories[category] = info.get("department", categories.get(category, ""))
    for number, rule in enumerate(data.get("rules", []), start=1):
        where = f"{name}: [[rules]] #{number}"
        target, weight = _check_rule(where, rule)
        origins.setdefault(target, where)
        for text in rule.get("phrases", []):
            if not isinstance(text, str) or not text.strip("* "):
                raise RulesError(f"{where}: phrases must be non-empty strings")
            phrase = _phrase(text, target, weight)
            phrases[(target, phrase.key)] = phrase
        for source in rule.get("patterns", []):
            try:
                regex = _pattern(source)
            except (re.error, TypeError) as exc:
                raise RulesError(f"{where}: pattern {source!r}: {exc}") from None
            patterns.append(Pattern(regex, target, weight))


def _pattern(source: Any) -> re.Pattern[str]:
    """Texts are case-folded before matching; a pattern keeps its escapes (\\D, \\S). One in
    lower case already matches them as written; only one with capitals is matched ignoring
    case, which makes the search a third slower."""
    folded = unicodedata.normalize("NFKC", source)
    return re.compile(folded, 0 if folded == folded.casefold() else re.IGNORECASE)


def _check_rule(where: str, rule: Any) -> tuple[str, float]:
    if not isinstance(rule, dict):
        raise RulesError(f"{where}: expected a table")
    unknown = set(rule) - {"target", "weight", "phrases", "patterns", "note"}
    if unknown:
        raise RulesError(f"{where}: unknown keys: {', '.join(sorted(unknown))}")
    target = rule.get("target")
    if not isinstance(target, str) or target.partition(":")[0] not in TARGET_KINDS:
        raise RulesError(
            f"{where}: target must look like 'category:NAME', 'department:NAME', "
            "'severity:LEVEL' or 'major:FLAG'"
        )
    kind, _, value = target.partition(":")
    if not value:
        raise RulesError(f"{where}: target {target!r} names nothing after the colon")
    if kind == "severity" and value not in INTENSITIES[1:]:
        raise RulesError(f"{where}: severity targets are {', '.join(INTENSITIES[1:])}")
    weight = rule.get("weight", 1.0)
    if not isinstance(weight, int | float) or isinstance(weight, bool):
        raise RulesError(f"{where}: weight must be a number")
    return target, float(weight)


def _phrase(text: str, target: str, weight: float) -> Phrase:
    key = normalise(text.rstrip("*"))
    boundary = None
    if re.search(r"[a-z]", key) and not _has_han(key):
        tail = "" if text.endswith("*") else r"(?![a-z0-9])"
        boundary = re.compile(rf"(?<![a-z0-9]){re.escape(key)}{tail}")
    return Phrase(key, text.rstrip("*"), target, weight, boundary)


def _has_han(text: str) -> bool:
    return HAN.search(text) is not None


def normalise(text: str) -> str:
    """Full-width forms folded (ＡＢＣ１２３ -> abc123), case folded, whitespace collapsed."""
    return " ".join(nfkc(text).casefold().split())
