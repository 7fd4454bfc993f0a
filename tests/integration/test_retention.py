"""`complaintd retention run` drops the raw mail of tickets closed more than [retention]
raw_mail_days ago and anonymises customers whose tickets all closed more than anonymise_days
ago, on both databases; the audit trail keeps its entries with the customer replaced, and
records the run.

The desk (30 days for both): 张伟 (e-mail) and 王先生 (phone only) each had one ticket, closed
on 24 November; 李四 had one closed on 24 November and has one still open; 赵敏's closed on
28 December. Retention runs on 5 January 2027."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select, text
from support.clock import FakeClock
from support.daemon_run import DaemonProcess
from support.harness import Harness, write_config
from support.mail import complaint
from support.org import CARE_MANAGER, STORE_ORG
from support.smtp_sink import SmtpSink

from daemon.acting import act
from daemon.cli import main
from daemon.lifecycle import Event
from daemon.store.models import Attachment, Customer, Message, OutboxMail, Ticket, TicketEvent

SH = ZoneInfo("Asia/Shanghai")
RETENTION = "[retention]\nraw_mail_days = 30\nanonymise_days = 30\n"
RUN_AT = "2027-01-05T10:00+08:00"
PHONE_TEXT = """渠道：电话
客户：王先生 138-0013-8000

