"""`complaintd tickets list` finds tickets by what staff remember of them (a phrase, a phone
number, a handler, a day) and exports the listing as CSV and .xlsx, on both databases.

The desk holds three tickets: an after-sales complaint by e-mail on Monday 23 November that
missed its first-contact clock, a sales complaint threatening the media on Tuesday (major),
and a complaint care took down by phone on Wednesday for a customer who left only a number."""

from __future__ import annotations

import csv
import io
import json
import subprocess
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from openpyxl import load_workbook
from support import process
from support.clock import FakeClock
from support.harness import Harness, write_config
from support.mail import complaint
from support.org import CARE_MANAGER, STORE_ORG
from support.smtp_sink import SmtpSink

from daemon import sweeps
from daemon.cli import main

SH = ZoneInfo("Asia/Shanghai")

ENGINE = "车辆保养后发动机异响，售后一直没人处理。"
SALES = "买车时销售顾问多收了我两千元上牌费，还不给发票。再不退钱我就找媒体曝光！"
PHONE = """渠道：电话
客户：王先生 138-0013-8000

客户来电：新换的轮胎漏气，要求100%_退款。
"""


class Desk:
    def __init__(self, config: Path, engine: str, sales: str, phone: str) -> None:
        self.config = config
        self.engine, self.sales, self.phone = engine, sales, phone


def local(day: int, hour: int) -> datetime:
    return datetime(2026, 11, day, hour, tzinfo=SH)


def _filed(h: Harness, data: bytes) -> str:
    number = h.deliver(data).ticket
    assert number is not None
    return number


@pytest.fixture
def desk(tmp_path: Path, db_url: str, sink: SmtpSink, clock: FakeClock) -> Desk:
    h = Harness(write_config(tmp_path, db_url, sink.port, STORE_ORG), clock)
    try:
        clock.set(local(23, 10))
        engine = _filed(h, complaint(ENGINE))
        clock.set(local(23, 13))  # first contact was due at noon
        sweeps.sweep(h.deps, clock())
        clock.set(local(24, 10))
        sales = _filed(
            h, complaint(SALES, sender="li.si@example.cn", name="李四", subject="多收上牌费")
        )
        clock.set(local(25, 10))
        logged = complaint(PHONE, sender=CARE_MANAGER, name="周杰", subject="电话投诉：轮胎漏气")
        phone = _filed(h, logged)
    finally:
        h.close()
    return Desk(h.config_path, engine, sales, phone)


def listed(
    desk: Desk, capsys: pytest.CaptureFixture[str], *options: str
) -> tuple[list[dict[str, Any]], str]:
    """The --json rows of `tickets list OPTIONS` and what it said on stderr."""
    capsys.readouterr()
    code = main(["tickets", "list", "--config", str(desk.config), *options, "--json"])
    out, err = capsys.readouterr()
    assert code == 0, err
    return json.loads(out), err


def numbers(desk: Desk, capsys: pytest.CaptureFixture[str], *options: str) -> set[str]:
    return {row["number"] for row in listed(desk, capsys, *options)[0]}


def test_a_chinese_phrase_from_the_message_text_finds_its_ticket(desk, capsys):
    assert numbers(desk, capsys, "--text", "上牌费，还不给") == {desk.sales}


def test_a_phrase_from_the_subject_finds_its_ticket(desk, capsys):
    assert numbers(desk, capsys, "--text", "多收上牌") == {desk.sales}


def test_a_percent_or_underscore_in_the_text_is_taken_literally(desk, capsys):
    assert numbers(desk, capsys, "--text", "100%_退款") == {desk.phone}
    assert numbers(desk, capsys, "--text", "1%0") == set()
    assert numbers(desk, capsys, "--text", "保_后") == set()


def test_a_phone_number_finds_the_customer_however_it_is_written(desk, capsys):
    assert numbers(desk, capsys, "--customer", "13800138000") == {desk.phone}
    assert numbers(desk, capsys, "--customer", "138 0013 8000") == {desk.phone}
    assert numbers(desk, capsys, "--customer", "0013 8000") == {desk.phone}


def test_the_customer_is_found_by_address_or_name(desk, capsys):
    assert numbers(desk, capsys, "--customer", "LI.SI@example") == {desk.sales}
    assert numbers(desk, capsys, "--customer", "张伟") == {desk.engine}


