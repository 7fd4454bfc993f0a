"""Complaint text -> Classification, by weighted phrase rules read from data files.

Every rule names a target ("category:service", "department:sales", "severity:strong",
"major:media") and a weight; each phrase or pattern that occurs in the complaint adds its weight
to its target, and the result lists every hit as evidence.

- category: the category with the highest total, if it reaches `category_threshold`
  (ties go to the category listed first); otherwise the default category.
- department: the department with the highest total if it reaches 1.0; otherwise the
  category's department.
- major flags: every flag whose total reaches 1.0, plus the customer's history (repeat, group).
- severity: rules speak in four intensities, general < medium < strong < irrational; an intensity
  is reached when its total reaches 1.0, and any major flag lifts the result to at least
  `major_min_intensity`. The intensity is then placed on the configured scale by position:
  index = ceil(intensity * (len(scale) - 1) / 3), so the dealer scale maps one to one, and a
  bank's low / medium / high gets general -> low, medium -> medium, strong and irrational -> high.
"""

from __future__ import annotations

import logging
import re
import tomllib
import unicodedata
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Protocol

from daemon.charsets import HAN
from daemon.language import detect_language
from daemon.values import Classification, ConfigPath, Evidence

log = logging.getLogger(__name__)

INTENSITIES = ("general", "medium", "strong", "irrational")
TARGET_KINDS = ("category", "department", "severity", "major")
RULES_FORMAT = 1
# A department, a severity level or a major flag counts once its phrases' weights add up to this.
FIRE_AT = 1.0


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
class CustomerHistory:
    """What the database knows about the complainant, supplied by the caller."""

    recent_complaints: int = 0  # this customer's earlier tickets within repeat_window_days
    # Other customers' open tickets about the same matter (same vehicle model and fault, ...).
    others_same_matter: int = 0


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


class CategoryModel(Protocol):
    """A trained model that names a category for each text, with a score."""

    @property
    def name(self) -> str: ...

    def predict(self, texts: Sequence[str]) -> list[tuple[str, float]]: ...


class RulesError(ValueError):
    """A rule file that cannot be used; the message names the file and the rule."""


def shipped_rules_text() -> str:
    return resources.files("daemon").joinpath("data/rules.toml").read_text(encoding="utf-8")


def load_rules(settings: ClassifierSettings = ClassifierSettings()) -> RuleSet:
    """The shipped rules, extended by each file in settings.extra_rules."""
    sources = [("daemon/data/rules.toml", shipped_rules_text())]
    for path in settings.extra_rules:
        try:
            sources.append((str(path), Path(path).read_text(encoding="utf-8")))
        except (OSError, UnicodeDecodeError) as exc:
            raise RulesError(f"{path}: cannot read rule file: {exc}") from None
    rules = parse_rules(sources, settings)
    log.debug(
        "classifier rules: %d phrases and %d patterns from %d files",
        len(rules.phrases),
        len(rules.patterns),
        len(sources),
    )
    return rules


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
                # Texts are case-folded before matching; a pattern keeps its escapes (\D, \S).
                regex = re.compile(unicodedata.normalize("NFKC", source), re.IGNORECASE)
            except (re.error, TypeError) as exc:
                raise RulesError(f"{where}: pattern {source!r}: {exc}") from None
            patterns.append(Pattern(regex, target, weight))


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
    return " ".join(unicodedata.normalize("NFKC", text).casefold().split())


def model_input(subject: str, text: str) -> str:
    """The one string a trained model reads for a complaint."""
    return f"{subject}\n{text}" if subject else text


def classify(
    subject: str,
    text: str,
    rules: RuleSet,
    history: CustomerHistory = CustomerHistory(),
    model: CategoryModel | None = None,
) -> Classification:
    """Category, department, severity, major flags and the evidence for one complaint."""
    predicted = model.predict([model_input(subject, text)])[0] if model is not None else None
    return _classify(subject, text, rules, history, predicted, model.name if model else None)


def classify_many(
    items: Sequence[tuple[str, str]],
    rules: RuleSet,
    model: CategoryModel | None = None,
) -> list[Classification]:
    """classify() for many (subject, text) pairs, asking the model once for all of them."""
    if model is None:
        return [_classify(s, t, rules, CustomerHistory(), None, None) for s, t in items]
    predictions = model.predict([model_input(s, t) for s, t in items])
    return [
        _classify(s, t, rules, CustomerHistory(), p, model.name)
        for (s, t), p in zip(items, predictions, strict=True)
    ]


