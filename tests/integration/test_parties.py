"""Only a ticket's parties join it; staff and robots open no complaints; no mail loops.

A stranger naming a ticket (by its tag, or by a Message-ID it quotes) and a sender our own
server says is forged are held for review, and the handler hears nothing of them. The customer
and staff still join. Run on SQLite and PostgreSQL, with mail to the real SMTP sink.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select
from support import process
from support.clock import FakeClock
from support.harness import Harness, write_config
from support.mail import complaint
from support.org import CARE_MANAGER, GM, SERVICE_DIRECTOR, SERVICE_MANAGER, STORE_ORG
from support.smtp_sink import Received, SmtpSink

from daemon.cli import build_parser
from daemon.cli.common import CommandError
from daemon.store.models import HeldMessage, Message, Ticket
from daemon.values import Disposition

CUSTOMER = "zhang.wei@example.cn"
STRANGER = "li.si@stranger.test"
OUR_MX = "mx.dealer.example"
STAFF = {SERVICE_MANAGER, CARE_MANAGER, GM, SERVICE_DIRECTOR}
COMPLAINT = "你们的售后服务太差了，车辆保养后发动机异响，一直没人处理。"
SETTINGS = f"""
{STORE_ORG}
[tickets]
trusted_authserv_ids = ["{OUR_MX}"]
repeat_body_window_minutes = 60
"""


@pytest.fixture
def desk(tmp_path: Path, db_url: str, sink: SmtpSink, clock: FakeClock) -> Iterator[Harness]:
    """The store's org chart; our receiving server's Authentication-Results are trusted."""
    h = Harness(write_config(tmp_path, db_url, sink.port, SETTINGS), clock)
    yield h
    h.close()


def _filed(desk: Harness, sink: SmtpSink) -> str:
    """A customer's complaint, its acknowledgement and staff notices sent; the sink emptied."""
    outcome = desk.deliver(complaint(COMPLAINT, message_id="<first@example.cn>"))
    assert outcome.disposition is Disposition.FILED and outcome.ticket
    desk.send_outbox()
    sink.clear()
    return outcome.ticket


def _texts(desk: Harness, number: str) -> list[str]:
    return [m["text"] for m in desk.ticket(number)["messages"]]


def _dmarc_fail(domain: str) -> dict[str, str]:
    return {"Authentication-Results": f"{OUR_MX}; spf=fail; dmarc=fail header.from={domain}"}


def test_a_stranger_naming_a_ticket_by_its_tag_is_held_and_the_handler_not_told(desk, sink):
    number = _filed(desk, sink)
    outcome = desk.deliver(
        complaint("我是客户，请把退款打到这个账户。", sender=STRANGER, subject=f"Re: [{number}]")
    )
    assert (outcome.disposition, outcome.reason) == (Disposition.HELD, "not-a-party")
    assert _texts(desk, number) == [COMPLAINT]
    desk.send_outbox()
    assert sink.received == []
    assert "held" in [e["kind"] for e in desk.ticket(number)["events"]]


def test_a_stranger_quoting_the_customers_message_id_is_held(desk, sink):
    number = _filed(desk, sink)
    outcome = desk.deliver(
        complaint("补充：请联系我。", sender=STRANGER, in_reply_to="<first@example.cn>")
    )
    assert (outcome.disposition, outcome.reason) == (Disposition.HELD, "not-a-party")
    assert _texts(desk, number) == [COMPLAINT]
    desk.send_outbox()
    assert sink.received == []


def test_the_customers_forged_from_failing_dmarc_at_our_server_is_held(desk, sink):
    number = _filed(desk, sink)
    forged = complaint("我撤回投诉。", subject=f"Re: [{number}]", headers=_dmarc_fail("example.cn"))
    outcome = desk.deliver(forged)
    assert (outcome.disposition, outcome.reason) == (Disposition.HELD, "dmarc-fail")
    assert _texts(desk, number) == [COMPLAINT]
    desk.send_outbox()
    assert sink.received == []


