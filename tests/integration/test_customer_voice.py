"""One voice: staff answer the customer through the ticket, and the customer hears the result,
from the desk's address, in their thread and language; never from a staff member's address.
Real database, real SMTP sink, fake clock."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from support import process
from support.clock import FakeClock
from support.harness import Harness, write_config
from support.mail import complaint
from support.org import SERVICE_MANAGER, STORE_ORG
from support.smtp_sink import Received, SmtpSink

from daemon import customer_voice
from daemon.acting import act
from daemon.customer_voice import Told
from daemon.lifecycle import Event
from daemon.store import records

SH = ZoneInfo("Asia/Shanghai")
DESK = "complaints@dealer.example"
CUSTOMER = "zhang.wei@example.cn"
REPAIR = "车辆在贵店维修后变速箱还是漏油，售后一直拖着不处理。"
ANSWER = "张先生您好，油封已到货，请于本周五上午到店更换，费用由我店承担。"


@pytest.fixture
def desk(tmp_path: Path, db_url: str, sink: SmtpSink, clock: FakeClock) -> Iterator[Harness]:
    h = Harness(write_config(tmp_path, db_url, sink.port, STORE_ORG), clock)
    yield h
    h.close()


def filed(h: Harness, text: str = REPAIR, message_id: str = "<first@client.example>") -> str:
    number = h.deliver(complaint(text, sender=CUSTOMER, message_id=message_id)).ticket
    assert number is not None
    return number


def answer(h: Harness, number: str, text: str = ANSWER, by: str = "zheng_hao") -> Told:
    with h.store.transaction() as session:
        ticket = records.ticket_by_number(session, number)
        assert ticket is not None
        return customer_voice.answer_customer(session, ticket, text, h.deps, h.clock(), by)


def to_customer(h: Harness, sink: SmtpSink, subject_has: str) -> Received:
    h.send_outbox()
    (mail,) = [m for m in sink.to(CUSTOMER) if subject_has in m.message["Subject"]]
    return mail


def events_of(h: Harness, number: str, kind: str) -> list[dict[str, Any]]:
    return [e for e in h.ticket(number)["events"] if e["kind"] == kind]


def test_the_answer_goes_from_the_desk_not_the_staff_member(desk: Harness, sink: SmtpSink):
    number = filed(desk)
    answer(desk, number)
    mail = to_customer(desk, sink, "答复")
    assert mail.message["From"].addresses[0].addr_spec == DESK
    assert mail.rcpt_tos == [CUSTOMER]
    assert ANSWER in mail.text
    assert SERVICE_MANAGER not in mail.data.decode("ascii", "replace") + mail.text
    assert "郑浩" not in mail.text


def test_the_answer_is_in_the_tickets_thread(desk: Harness, sink: SmtpSink):
    number = filed(desk)
    answer(desk, number)
    mail = to_customer(desk, sink, "答复")
    assert f"[{number}]" in mail.message["Subject"]
    assert mail.message["In-Reply-To"] == "<first@client.example>"
    assert "<first@client.example>" in mail.message["References"]


def test_the_answer_replies_to_the_customers_latest_message(desk: Harness, sink: SmtpSink):
    number = filed(desk)
    desk.deliver(
        complaint("补充：今天又漏了。", sender=CUSTOMER, subject=f"Re: [{number}] 投诉",
                  message_id="<second@client.example>", in_reply_to="<first@client.example>")
    )  # fmt: skip
    answer(desk, number)
    mail = to_customer(desk, sink, "答复")
    assert mail.message["In-Reply-To"] == "<second@client.example>"
    refs = mail.message["References"].split()
    assert refs == ["<first@client.example>", "<second@client.example>"]


def test_the_answer_is_in_the_language_the_customer_wrote_in(desk: Harness, sink: SmtpSink):
    text = "The gearbox still leaks oil after the repair at your workshop and nobody answers."
    number = filed(desk, text)
    answer(desk, number, "We have ordered the seal and will replace it on Friday.")
    mail = to_customer(desk, sink, "answer")
    assert mail.message["Content-Language"] == "en"
    assert mail.text.startswith("Dear ")


def test_the_answer_is_audited_with_who_answered_and_the_outbox_row(desk: Harness):
    number = filed(desk)
    told = answer(desk, number)
    (row,) = [m for m in desk.outbox() if m.kind == "answer"]
    (audit,) = events_of(desk, number, "customer-mail")
    assert audit["actor"] == "zheng_hao"
    assert audit["detail"] == {
        "what": "answer",
        "by": "zheng_hao",
        "to": CUSTOMER,
        "outbox": row.id,
        "status": "pending",
        "text": ANSWER,
    }
    assert (told.outbox, told.queued) == (row.id, True)


def test_an_answer_past_the_customers_daily_cap_is_kept_suppressed_and_audited(
    tmp_path: Path, db_url: str, sink: SmtpSink, clock: FakeClock
):
    config = write_config(tmp_path, db_url, sink.port, STORE_ORG)
    cap = "max_auto_replies_per_recipient_per_day = 1\nretry_initial_seconds"
    text = config.read_text(encoding="utf-8").replace("retry_initial_seconds", cap)
    config.write_text(text, encoding="utf-8")
    h = Harness(config, clock)
    try:
        number = filed(h)  # the acknowledgement is the day's one mail
        told = answer(h, number)
        assert told.status == "suppressed"
        (audit,) = events_of(h, number, "customer-mail")
        assert audit["detail"]["status"] == "suppressed"
    finally:
        h.close()


def test_resolving_with_a_result_tells_the_customer_the_result(desk: Harness, sink: SmtpSink):
    number = filed(desk)
    act(desk.deps, number, Event.CONTACT, "zheng_hao", "phoned", desk.clock())
    act(desk.deps, number, Event.RESOLVE, "zheng_hao", "done", desk.clock(), result=ANSWER)
    mail = to_customer(desk, sink, "已处理完毕")
    assert ANSWER in mail.text
    assert mail.message["From"].addresses[0].addr_spec == DESK
    assert mail.message["In-Reply-To"] == "<first@client.example>"


def test_resolving_without_a_result_tells_no_result_but_still_asks(desk: Harness):
    number = filed(desk)
    act(desk.deps, number, Event.CONTACT, "zheng_hao", "phoned", desk.clock())
    act(desk.deps, number, Event.RESOLVE, "zheng_hao", "done", desk.clock())
    kinds = [m.kind for m in desk.outbox()]
    assert "resolution" not in kinds and kinds.count("satisfaction") == 1


def test_each_resolution_tells_the_result_and_asks_once(desk: Harness):
    number = filed(desk)
    act(desk.deps, number, Event.CONTACT, "zheng_hao", "phoned", desk.clock())
    act(desk.deps, number, Event.RESOLVE, "zheng_hao", "done", desk.clock(), result=ANSWER)
    assert [m.kind for m in desk.outbox()].count("resolution") == 1
    act(desk.deps, number, Event.REOPEN, "zhou_jie", "the seal leaks again", desk.clock())
    act(desk.deps, number, Event.RESOLVE, "zheng_hao", "again", desk.clock(), result=ANSWER)
    kinds = [m.kind for m in desk.outbox()]
    assert (kinds.count("resolution"), kinds.count("satisfaction")) == (2, 2)


def test_tickets_act_resolve_with_a_cause_tells_the_customer(
    tmp_path: Path, db_url: str, sink: SmtpSink
):
    # Opened a year back, so `--at` is in the past whatever today's date.
    clock = FakeClock(datetime(2025, 11, 24, 2, 0, tzinfo=UTC))
    config = write_config(tmp_path, db_url, sink.port, STORE_ORG)
    h = Harness(config, clock)
    try:
        number = filed(h)
        at = datetime(2025, 11, 24, 11, 0, tzinfo=SH).isoformat()
        process.run("tickets", "act", number, "contact", "--by", "zheng_hao", "--at", at,
                    "--config", config)  # fmt: skip
        process.run("tickets", "act", number, "resolve", "--by", "zheng_hao", "--at", at,
                    "--cause", ANSWER, "--config", config)  # fmt: skip
        (told,) = [e for e in events_of(h, number, "customer-mail")
                   if e["detail"]["what"] == "resolution"]  # fmt: skip
        assert (told["actor"], told["detail"]["text"]) == ("zheng_hao", ANSWER)
        assert [m.kind for m in h.outbox()].count("satisfaction") == 1
    finally:
        h.close()