def _classify(
    subject: str,
    text: str,
    rules: RuleSet,
    history: CustomerHistory,
    predicted: tuple[str, float] | None,
    model_name: str | None,
) -> Classification:
    settings = rules.settings
    hits = find(normalise(f"{subject}\n{text}"), rules)
    totals: dict[str, float] = defaultdict(float)
    for target, _, weight in hits:
        totals[target] += weight

    if predicted is not None:
        category, score = predicted
        category_evidence = [Evidence(f"category:{category}", f"model {model_name}", score)]
    else:
        best = _best(rules.categories, "category", totals, rules.category_threshold)
        category = best or rules.default_category
        category_evidence = []

    department = _best(_values(totals, "department"), "department", totals, FIRE_AT)
    if department is None:
        department = rules.category_departments.get(category) or rules.default_department

    major = _major_flags(totals, history, settings)
    intensity = max(
        (i for i, level in enumerate(INTENSITIES) if totals.get(f"severity:{level}", 0) >= FIRE_AT),
        default=0,
    )
    floor = INTENSITIES.index(settings.major_min_intensity) if major else 0
    severity = scale_level(max(intensity, floor), settings.severity_scale)

    evidence = list(category_evidence)
    for target, phrase, weight in hits:
        kind, _, value = target.partition(":")
        if kind == "category" and predicted is not None:
            continue
        if kind == "severity":
            target = "severity:" + scale_level(INTENSITIES.index(value), settings.severity_scale)
        evidence.append(Evidence(target, phrase, weight))
    evidence.extend(_history_evidence(history, settings))
    if floor > intensity:
        reason = "major complaint: " + ", ".join(major)
        evidence.append(Evidence(f"severity:{severity}", reason, 0.0))

    return Classification(
        category=category,
        department=department,
        severity=severity,
        major=major,
        evidence=tuple(evidence),
        language=detect_language(f"{subject}\n{text}"),
        source=model_name or "rules",
    )


def find(normalised: str, rules: RuleSet) -> list[tuple[str, str, float]]:
    """(target, phrase, weight) for every rule that fires in already-normalised text.

    Within one kind of target the longest phrase wins: a phrase that only occurs inside a
    longer one that also fired is left out, so "设计不合理" counts for product quality and its
    "不合理" not again for service.
    """
    openings = {normalised[i : i + 2] for i in range(len(normalised))} | set(normalised)
    candidates = sorted(i for k in openings & rules.index.keys() for i in rules.index[k])
    fired = [
        p
        for p in (rules.phrases[i] for i in candidates)
        if p.key in normalised and (p.boundary is None or p.boundary.search(normalised))
    ]
    by_kind: dict[str, list[Phrase]] = defaultdict(list)
    for p in fired:
        by_kind[_kind(p.target)].append(p)
    hits: list[tuple[str, str, float]] = []
    for p in fired:
        longer = [
            q.key for q in by_kind[_kind(p.target)] if len(q.key) > len(p.key) and p.key in q.key
        ]
        if longer and not _outside(p.key, longer, normalised):
            continue
        hits.append((p.target, p.shown, p.weight))
    for pattern in rules.patterns:
        match = pattern.regex.search(normalised)
        if match:
            hits.append((pattern.target, match.group(0), pattern.weight))
    return hits


def _kind(target: str) -> str:
    return target.partition(":")[0]


def _outside(key: str, longer: list[str], text: str) -> bool:
    """Whether `key` also occurs somewhere not covered by one of the longer phrases."""
    covered: set[int] = set()
    for other in longer:
        for m in re.finditer(re.escape(other), text):
            covered.update(range(m.start(), m.end()))
    return any(
        not covered.issuperset(range(m.start(), m.end())) for m in re.finditer(re.escape(key), text)
    )


def _values(totals: Mapping[str, float], kind: str) -> list[str]:
    return [t.partition(":")[2] for t in totals if t.startswith(kind + ":")]


def _best(
    names: Iterable[str], kind: str, totals: Mapping[str, float], threshold: float
) -> str | None:
    best, best_score = None, 0.0
    for name in names:
        score = totals.get(f"{kind}:{name}", 0.0)
        if score > best_score and score >= threshold:
            best, best_score = name, score
    return best


def _major_flags(
    totals: Mapping[str, float], history: CustomerHistory, settings: ClassifierSettings
) -> tuple[str, ...]:
    flags = {name for name in _values(totals, "major") if totals[f"major:{name}"] >= FIRE_AT}
    if history.recent_complaints >= settings.repeat_min_earlier:
        flags.add("repeat")
    if history.others_same_matter + 1 >= settings.group_min_customers:
        flags.add("group")
    return tuple(sorted(flags))


def _history_evidence(history: CustomerHistory, settings: ClassifierSettings) -> list[Evidence]:
    out = []
    if history.recent_complaints >= settings.repeat_min_earlier:
        out.append(
            Evidence(
                "major:repeat",
                f"{history.recent_complaints} earlier complaint(s) within "
                f"{settings.repeat_window_days} days",
                float(history.recent_complaints),
            )
        )
    if history.others_same_matter + 1 >= settings.group_min_customers:
        out.append(
            Evidence(
                "major:group",
                f"{history.others_same_matter + 1} customers about the same matter",
                float(history.others_same_matter + 1),
            )
        )
    return out


def scale_level(intensity: int, scale: Sequence[str]) -> str:
    """The level of `scale` (mildest first) for an index into INTENSITIES."""
    top = len(INTENSITIES) - 1
    index = -(-intensity * (len(scale) - 1) // top)  # ceiling division: round towards severe
    return scale[min(len(scale) - 1, index)]
