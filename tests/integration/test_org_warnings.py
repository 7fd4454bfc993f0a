"""A chart filled one person at a time: check-config and status warn of what will reach nobody,
and status lists the notices that already did."""

from __future__ import annotations

import contextlib
import io
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from support.clock import FakeClock
from support.daemon_run import DaemonProcess
from support.harness import Harness, write_config
from support.mail import complaint
from support.smtp_sink import SmtpSink

from daemon import events
from daemon.cli import main
from daemon.store import records
from daemon.store.models import Ticket

NOW = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)  # a Monday, 10:00 in Shanghai

ONE_PERSON = """
[[org.people]]
key = "zheng_hao"
name = "郑浩"
email = "zheng.hao@dealer.example"
role = "service_manager"
department = "after_sales"
"""


def complaintd(*argv: str | Path, at: datetime = NOW) -> tuple[int, str, str]:
    """`complaintd ARGV...` in this process, its clock at `at`: exit code, stdout, stderr."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main([str(a) for a in argv], clock=lambda: at)
    return code, out.getvalue(), err.getvalue()


@pytest.fixture
def one_person(tmp_path: Path, db_url: str, sink: SmtpSink) -> Path:
    return write_config(tmp_path, db_url, sink.port, ONE_PERSON)


def test_check_config_accepts_a_chart_of_one_person_and_warns_of_the_gaps(one_person):
    code, _, err = complaintd("check-config", "--config", one_person)
    assert code == 0, err
    assert "complaintd: warning: no general_manager: major complaints reach nobody" in err
    assert "complaintd: warning: no legal: major complaints are not reported to legal" in err
    assert (
        "complaintd: warning: nobody holds retail_manager: sales complaints go unassigned "
        "(default routing #1)" in err
    )


def test_status_shows_the_gaps_of_the_chart(one_person):
    assert complaintd("db", "upgrade", "--config", one_person)[0] == 0
    code, out, err = complaintd("status", "--config", one_person, "--json")
    assert code == 0, err
    report = json.loads(out)
    assert "no legal: major complaints are not reported to legal" in report["config_warnings"]


def _unheard(harness: Harness, number: str, at: datetime, what: str, why: str) -> None:
    with harness.store.transaction() as session:
        ticket_id = session.scalars(select(Ticket.id).where(Ticket.number == number)).one()
        records.add_event(
            session, ticket_id, at, "complaintd", events.Unheard(what, "resolution", 3, why)
        )


def test_status_counts_the_notices_that_reached_nobody_this_week_and_lists_the_newest(
    one_person,
):
    harness = Harness(one_person, FakeClock(NOW - timedelta(days=10)))
    try:
        harness.deliver(complaint())
        (number,) = [t.number for t in _tickets(harness)]
        _unheard(harness, number, NOW - timedelta(days=8), "escalation", "too old to count")
        _unheard(harness, number, NOW - timedelta(days=2), "escalation", "nobody holds role")
        _unheard(harness, number, NOW - timedelta(hours=1), "major_report", "no legal")
    finally:
        harness.close()
    code, out, err = complaintd("status", "--config", one_person, "--json")
    assert code == 0, err
    unheard = json.loads(out)["unheard"]
    assert unheard["count"] == 2
    assert [(n["ticket"], n["what"], n["why"]) for n in unheard["newest"]] == [
        (number, "major_report", "no legal"),
        (number, "escalation", "nobody holds role"),
    ]
    assert unheard["newest"][0]["at"] == "2026-11-23T09:00:00+08:00"


def test_status_text_names_the_ticket_whose_notice_reached_nobody(one_person):
    harness = Harness(one_person, FakeClock(NOW - timedelta(days=1)))
    try:
        harness.deliver(complaint())
        (number,) = [t.number for t in _tickets(harness)]
        _unheard(harness, number, NOW - timedelta(hours=2), "escalation", "nobody above")
    finally:
        harness.close()
    code, out, _ = complaintd("status", "--config", one_person)
    assert code == 0
    assert "reached nobody: WARNING: 1 notice(s) in the last 7 days" in out
    (row,) = [line for line in out.splitlines() if line.startswith(number)]
    assert "escalation step 3" in row and "nobody above" in row


def _tickets(harness: Harness) -> list[Ticket]:
    with harness.session() as session:
        return list(session.scalars(select(Ticket)))


def test_the_daemon_logs_each_gap_of_the_chart_at_start(one_person, tmp_path):
    daemon = DaemonProcess(one_person, tmp_path / "daemon.log")
    try:
        daemon.wait_for_log("complaintd ready")
        assert "WARNING config" in daemon.output()
        assert "no legal: major complaints are not reported to legal" in daemon.output()
    finally:
        daemon.stop()
