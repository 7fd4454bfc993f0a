"""A manufacturer's drop folder end to end, on both databases: .xlsx, .xls and GBK .csv exports
become one ticket per case on the manufacturer's clock; a corrupt file moves to failed/ with
its reason; bad rows are quarantined while the good ones import; a later export of the same case
updates its ticket, audited. The clock is the only fake: imports and sweeps travel in time."""

from __future__ import annotations

import email
import email.policy
import json
import os
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select
from support import process
from support.clock import FakeClock
from support.daemon_run import DaemonProcess, query, wait_until
from support.feeds import FEED, HEADER, ORG, REPAIR, row, write_csv, write_xls, write_xlsx
from support.harness import Harness, calendar_covering_today, write_config
from support.smtp_sink import SmtpSink

from daemon import sweeps
from daemon.feeds.ingest import drain_folder
from daemon.store.cases import FeedState, ManufacturerCase
from daemon.store.models import MissedClock, OutboxMail, Quarantined, Ticket, TicketEvent

SH = ZoneInfo("Asia/Shanghai")


def local(hour: int, minute: int = 0, day: int = 23) -> datetime:
    return datetime(2026, 11, day, hour, minute, tzinfo=SH)  # 23 November 2026: a Monday


@pytest.fixture
def h(tmp_path: Path, db_url: str, sink: SmtpSink, clock: FakeClock) -> Iterator[Harness]:
    harness = Harness(write_config(tmp_path, db_url, sink.port, ORG + FEED), clock)
    yield harness
    harness.close()


def drop(h: Harness) -> Path:
    folder = h.settings.feeds[0].folder
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def drain(h: Harness) -> int:
    return drain_folder(h.settings.feeds[0], h.deps, lambda: False, settle_seconds=0)


def tickets(h: Harness) -> list[Ticket]:
    with h.session() as s:
        return list(s.scalars(select(Ticket).order_by(Ticket.id)))


def number_of(h: Harness, case_id: str) -> str:
    with h.session() as s:
        found = s.execute(
            select(Ticket.number)
            .join(ManufacturerCase, ManufacturerCase.ticket_id == Ticket.id)
            .where(ManufacturerCase.case_id == case_id)
        ).scalar_one()
    return str(found)


def test_xlsx_xls_and_gbk_csv_exports_each_become_tickets_and_move_to_done(h: Harness):
    folder = drop(h)
    write_xlsx(folder / "dscrm-1.xlsx", [row("DS001")])
    write_xls(folder / "dscrm-2.xls", [row("DS002", text="销售顾问承诺的赠品一直没给")])
    write_csv(folder / "dscrm-3.csv", [row("DS003", name="李女士", phone="13900139000")])

    assert drain(h) == 3

    assert sorted(p.name for p in (folder / "done").iterdir()) == [
        "dscrm-1.xlsx",
        "dscrm-2.xls",
        "dscrm-3.csv",
    ]
    assert not list(folder.glob("dscrm-*"))
    found = {t.channel for t in tickets(h)}
    assert len(tickets(h)) == 3 and found == {"manufacturer"}
    detail = h.ticket(number_of(h, "DS003"))
    assert detail["customer"] == {
        "address": "tel:13900139000",
        "name": "李女士",
        "tier": "standard",
    }
    assert detail["manufacturer"] == {
        "oem": "faw-vw",
        "case_id": "DS003",
        "level": "一般",
        "dispatched_at": "2026-11-23T02:00:00+00:00",
        "survey_score": None,
        "status": "待处理",
        "zero_complaint": False,
        "deadline": None,
        "zero_complaint_state": None,
        "resurvey_score": None,
        "penalty": None,
    }


def test_a_corrupt_export_moves_to_failed_with_its_reason_and_opens_nothing(h: Harness):
    folder = drop(h)
    (folder / "broken.xlsx").write_bytes(b"PK\x03\x04 this is no workbook")

    assert drain(h) == 1

    assert (folder / "failed" / "broken.xlsx").exists()
    reason = (folder / "failed" / "broken.xlsx.reason.txt").read_text(encoding="utf-8")
    assert "not a readable spreadsheet" in reason
    assert tickets(h) == []
    with h.session() as s:
        state = s.get_one(FeedState, "dscrm")
    assert "broken.xlsx" in state.last_error


