"""Language detection: Simplified vs Traditional Chinese vs English, and mixed text."""

from __future__ import annotations

import pytest

from daemon.language import CHARACTER_PAIRS, SIMPLIFIED_ONLY, TRADITIONAL_ONLY, detect_language


@pytest.mark.parametrize(
    "text",
    [
        "我的车刹车失灵了，4S店一直不处理。",
        "发动机异响，维修后还是没有解决。",
        "信用卡年费被乱扣，客服态度很差。",
    ],
)
def test_simplified_chinese_is_zh_cn(text: str) -> None:
    assert detect_language(text) == "zh-CN"


@pytest.mark.parametrize(
    "text",
    [
        "我的車剎車失靈了，維修後還是一樣。",
        "引擎異音，服務人員態度很差，我要提告。",
        "信用卡年費被亂扣，客服態度很差。",
    ],
)
def test_traditional_chinese_is_zh_tw(text: str) -> None:
    assert detect_language(text) == "zh-TW"


def test_english_is_en() -> None:
    assert detect_language("The brakes failed twice and the dealer ignores my calls.") == "en"


def test_english_mail_quoting_a_chinese_store_name_is_en() -> None:
    text = "Brake failure on my BMW, the 4S店 ignores me and nobody calls back."
    assert detect_language(text) == "en"


def test_chinese_mail_with_model_names_and_a_link_is_chinese() -> None:
    text = "宝马X5 xDrive30Li 的 iDrive 死机，详见 https://example.com/report/very/long/path"
    assert detect_language(text) == "zh-CN"


def test_mostly_traditional_text_with_one_simplified_character_is_zh_tw() -> None:
    assert detect_language("這輛車的變速箱頓挫，问題一直沒有處理。") == "zh-TW"


def test_e_mail_addresses_do_not_count_as_english() -> None:
    assert detect_language("请联系 zhang.wei.customer.service@example.com.cn 处理退款") == "zh-CN"


def test_text_without_letters_takes_the_default() -> None:
    assert detect_language("12345 ……", default="zh-TW") == "zh-TW"


def test_chinese_without_script_clues_takes_a_chinese_default() -> None:
    assert detect_language("不好", default="zh-TW") == "zh-TW"


def test_chinese_without_script_clues_and_an_english_default_is_zh_cn() -> None:
    assert detect_language("不好", default="en") == "zh-CN"


def test_character_table_pairs_are_distinct_and_the_sets_disjoint() -> None:
    pairs = CHARACTER_PAIRS.split()
    assert all(len(p) == 2 and p[0] != p[1] for p in pairs)
    assert not SIMPLIFIED_ONLY & TRADITIONAL_ONLY
