"""Header fields (RFC 2047, raw 8-bit, RFC 6532), RFC 2231 parameters, message ids, HTML."""

from __future__ import annotations

import base64

import pytest

from daemon.decoding import (
    Param,
    attachment_text,
    clean_text,
    decode_header,
    decode_words,
    html_to_text,
    message_id,
    message_ids,
    meta_charset,
    param_text,
    split_params,
)
from tests.support.names import chinese_names


def raw_header(data: bytes) -> str:
    """A header value as the stdlib parser keeps it: 8-bit bytes as surrogates."""
    return data.decode("ascii", "surrogateescape")


# -- header fields ---------------------------------------------------------------------------------


def test_encoded_word_split_mid_character_is_joined_before_decoding() -> None:
    # 刹车 is e5 88 b9 e8 bd a6 in UTF-8; the second character is split across two words.
    words = "=?utf-8?B?5Yi5?= =?utf-8?Q?=E8=BD?= =?utf-8?Q?=A6?="
    assert decode_header(words).text == "刹车"


def test_whitespace_between_encoded_words_is_dropped_and_text_around_kept() -> None:
    assert decode_words("Re: =?gbk?B?zbbL3w==?= =?gbk?B?0rvPwg==?= now")[0] == "Re: 投诉一下 now"


def test_encoded_word_in_wrong_charset_is_corrected() -> None:
    text, notes = decode_words("=?iso-8859-1?B?xr2wsg==?=")
    assert text == "平安"
    assert notes == ("charset iso-8859-1 read as gb18030",)


def test_q_encoded_big5_with_literal_underscore_second_byte() -> None:
    # 起 is 0xB0 0x5F in Big5; a careless encoder leaves that "_" unescaped.
    assert decode_header("=?big5?Q?=A4@=B0_=A8=D3?=").text == "一起來"


def test_raw_8bit_gbk_subject_is_decoded() -> None:
    assert decode_header(raw_header("投诉：发动机异响".encode("gbk"))).text == "投诉：发动机异响"


def test_raw_8bit_big5_header_follows_the_hint() -> None:
    value = raw_header("我知道你需要".encode("big5"))
    assert decode_header(value, hint="big5").text == "我知道你需要"


def test_rfc6532_utf8_header_is_read() -> None:
    value = "张伟 <zhang@example.cn>"
    assert decode_header(raw_header(value.encode())).text == value


def test_folded_header_is_unfolded_into_one_line() -> None:
    assert decode_header("Brakes squeal\r\n  after the\n\tservice").text == (
        "Brakes squeal after the service"
    )


def test_undecodable_encoded_word_is_left_as_written() -> None:
    assert decode_header("=?utf-8?B?!!!?=").text == "=?utf-8?B?!!!?="


# -- MIME parameters -------------------------------------------------------------------------------


def test_split_params_reads_quoted_and_bare_values() -> None:
    main, params = split_params('Text/Plain; charset="GBK"; format=flowed')
    assert main == "text/plain"
    assert params["charset"].data == b"GBK" and params["format"].data == b"flowed"


def test_rfc2231_continuations_with_charset_are_joined_and_decoded() -> None:
    value = "attachment; filename*0*=gbk''%B1%A3%D1%F8; filename*1*=%B5%A5.pdf"
    _, params = split_params(value)
    assert param_text(params["filename"]).text == "保养单.pdf"


def test_rfc2231_utf8_filename_is_decoded() -> None:
    _, params = split_params("attachment; filename*=UTF-8''%E7%85%A7%E7%89%87.jpg")
    assert param_text(params["filename"]).text == "照片.jpg"


def test_rfc2047_word_inside_a_quoted_filename_is_decoded() -> None:
    _, params = split_params('attachment; filename="=?gb2312?B?1dXGrA==?=.jpg"')
    assert param_text(params["filename"]).text == "照片.jpg"


def test_raw_8bit_gbk_filename_is_decoded() -> None:
    _, params = split_params(raw_header('attachment; filename="维修发票.pdf"'.encode("gbk")))
    assert param_text(params["filename"]).text == "维修发票.pdf"


def test_unclosed_quote_still_yields_the_value() -> None:
    _, params = split_params('attachment; filename="report.pdf')
    assert params["filename"] == Param(b"report.pdf")


# -- message ids -----------------------------------------------------------------------------------


def test_message_id_loses_angle_brackets_and_folding_whitespace() -> None:
    assert message_id(" <abc.123@\r\n mail.example.cn>") == "abc.123@mail.example.cn"


@pytest.mark.parametrize("value", ["", "   ", "<>", "<  >", "<<>>"])
def test_empty_message_id_is_none(value: str) -> None:
    assert message_id(value) is None


