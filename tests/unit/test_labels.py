"""Every key staff mail can show has a word in every shipped language; times carry their zone."""

from __future__ import annotations

import tomllib
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from daemon.acting import MARKED_BY_STAFF
from daemon.clocks import ClockKind, UrgencySettings
from daemon.labels import KINDS, LabelError, Labels, utc_offset
from daemon.lifecycle import Event, Status
from daemon.org import DEFAULT_ROLES
from daemon.rules import INTENSITIES

ROOT = Path(__file__).resolve().parents[2]
TEMPLATES = ROOT / "templates"
LANGUAGES = ("zh-CN", "zh-TW", "en")
SHANGHAI = ZoneInfo("Asia/Shanghai")


def _rule_keys() -> dict[str, set[str]]:
    """Categories, departments, severities and major flags the shipped rules can produce."""
    rules = tomllib.loads((ROOT / "daemon/data/rules.toml").read_text(encoding="utf-8"))
    found: dict[str, set[str]] = {"category": set(), "department": set(), "severity": set()}
    found["major"] = {"repeat", "group"}  # raised from the customer's history, not a phrase
    for category, spec in rules["categories"].items():
        found["category"].add(category)
        found["department"].add(spec["department"])
    found["category"].add(rules["defaults"]["category"])
    found["department"].add(rules["defaults"]["department"])
    for rule in rules["rules"]:
        kind, _, value = rule["target"].partition(":")
        found[kind].add(value)
    return found


def produced() -> dict[str, set[str]]:
    keys = _rule_keys()
    keys["severity"] |= {*INTENSITIES, *UrgencySettings().levels}
    keys["major"].add(MARKED_BY_STAFF)
    keys["department"].add("customer_care")  # the care manager's own department in [org.people]
    keys["clock"] = {k.value for k in ClockKind}
    keys["event"] = {e.value for e in Event}
    keys["status"] = {s.value for s in Status}
    keys["role"] = {r.key for r in DEFAULT_ROLES}
    keys["zone"] = {"Asia/Shanghai"}  # the default [service] timezone
    return keys


def shipped(language: str) -> Labels:
    path = TEMPLATES / f"labels.{language}.toml"
    return Labels.from_table(tomllib.loads(path.read_text(encoding="utf-8")), str(path))


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("kind", KINDS)
def test_every_key_the_daemon_produces_has_a_word_in_every_shipped_language(
    kind: str, language: str
) -> None:
    table = shipped(language).words[kind]
    assert sorted(produced()[kind] - set(table)) == []


@pytest.mark.parametrize("language", ["zh-CN", "zh-TW"])
@pytest.mark.parametrize("kind", ["category", "department", "major", "clock", "event"])
def test_chinese_words_are_not_the_keys(kind: str, language: str) -> None:
    table = shipped(language).words[kind]
    assert [key for key, word in table.items() if word == key or word.isascii()] == []


def test_beijing_time_in_chinese_is_month_day_and_the_zone_named() -> None:
    at = datetime(2026, 12, 1, 2, 30, tzinfo=UTC).astimezone(SHANGHAI)
    assert shipped("zh-CN").moment(at) == "12月1日 10:30（北京时间）"
    assert shipped("zh-TW").moment(at) == "12月1日 10:30（北京時間）"


def test_beijing_time_in_english_names_the_zone_and_its_offset() -> None:
    at = datetime(2026, 12, 1, 10, 30, tzinfo=SHANGHAI)
    assert shipped("en").moment(at) == "1 Dec 10:30 (Beijing time, UTC+08:00)"


def test_an_unnamed_zone_is_shown_by_its_offset() -> None:
    at = datetime(2026, 12, 1, 10, 30, tzinfo=ZoneInfo("Asia/Tokyo"))
    assert shipped("zh-CN").moment(at) == "12月1日 10:30（UTC+09:00）"
    assert shipped("en").moment(at) == "1 Dec 10:30 (UTC+09:00)"


def test_a_negative_offset_keeps_its_sign_and_minutes() -> None:
    assert utc_offset(timedelta(hours=-3, minutes=-30)) == "UTC-03:30"
    at = datetime(2026, 12, 1, 10, 30, tzinfo=timezone(timedelta(hours=5, minutes=45)))
    assert Labels().moment(at) == "2026-12-01 10:30 (UTC+05:45)"


def test_a_missing_word_is_the_key_itself() -> None:
    assert shipped("zh-CN").word("a_new_category", "category") == "a_new_category"


def test_a_section_the_table_does_not_know_is_refused() -> None:
    with pytest.raises(LabelError, match="categories"):
        Labels.from_table({"categories": {"service": "服务"}}, "labels.zh-CN.toml")


def test_months_must_be_twelve() -> None:
    with pytest.raises(LabelError, match="months"):
        Labels.from_table({"time": {"months": ["Jan"]}}, "labels.en.toml")
