"""A period's clock figures stay as they were when a ticket is reopened later: every stop of a
clock is kept (clock_stops), not only the last one its row in `clocks` shows."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from support.clock import FakeClock
from support.harness import Harness, write_config
from support.mail import complaint
from support.org import STORE_ORG
from support.smtp_sink import SmtpSink

from daemon.acting import act
from daemon.cli import main
from daemon.lifecycle import Event

SH = ZoneInfo("Asia/Shanghai")


def resolution(h: Harness, capsys: pytest.CaptureFixture[str], since: str, until: str) -> Any:
    capsys.readouterr()
    args = ["report", "summary", "--since", since, "--until", until, "--json"]
    assert main([*args, "--config", str(h.config_path)]) == 0
    return json.loads(capsys.readouterr().out)["clocks"]["resolution"]


def test_a_resolution_met_on_time_stays_counted_after_the_ticket_is_reopened(
    tmp_path: Path,
    db_url: str,
    sink: SmtpSink,
    clock: FakeClock,
    capsys: pytest.CaptureFixture[str],
) -> None:
    h = Harness(write_config(tmp_path, db_url, sink.port, STORE_ORG), clock)
    try:
        clock.set(datetime(2026, 11, 23, 10, tzinfo=SH))
        number = h.deliver(complaint("刹车异响，多次维修没有解决")).ticket
        assert number is not None
        for hour, event in ((11, Event.CONTACT), (14, Event.RESOLVE)):
            clock.set(datetime(2026, 11, 23, hour, tzinfo=SH))
            act(h.deps, number, event, "zheng_hao", f"test: {event}", clock())
        week = resolution(h, capsys, "2026-11-23", "2026-11-29")

        clock.set(datetime(2026, 12, 1, 9, tzinfo=SH))
        act(h.deps, number, Event.REOPEN, "zhou_jie", "the customer is still unhappy", clock())
        clock.set(datetime(2026, 12, 1, 15, tzinfo=SH))
        act(h.deps, number, Event.RESOLVE, "zheng_hao", "test: resolve again", clock())

        assert week["on_time"] == 1
        assert resolution(h, capsys, "2026-11-23", "2026-11-29") == week
        assert resolution(h, capsys, "2026-11-30", "2026-12-06")["on_time"] == 1
    finally:
        h.close()
