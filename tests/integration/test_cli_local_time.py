"""Listings and details print instants in [service] timezone with the offset, and --json gives
ISO-8601 in that zone with the offset: each command run as a real process over a database (both
backends) holding a ticket, a held message and a quarantined one, all received at 10:00 in
Shanghai (02:00 UTC, the fake clock's start)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from support import process
from support.clock import FakeClock
from support.harness import Harness, write_config
from support.mail import complaint
from support.org import STORE_ORG
from support.smtp_sink import SmtpSink

from daemon.values import Disposition

REPAIR = "车辆在贵店维修后变速箱还是漏油，售后一直拖着不处理。"
STRANGER = "li.si@stranger.test"

OPENED_TEXT = "2026-11-23 10:00+0800"
OPENED_JSON = "2026-11-23T10:00:00+08:00"
# The first-contact clock allows two working hours: due at noon, breached by a sweep at 13:00.
DUE_TEXT = "2026-11-23 12:00+0800"
DUE_JSON = "2026-11-23T12:00:00+08:00"
SWEPT_AT = "2026-11-23T13:00+08:00"


class Desk:
    """A config whose database holds one ticket, one held message and one quarantined one."""

    def __init__(self, config: Path, number: str) -> None:
        self.config = config
        self.number = number

    def text(self, *args: str) -> str:
        return process.run("--config", self.config, *args).stdout

    def json(self, *args: str) -> Any:
        return process.run_json("--config", self.config, *args, "--json")


def _fill(h: Harness) -> str:
    filed = h.deliver(complaint(REPAIR))
    assert filed.disposition is Disposition.FILED and filed.ticket
    held = h.deliver(
        complaint("请把退款打到这个账户。", sender=STRANGER, subject=f"Re: [{filed.ticket}]")
    )
    assert held.disposition is Disposition.HELD
    junk = h.deliver(b"\x00\x01 these bytes are not mail")
    assert junk.disposition is Disposition.QUARANTINED
    return filed.ticket


@pytest.fixture
def desk(tmp_path: Path, db_url: str, sink: SmtpSink, clock: FakeClock) -> Desk:
    h = Harness(write_config(tmp_path, db_url, sink.port, STORE_ORG), clock)
    try:
        number = _fill(h)
    finally:
        h.close()
    return Desk(h.config_path, number)


def _no_utc(text: str) -> None:
    assert "+00:00" not in text and "+0000" not in text, text


def test_tickets_list_shows_when_a_ticket_opened_in_local_time(desk: Desk) -> None:
    table = desk.text("tickets", "list")
    assert OPENED_TEXT in table
    _no_utc(table)
    (row,) = desk.json("tickets", "list")
    assert (row["opened_at"], row["updated_at"]) == (OPENED_JSON, OPENED_JSON)


def test_tickets_show_gives_every_instant_in_local_time(desk: Desk) -> None:
    shown = desk.text("tickets", "show", desk.number)
    _no_utc(shown)
    assert f"opened:    {OPENED_TEXT}" in shown
    assert f"first_contact   due {DUE_TEXT}" in shown
    assert f"--- {OPENED_TEXT}  zhang.wei@example.cn" in shown
    events = shown.split("\nevents:\n", 1)[1].split("\nmail:", 1)[0].splitlines()
    assert events and all(line.strip().startswith(OPENED_TEXT) for line in events), events
    mail = shown.split("\nmail:\n", 1)[1].splitlines()
    assert mail and all(line.strip().startswith(OPENED_TEXT) for line in mail), mail


def test_tickets_show_json_gives_every_instant_with_the_local_offset(desk: Desk) -> None:
    detail = desk.json("tickets", "show", desk.number)
    assert detail["opened_at"] == OPENED_JSON
    assert detail["closed_at"] is None
    clocks = {c["kind"]: c for c in detail["clocks"]}
    assert clocks["first_contact"]["due_at"] == DUE_JSON
    assert clocks["first_contact"]["started_at"] == OPENED_JSON
    assert [m["received_at"] for m in detail["messages"]] == [OPENED_JSON]
    assert {e["at"] for e in detail["events"]} == {OPENED_JSON}
    assert {o["created_at"] for o in detail["outbox"]} == {OPENED_JSON}


def test_outbox_list_shows_when_mail_was_queued_in_local_time(desk: Desk) -> None:
    table = desk.text("outbox", "list")
    assert OPENED_TEXT in table
    _no_utc(table)
    rows = desk.json("outbox", "list")
    assert rows and {r["created_at"] for r in rows} == {OPENED_JSON}
    assert {r["next_attempt_at"] for r in rows} <= {OPENED_JSON, None}


def test_quarantine_list_and_show_give_the_arrival_in_local_time(desk: Desk) -> None:
    table = desk.text("quarantine", "list")
    assert OPENED_TEXT in table
    _no_utc(table)
    (row,) = desk.json("quarantine", "list")
    assert row["received_at"] == OPENED_JSON
    shown = desk.text("quarantine", "show", str(row["id"]))
    assert f"received_at: {OPENED_TEXT}" in shown
    assert desk.json("quarantine", "show", str(row["id"]))["received_at"] == OPENED_JSON


def test_held_list_and_show_give_arrival_and_holding_in_local_time(desk: Desk) -> None:
    table = desk.text("held", "list")
    assert OPENED_TEXT in table
    _no_utc(table)
    (row,) = desk.json("held", "list")
    assert (row["received_at"], row["held_at"], row["decided_at"]) == (
        OPENED_JSON,
        OPENED_JSON,
        None,
    )
    shown = desk.text("held", "show", str(row["id"]))
    assert f"held_at:     {OPENED_TEXT}" in shown
    assert desk.json("held", "show", str(row["id"]))["held_at"] == OPENED_JSON


def test_sweep_prints_each_actions_due_time_with_the_local_offset(desk: Desk) -> None:
    lines = desk.text("sweep", "--at", SWEPT_AT).splitlines()
    actions = [json.loads(line) for line in lines]
    assert actions and {a["due"] for a in actions} == {DUE_JSON}


def test_report_missed_gives_due_and_breach_times_in_local_time(desk: Desk) -> None:
    desk.text("sweep", "--at", SWEPT_AT)
    table = desk.text("report", "missed", "--tickets")
    assert f"first_contact  zheng_hao  郑浩  {DUE_TEXT}" in table
    _no_utc(table)
    (row,) = desk.json("report", "missed", "--tickets")
    assert (row["due_at"], row["breached_at"]) == (DUE_JSON, "2026-11-23T13:00:00+08:00")


def test_report_missed_says_which_local_days_it_counted(desk: Desk) -> None:
    desk.text("sweep", "--at", SWEPT_AT)
    table = desk.text("report", "missed", "--since", "2026-11-23", "--until", "2026-11-23")
    period = "breaches from 2026-11-23 00:00+0800 before 2026-11-24 00:00+0800"
    assert table.splitlines()[0] == period, table
    (row,) = desk.json("report", "missed", "--since", "2026-11-23", "--until", "2026-11-23")
    assert (row["person"], row["missed"]) == ("zheng_hao", 1)


def test_tickets_act_gives_the_clocks_due_times_with_the_local_offset(desk: Desk) -> None:
    shown = desk.text("tickets", "act", desk.number, "contact", "--at", "2026-11-23T11:00+08:00")
    assert f"first_contact   stopped due {DUE_TEXT}" in shown
    _no_utc(shown)
    result = desk.json("tickets", "act", desk.number, "resolve", "--at", "2026-11-23T11:30+08:00")
    assert {c["due_at"] for c in result["clocks"]} - {None}
    assert all(c["due_at"].endswith("+08:00") for c in result["clocks"] if c["due_at"])


def test_listings_follow_the_configured_zone_not_shanghai(
    tmp_path: Path, sqlite_url: str, sink: SmtpSink, clock: FakeClock
) -> None:
    tokyo = STORE_ORG + '\n[service]\ntimezone = "Asia/Tokyo"\n'
    h = Harness(write_config(tmp_path, sqlite_url, sink.port, tokyo), clock)
    try:
        _fill(h)
    finally:
        h.close()
    desk = Desk(h.config_path, "")
    assert "2026-11-23 11:00+0900" in desk.text("tickets", "list")
    (row,) = desk.json("tickets", "list")
    assert row["opened_at"] == "2026-11-23T11:00:00+09:00"
