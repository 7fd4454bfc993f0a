"""`complaintd replay --as-received`: last week's mail gets the deadlines it really had, counted
from its topmost Received: header on the working calendar; SQLite and PostgreSQL."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import create_engine, select
from support import process
from support.harness import write_config
from support.mail import complaint

from daemon.store.models import Customer, Ticket, TicketClock

SH = ZoneInfo("Asia/Shanghai")
NOW = "2026-11-30T10:00+08:00"  # a Monday; the replay runs as at this instant
REPAIR = "车辆维修后变速箱还是漏油，售后一直拖着不处理。"


def _received(stamp: str, by: str = "mx.dealer.example") -> str:
    return f"from client.example by {by} with ESMTPS id 4Kx; {stamp}"


def _mail(folder: Path, name: str, sender: str, *received: str, date: str | None = None) -> None:
    """A complaint whose Received: headers read top (last hop) first."""
    data = complaint(REPAIR, sender=sender)
    if date is not None:
        data = data.replace(b"Date: Mon, 23 Nov 2026 09:00:00 +0800", f"Date: {date}".encode())
    hops = b"".join(f"Received: {r}\r\n".encode() for r in received)
    (folder / name).write_bytes(hops + data)


@pytest.fixture
def last_week(tmp_path: Path) -> Path:
    """Two complaints that reached our server last Monday morning and Wednesday afternoon."""
    folder = tmp_path / "mail"
    folder.mkdir()
    _mail(
        folder,
        "a.eml",
        "a@example.cn",
        _received("Mon, 23 Nov 2026 09:15:00 +0800"),
        # An earlier hop, and the sender's own clock: neither is when it reached us.
        _received("Mon, 23 Nov 2026 09:14:00 +0800", by="relay.example.net"),
        date="Sun, 22 Nov 2026 23:00:00 +0800",
    )
    _mail(folder, "b.eml", "b@example.cn", _received("Wed, 25 Nov 2026 08:00:00 +0000"))
    return folder


def _replay(folder: Path, config: Path, *flags: str) -> dict[str, object]:
    report: dict[str, object] = process.run_json(
        "replay", folder, "--no-mail", "--at", NOW, *flags, "--config", config
    )
    return report


def _tickets(db_url: str) -> dict[str, tuple[str, datetime, datetime | None]]:
    """Each ticket's customer address: (number, opened_at, resolution due)."""
    engine = create_engine(db_url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                select(Ticket.number, Ticket.opened_at, TicketClock.due_at, Ticket.customer_id)
                .join(TicketClock, TicketClock.ticket_id == Ticket.id)
                .where(TicketClock.kind == "resolution")
                .order_by(Ticket.id)
            ).all()
            addresses = dict(conn.execute(select(Customer.id, Customer.address)).all())
    finally:
        engine.dispose()
    return {addresses[c]: (number, opened, due) for number, opened, due, c in rows}


def test_as_received_opens_each_ticket_at_its_topmost_received_time(
    tmp_path: Path, db_url: str, last_week: Path
) -> None:
    config = write_config(tmp_path, db_url, 25)
    assert _replay(last_week, config, "--as-received")["filed"] == 2
    found = _tickets(db_url)
    assert found["a@example.cn"][1] == datetime(2026, 11, 23, 9, 15, tzinfo=SH)
    assert found["b@example.cn"][1] == datetime(2026, 11, 25, 16, 0, tzinfo=SH)


def test_as_received_counts_the_deadlines_from_then_on_the_working_calendar(
    tmp_path: Path, db_url: str, last_week: Path
) -> None:
    config = write_config(tmp_path, db_url, 25)
    _replay(last_week, config, "--as-received")
    found = _tickets(db_url)
    # Three working days: Monday 09:15 -> Thursday 09:15; Wednesday 16:00 -> Monday 16:00.
    assert found["a@example.cn"][2] == datetime(2026, 11, 26, 9, 15, tzinfo=SH)
    assert found["b@example.cn"][2] == datetime(2026, 11, 30, 16, 0, tzinfo=SH)


def test_a_sweep_after_the_backfill_finds_the_overdue_one_overdue(
    tmp_path: Path, db_url: str, last_week: Path
) -> None:
    config = write_config(tmp_path, db_url, 25)
    _replay(last_week, config, "--as-received")
    swept = process.run("sweep", "--at", NOW, "--dry-run", "--config", config).stdout
    breached = [a for a in map(json.loads, swept.splitlines()) if a["action"] == "breach"]
    assert {(a["clock"], a["ticket"]) for a in breached if a["clock"] == "resolution"} == {
        ("resolution", _tickets(db_url)["a@example.cn"][0])
    }


def test_without_the_flag_the_tickets_open_at_the_time_of_the_replay(
    tmp_path: Path, db_url: str, last_week: Path
) -> None:
    config = write_config(tmp_path, db_url, 25)
    _replay(last_week, config)
    opened = {v[1] for v in _tickets(db_url).values()}
    assert opened == {datetime.fromisoformat(NOW)}


def test_a_ticket_number_carries_the_month_the_mail_arrived_in(tmp_path: Path, sqlite_url: str):
    folder = tmp_path / "october"
    folder.mkdir()
    _mail(folder, "c.eml", "c@example.cn", _received("Fri, 30 Oct 2026 15:00:00 +0800"))
    _replay(folder, write_config(tmp_path, sqlite_url, 25), "--as-received")
    assert _tickets(sqlite_url)["c@example.cn"][0] == "TS-202610-0001"


def test_an_arrival_in_the_future_is_not_believed_and_is_warned_of(
    tmp_path: Path, sqlite_url: str
) -> None:
    folder = tmp_path / "skewed"
    folder.mkdir()
    _mail(folder, "d.eml", "d@example.cn", _received("Tue, 01 Dec 2026 09:00:00 +0800"))
    config = write_config(tmp_path, sqlite_url, 25)
    result = process.run(
        "replay", folder, "--no-mail", "--at", NOW, "--as-received", "--config", config
    )
    assert "Received date 2026-12-01T01:00:00+00:00 is in the future" in result.stderr
    assert _tickets(sqlite_url)["d@example.cn"][1] == datetime.fromisoformat(NOW)