def test_one_case_in_two_exports_is_one_ticket_and_the_change_is_audited(
    h: Harness, clock: FakeClock
):
    folder = drop(h)
    write_xlsx(folder / "monday.xlsx", [row("DS010", level="一般")])
    drain(h)
    clock.advance(hours=3)
    write_xlsx(folder / "monday-pm.xlsx", [row("DS010", level="重要", status="已升级")])
    drain(h)

    assert len(tickets(h)) == 1
    number = number_of(h, "DS010")
    detail = h.ticket(number)
    assert (detail["manufacturer"]["level"], detail["manufacturer"]["status"]) == ("重要", "已升级")
    with h.session() as s:
        updates = list(
            s.scalars(select(TicketEvent).where(TicketEvent.kind == "manufacturer-updated"))
        )
    assert len(updates) == 1
    assert updates[0].actor == "feed:dscrm"
    assert updates[0].detail["changed"] == {
        "level": ["一般", "重要"],
        "status": ["待处理", "已升级"],
    }


def test_bad_rows_are_quarantined_with_the_feed_and_raw_record_while_good_rows_import(h: Harness):
    folder = drop(h)
    rows = [
        row("DS020"),
        row("", text="没有单号"),
        row("DS022", dispatched="昨天下午"),
        row("DS023"),
    ]
    write_xlsx(folder / "mixed.xlsx", rows)

    drain(h)

    assert len(tickets(h)) == 2
    with h.session() as s:
        held = list(s.scalars(select(Quarantined).order_by(Quarantined.id)))
    assert [q.reason for q in held] == ["missing-field", "bad-date"]
    assert held[0].origin == "feed dscrm: mixed.xlsx row 3"
    assert held[1].detail.startswith("feed dscrm: dispatched_at (派单时间) '昨天下午'")
    assert json.loads(held[1].raw)["投诉单号"] == "DS022"


def test_the_same_bad_rows_imported_again_are_not_quarantined_twice(h: Harness):
    folder = drop(h)
    bad = [row("DS030", dispatched="昨天下午")]
    write_xlsx(folder / "first.xlsx", bad)
    drain(h)
    write_xlsx(folder / "again.xlsx", bad)
    drain(h)

    with h.session() as s:
        assert len(list(s.scalars(select(Quarantined)))) == 1


def test_a_renamed_column_quarantines_every_row_as_schema_drift(h: Harness):
    folder = drop(h)
    header = ("投诉编号", *HEADER[1:])  # 投诉单号 renamed by the portal
    write_xlsx(folder / "drift.xlsx", [row("DS040"), row("DS041")], header=header)

    drain(h)

    assert tickets(h) == []
    with h.session() as s:
        reasons = [q.reason for q in s.scalars(select(Quarantined))]
    assert reasons == ["schema-drift", "schema-drift"]


def test_the_first_response_clock_runs_thirty_minutes_from_dispatch_not_receipt(
    h: Harness, clock: FakeClock
):
    clock.set(local(10, 20))  # imported twenty minutes after the manufacturer dispatched it
    write_xlsx(drop(h) / "case.xlsx", [row("DS050", dispatched="2026-11-23 10:00")])
    drain(h)
    number = number_of(h, "DS050")
    due = {c["kind"]: datetime.fromisoformat(c["due_at"]) for c in h.ticket(number)["clocks"]}
    assert due["first_response"] == local(10, 30)

    sweeps.sweep(h.deps, local(10, 29))
    with h.session() as s:
        assert s.scalars(select(MissedClock)).first() is None
    sweeps.sweep(h.deps, local(10, 31))
    with h.session() as s:
        missed = list(s.scalars(select(MissedClock)))
    assert [(m.clock, m.due_at) for m in missed] == [("first_response", local(10, 30))]


