"""Staff log a phone, walk-in or manufacturer complaint by mailing the intake address with
header lines at the top: the ticket gets that channel (and its clocks) and that customer."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from support.clock import FakeClock
from support.harness import Harness
from support.mail import complaint
from support.org import CARE_MANAGER, SERVICE_MANAGER
from support.smtp_sink import SmtpSink
from support.staffreply import harness, held, notice_to, replies_config

from daemon.store.models import Ticket
from daemon.values import Disposition

# Phone complaints get a first contact within 30 minutes here, so their own clock shows.
CLOCKS = """
[[clocks.rules]]
name = "phone-first-contact"
kind = "first_contact"
allowance = { amount = 30, unit = "minutes" }
channels = ["phone"]

[[clocks.rules]]
name = "first-contact"
kind = "first_contact"
allowance = { amount = 2, unit = "hours" }

[[clocks.rules]]
name = "on-site-same-day"
kind = "resolution"
allowance = { amount = 0, unit = "day_end" }
channels = ["on_site"]

[[clocks.rules]]
name = "resolution"
kind = "resolution"
allowance = { amount = 3, unit = "days" }
"""

PHONE = """渠道：电话
客户：李娜 13800138000 li.na@example.cn
等级：VIP

客户来电：上周在店里做的保养，回家后发现机油漏了一地，要求尽快处理。
"""


@pytest.fixture
def desk(tmp_path: Path, db_url: str, sink: SmtpSink, clock: FakeClock) -> Iterator[Harness]:
    yield from harness(tmp_path, db_url, sink, clock, replies_config(tmp_path) + CLOCKS)


def logged(h: Harness, text: str) -> str | None:
    """The ticket customer care (周杰) opened by mailing `text` to the intake address."""
    data = complaint(text, sender=CARE_MANAGER, name="周杰", subject="电话投诉：保养后漏油")
    return h.deliver(data).ticket


def clock_rules(h: Harness, number: str) -> dict[str, str]:
    return {c["kind"]: c["rule"] for c in h.ticket(number)["clocks"]}


def test_a_phone_complaint_gets_the_phone_channel_and_its_clocks(desk: Harness) -> None:
    number = logged(desk, PHONE)
    assert number is not None
    ticket = desk.ticket(number)
    assert ticket["channel"] == "phone"
    assert clock_rules(desk, number)["first_contact"] == "phone-first-contact"
    first = next(c for c in ticket["clocks"] if c["kind"] == "first_contact")
    assert first["due_at"] == "2026-11-23T02:30:00+00:00"  # 10:00 + 30 working minutes


def test_the_logged_customer_is_the_tickets_and_is_acknowledged(
    desk: Harness, sink: SmtpSink
) -> None:
    number = logged(desk, PHONE)
    assert number is not None
    customer = desk.ticket(number)["customer"]
    assert customer == {"address": "li.na@example.cn", "name": "李娜", "tier": "vip"}
    ack = notice_to(desk, sink, "li.na@example.cn")
    assert number in ack.message["Subject"] and ack.message["In-Reply-To"] is None
    assert sink.to(CARE_MANAGER)  # staff hear of it, never as its customer


def test_the_staff_member_is_confirmed(desk: Harness, sink: SmtpSink) -> None:
    number = logged(desk, PHONE)
    assert number is not None
    kinds = [m["kind"] for m in desk.ticket(number)["outbox"] if m["to"] == CARE_MANAGER]
    assert "confirmation" in kinds
    desk.send_outbox()
    confirmation = [r for r in sink.to(CARE_MANAGER) if "已执行" in str(r.message["Subject"])]
    assert confirmation and "登记投诉" in confirmation[-1].text


def test_an_on_site_complaint_must_be_resolved_the_same_day(desk: Harness) -> None:
    number = logged(desk, "Channel: on_site\nCustomer: Li Na 13800138000\n\nRude in the lounge.")
    assert number is not None
    assert desk.ticket(number)["channel"] == "on_site"
    assert clock_rules(desk, number)["resolution"] == "on-site-same-day"


def test_without_an_address_nobody_is_acknowledged(desk: Harness) -> None:
    number = logged(desk, "渠道: 现场\n客户: 王先生 13900139000\n\n客户到店投诉前台态度差。")
    assert number is not None
    ticket = desk.ticket(number)
    assert ticket["customer"]["address"] == "tel:13900139000"
    assert [m for m in ticket["outbox"] if m["kind"] == "acknowledgement"] == []


def test_staff_mail_without_the_header_lines_opens_nothing(desk: Harness) -> None:
    outcome = desk.deliver(complaint("客户来电说漏油，麻烦看一下。", sender=SERVICE_MANAGER))
    assert (outcome.disposition, outcome.reason) == (Disposition.IGNORED, "staff-mail")
    assert desk.count(Ticket) == 0


def test_a_customer_writing_the_header_lines_files_an_ordinary_complaint(desk: Harness) -> None:
    number = desk.deliver(complaint(PHONE, sender="someone@example.cn")).ticket
    assert number is not None
    ticket = desk.ticket(number)
    assert (ticket["channel"], ticket["customer"]["address"]) == ("email", "someone@example.cn")


def test_an_unauthenticated_log_is_held_when_authentication_is_required(
    tmp_path: Path, db_url: str, sink: SmtpSink, clock: FakeClock
) -> None:
    extra = (
        'require_authentication = true\n[tickets]\ntrusted_authserv_ids = ["mx.dealer.example"]\n'
    )
    for h in harness(tmp_path, db_url, sink, clock, replies_config(tmp_path, extra=extra)):
        outcome = h.deliver(complaint(PHONE, sender=CARE_MANAGER))
        assert outcome.disposition is Disposition.HELD
        (row,) = held(h)
        assert row.reason == "log-unauthenticated"
