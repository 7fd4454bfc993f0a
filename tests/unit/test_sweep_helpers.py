"""Pure pieces of the sweep shell: the act hint in each mail, JSON lines, time arguments."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from daemon.cli.clock_cmds import parse_bound, parse_instant
from daemon.cli.common import CommandError
from daemon.clocks import ClockKind
from daemon.lifecycle import TABLE
from daemon.sweeps import SATISFIED_BY, SweepAction

SH = ZoneInfo("Asia/Shanghai")


@pytest.mark.parametrize("kind", list(ClockKind))
def test_the_event_a_mail_asks_for_stops_that_clock(kind: ClockKind) -> None:
    event = SATISFIED_BY[kind]
    assert any(kind in t.stop for t in TABLE if t.event is event)


def test_sweep_action_json_line_gives_the_due_time_in_the_service_zone() -> None:
    action = SweepAction(
        "TS-202611-0001", "escalate", 2, ("a@x.example",), "first_contact",
        datetime(2026, 11, 23, 4, 0, tzinfo=UTC),
    )  # fmt: skip
    assert action.as_json(SH) == {
        "ticket": "TS-202611-0001",
        "action": "escalate",
        "step": 2,
        "to": ["a@x.example"],
        "clock": "first_contact",
        "due": "2026-11-23T12:00:00+08:00",
    }


def test_now_without_an_offset_is_local_service_time() -> None:
    assert parse_instant("2026-11-23T14:00", SH) == datetime(2026, 11, 23, 14, 0, tzinfo=SH)


def test_now_with_an_offset_keeps_it() -> None:
    at = parse_instant("2026-11-23T06:00+00:00", SH)
    assert at == datetime(2026, 11, 23, 14, 0, tzinfo=SH)


def test_now_that_is_not_iso_8601_is_a_usage_error() -> None:
    with pytest.raises(CommandError, match="not ISO-8601") as caught:
        parse_instant("23/11/2026", SH)
    assert caught.value.exit_code == 2


def test_a_report_end_date_includes_its_whole_day() -> None:
    assert parse_bound("2026-11-23", SH, end=True) == datetime(2026, 11, 24, tzinfo=SH)


def test_a_report_start_date_begins_at_local_midnight() -> None:
    assert parse_bound("2026-11-23", SH, end=False) == datetime(2026, 11, 23, tzinfo=SH)


def test_a_report_bound_may_be_an_instant() -> None:
    at = parse_bound("2026-11-23T09:30", SH, end=True)
    assert at == datetime(2026, 11, 23, 9, 30, tzinfo=SH)
