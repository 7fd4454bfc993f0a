"""Rule files: TOML text -> RuleSet (daemon.rules, pure), and reading them (daemon.rulefiles)."""

from __future__ import annotations

from pathlib import Path

import pytest

from daemon.classify import classify
from daemon.rulefiles import load_rules, shipped_rules_text
from daemon.rules import ClassifierSettings, RulesError, parse_rules

# -- parsing rule text --------------------------------------------------------------------------


def test_extra_rule_file_adds_a_phrase_that_changes_the_category(tmp_path: Path) -> None:
    extra = tmp_path / "local.toml"
    extra.write_text(
        '[[rules]]\ntarget = "category:service"\nweight = 3.0\nphrases = ["取送车"]\n',
        encoding="utf-8",
    )
    text = "取送车的时候发动机异响"
    assert classify("", text, load_rules()).category == "product_quality"
    rules = load_rules(ClassifierSettings(extra_rules=(extra,)))
    assert classify("", text, rules).category == "service"


def test_extra_rule_file_adds_a_category(tmp_path: Path) -> None:
    extra = tmp_path / "local.toml"
    extra.write_text(
        '[categories]\ninsurance = { department = "sales" }\n'
        '[[rules]]\ntarget = "category:insurance"\nweight = 5\n'
        'phrases = ["续保"]\n',
        encoding="utf-8",
    )
    result = classify("", "续保的保费算错了", load_rules(ClassifierSettings(extra_rules=(extra,))))
    assert (result.category, result.department) == ("insurance", "sales")


def test_weight_zero_silences_a_shipped_phrase() -> None:
    rules = parse_rules(
        [
            ("shipped", shipped_rules_text()),
            (
                "local",
                """
        [[rules]]
        target = "major:media"
        weight = 0
        phrases = ["抖音"]
    """,
            ),
        ]
    )
    assert classify("", "我会把视频发到抖音", rules).major == ()


def test_later_default_category_overrides_the_shipped_one() -> None:
    rules = parse_rules(
        [("shipped", shipped_rules_text()), ("local", '[defaults]\ncategory = "service"\n')]
    )
    assert classify("", "您好", rules).category == "service"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[[rules]]\ntarget = "colour:red"\nphrases = ["x"]\n', "target must look like"),
        ('[[rules]]\ntarget = "category:nope"\nphrases = ["x"]\n', "no such category"),
        ('[[rules]]\ntarget = "severity:high"\nphrases = ["x"]\n', "severity targets are"),
        ('[[rules]]\ntarget = "major:x"\npatterns = ["(unclosed"]\n', "pattern"),
        ('[[rules]]\ntarget = "major:x"\nphrase = ["typo"]\n', "unknown keys"),
        ('[[rules]]\ntarget = "major:x"\nweight = "heavy"\nphrases = ["x"]\n', "weight"),
        ("format = 2\n", "format"),
        ("[[rules]\n", "not valid TOML"),
    ],
)
def test_bad_rule_file_is_refused_with_file_and_reason(text: str, message: str) -> None:
    with pytest.raises(RulesError, match=message) as caught:
        parse_rules([("shipped", shipped_rules_text()), ("local.toml", text)])
    assert str(caught.value).startswith("local.toml")


def test_missing_extra_rule_file_is_reported(tmp_path: Path) -> None:
    with pytest.raises(RulesError, match="cannot read"):
        load_rules(ClassifierSettings(extra_rules=(tmp_path / "missing.toml",)))


def test_pattern_keeps_its_uppercase_escapes() -> None:
    rules = parse_rules(
        [
            (
                "local",
                r"""
        [categories]
        other = {}
        [[rules]]
        target = "major:code"
        patterns = ['工单\D\d{4}']
    """,
            )
        ]
    )
    assert classify("", "工单#1234", rules).major == ("code",)


@pytest.mark.parametrize("pattern", ["recalled (twice|again)", "RECALLED (Twice|AGAIN)"])
def test_a_pattern_matches_the_text_whatever_the_case_of_either(pattern: str) -> None:
    rule = f"[[rules]]\ntarget = 'major:recall'\npatterns = ['{pattern}']\n"
    source = "[categories]\nother = {}\n" + rule
    rules = parse_rules([("local", source)])
    assert classify("", "My car was Recalled AGAIN last week", rules).major == ("recall",)
