"""The one normalisation names and complaint text share before they are compared."""

from __future__ import annotations

import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st

from daemon import language
from daemon.language import normalise_text


@pytest.mark.parametrize(
    "invisible",
    [
        "\u200b",  # zero-width space
        "\u200c",  # zero-width non-joiner
        "\u200d",  # zero-width joiner
        "\u2060",  # word joiner
        "\ufeff",  # zero-width no-break space (BOM)
        "\u00ad",  # soft hyphen
        "\u180e",  # Mongolian vowel separator
        "\u200e",  # left-to-right mark
        "\u202e",  # right-to-left override
        "\ufe0f",  # variation selector
        "\u034f",  # combining grapheme joiner
        "\u3164",  # Hangul filler
        "\U000e0041",  # tag latin capital A
    ],
)
def test_invisible_characters_are_removed(invisible: str) -> None:
    assert normalise_text(f"郑{invisible}浩") == "郑浩"


def test_several_invisible_characters_in_a_row_are_all_removed() -> None:
    assert normalise_text("郑\u200b\u00ad\u2060\ufeff浩") == "郑浩"


def test_full_width_letters_digits_and_signs_become_ascii() -> None:
    assert normalise_text("ＫＥＶＩＮ　ｗａｎｇ＠ｄｅａｌｅｒ．ｔｅｓｔ １２３") == (
        "kevin wang@dealer.test 123"
    )


def test_traditional_characters_of_names_become_simplified() -> None:
    assert normalise_text("鄭浩 劉德華 趙剛") == "郑浩 刘德华 赵刚"


def test_compatibility_ideographs_and_radicals_become_unified_ideographs() -> None:
    assert normalise_text("\uf900\u2f26") == "\u8c48\u5b50"  # 豈 (compatibility), ⼦ (radical)


def test_case_is_folded() -> None:
    assert normalise_text("Kevin ZHENG Straße") == "kevin zheng strasse"


def test_accent_split_by_an_invisible_character_is_composed() -> None:
    assert normalise_text("Jose\u200b\u0301") == "jos\u00e9"


def test_plain_simplified_text_is_unchanged() -> None:
    text = "服务经理郑浩一直推脱不处理"
    assert normalise_text(text) == text


_TRICKY = st.sampled_from(
    [*map(chr, language._INVISIBLE), *map(chr, language._TO_SIMPLIFIED), "王", "ｗ", "Ａ", " "]
)


@given(st.lists(_TRICKY | st.characters(), max_size=30).map("".join))
def test_no_invisible_nor_paired_traditional_character_survives(text: str) -> None:
    folded = normalise_text(text)
    assert not set(map(ord, folded)) & (language._INVISIBLE.keys() | language._TO_SIMPLIFIED.keys())


@given(
    st.lists(
        st.sampled_from("，：；！？（）。、 \u0301\u3000ａＡ王") | st.characters(), max_size=40
    )
)
def test_nfkc_is_the_standard_normalisation(chars: list[str]) -> None:
    text = "".join(chars)
    assert language.nfkc(text) == unicodedata.normalize("NFKC", text)
