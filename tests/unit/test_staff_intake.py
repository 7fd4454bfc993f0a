"""Header lines staff write at the top of a complaint they log by mail."""

from __future__ import annotations

from daemon.staffintake import LogError, Logged, parse


def test_chinese_header_lines_give_channel_customer_and_tier() -> None:
    text = "渠道：电话\n客户：李娜 13800138000 Li.Na@Example.cn\n等级：VIP\n\n机油漏了一地。\n"
    assert parse(text) == Logged(
        "phone", "李娜", "13800138000", "li.na@example.cn", "vip", "机油漏了一地。"
    )


def test_english_header_lines_in_any_order_after_the_channel() -> None:
    text = "Channel: manufacturer\nTier: vip\nCustomer: Ann Lee <ann@example.com>\n\nCase 4411."
    found = parse(text)
    assert isinstance(found, Logged)
    assert (found.channel, found.name, found.email, found.tier) == (
        "manufacturer", "Ann Lee", "ann@example.com", "vip"
    )  # fmt: skip


def test_the_customer_line_may_be_left_out() -> None:
    found = parse("渠道: 现场\n\n客户到店投诉。")
    assert isinstance(found, Logged)
    assert (found.channel, found.name, found.phone, found.email, found.tier) == (
        "on_site", "", "", "", "standard"
    )  # fmt: skip


def test_mail_that_does_not_start_with_the_channel_is_no_log() -> None:
    assert parse("客户：李娜\n渠道：电话\n\n……") is None
    assert parse("您好，客户来电说漏油。\n渠道：电话") is None


def test_an_unknown_channel_is_an_error_naming_the_line() -> None:
    found = parse("渠道：微信\n\n……")
    assert isinstance(found, LogError) and found.line == "渠道：微信"
