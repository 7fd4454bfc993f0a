"""`complaintd calendar show`, and the provisional-year warnings of `check-config` and
`status`, driven in-process through the command line's injected clock."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from support.harness import write_config

from daemon import app, config
from daemon.cli import build_parser

UNUSED_SMTP_PORT = 2525
# 2027 is past the installed chinesecalendar (it ends with 2026), so it is provisional.
BEFORE_OCTOBER = datetime(2026, 9, 30, 8, 0, tzinfo=UTC)
IN_OCTOBER = datetime(2026, 10, 2, 2, 0, tzinfo=UTC)
IN_DECEMBER = datetime(2026, 12, 1, 2, 0, tzinfo=UTC)  # 10:00 on 1 December in Shanghai


def _run(argv: list[str], now: datetime = IN_OCTOBER) -> int:
    # The handler alone: main() would also set up the process's logging.
    args = build_parser(clock=lambda: now).parse_args(argv)
    code: int = args.handler(args)
    return code


def _show(path: Path, year: int, capsys: pytest.CaptureFixture[str]) -> dict[str, Any]:
    assert _run(["calendar", "show", str(year), "--json", "--config", str(path)]) == 0
    shown: dict[str, Any] = json.loads(capsys.readouterr().out)
    return shown


def _days(shown: dict[str, Any]) -> dict[str, tuple[str, str]]:
    return {d["date"]: (d["kind"], d["source"]) for d in shown["days"]}


@pytest.fixture
def plain(tmp_path: Path, sqlite_url: str) -> Path:
    return write_config(tmp_path, sqlite_url, UNUSED_SMTP_PORT)


def test_calendar_show_lists_national_day_2025_as_a_day_off_from_chinesecalendar(
    plain: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    shown = _show(plain, 2025, capsys)
    assert _days(shown)["2025-10-01"] == ("holiday", "chinesecalendar")
    assert (shown["provisional"], shown["covered_by"]) == (False, "chinesecalendar")


def test_calendar_show_lists_28_september_2025_as_a_makeup_workday(
    plain: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _days(_show(plain, 2025, capsys))["2025-09-28"] == ("makeup", "chinesecalendar")


def test_calendar_show_names_a_configured_override_as_its_source(
    tmp_path: Path, sqlite_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_config(
        tmp_path, sqlite_url, UNUSED_SMTP_PORT, "[calendar]\nholidays = [2025-09-30]\n"
    )
    assert _days(_show(path, 2025, capsys))["2025-09-30"] == ("holiday", "override")


def test_calendar_show_says_2027_is_provisional_with_estimated_days(
    plain: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    shown = _show(plain, 2027, capsys)
    assert (shown["provisional"], shown["covered_by"]) == (True, None)
    assert {source for _, source in _days(shown).values()} == {"holidays-estimate"}


def test_calendar_show_prints_a_table_that_ends_with_the_coverage(
    plain: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _run(["calendar", "show", "2027", "--config", str(plain)]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0].split() == ["DATE", "WEEKDAY", "KIND", "SOURCE", "NAME"]
    assert out.rstrip().splitlines()[-1].startswith("2027: PROVISIONAL")


@pytest.fixture
def migrated(tmp_path: Path, db_url: str) -> Path:
    path = write_config(tmp_path, db_url, UNUSED_SMTP_PORT)
    app.open_store(config.load(path), upgrade=True).dispose()
    return path


def _status(path: Path, now: datetime, capsys: pytest.CaptureFixture[str]) -> tuple[int, Any]:
    code = _run(["status", "--json", "--config", str(path)], now)
    return code, json.loads(capsys.readouterr().out)["calendar"]


def test_status_exits_1_from_1_december_because_2027_is_provisional(
    migrated: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, calendar = _status(migrated, IN_DECEMBER, capsys)
    assert code == 1
    assert [(c["year"], c["level"]) for c in calendar] == [(2027, "fail")]


def test_status_warns_in_october_without_failing(
    migrated: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, calendar = _status(migrated, IN_OCTOBER, capsys)
    assert (code, [(c["year"], c["level"]) for c in calendar]) == (0, [(2027, "warn")])


def test_status_says_nothing_of_2027_on_30_september(
    migrated: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _status(migrated, BEFORE_OCTOBER, capsys) == (0, [])


def test_status_exits_0_in_december_once_2027_is_in_the_override_table(
    tmp_path: Path, db_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_config(tmp_path, db_url, UNUSED_SMTP_PORT, "[calendar]\nholidays = [2027-01-01]\n")
    app.open_store(config.load(path), upgrade=True).dispose()
    assert _status(path, IN_DECEMBER, capsys) == (0, [])


def test_check_config_warns_of_provisional_2027_on_2_october(
    plain: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _run(["check-config", "--config", str(plain)], IN_OCTOBER) == 0
    (line,) = _calendar_lines(capsys.readouterr().err)
    assert line.startswith("complaintd: warning: calendar 2027 is provisional")
    assert "[calendar]" in line and "upgrade chinesecalendar" in line


def test_check_config_is_quiet_about_2027_on_30_september(
    plain: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _run(["check-config", "--config", str(plain)], BEFORE_OCTOBER) == 0
    assert _calendar_lines(capsys.readouterr().err) == []


def _calendar_lines(err: str) -> list[str]:
    # check-config warns of other things too (an empty [org], say): only the calendar's count.
    return [line for line in err.splitlines() if "calendar" in line]