def test_the_handlers_forged_from_failing_dmarc_is_held(desk, sink):
    number = _filed(desk, sink)
    forged = complaint(
        "已处理完毕，请结案。",
        sender=SERVICE_MANAGER,
        name="郑浩",
        subject=f"Re: [{number}]",
        headers=_dmarc_fail("dealer.example"),
    )
    assert desk.deliver(forged).disposition is Disposition.HELD
    assert _texts(desk, number) == [COMPLAINT]


def test_a_new_complaint_failing_dmarc_is_held_and_nobody_is_acknowledged(desk, sink):
    outcome = desk.deliver(complaint(COMPLAINT, headers=_dmarc_fail("example.cn")))
    assert (outcome.disposition, outcome.reason) == (Disposition.HELD, "dmarc-fail")
    assert desk.count(Ticket) == 0
    desk.send_outbox()
    assert sink.received == []


def test_dmarc_fail_claimed_by_a_server_we_do_not_trust_is_not_believed(desk, sink):
    number = _filed(desk, sink)
    planted = {"Authentication-Results": "mx.elsewhere.test; dmarc=fail header.from=example.cn"}
    outcome = desk.deliver(complaint("补充说明。", subject=f"Re: [{number}]", headers=planted))
    assert (outcome.disposition, outcome.ticket) == (Disposition.FOLLOWUP, number)


def test_the_customers_own_follow_up_joins_and_the_handler_is_told_it_is_the_customer(desk, sink):
    number = _filed(desk, sink)
    outcome = desk.deliver(complaint("今天又响了。", subject=f"Re: [{number}] 投诉"))
    assert (outcome.disposition, outcome.ticket) == (Disposition.FOLLOWUP, number)
    desk.send_outbox()
    (notice,) = sink.to(SERVICE_MANAGER)
    assert "客户补充来信" in notice.message["Subject"]
    assert f"客户 {CUSTOMER}" in notice.text


def test_a_follow_up_in_a_long_thread_finds_its_ticket_by_a_message_id(desk, sink):
    number = _filed(desk, sink)
    # A long thread: a dozen References, ours among the last; no ticket tag in the subject.
    others = " ".join(f"<older-{i}@example.cn>" for i in range(11))
    headers = {"References": f"{others} <first@example.cn>"}
    outcome = desk.deliver(complaint("还是没人处理。", subject="Re: 投诉", headers=headers))
    assert (outcome.disposition, outcome.ticket) == (Disposition.FOLLOWUP, number)


def test_a_follow_up_naming_a_few_message_ids_finds_its_ticket(desk, sink):
    number = _filed(desk, sink)
    reply = complaint("还是没人处理。", subject="Re: 投诉", in_reply_to="<first@example.cn>")
    outcome = desk.deliver(reply)
    assert (outcome.disposition, outcome.ticket) == (Disposition.FOLLOWUP, number)


def test_a_staff_reply_joins_and_is_not_presented_as_the_customer(desk, sink):
    outcome = desk.deliver(complaint(COMPLAINT))
    desk.send_outbox()
    (inform,) = sink.to(CARE_MANAGER)
    sink.clear()
    reply = complaint(
        "已督促服务经理今天联系客户。",
        sender=CARE_MANAGER,
        name="周杰",
        subject=f"Re: {inform.message['Subject']}",
        in_reply_to=inform.message["Message-ID"],
    )
    joined = desk.deliver(reply)
    assert (joined.disposition, joined.ticket) == (Disposition.FOLLOWUP, outcome.ticket)
    desk.send_outbox()
    (notice,) = sink.to(SERVICE_MANAGER)
    assert "客户补充来信" not in notice.message["Subject"]
    assert "员工来信" in notice.message["Subject"]


