from datetime import datetime
from zoneinfo import ZoneInfo

from daemon.numbering import format_number, numbers_in, period_of, tagged_subject


def test_number_is_prefix_year_month_and_padded_serial():
    assert format_number("TS", "202611", 42, 4) == "TS-202611-0042"


def test_serial_past_the_padding_grows_wider_instead_of_wrapping():
    assert format_number("TS", "202611", 12345, 4) == "TS-202611-12345"


def test_period_follows_the_local_calendar_month():
    # 2026-11-30 17:00 UTC is already 1 December in Shanghai.
    at = datetime(2026, 11, 30, 17, 0, tzinfo=ZoneInfo("UTC")).astimezone(ZoneInfo("Asia/Shanghai"))
    assert period_of(at) == "202612"


def test_tag_found_in_a_reply_subject_whatever_the_case():
    assert numbers_in("回复: RE: [ts-202611-0042] 发动机异响", "TS") == ("TS-202611-0042",)


def test_other_prefixes_and_untagged_numbers_are_not_tags():
    assert numbers_in("XX-202611-0042 and [AB-202611-0001]", "TS") == ()


def test_subject_is_tagged_once():
    once = tagged_subject("TS-202611-0042", "Re: 投诉")
    assert once == "[TS-202611-0042] Re: 投诉"
    assert tagged_subject("TS-202611-0042", once) == once