def test_message_ids_skip_junk_between_ids_and_drop_repeats() -> None:
    value = '<a@x.cn> (comment) "junk" <b@y.cn>,<a@x.cn>\r\n\t<c@z.cn>'
    assert message_ids(value) == ("a@x.cn", "b@y.cn", "c@z.cn")


def test_unbracketed_ids_from_sloppy_clients_are_kept() -> None:
    assert message_ids("a@x.cn b@y.cn") == ("a@x.cn", "b@y.cn")


def test_a_long_msg_id_folded_into_encoded_words_is_read() -> None:
    # What Python's email package writes when a reply's In-Reply-To is longer than a line.
    ident = "t.ts-202611-0001.k1.aheubgr36grrwilkhl3ik@1247877d3cf344ebba02b7a14d333abc.example"
    value = (
        "=?utf-8?q?=3Ct=2Ets-202611-0001=2Ek1=2Eaheubgr36grrwilkhl3ik?=\r\n"
        " =?utf-8?q?=401247877d3cf344ebba02b7a14d333abc=2Eexample=3E?="
    )
    assert message_ids(value) == (ident,)


# -- HTML and text ---------------------------------------------------------------------------------


def test_html_to_text_drops_scripts_and_styles() -> None:
    markup = (
        "<html><head><style>p{color:red}</style><script>alert('x')</script></head>"
        "<body><p>刹车异响</p><p>请尽快处理</p></body></html>"
    )
    text = html_to_text(markup)
    assert "刹车异响" in text and "请尽快处理" in text
    assert "alert" not in text and "color" not in text


def test_html_nested_deeper_than_lxml_follows_still_gives_its_words() -> None:
    markup = "<style>p{}</style>" + "<div>" * 2000 + "刹车异响" + "</div>" * 2000
    assert html_to_text(markup) == "刹车异响"


def test_html_with_xml_declaration_is_converted() -> None:
    markup = '<?xml version="1.0" encoding="utf-8"?><html><body>好</body></html>'
    assert html_to_text(markup) == "好"


def test_meta_charset_is_found_in_either_form() -> None:
    assert meta_charset(b'<meta charset="gb2312">') == "gb2312"
    assert meta_charset(b'<META http-equiv="Content-Type" content="text/html; charset=big5">') == (
        "big5"
    )


def test_clean_text_normalises_line_ends_and_trims_blank_edges() -> None:
    assert clean_text("\r\n\r\nline one\r\nline two\rthree\x00  \r\n\r\n") == (
        "line one\nline two\nthree"
    )


# -- declared charsets are kept ------------------------------------------------------------------


@pytest.mark.parametrize("label", ["gb2312", "GB2312", "gbk", "gb18030"])
def test_gb_encoded_words_are_never_reread_as_big5(label: str) -> None:
    wrong = []
    for name in chinese_names(2000):
        word = f"=?{label}?B?{base64.b64encode(name.encode('gb2312')).decode()}?="
        text, _ = decode_words(word)
        if text != name:
            wrong.append((name, text))
    assert wrong == []


def test_big5_encoded_word_is_read_as_big5() -> None:
    for name in ("鄭浩", "劉德華", "陳大文", "換貨"):
        word = f"=?big5?B?{base64.b64encode(name.encode('big5')).decode()}?="
        assert decode_words(word)[0] == name


def test_encoded_word_that_does_not_decode_in_its_charset_is_still_read() -> None:
    word = f"=?gb2312?B?{base64.b64encode('你們的售後服務太差了'.encode('big5')).decode()}?="
    assert decode_words(word)[0] == "你們的售後服務太差了"


@pytest.mark.parametrize("subject", ["粘貼扣", "（LTE）"])
def test_raw_8bit_big5_subject_is_not_latin1_debris_under_a_western_hint(subject: str) -> None:
    value = raw_header(subject.encode("big5"))
    assert decode_header(value, hint="iso-8859-1").text == subject


def test_raw_8bit_gbk_name_is_decoded_without_a_hint() -> None:
    assert decode_header(raw_header("郑浩 <zheng@example.cn>".encode("gbk"))).text == (
        "郑浩 <zheng@example.cn>"
    )


# -- text attachments --------------------------------------------------------------------------


def test_text_attachment_is_read_in_its_detected_charset() -> None:
    data = "服务经理郑浩的处理记录：一直推脱。".encode("gbk")
    assert attachment_text("text/plain", data) == "服务经理郑浩的处理记录：一直推脱。"


def test_html_attachment_is_read_as_text() -> None:
    data = '<html><meta charset="big5"><p>鄭浩</p></html>'.encode("big5")
    assert attachment_text("text/html", data) == "鄭浩"


def test_non_text_attachment_has_no_text() -> None:
    assert attachment_text("application/pdf", b"%PDF-1.4 \xe9\xa3") == ""