def test_the_employee_a_complaint_is_about_cannot_write_on_it(desk, sink):
    text = "售后经理郑浩态度恶劣，维修后漏油还骂人，我要投诉他。"
    number = desk.deliver(complaint(text, subject="投诉售后经理")).ticket
    desk.send_outbox()
    sink.clear()
    reply = complaint("客户说的不是事实。", sender=SERVICE_MANAGER, subject=f"Re: [{number}]")
    outcome = desk.deliver(reply)
    assert (outcome.disposition, outcome.reason) == (Disposition.HELD, "excluded-staff")
    desk.send_outbox()
    assert sink.received == []


def test_a_held_message_delivered_twice_is_held_once(desk, sink):
    number = _filed(desk, sink)
    raw = complaint("冒充", sender=STRANGER, subject=f"Re: [{number}]", message_id="<h@s.test>")
    assert [desk.deliver(raw).disposition for _ in range(2)] == [
        Disposition.HELD,
        Disposition.DUPLICATE,
    ]
    with desk.session() as session:
        assert session.scalar(select(func.count()).select_from(HeldMessage)) == 1


def test_staff_mail_naming_no_ticket_opens_no_complaint_and_sends_nothing(desk, sink):
    outcome = desk.deliver(complaint("下周一例会改到下午。", sender=CARE_MANAGER, subject="例会"))
    assert (outcome.disposition, outcome.reason) == (Disposition.IGNORED, "staff-mail")
    assert (desk.count(Ticket), desk.count(Message)) == (0, 1)
    desk.send_outbox()
    assert sink.received == []


def _held(
    capsysbinary: pytest.CaptureFixture[bytes], config: Path, *args: str
) -> tuple[int, bytes]:
    """`complaintd held ...` in this process (the command's own parser and handlers)."""
    parsed = build_parser().parse_args(["held", *args, "--config", str(config)])
    try:
        code = parsed.handler(parsed)
    except CommandError as exc:
        code = exc.exit_code
    return code, capsysbinary.readouterr().out


def test_held_messages_are_listed_shown_released_and_dropped_from_the_command_line(
    desk, sink, capsysbinary
):
    number = _filed(desk, sink)
    first = complaint("我是他的家属，补充情况。", sender=STRANGER, subject=f"Re: [{number}]")
    desk.deliver(first)
    desk.deliver(complaint("中奖通知", sender="spam@spam.test", subject=f"[{number}]"))
    config = desk.config_path

    listed = process.run_json("held", "list", "--json", "--config", config)
    assert [(h["sender"], h["ticket"], h["reason"]) for h in listed] == [
        (STRANGER, number, "not-a-party"),
        ("spam@spam.test", number, "not-a-party"),
    ]
    keep, spam = (str(h["id"]) for h in listed)
    shown = json.loads(_held(capsysbinary, config, "show", keep, "--json")[1])
    assert (shown["status"], shown["bytes"]) == ("held", len(first))
    assert _held(capsysbinary, config, "show", keep, "--raw") == (0, first)

    assert _held(capsysbinary, config, "release", keep, "--by", "zhou_jie")[0] == 0
    assert _held(capsysbinary, config, "drop", spam, "--by", "zhou_jie")[0] == 0
    assert _held(capsysbinary, config, "release", spam)[0] == 1  # decided already

    assert _texts(desk, number) == [COMPLAINT, "我是他的家属，补充情况。"]
    decided = json.loads(_held(capsysbinary, config, "list", "--all", "--json")[1])
    assert [(h["status"], h["decided_by"]) for h in decided] == [
        ("released", "zhou_jie"),
        ("dropped", "zhou_jie"),
    ]
    assert json.loads(_held(capsysbinary, config, "list", "--json")[1]) == []
    events = [(e["kind"], e["actor"]) for e in desk.ticket(number)["events"]]
    assert ("held-released", "zhou_jie") in events and ("held-dropped", "zhou_jie") in events
    desk.clock.set(datetime.now(UTC) + timedelta(minutes=1))  # the command ran on real time
    desk.send_outbox()
    (notice,) = sink.to(SERVICE_MANAGER)  # the released one only, and not as the customer's
    assert "客户补充来信" not in notice.message["Subject"]
    assert f"{STRANGER} 不是 {number} 登记的客户" in notice.text