def test_an_escalation_about_a_case_quotes_the_manufacturers_text(h: Harness, clock: FakeClock):
    clock.set(local(10, 20))
    write_xlsx(drop(h) / "case.xlsx", [row("DS051", dispatched="2026-11-23 10:00")])
    drain(h)

    sweeps.sweep(h.deps, local(10, 31))

    with h.session() as s:
        raised = list(s.scalars(select(OutboxMail).where(OutboxMail.kind == "escalation")))
    assert raised
    for mail in raised:
        body = email.message_from_bytes(mail.raw, policy=email.policy.default).get_body()
        assert body is not None and REPAIR in body.get_content()


def close_clock(h: Harness, case_id: str) -> tuple[str, datetime]:
    [close] = [c for c in h.ticket(number_of(h, case_id))["clocks"] if c["kind"] == "close"]
    return close["rule"], datetime.fromisoformat(close["due_at"])


def test_the_close_clock_runs_seven_days_from_dispatch(h: Harness):
    write_xlsx(drop(h) / "case.xlsx", [row("DS055", dispatched="2026-11-23 10:00")])
    drain(h)

    assert close_clock(h, "DS055") == ("manufacturer-close", local(10, day=30))


def test_the_manufacturers_deadline_wins_and_a_new_one_moves_the_close_clock(
    h: Harness, clock: FakeClock
):
    write_xlsx(drop(h) / "a.xlsx", [row("DS056", deadline="2026-11-25 18:00")])
    drain(h)
    assert close_clock(h, "DS056") == ("manufacturer-deadline", local(18, day=25))

    clock.advance(hours=1)
    write_xlsx(drop(h) / "b.xlsx", [row("DS056", deadline="2026-11-26 12:00")])
    drain(h)

    assert close_clock(h, "DS056") == ("manufacturer-deadline", local(12, day=26))
    with h.session() as s:
        moved = s.scalars(select(TicketEvent).where(TicketEvent.kind == "clock-moved")).one()
    assert datetime.fromisoformat(moved.detail["from"]) == local(18, day=25)
    assert datetime.fromisoformat(moved.detail["to"]) == local(12, day=26)


# FAW-VW's own levels: 重要 (important) cases answered in 4 hours; the rest as seed 000 says.
LEVEL_RULES = """
[[clocks.rules]]
name = "faw-vw-important"
kind = "first_response"
allowance = { amount = 4, unit = "hours", basis = "wall" }
oems = ["faw-vw"]
levels = ["重要"]

[[clocks.rules]]
name = "manufacturer-response"
kind = "first_response"
allowance = { amount = 30, unit = "minutes" }
channels = ["manufacturer"]
"""


def test_a_clock_rule_for_an_oem_level_sets_that_cases_clock(
    tmp_path: Path, db_url: str, sink: SmtpSink, clock: FakeClock
):
    h = Harness(write_config(tmp_path, db_url, sink.port, ORG + FEED + LEVEL_RULES), clock)
    try:
        write_xlsx(drop(h) / "x.xlsx", [row("DS090", level="重要"), row("DS091", level="一般")])
        drain(h)
        due = {
            case: {c["kind"]: c for c in h.ticket(number_of(h, case))["clocks"]}["first_response"]
            for case in ("DS090", "DS091")
        }
    finally:
        h.close()
    assert due["DS090"]["rule"] == "faw-vw-important"
    assert datetime.fromisoformat(due["DS090"]["due_at"]) == local(14)
    assert due["DS091"]["rule"] == "manufacturer-response"
    assert datetime.fromisoformat(due["DS091"]["due_at"]) == local(10, 30)


def test_a_new_level_from_the_manufacturer_moves_the_running_clock_and_is_audited(
    tmp_path: Path, db_url: str, sink: SmtpSink, clock: FakeClock
):
    h = Harness(write_config(tmp_path, db_url, sink.port, ORG + FEED + LEVEL_RULES), clock)
    try:
        write_xlsx(drop(h) / "a.xlsx", [row("DS092", level="一般")])
        drain(h)
        clock.advance(minutes=5)
        write_xlsx(drop(h) / "b.xlsx", [row("DS092", level="重要")])
        drain(h)
        number = number_of(h, "DS092")
        clocks = {c["kind"]: c for c in h.ticket(number)["clocks"]}
        with h.session() as s:
            moved = s.scalars(select(TicketEvent).where(TicketEvent.kind == "clock-moved")).one()
    finally:
        h.close()
    assert clocks["first_response"]["rule"] == "faw-vw-important"
    assert datetime.fromisoformat(clocks["first_response"]["due_at"]) == local(14)
    assert datetime.fromisoformat(moved.detail["from"]) == local(10, 30)
    assert datetime.fromisoformat(moved.detail["to"]) == local(14)
    assert "重要" in str(moved.detail["because"])


