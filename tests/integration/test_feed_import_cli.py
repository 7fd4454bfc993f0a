"""`complaintd feeds import FILE --feed NAME` and `complaintd feeds status`, on both databases:
an export imported by hand twice is one ticket per case, `tickets show --json` carries the
manufacturer's case, and the feed's status says what it did and how far behind it is."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from support import process
from support.clock import FakeClock
from support.feeds import FEED, ORG, row, write_xlsx
from support.harness import Harness, write_config
from support.mail import complaint
from support.smtp_sink import SmtpSink

from daemon.cli import main

AT = "2026-11-23T10:20+08:00"


@pytest.fixture
def config(tmp_path: Path, db_url: str, sink: SmtpSink, clock: FakeClock) -> Path:
    path = write_config(tmp_path, db_url, sink.port, ORG + FEED)
    Harness(path, clock).close()  # creates the schema
    return path


def feeds_import(config: Path, export: Path, *extra: str) -> Any:
    return process.run_json("--config", config, "feeds", "import", export, "--feed", "dscrm",
                            "--at", AT, "--json", *extra)  # fmt: skip


def export(tmp_path: Path, name: str = "dscrm.xlsx") -> Path:
    rows = [row("DS100", level="升级", email="wang@example.com", score=5), row("DS101")]
    return write_xlsx(tmp_path / name, rows)


def test_an_export_imported_twice_is_one_ticket_per_case(config: Path, tmp_path: Path):
    first = feeds_import(config, export(tmp_path))
    again = feeds_import(config, export(tmp_path))

    assert (first["imported"], first["unchanged"], len(first["tickets"])) == (2, 0, 2)
    assert (again["imported"], again["updated"], again["unchanged"]) == (0, 0, 2)
    listed = process.run_json("--config", config, "tickets", "list", "--json")
    assert len(listed) == 2
    assert export(tmp_path).exists()  # a file imported by hand stays where it is


def test_tickets_show_carries_the_manufacturers_case(config: Path, tmp_path: Path):
    number = feeds_import(config, export(tmp_path))["tickets"][0]

    shown = process.run_json("--config", config, "tickets", "show", number, "--json")

    assert shown["channel"] == "manufacturer"
    assert shown["customer"]["address"] == "wang@example.com"
    assert shown["opened_at"] == "2026-11-23T10:20:00+08:00"
    assert shown["manufacturer"] == {
        "oem": "faw-vw",
        "case_id": "DS100",
        "level": "升级",
        "dispatched_at": "2026-11-23T10:00:00+08:00",
        "survey_score": 5.0,
        "status": "待处理",
        "zero_complaint": True,
        "deadline": None,
        "zero_complaint_state": "pending",
        "resurvey_score": None,
        "penalty": None,
    }


def test_a_ticket_from_mail_has_no_manufacturer_case(
    tmp_path: Path, db_url: str, sink: SmtpSink, clock: FakeClock
):
    h = Harness(write_config(tmp_path, db_url, sink.port, ORG + FEED), clock)
    try:
        number = h.deliver(complaint("保养后车辆异响，要求给个说法")).ticket
        assert number is not None
        assert h.ticket(number)["manufacturer"] is None
    finally:
        h.close()


def run_status(config: Path, at: datetime, capsys: pytest.CaptureFixture[str]) -> Any:
    capsys.readouterr()
    code = main(["--config", str(config), "feeds", "status", "--json"], clock=lambda: at)
    assert code == 0
    return json.loads(capsys.readouterr().out)


def test_feeds_status_counts_what_the_feed_did_and_its_lag_behind_dispatch(
    config: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    feeds_import(config, export(tmp_path))
    bad = write_xlsx(tmp_path / "more.xlsx", [row("DS100", level="重要"), row("", text="无单号")])
    feeds_import(config, bad)

    # Two hours after the newest case was dispatched (10:00 in Shanghai).
    [status] = run_status(config, datetime(2026, 11, 23, 4, 0, tzinfo=UTC), capsys)

    assert (status["feed"], status["oem"], status["kind"]) == ("dscrm", "faw-vw", "folder")
    assert (status["imported"], status["updated"], status["quarantined"]) == (2, 1, 1)
    assert status["lag_seconds"] == 2 * 3600
    assert status["last_import"] == "2026-11-23T10:20:00+08:00"
    assert status["last_error"] is None


def test_a_corrupt_export_fails_the_import_and_is_the_feeds_last_error(
    config: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    broken = tmp_path / "broken.xls"
    broken.write_bytes(b"\xd0\xcf\x11\xe0 not really an old workbook")

    result = process.run("--config", config, "feeds", "import", broken, "--feed", "dscrm",
                         check=False)  # fmt: skip

    assert result.returncode == 1
    assert "broken.xls" in result.stderr and "not a readable spreadsheet" in result.stderr
    [status] = run_status(config, datetime(2026, 11, 23, 4, 0, tzinfo=UTC), capsys)
    assert status["last_error"].startswith("broken.xls: not a readable spreadsheet")


def test_an_unknown_feed_is_a_usage_error(config: Path, tmp_path: Path):
    result = process.run("--config", config, "feeds", "import", export(tmp_path), "--feed",
                         "nope", check=False)  # fmt: skip

    assert result.returncode == 2
    assert "no feed 'nope'" in result.stderr and "dscrm" in result.stderr


def test_quarantine_retry_leaves_a_manufacturers_record_held_with_its_reason(
    config: Path, tmp_path: Path
):
    bad = write_xlsx(tmp_path / "bad.xlsx", [row("DS110", dispatched="昨天下午")])
    feeds_import(config, bad)

    retried = process.run_json("--config", config, "quarantine", "retry", "--all", "--json")
    listed = process.run_json("--config", config, "quarantine", "list", "--json")

    assert [r["disposition"] for r in retried] == ["held"]
    assert "complaintd feeds import" in retried[0]["reason"]
    assert [(q["status"], q["reason"]) for q in listed] == [("held", "bad-date")]


def test_tickets_list_finds_the_ticket_of_a_manufacturers_case(config: Path, tmp_path: Path):
    numbers = feeds_import(config, export(tmp_path))["tickets"]

    listed = process.run_json("--config", config, "tickets", "list", "--case", "DS101", "--json")

    assert [t["number"] for t in listed] == [numbers[1]]