def test_the_handler_is_found_by_key_or_by_name(desk, capsys):
    rows, _ = listed(desk, capsys)
    handler = next(r["handler"] for r in rows if r["number"] == desk.engine)
    assert handler == "zheng_hao"
    same = {r["number"] for r in rows if r["handler"] == handler}
    assert numbers(desk, capsys, "--handler", "zheng_hao") == same
    assert numbers(desk, capsys, "--handler", "郑浩") == same
    assert numbers(desk, capsys, "--handler", "nobody_here") == set()


def test_status_category_department_and_channel_filter(desk, capsys):
    rows, _ = listed(desk, capsys)
    by_number = {r["number"]: r for r in rows}
    assert numbers(desk, capsys, "--channel", "phone") == {desk.phone}
    assert numbers(desk, capsys, "--channel", "email") == {desk.engine, desk.sales}
    for option, key in (("--department", "department"), ("--category", "category")):
        value = by_number[desk.sales][key]
        expected = {n for n, r in by_number.items() if r[key] == value}
        assert numbers(desk, capsys, option, value) == expected
    status = by_number[desk.engine]["status"]
    expected = {n for n, r in by_number.items() if r["status"] == status}
    assert numbers(desk, capsys, "--status", status) == expected
    assert numbers(desk, capsys, "--status", "closed") == set()


def test_opened_dates_are_whole_days_in_the_service_zone(desk, capsys):
    assert numbers(desk, capsys, "--opened-since", "2026-11-24") == {desk.sales, desk.phone}
    assert numbers(desk, capsys, "--opened-until", "2026-11-24") == {desk.engine, desk.sales}
    assert numbers(
        desk, capsys, "--opened-since", "2026-11-24", "--opened-until", "2026-11-24"
    ) == {desk.sales}


def test_breached_and_major_keep_only_those_tickets(desk, capsys):
    assert numbers(desk, capsys, "--breached") == {desk.engine}
    assert numbers(desk, capsys, "--major") == {desk.sales}


def test_the_listing_says_how_many_matched(desk, capsys):
    _, err = listed(desk, capsys, "--channel", "email")
    assert "2 matched" in err
    rows, err = listed(desk, capsys, "--channel", "email", "--limit", "1")
    assert len(rows) == 1
    assert "2 matched: 1 shown, 1 more left out by --limit 1" in err


def test_csv_export_has_a_bom_and_every_column_of_every_match(desk):
    shown = process.run("--config", desk.config, "tickets", "list", "--csv", "--limit", "9")
    assert "3 matched" in shown.stderr
    data = subprocess.run(
        process.command("--config", desk.config, "tickets", "list", "--csv"),
        capture_output=True,
        env=process.env(),
        cwd=process.ROOT,
        check=True,
        timeout=300,
    ).stdout
    assert data.startswith(b"\xef\xbb\xbf")
    rows = list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"))))
    exported = {r["number"]: r for r in rows}
    assert set(exported) == {desk.engine, desk.sales, desk.phone}
    sales = exported[desk.sales]
    assert (sales["customer"], sales["customer_name"]) == ("li.si@example.cn", "李四")
    assert sales["subject"] == "多收上牌费"
    assert "media" in sales["major"]
    assert exported[desk.engine]["breached"] == "True"
    assert exported[desk.phone]["channel"] == "phone"
    assert exported[desk.engine]["handler_name"] == "郑浩"
    assert exported[desk.engine]["opened_at"] == "2026-11-23T10:00:00+08:00"


def test_xlsx_export_holds_the_same_rows_as_the_json_listing(desk, tmp_path):
    path = tmp_path / "tickets.xlsx"
    process.run("--config", desk.config, "tickets", "list", "--xlsx", path, "--major")
    sheet = load_workbook(path).active
    header, *body = [list(row) for row in sheet.iter_rows(values_only=True)]
    assert len(body) == 1
    row = dict(zip(header, body[0], strict=True))
    (listed_row,) = process.run_json(
        "--config", desk.config, "tickets", "list", "--major", "--json"
    )
    assert row["number"] == listed_row["number"] == desk.sales
    assert row["subject"] == listed_row["subject"]
    assert row["customer_name"] == "李四"
    assert row["opened_at"] == listed_row["opened_at"]
    assert row["major"] == ", ".join(listed_row["major"])
