"""Complaint text -> Classification: scoring over a RuleSet (daemon.rules parses the rule text).

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

import re
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from daemon.language import detect_language
from daemon.rules import INTENSITIES, Phrase, normalise

# The [classifier] schema and the parsed rules, named here too for callers that score.
from daemon.rules import ClassifierSettings as ClassifierSettings
from daemon.rules import RulesError as RulesError
from daemon.rules import RuleSet as RuleSet
from daemon.values import Classification, Evidence

# A department, a severity level or a major flag counts once its phrases' weights add up to this.
FIRE_AT = 1.0


@dataclass(frozen=True, slots=True)
class CustomerHistory:
    """What the database knows about the complainant, supplied by the caller."""

    recent_complaints: int = 0  # this customer's earlier tickets within repeat_window_days
    # Other customers' open tickets about the same matter (same vehicle model and fault, ...).
    others_same_matter: int = 0


class CategoryModel(Protocol):
    """A trained model that names a category for each text, with a score."""

    @property
    def name(self) -> str: ...

    def predict(self, texts: Sequence[str]) -> list[tuple[str, float]]: ...


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
