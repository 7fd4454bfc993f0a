"""[[feeds]] in config.toml: paths beside the config file, the required fields, and the
mistakes refused with the key that holds them."""

from __future__ import annotations

from pathlib import Path

import pytest

from daemon import config

FEED = """
[[feeds]]
name = "dscrm"
oem = "faw-vw"
path = "drop/faw"

[feeds.fields]
case_id = "投诉单号"
dispatched_at = "派单时间"
"""


def parse(text: str) -> config.Settings:
    return config.parse(text, Path("/etc/complaintd/config.toml"))


def test_a_folder_feed_reads_beside_the_config_with_done_and_failed_inside():
    [feed] = parse(FEED).feeds
    assert feed.folder == Path("/etc/complaintd/drop/faw")
    assert (feed.done, feed.failed) == (feed.folder / "done", feed.folder / "failed")
    assert feed.fields == {"case_id": "投诉单号", "dispatched_at": "派单时间"}


def test_a_feed_without_the_dispatch_time_mapped_is_refused():
    with pytest.raises(config.ConfigError, match=r"\[\[feeds\]\] #1 fields: .*dispatched_at"):
        parse(FEED.replace('dispatched_at = "派单时间"\n', ""))


def test_a_field_we_do_not_know_is_refused():
    with pytest.raises(config.ConfigError, match="unknown field"):
        parse(FEED + 'dealer = "经销商"\n')


def test_two_feeds_with_one_name_are_refused():
    with pytest.raises(config.ConfigError, match="'dscrm' is used twice"):
        parse(FEED + FEED.replace("drop/faw", "drop/other"))


def test_an_http_feed_without_its_url_is_refused():
    with pytest.raises(config.ConfigError, match="url"):
        parse(FEED.replace('oem = "faw-vw"', 'oem = "faw-vw"\nkind = "http"'))


def test_a_webhook_feed_without_a_secret_is_refused():
    hook = 'oem = "faw-vw"\nkind = "webhook"\nlisten_port = 8089'
    with pytest.raises(config.ConfigError, match="secret"):
        parse(FEED.replace('oem = "faw-vw"', hook))


def test_clock_rules_can_name_an_oem_and_its_levels():
    text = """
[[clocks.rules]]
name = "faw-vw-important"
kind = "first_response"
allowance = { amount = 4, unit = "hours" }
oems = ["faw-vw"]
levels = ["重要"]
"""
    [rule] = parse(text).clocks.rules
    assert (rule.oems, rule.levels) == (("faw-vw",), ("重要",))
