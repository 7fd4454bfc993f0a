"""Charset labels, superset codecs and guessing undeclared 8-bit text."""

from __future__ import annotations

import pytest

from daemon.charsets import codec_for, decode_bytes, guess

COMPLAINT = "你们的售后服务太差了，车辆保养后发动机异响，一直没有人处理。"
TRADITIONAL = "你們的售後服務太差了，車輛保養後發動機異響，一直沒有人處理。"


# -- labels ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("label", ["gb2312", "GBK", "x-gbk", "cp936", "euc-cn", '"GB2312"'])
def test_gb_family_labels_read_as_gb18030(label: str) -> None:
    assert codec_for(label) == "gb18030"


@pytest.mark.parametrize("label", ["big5", "Big5-HKSCS", "cp950"])
def test_big5_family_labels_read_as_big5_hkscs(label: str) -> None:
    assert codec_for(label) == "big5hkscs"


@pytest.mark.parametrize("label", ["base64", "rot13", "x-unknown", "unknown-8bit", "", "nonsense"])
def test_labels_that_name_no_charset_give_no_codec(label: str) -> None:
    assert codec_for(label) is None


def test_gb2312_label_reads_gbk_and_gb18030_only_characters_and_notes_it() -> None:
    text = "朱镕基说䶮字和𠀀字"
    found = decode_bytes(text.encode("gb18030"), "gb2312")
    assert (found.text, found.note) == (text, "charset gb2312 read as gb18030")


def test_plain_gb2312_text_needs_no_note() -> None:
    found = decode_bytes(COMPLAINT.encode("gb2312"), "gb2312")
    assert (found.text, found.note) == (COMPLAINT, "")


def test_big5_label_reads_hkscs_characters() -> None:
    text = "佢講嘅嘢我聽唔明"
    assert decode_bytes(text.encode("big5hkscs"), "big5").text == text


def test_utf8_bytes_labelled_gb2312_are_read_as_utf8() -> None:
    found = decode_bytes(COMPLAINT.encode("utf-8"), "gb2312")
    assert (found.text, found.charset) == (COMPLAINT, "utf-8")


def test_short_gbk_text_that_happens_to_be_valid_utf8_stays_gbk() -> None:
    assert "小".encode("gbk").decode("utf-8") == "С"  # the bytes d0 a1 are Cyrillic in UTF-8
    assert decode_bytes("小".encode("gbk"), "gbk").text == "小"


def test_big5_bytes_labelled_gb2312_are_read_as_big5() -> None:
    found = decode_bytes(TRADITIONAL.encode("big5"), "gb2312")
    assert (found.text, found.charset) == (TRADITIONAL, "big5hkscs")


def test_gbk_bytes_labelled_iso_8859_1_are_read_as_chinese() -> None:
    assert decode_bytes(COMPLAINT.encode("gbk"), "iso-8859-1").text == COMPLAINT


def test_latin1_label_keeps_western_text() -> None:
    assert decode_bytes("Grüße aus Köln, café".encode("latin-1"), "iso-8859-1").text == (
        "Grüße aus Köln, café"
    )


def test_unknown_label_falls_back_to_detection_with_a_note() -> None:
    found = decode_bytes(COMPLAINT.encode("gbk"), "x-made-up")
    assert found.text == COMPLAINT
    assert found.note == "unknown charset 'x-made-up' read as gb18030"


def test_utf8_label_on_gbk_bytes_is_corrected() -> None:
    found = decode_bytes(COMPLAINT.encode("gbk"), "utf-8")
    assert (found.text, found.note) == (COMPLAINT, "charset utf-8 does not fit; read as gb18030")


def test_a_few_damaged_bytes_keep_the_declared_charset() -> None:
    data = COMPLAINT.encode("gbk") * 3 + b"\xff"
    found = decode_bytes(data, "gbk")
    assert found.text.startswith(COMPLAINT) and found.charset == "gb18030"
    assert "replaced" in found.note


def test_iso_2022_jp_is_decoded() -> None:
    text = "日本語のメール"
    assert decode_bytes(text.encode("iso2022_jp"), "iso-2022-jp").text == text


# -- undeclared 8-bit text -------------------------------------------------------------------------


def test_undeclared_gbk_is_guessed_as_gb18030_with_a_note() -> None:
    found = guess(COMPLAINT.encode("gbk"))
    assert (found.text, found.note) == (COMPLAINT, "undeclared 8-bit text read as gb18030")


def test_undeclared_big5_is_guessed_as_big5() -> None:
    assert guess(TRADITIONAL.encode("big5")).text == TRADITIONAL


def test_short_undeclared_gbk_subject_is_guessed() -> None:
    assert guess("投诉：刹车异响".encode("gbk")).text == "投诉：刹车异响"


def test_short_undeclared_big5_bounce_word_is_guessed() -> None:
    assert guess("退信".encode("big5")).text == "退信"


def test_undeclared_utf8_is_read_strictly_first() -> None:
    assert guess(COMPLAINT.encode("utf-8")).charset == "utf-8"


def test_short_undeclared_latin1_is_not_taken_for_chinese() -> None:
    assert guess("Café Müller".encode("latin-1")).text == "Café Müller"


def test_utf8_cut_mid_character_stays_utf8() -> None:
    data = "Картинка с очень длинным именем".encode()[:-1]
    assert guess(data).text.startswith("Картинка с очень длинным")


def test_hint_reads_japanese_bytes_that_could_pass_for_chinese() -> None:
    text = "お世話になっております。"
    assert guess(text.encode("cp932"), hint="shift_jis").text == text


def test_utf16_with_bom_is_read() -> None:
    assert guess("投诉".encode("utf-16")).text == "投诉"
