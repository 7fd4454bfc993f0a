"""When the calendar changes (the [calendar] override table here), the due times of open clocks
move onto it at the next start or reload, each move audited: SQLite and PostgreSQL, and one
`complaintd run` reloaded with SIGHUP."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import create_engine, select
from support import process
from support.clock import FakeClock
from support.daemon_run import DaemonProcess
from support.harness import Harness, write_config
from support.mail import complaint
from support.org import STORE_ORG
from support.smtp_sink import SmtpSink

from daemon import service
from daemon.store.models import CalendarRecord, Ticket, TicketClock, TicketEvent

SH = ZoneInfo("Asia/Shanghai")
# The eve of National Day 2025: 1-8 October off, Saturday 11 October a make-up workday.
EVE = datetime(2025, 9, 30, 10, 0, tzinfo=SH)
# Three working days from the eve: 9, 10 and 11 October.
DUE_ON_THE_PACKAGE = datetime(2025, 10, 11, 10, 0, tzinfo=SH)
# With 8 October made a workday in the override table: 8, 9 and 10 October.
DUE_WITH_THE_OVERRIDE = datetime(2025, 10, 10, 10, 0, tzinfo=SH)
WORKDAY_OVERRIDE = "[calendar]\nworkdays = [2025-10-08]\n"


def _start(
    tmp_path: Path, db_url: str, sink: SmtpSink, clock: FakeClock, extra: str = ""
) -> Harness:
    """A (re)start: the config read again and the calendar compared, as the daemon does."""
    h = Harness(write_config(tmp_path, db_url, sink.port, STORE_ORG + extra), clock)
    service.recalendar(h.deps, clock())
    return h


@pytest.fixture
def filed(tmp_path: Path, db_url: str, sink: SmtpSink) -> Iterator[tuple[Harness, str]]:
    """A ticket filed on the eve of National Day on the packages' calendar; the daemon then
    stopped."""
    clock = FakeClock(EVE.astimezone(UTC))
    h = _start(tmp_path, db_url, sink, clock)
    number = h.deliver(complaint("车辆维修后变速箱还是漏油，售后一直拖着不处理。")).ticket
    assert number is not None
    h.close()
    restarted = _start(tmp_path, db_url, sink, clock, WORKDAY_OVERRIDE)
    yield restarted, number
    restarted.close()


def _due(h: Harness, number: str, kind: str = "resolution") -> datetime | None:
    with h.session() as s:
        due: datetime | None = s.scalar(
            select(TicketClock.due_at)
            .join(Ticket, Ticket.id == TicketClock.ticket_id)
            .where(Ticket.number == number, TicketClock.kind == kind)
        )
    return due


def _moves(h: Harness, number: str) -> list[dict[str, Any]]:
    with h.session() as s:
        return list(
            s.scalars(
                select(TicketEvent.detail)
                .join(Ticket, Ticket.id == TicketEvent.ticket_id)
                .where(Ticket.number == number, TicketEvent.kind == "clock-moved")
                .order_by(TicketEvent.id)
            )
        )


def test_a_workday_added_to_the_override_table_brings_the_due_time_forward(filed):
    h, number = filed
    assert _due(h, number) == DUE_WITH_THE_OVERRIDE


def test_the_move_is_audited_with_from_to_and_the_day_that_changed(filed):
    h, number = filed
    (moved,) = _moves(h, number)
    assert moved["clock"] == "resolution"
    assert datetime.fromisoformat(moved["from"]) == DUE_ON_THE_PACKAGE
    assert datetime.fromisoformat(moved["to"]) == DUE_WITH_THE_OVERRIDE
    assert moved["because"] == [
        "2025-10-08: day off (chinesecalendar) -> make-up workday (override)"
    ]


def test_a_clock_the_changed_day_does_not_reach_keeps_its_due_time(filed):
    h, number = filed
    # First contact: two working hours from 10:00 on the eve, done by its noon.
    assert _due(h, number, "first_contact") == datetime(2025, 9, 30, 12, 0, tzinfo=SH)


def test_a_second_start_on_the_same_calendar_moves_nothing(filed, tmp_path, db_url, sink):
    h, number = filed
    again = _start(tmp_path, db_url, sink, h.clock, WORKDAY_OVERRIDE)
    try:
        assert len(_moves(again, number)) == 1
        assert _due(again, number) == DUE_WITH_THE_OVERRIDE
    finally:
        again.close()


def test_taking_the_override_out_again_moves_the_due_time_back(filed, tmp_path, db_url, sink):
    h, number = filed
    back = _start(tmp_path, db_url, sink, h.clock)
    try:
        assert _due(back, number) == DUE_ON_THE_PACKAGE
        assert _moves(back, number)[-1]["because"] == [
            "2025-10-08: make-up workday (override) -> day off (chinesecalendar)"
        ]
    finally:
        back.close()


# -- a running daemon, reloaded -------------------------------------------------------------------


def test_a_running_daemon_moves_the_due_time_when_sighup_reloads_a_changed_override(
    tmp_path, sqlite_url
):
    # A ticket far in the future (whatever today is) so the daemon's sweeps leave its clocks
    # alone; replay files it as at that instant.
    at = "2099-06-01T10:00+08:00"  # a Monday
    config = write_config(tmp_path, sqlite_url, 25, "[service]\nsweep_seconds = 1\n")
    mail = tmp_path / "one.eml"
    mail.write_bytes(complaint("车辆维修后变速箱还是漏油，售后一直拖着不处理。"))
    process.run("replay", mail, "--no-mail", "--at", at, "--config", config)
    engine = create_engine(sqlite_url)

    def due() -> datetime | None:
        with engine.connect() as conn:
            return conn.scalar(select(TicketClock.due_at).where(TicketClock.kind == "resolution"))

    before = due()
    daemon = DaemonProcess(config, tmp_path / "daemon.log")
    try:
        daemon.wait_for_log("complaintd ready")
        assert due() == before  # the start recorded the calendar; nothing differed
        config.write_text(config.read_text() + "\n[calendar]\nholidays = [2099-06-02]\n")
        daemon.proc.send_signal(signal.SIGHUP)
        daemon.wait_for_log("config reloaded")
        assert "1 due time(s) moved" in daemon.output()
        after = due()
        assert before is not None and after is not None and after > before
        with engine.connect() as conn:
            recorded = conn.scalar(select(CalendarRecord.snapshot))
            moved = conn.scalar(select(TicketEvent.detail).where(TicketEvent.kind == "clock-moved"))
        assert recorded["days"]["2099-06-02"] == ["holiday", "override"]
        assert moved["because"] == ["2099-06-02: ordinary day -> day off (override)"]
    finally:
        daemon.stop()
        engine.dispose()
