"""Retention decides from closing times alone, and replaces a customer wherever text names
them (daemon.retention)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from daemon.retention import (
    ANONYMISED,
    Identity,
    KeptTicket,
    RetentionPolicy,
    anonymous_address,
    phone_of,
    plan,
    scrub,
)

NOW = datetime(2026, 11, 30, 4, 0, tzinfo=UTC)


def closed(days_ago: float | None, ticket: int = 1, customer: int = 1, **kw: bool) -> KeptTicket:
    at = None if days_ago is None else NOW - timedelta(days=days_ago)
    return KeptTicket(
        ticket, f"TS-{ticket}", customer, at, kw.get("raw_kept", True), kw.get("anonymised", False)
    )


def test_raw_mail_goes_once_the_ticket_closed_more_than_the_days_ago() -> None:
    p = plan(RetentionPolicy(raw_mail_days=30), [closed(31, 1, 1), closed(29, 2, 2)], NOW)
    assert [t.number for t in p.purge_raw] == ["TS-1"]
    assert p.anonymise == ()


def test_an_open_or_reopened_ticket_keeps_everything() -> None:
    p = plan(RetentionPolicy(30, 30), [closed(None, 1, 1)], NOW)
    assert p.empty


def test_a_ticket_already_purged_is_not_purged_again() -> None:
    p = plan(RetentionPolicy(raw_mail_days=30), [closed(90, raw_kept=False)], NOW)
    assert p.empty


def test_a_customer_is_anonymised_only_when_every_ticket_closed_long_enough_ago() -> None:
    tickets = [closed(400, 1, 1), closed(10, 2, 1), closed(400, 3, 2)]
    p = plan(RetentionPolicy(anonymise_days=365), tickets, NOW)
    assert p.anonymise == (2,)
    assert [t.number for t in p.anonymised_tickets] == ["TS-3"]


def test_anonymising_drops_the_raw_mail_of_the_customers_tickets_too() -> None:
    p = plan(RetentionPolicy(anonymise_days=365), [closed(400)], NOW)
    assert [t.number for t in p.purge_raw] == ["TS-1"]


def test_a_customer_anonymised_already_is_left_alone() -> None:
    p = plan(
        RetentionPolicy(anonymise_days=365), [closed(400, anonymised=True, raw_kept=False)], NOW
    )
    assert p.empty


def test_keeping_is_the_default() -> None:
    assert RetentionPolicy().keeps_everything
    assert plan(RetentionPolicy(), [closed(10_000)], NOW).empty


def test_scrub_replaces_address_name_and_phone_however_the_phone_is_written() -> None:
    who = Identity("wang@example.cn", ("王先生",), ("13800138000",))
    said = "王先生（WANG@example.cn，电话 138-0013-8000 或 138 0013 8000）说刹车异响"
    assert scrub(said, who) == (
        f"{ANONYMISED}（{ANONYMISED}，电话 {ANONYMISED} 或 {ANONYMISED}）说刹车异响"
    )


def test_scrub_walks_json_and_keeps_its_keys_and_other_values() -> None:
    who = Identity("wang@example.cn", ("王先生",))
    detail = {"to": "wang@example.cn", "outbox": 7, "people": ["王先生", "zheng_hao"], "ok": True}
    assert scrub(detail, who) == {
        "to": ANONYMISED,
        "outbox": 7,
        "people": [ANONYMISED, "zheng_hao"],
        "ok": True,
    }


def test_a_one_character_name_is_not_blanked_everywhere() -> None:
    assert scrub("王磊处理", Identity("", ("王",))) == "王磊处理"


def test_a_phone_customers_key_gives_the_number_and_anonymous_keys_are_unique() -> None:
    assert phone_of("tel:+8613800138000") == "+8613800138000"
    assert phone_of("wang@example.cn") == ""
    assert anonymous_address(3) != anonymous_address(4)


def test_scrub_replaces_plates_and_vins_wherever_the_text_has_them() -> None:
    who = Identity("wang@example.cn")
    said = "车牌粤B12345，新能源沪A·D12345，车架号LSVAB2BR5KN012345，京a 23456 也是我的"
    assert scrub(said, who) == (
        f"车牌{ANONYMISED}，新能源{ANONYMISED}，车架号{ANONYMISED}，{ANONYMISED} 也是我的"
    )


@pytest.mark.parametrize(
    "kept",
    [
        "TS-202612-0001",  # a ticket number
        "<ts-202612-0001.3f2a9c0d1e2b4a5c8d7e6f0a1b2c3d4e@dealer.example>",  # our Message-ID
        "京A级服务",  # a province and a letter, then words
        "粤B1234",  # too short for a plate
        "ABCDEFGHJKLMNPRST",  # 17 capitals without a digit
        "12345678901234567",  # 17 digits without a letter
        "lsvab2br5kn012345",  # lower case: a digest, not a VIN
    ],
)
def test_scrub_leaves_what_only_looks_like_a_plate_or_vin(kept: str) -> None:
    assert scrub(kept, Identity("wang@example.cn")) == kept


def test_scrub_replaces_a_vehicle_as_the_manufacturer_wrote_it() -> None:
    who = Identity("wang@example.cn", vehicles=("LSVAB2BR5KN012345", "粤B 12345"))
    assert scrub("vin lsvab2br5kn012345", who) == f"vin {ANONYMISED}"