def test_a_case_that_arrives_already_late_breaches_at_the_next_sweep(h: Harness, clock: FakeClock):
    clock.set(local(10, 45))  # dispatched at 9:00, seen at 10:45: 75 minutes past due
    write_xlsx(drop(h) / "late.xlsx", [row("DS060", dispatched="2026-11-23 09:00")])
    drain(h)

    sweeps.sweep(h.deps, clock())

    with h.session() as s:
        clocks = [m.clock for m in s.scalars(select(MissedClock))]
    assert clocks == ["first_response"]


def test_the_customer_is_acknowledged_only_when_the_case_carries_their_address(h: Harness):
    write_xlsx(
        drop(h) / "two.xlsx",
        [row("DS070", email="wang@example.com"), row("DS071", email="")],
    )
    drain(h)

    with h.session() as s:
        acks = list(s.scalars(select(OutboxMail).where(OutboxMail.kind == "acknowledgement")))
    assert [a.recipient for a in acks] == ["wang@example.com"]
    with h.session() as s:
        ticket = s.get_one(Ticket, acks[0].ticket_id)
    assert ticket.number == number_of(h, "DS070")


def test_the_daemon_polls_the_drop_folder_and_reports_the_feeds_health(
    tmp_path: Path, sink: SmtpSink
):
    db = tmp_path / "complaintd.db"
    config = write_config(tmp_path, f"sqlite:///{db}", sink.port, ORG + FEED)
    folder = tmp_path / "drop"
    folder.mkdir()
    staged = write_xlsx(tmp_path / "case.xlsx", [row("DS080")])
    past = time.time() - 60  # copied in long ago: no longer being written
    os.utime(staged, (past, past))
    daemon = DaemonProcess(config, tmp_path / "daemon.log")
    try:
        daemon.wait_for_log("complaintd ready")
        os.replace(staged, folder / "case.xlsx")

        daemon.wait_for_log("feed dscrm: case.xlsx: 1 new")
        wait_until(lambda: (folder / "done" / "case.xlsx").exists(), 10, "case.xlsx in done/")

        def reported() -> bool:
            rows = query(db, "SELECT kind, last_error FROM mailbox_states WHERE mailbox = ?",
                         "[feed dscrm]")  # fmt: skip
            return rows == [("feed", "")]

        wait_until(reported, 10, "the feed worker's health row")
        assert query(db, "SELECT channel FROM tickets") == [("manufacturer",)]
    finally:
        assert daemon.stop() == 0


def test_a_feed_failing_past_the_alert_time_makes_status_exit_1(tmp_path: Path, sink: SmtpSink):
    db = tmp_path / "complaintd.db"
    (tmp_path / "drop").write_text("a file where the drop folder should be")
    extra = "\n[service]\nmailbox_alert_minutes = 0.02\n" + calendar_covering_today()
    config = write_config(tmp_path, f"sqlite:///{db}", sink.port, ORG + FEED + extra)
    daemon = DaemonProcess(config, tmp_path / "daemon.log")
    try:

        def failing() -> bool:
            rows = query(db, "SELECT failing_since FROM mailbox_states WHERE mailbox = ?",
                         "[feed dscrm]")  # fmt: skip
            return bool(rows) and rows[0][0] is not None

        wait_until(failing, 20, "the feed worker reported failing")

        def alerting() -> bool:
            return process.run("status", "--config", config, check=False).returncode == 1

        wait_until(alerting, 20, "status exiting 1", interval=0.5)
        report = json.loads(process.run("status", "--config", config, "--json", check=False).stdout)
        [feed] = [w for w in report["workers"] if w["worker"] == "[feed dscrm]"]
        assert feed["alert"] and "drop" in feed["last_error"]
    finally:
        assert daemon.stop() == 0
