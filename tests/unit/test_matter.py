"""The matter a complaint is about: what several customers' complaints must share to be a group."""

from __future__ import annotations

from daemon.matter import group_flags, matter_key
from daemon.values import Classification, Evidence


def _c(*phrases: tuple[str, float]) -> Classification:
    evidence = tuple(Evidence("category:product_quality", p, w) for p, w in phrases)
    return Classification("product_quality", "after_sales", "general", (), evidence, "zh-CN")


def test_a_model_and_its_strongest_fault_phrase_make_the_key() -> None:
    c = _c(("车门", 0.6), ("刹车", 0.9))
    assert matter_key("", "星越L 刹车和车门都有问题", c, ("星越L",), ()) == "星越l|刹车"


def test_no_model_named_no_matter() -> None:
    assert matter_key("", "刹车异响", _c(("刹车", 0.9)), ("星越L",), ()) == ""


def test_a_model_without_a_fault_is_no_matter() -> None:
    assert matter_key("", "星越L 的销售态度差", _c(), ("星越L",), ()) == ""


def test_a_configured_matter_wins_whatever_else_is_named() -> None:
    c = _c(("刹车", 0.9))
    key = matter_key("召回", "星越L 刹车 2026款刹车召回", c, ("星越L",), ("2026款刹车召回",))
    assert key == "matter:2026款刹车召回"


def test_nothing_configured_no_matter() -> None:
    assert matter_key("", "星越L 刹车", _c(("刹车", 0.9)), (), ()) == ""


def test_a_blank_model_name_matches_nothing() -> None:
    assert matter_key("", "刹车", _c(("刹车", 0.9)), ("  ",), ("",)) == ""


def test_an_earlier_ticket_not_yet_major_becomes_a_group_complaint() -> None:
    assert group_flags(()) == ("group",)


def test_an_earlier_ticket_already_major_keeps_its_flags_and_is_not_reported_again() -> None:
    assert group_flags(("media",)) is None
