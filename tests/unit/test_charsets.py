"""Charset labels, superset codecs and guessing undeclared 8-bit text."""

from __future__ import annotations

import pytest

from daemon.charsets import codec_for, decode_bytes, guess, latin_read_as_han

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


# -- wrong guesses -----------------------------------------------------------------------------

GERMAN = "Die Hasen und die Frösche klagten über ihre mißliche Lage"


def test_latin_text_under_a_gb2312_label_is_not_read_as_han() -> None:
    found = decode_bytes(GERMAN.encode("latin-1"), "gb2312")
    assert found.text == GERMAN
    assert found.note.startswith("charset gb2312 does not fit; read as cp125")


def test_latin_text_under_a_big5_label_is_not_read_as_han() -> None:
    assert decode_bytes(GERMAN.encode("latin-1"), "big5").text == GERMAN


def test_undeclared_latin_text_is_never_guessed_as_han() -> None:
    text = "Die Hasen und die Frösche; Nivåer"
    assert guess(text.encode("latin-1")).text == text


def test_han_inside_latin_words_is_recognised_as_a_wrong_reading() -> None:
    assert latin_read_as_han("Die Hasen und die Fr岣he")
    assert not latin_read_as_han("我的VIN码是LSVAB123，大众Polo车刹车异响")


@pytest.mark.parametrize("label", ["UTF-7", "utf7", "unicode-1-1-utf-7", "x-unicode20utf7"])
def test_utf7_labels_are_read_with_the_utf7_codec(label: str) -> None:
    found = decode_bytes(b"Die Hasen und die Fr+APY-sche", label)
    assert (found.text, found.charset) == ("Die Hasen und die Frösche", "utf-7")


def test_8bit_bytes_under_a_7bit_utf7_label_are_detected() -> None:
    found = decode_bytes("Die Hasen und die Frösche".encode("latin-1"), "utf-7")
    assert (found.text, found.note) == ("Die Hasen und die Frösche", "charset utf-7 read as cp1252")


def test_short_gbk_names_of_everyday_characters_are_not_taken_for_big5() -> None:
    # Two characters give little evidence: a name with a rarer character (丁婷) can still read
    # as Big5 when nothing declares its charset. Encoded words declare it: see test_decoding.
    for name in ("姚栋", "谭娥", "郑浩", "刘德华", "王建国"):
        assert guess(name.encode("gbk")).text == name


def test_short_big5_words_are_not_taken_for_gbk() -> None:
    for word in ("換貨", "請問", "謝謝", "情況："):
        assert guess(word.encode("big5")).text == word


@pytest.mark.parametrize("hint", ["iso-8859-1", "windows-1252", "us-ascii"])
def test_big5_and_gbk_bytes_under_a_western_hint_are_not_latin1_debris(hint: str) -> None:
    for text, codec in (("（LTE）網路", "big5"), ("粘貼扣", "big5"), ("套餐不合理→", "gbk")):
        assert guess(text.encode(codec), hint).text == text


def test_big5_bytes_under_a_latin1_label_are_not_latin1_debris() -> None:
    assert decode_bytes("大家說".encode("big5"), "iso-8859-1").text == "大家說"


def test_one_sign_in_latin1_text_stays_western() -> None:
    assert decode_bytes("N° 1467829, 5 €".encode("cp1252"), "iso-8859-1").text == "N° 1467829, 5 €"


# -- stray 8-bit runs in UTF-8 ---------------------------------------------------------------------


def test_latin1_paragraph_in_a_utf8_body_is_read_as_latin1() -> None:
    data = (COMPLAINT + "\n").encode() + "Grüße aus Köln, schöne Grüße\n".encode("latin-1")
    found = decode_bytes(data + "谢谢".encode(), "utf-8")
    assert found.text == COMPLAINT + "\nGrüße aus Köln, schöne Grüße\n谢谢"
    assert found.note == "charset utf-8: 8-bit lines read as cp1252"


def test_latin1_paragraph_in_an_english_utf8_body_is_read_as_latin1() -> None:
    data = "Hello — thanks\n".encode() + "Grüße aus Köln\n".encode("latin-1")
    assert "\ufffd" not in decode_bytes(data, "utf-8").text


def test_gbk_paragraph_in_a_utf8_body_is_read_as_gbk() -> None:
    data = (COMPLAINT + "\n").encode() + "投诉：刹车异响，四个月没人处理\n".encode("gbk")
    assert decode_bytes(data, "utf-8").text == COMPLAINT + "\n投诉：刹车异响，四个月没人处理\n"


def test_stray_latin1_letter_inside_a_utf8_line_is_read_as_latin1() -> None:
    data = "刹车异响，去了三次 caf".encode() + b"\xe9 " + "都没修好，太差了".encode()
    assert decode_bytes(data, "utf-8").text == "刹车异响，去了三次 café 都没修好，太差了"


def test_utf8_character_cut_short_in_utf8_text_is_marked_not_guessed() -> None:
    data = "Картинка с очень длинным именем".encode()[:-1] + b"\n" + "и ещё".encode()
    found = decode_bytes(data, "utf-8")
    assert found.text.startswith("Картинка с очень длинным име") and "\ufffd" in found.text
