"""Reads the classifier's rule files: the shipped daemon/data/rules.toml, then [classifier]
extra_rules in order. Parsing and checking them is daemon.rules' job."""

from __future__ import annotations

import logging
from importlib import resources
from pathlib import Path

from daemon.rules import ClassifierSettings, RulesError, RuleSet, parse_rules

log = logging.getLogger(__name__)

SHIPPED = "daemon/data/rules.toml"
_DEFAULTS = ClassifierSettings()


def shipped_rules_text() -> str:
    return resources.files("daemon").joinpath("data/rules.toml").read_text(encoding="utf-8")


def load_rules(settings: ClassifierSettings = _DEFAULTS) -> RuleSet:
    """The shipped rules, extended by each file in settings.extra_rules."""
    sources = [(SHIPPED, shipped_rules_text())]
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