客户来电：保养后机油渗漏，请回拨 138-0013-8000 联系王先生。车牌粤B·12345，车架号LSVAB2BR5KN012345。
"""


@dataclass
class Desk:
    h: Harness
    old: str  # 张伟, closed 24 Nov, with an attachment
    phoned: str  # 王先生, by phone, closed 24 Nov
    kept_customer_old: str  # 李四, closed 24 Nov
    kept_customer_open: str  # 李四, open
    recent: str  # 赵敏, closed 28 Dec


def local(month: int, day: int, hour: int) -> datetime:
    year = 2027 if month == 1 else 2026
    return datetime(year, month, day, hour, tzinfo=SH)


def with_photo(sender: str, name: str) -> bytes:
    msg = EmailMessage()
    msg["From"] = f"{name} <{sender}>"
    msg["To"] = "complaints@dealer.example"
    msg["Subject"] = "刹车异响，4S店一直不处理"
    msg["Date"] = "Mon, 23 Nov 2026 10:00:00 +0800"
    msg.set_content(f"我是{name}，刹车异响，照片见附件。我的邮箱 {sender}。")
    msg.add_attachment(
        b"\xff\xd8 jpeg bytes", maintype="image", subtype="jpeg", filename="刹车.jpg"
    )
    return msg.as_bytes()


def filed(h: Harness, data: bytes, at: datetime) -> str:
    h.clock.set(at)
    number = h.deliver(data).ticket
    assert number is not None
    return number


def close(h: Harness, number: str, day: datetime) -> None:
    for hour, event in ((11, Event.CONTACT), (14, Event.RESOLVE), (15, Event.CALLBACK)):
        h.clock.set(day.replace(hour=hour))
        act(h.deps, number, event, "zheng_hao", f"test: {event}", h.clock())
    h.clock.set(day.replace(hour=16))
    act(h.deps, number, Event.CLOSE, "zhou_jie", "test: close", h.clock())


@pytest.fixture
def desk(tmp_path: Path, db_url: str, sink: SmtpSink, clock: FakeClock) -> Iterator[Desk]:
    h = Harness(write_config(tmp_path, db_url, sink.port, STORE_ORG + RETENTION), clock)
    old = filed(h, with_photo("zhang.wei@example.cn", "张伟"), local(11, 23, 10))
    logged = complaint(PHONE_TEXT, sender=CARE_MANAGER, name="周杰", subject="电话投诉：机油渗漏")
    phoned = filed(h, logged, local(11, 23, 11))
    li_old = filed(
        h, complaint("新车异响", sender="li.si@example.cn", name="李四"), local(11, 23, 12)
    )
    for number in (old, phoned, li_old):
        close(h, number, local(11, 24, 0))
    h.send_outbox()  # the acknowledgements went out: their bytes are sent mail now
    li_open = filed(
        h, complaint("车窗漏水", sender="li.si@example.cn", name="李四", subject="车窗漏水"),
        local(12, 21, 10),
    )  # fmt: skip
    recent = filed(
        h, complaint("空调不制冷", sender="zhao.min@example.cn", name="赵敏"), local(12, 21, 11)
    )
    close(h, recent, local(12, 28, 0))
    h.send_outbox()
    yield Desk(h, old, phoned, li_old, li_open, recent)
    h.close()


def run(desk: Desk, capsys: pytest.CaptureFixture[str], *extra: str) -> dict[str, Any]:
    capsys.readouterr()
    args = ["retention", "run", "--config", str(desk.h.config_path), "--at", RUN_AT, "--json"]
    code = main([*args, *extra])
    out, err = capsys.readouterr()
    assert code == 0, err
    result: dict[str, Any] = json.loads(out)
    return result


def raw_sizes(desk: Desk, number: str) -> dict[str, int]:
    """Bytes still stored for the ticket: its messages, attachments and sent mail."""
    with desk.h.session() as s:
        ticket_id = s.scalar(select(Ticket.id).where(Ticket.number == number))
        messages = s.scalars(select(Message).where(Message.ticket_id == ticket_id)).all()
        attachments = s.scalars(
            select(Attachment).where(Attachment.message_row.in_([m.id for m in messages]))
        ).all()
        mails = s.scalars(select(OutboxMail).where(OutboxMail.ticket_id == ticket_id)).all()
        return {
            "messages": sum(len(m.raw) for m in messages),
            "attachments": sum(len(a.data or b"") for a in attachments),
            "outbox": sum(len(o.raw) for o in mails if o.status == "sent"),
        }


def snapshot(desk: Desk) -> list[Any]:
    """Every row retention could touch, as plain values."""
    with desk.h.session() as s:
        rows: list[Any] = []
        for model in (Customer, Ticket, Message, Attachment, OutboxMail, TicketEvent):
            table = model.__table__
            rows += [tuple(r) for r in s.execute(select(table).order_by(table.c.id))]
        return rows


def shown(desk: Desk, number: str) -> str:
    return json.dumps(desk.h.ticket(number), ensure_ascii=False)


def test_raw_mail_and_attachments_of_long_closed_tickets_are_purged(desk, capsys):
    before = raw_sizes(desk, desk.old)
    assert all(before.values()), before
    result = run(desk, capsys)
    assert raw_sizes(desk, desk.old) == {"messages": 0, "attachments": 0, "outbox": 0}
    assert raw_sizes(desk, desk.kept_customer_old)["messages"] == 0
    assert set(result["raw_purged"]) == {desk.old, desk.phoned, desk.kept_customer_old}
    assert result["attachments"] == 1


def test_tickets_open_or_closed_recently_keep_their_raw_mail(desk, capsys):
    before = {n: raw_sizes(desk, n) for n in (desk.recent, desk.kept_customer_open)}
    run(desk, capsys)
    assert {n: raw_sizes(desk, n) for n in before} == before
    assert before[desk.recent]["messages"] > 0


def test_the_message_text_and_attachment_names_stay_after_the_purge(desk, capsys):
    run(desk, capsys)
    (message,) = [m for m in desk.h.ticket(desk.old)["messages"] if m["from"] != CARE_MANAGER]
    assert "刹车异响，照片见附件" in message["text"]
    (photo,) = message["attachments"]
    assert (photo["filename"], photo["stored"]) == ("刹车.jpg", False)


def test_an_anonymised_customer_is_named_nowhere_in_their_ticket(desk, capsys):
    before = desk.h.ticket(desk.old)
    assert "zhang.wei@example.cn" in shown(desk, desk.old) and "张伟" in shown(desk, desk.old)
    run(desk, capsys)
    after = shown(desk, desk.old)
    assert "zhang.wei" not in after and "张伟" not in after
    assert "[anonymised]" in after
    detail = desk.h.ticket(desk.old)
    assert detail["customer"]["name"] == ""
    assert detail["customer"]["address"].startswith("anonymised:")
    # The trail keeps every entry, in order, with the same kinds and times.
    kept = [(e["kind"], e["at"]) for e in detail["events"]][: len(before["events"])]
    assert kept == [(e["kind"], e["at"]) for e in before["events"]]


def test_a_phone_customers_number_is_replaced_in_the_kept_text(desk, capsys):
    assert "138-0013-8000" in shown(desk, desk.phoned)
    run(desk, capsys)
    after = shown(desk, desk.phoned)
    assert "138-0013-8000" not in after and "13800138000" not in after
    assert "王先生" not in after
    assert "保养后机油渗漏" in after


def test_the_customers_plate_and_vin_are_replaced_in_the_kept_text(desk, capsys):
    before = shown(desk, desk.phoned)
    assert "粤B·12345" in before and "LSVAB2BR5KN012345" in before
    run(desk, capsys)
    after = shown(desk, desk.phoned)
    assert "粤B·12345" not in after and "LSVAB2BR5KN012345" not in after
    assert "车牌[anonymised]，车架号[anonymised]" in after


def test_a_customer_with_a_ticket_still_open_is_not_anonymised(desk, capsys):
    run(desk, capsys)
    for number in (desk.kept_customer_old, desk.kept_customer_open):
        assert desk.h.ticket(number)["customer"] == {
            "address": "li.si@example.cn",
            "name": "李四",
            "tier": "standard",
        }
    assert desk.h.ticket(desk.recent)["customer"]["address"] == "zhao.min@example.cn"


def test_the_audit_trail_records_the_run_on_each_ticket_it_touched(desk, capsys):
    run(desk, capsys)
    (entry,) = [e for e in desk.h.ticket(desk.old)["events"] if e["kind"] == "retention"]
    assert entry["actor"] == "complaintd"
    assert entry["at"] == "2027-01-05T02:00:00+00:00"
    assert entry["detail"] == {
        "raw_purged": True,
        "anonymised": True,
        "closed_at": "2026-11-24T08:00:00+00:00",
        "raw_mail_days": 30,
        "anonymise_days": 30,
    }
    (li,) = [e for e in desk.h.ticket(desk.kept_customer_old)["events"] if e["kind"] == "retention"]
    assert (li["detail"]["raw_purged"], li["detail"]["anonymised"]) == (True, False)
    for number in (desk.recent, desk.kept_customer_open):
        assert "retention" not in {e["kind"] for e in desk.h.ticket(number)["events"]}


def test_a_dry_run_says_what_a_run_would_do_and_changes_nothing(desk, capsys):
    before = snapshot(desk)
    rehearsed = run(desk, capsys, "--dry-run")
    assert snapshot(desk) == before
    assert rehearsed["dry_run"] is True
    done = run(desk, capsys)
    assert {k: v for k, v in rehearsed.items() if k != "dry_run"} == {
        k: v for k, v in done.items() if k != "dry_run"
    }


def test_a_second_run_finds_nothing_left_to_do(desk, capsys):
    assert run(desk, capsys)["tickets"]
    again = run(desk, capsys)
    assert (again["tickets"], again["events_rewritten"]) == ([], 0)


def test_outside_a_retention_run_the_audit_trail_still_refuses_changes(desk, capsys):
    run(desk, capsys)
    for statement in (
        "UPDATE ticket_events SET actor = 'someone'",
        "DELETE FROM ticket_events",
    ):
        with pytest.raises(Exception, match="append-only"), desk.h.store.transaction() as s:
            s.execute(text(statement))


def test_the_daemon_runs_retention_when_it_starts(
    tmp_path: Path, db_url: str, sink: SmtpSink, clock: FakeClock
) -> None:
    # Closed in 2025: long enough ago whatever the real date the daemon runs on.
    config = write_config(tmp_path, db_url, sink.port, STORE_ORG + RETENTION)
    h = Harness(config, clock)
    try:
        old = filed(
            h,
            complaint("刹车异响", sender="qian.jin@example.cn"),
            datetime(2025, 6, 9, 10, tzinfo=SH),
        )
        close(h, old, datetime(2025, 6, 10, 0, tzinfo=SH))
        still_open = filed(
            h,
            complaint("车窗漏水", sender="sun.yue@example.cn"),
            datetime(2025, 6, 11, 10, tzinfo=SH),
        )
    finally:
        h.close()
    daemon = DaemonProcess(config, tmp_path / "daemon.log")
    try:
        daemon.wait_for_log(f"{old} retention:", timeout=60)
    finally:
        assert daemon.stop() == 0
    h = Harness(config, clock)
    try:
        desk = Desk(h, old, old, still_open, still_open, still_open)
        assert raw_sizes(desk, old)["messages"] == 0
        assert raw_sizes(desk, still_open)["messages"] > 0
        assert h.ticket(old)["customer"]["address"].startswith("anonymised:")
        assert "retention" in {e["kind"] for e in h.ticket(old)["events"]}
    finally:
        h.close()


def test_the_text_output_names_the_tickets_a_dry_run_would_purge(desk, capsys):
    capsys.readouterr()
    args = ["retention", "run", "--config", str(desk.h.config_path), "--at", RUN_AT, "--dry-run"]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert f"raw mail would be purged: {desk.old}, {desk.phoned}, {desk.kept_customer_old}" in out
    assert "customers would be anonymised: 2" in out
    assert desk.recent not in out