def test_a_released_complaint_that_named_no_ticket_opens_one(desk, sink, capsysbinary):
    desk.deliver(complaint(COMPLAINT, headers=_dmarc_fail("example.cn")))
    (held,) = json.loads(_held(capsysbinary, desk.config_path, "list", "--json")[1])
    assert held["ticket"] is None
    code, out = _held(capsysbinary, desk.config_path, "release", str(held["id"]))
    assert code == 0
    number = out.decode().split()[-1]
    assert _texts(desk, number) == [COMPLAINT]
    assert "held-released" in [e["kind"] for e in desk.ticket(number)["events"]]


def _robot_loop(desk: Harness, sink: SmtpSink, robots: set[str], threaded: bool) -> int:
    """Each robot answers every mail it gets with the same text under a neutral subject and
    no automatic-mail headers, for up to 50 rounds; returns the rounds that carried mail."""
    rounds, seen = 0, 0
    for _ in range(50):
        desk.clock.advance(minutes=1)
        desk.send_outbox()
        new: list[Received] = sink.received[seen:]
        seen = len(sink.received)
        answers = [(to, mail) for mail in new for to in mail.rcpt_tos if to in robots]
        if not answers:
            break
        rounds += 1
        for to, mail in answers:
            desk.deliver(
                complaint(
                    "您好，您的邮件已收到，我会尽快处理。",
                    sender=to,
                    name="",
                    subject="来信已收到",
                    in_reply_to=mail.message["Message-ID"] if threaded else None,
                )
            )
    return rounds


@pytest.mark.parametrize("threaded", [False, True], ids=["new-thread", "in-reply-to"])
def test_staff_out_of_office_robots_answering_every_notice_stop_within_two_rounds(
    desk, sink, threaded
):
    desk.deliver(complaint(COMPLAINT))
    rounds = _robot_loop(desk, sink, STAFF, threaded)
    assert rounds <= 2
    assert desk.count(Ticket) == 1
    assert len(sink.received) <= 4  # acknowledgement, assignment, inform, one follow-up


def test_a_customers_robot_answering_every_acknowledgement_opens_one_ticket_more(desk, sink):
    desk.deliver(complaint(COMPLAINT))
    rounds = _robot_loop(desk, sink, {CUSTOMER}, threaded=False)
    assert rounds <= 2
    assert desk.count(Ticket) == 2  # the complaint, and the robot's first answer
    assert desk.count(Message) == 3  # the robot's second answer recorded, not filed


def test_the_same_mail_again_within_the_window_is_recorded_and_opens_nothing(desk, sink):
    desk.deliver(complaint(COMPLAINT))
    desk.clock.advance(minutes=30)
    again = desk.deliver(complaint(COMPLAINT))
    assert (again.disposition, again.reason) == (Disposition.IGNORED, "repeat-body")
    assert (desk.count(Ticket), desk.count(Message)) == (1, 2)
    desk.send_outbox()
    assert len(sink.to(CUSTOMER)) == 1


def test_the_same_mail_again_after_the_window_is_filed_but_is_no_repeat_complaint(desk):
    desk.deliver(complaint(COMPLAINT))
    desk.clock.advance(hours=2)
    again = desk.deliver(complaint(COMPLAINT))
    assert again.disposition is Disposition.FILED
    assert "repeat" not in desk.ticket(again.ticket)["classification"]["major"]


def test_a_second_distinct_complaint_is_a_repeat_complaint(desk):
    desk.deliver(complaint(COMPLAINT))
    desk.clock.advance(hours=2)
    second = desk.deliver(complaint("空调不制冷，修了两次还是不好。", subject="空调问题"))
    assert "repeat" in desk.ticket(second.ticket)["classification"]["major"]
