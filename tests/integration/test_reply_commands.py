"""Staff act on a ticket by replying to its notice: each command, in Chinese and in English,
through the daemon end to end (the notice sent over SMTP, the reply delivered back)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

import pytest
from support.harness import Harness
from support.org import CARE_MANAGER, GM, SERVICE_DIRECTOR, SERVICE_MANAGER
from support.smtp_sink import SmtpSink
from support.staffreply import CUSTOMER, events_of, file, notice_to, reply, staff_desk

from daemon.acting import act
from daemon.lifecycle import Event
from daemon.values import Disposition

__all__ = ["staff_desk"]


def before(*steps: Event) -> Callable[[Harness, str], None]:
    def run(h: Harness, number: str) -> None:
        for step in steps:
            act(h.deps, number, step, "zheng_hao", "test setup", h.clock())

    return run


@dataclass(frozen=True)
class Case:
    zh: str
    en: str
    status: str  # the ticket's status afterwards
    setup: Callable[[Harness, str], None] = field(default=before())
    sender: str = SERVICE_MANAGER
    check: Callable[[Harness, str], None] = field(default=lambda h, n: None)


def _handler_is_wang_lei(h: Harness, number: str) -> None:
    assert h.ticket(number)["assignment"]["handler"] == "wang_lei"


def _director_escalated(h: Harness, number: str) -> None:
    (step,) = events_of(h, number, "escalated")
    assert step["detail"]["emails"][0] == SERVICE_DIRECTOR


def _note_recorded(h: Harness, number: str) -> None:
    (note,) = events_of(h, number, "note")
    assert "客户下午再来" in note["detail"]["text"] or "customer" in note["detail"]["text"]


def _major_reported(h: Harness, number: str) -> None:
    assert h.ticket(number)["classification"]["major"] == ["marked"]
    assert any(m["to"] == GM and m["kind"] == "inform" for m in h.ticket(number)["outbox"])


def _customer_answered(h: Harness, number: str) -> None:
    answers = [m for m in h.ticket(number)["outbox"] if m["kind"] == "answer"]
    assert [m["to"] for m in answers] == [CUSTOMER]


CASES = {
    "ack": Case("签收", "#ack", "acknowledged"),
    "contacted": Case("已联系客户", "#contacted", "contacted"),
    "resolved": Case("已解决 更换了变速箱油封", "#resolved replaced the gearbox seal", "resolved",
                     before(Event.CONTACT)),
    "reply": Case("回复客户 您好，油封已到货，明天可以来店更换。", "#reply The seal has arrived.",
                  "assigned", check=_customer_answered),
    "assign": Case("转派 王磊", "#assign wang_lei", "assigned", check=_handler_is_wang_lei),
    "escalate": Case("升级", "#escalate", "assigned", check=_director_escalated),
    "pause": Case("暂停 等厂家配件", "#pause waiting for the part", "paused",
                  before(Event.CONTACT)),
    "resume": Case("恢复", "#resume", "contacted", before(Event.CONTACT, Event.PAUSE)),
    "note": Case("备注 客户下午再来", "#note the customer comes back this afternoon", "assigned",
                 check=_note_recorded),
    "major": Case("重大 客户说要找媒体", "#major the customer threatens the press", "assigned",
                  check=_major_reported),
    "callback": Case("回访 满意", "#callback satisfied", "callback_done",
                     before(Event.CONTACT, Event.RESOLVE), sender=CARE_MANAGER),
    "close": Case("关闭", "#close", "closed", before(Event.CONTACT, Event.RESOLVE, Event.CALLBACK),
                  sender=CARE_MANAGER),
    "reopen": Case("重开", "#reopen", "reopened", before(Event.CONTACT, Event.RESOLVE),
                   sender=CARE_MANAGER),
}  # fmt: skip


@pytest.mark.parametrize("language", ["zh", "en"])
@pytest.mark.parametrize("command", sorted(CASES))
def test_a_command_by_reply_moves_the_ticket_and_is_confirmed(
    staff_desk: Harness, sink: SmtpSink, command: str, language: str
) -> None:
    case = CASES[command]
    h = staff_desk
    number = file(h)
    notice = notice_to(h, sink, case.sender)
    case.setup(h, number)
    h.clock.advance(minutes=10)
    text = case.zh if language == "zh" else case.en
    outcome = h.deliver(reply(notice, text))
    assert outcome.disposition is Disposition.FOLLOWUP
    ticket = h.ticket(number)
    assert ticket["status"] == case.status
    (applied,) = events_of(h, number, "reply-applied")
    assert applied["detail"]["commands"] == [command]
    assert applied["detail"]["message_id"] == outcome.message_id
    confirmations = [m for m in ticket["outbox"] if m["kind"] == "confirmation"]
    assert [m["to"] for m in confirmations] == [case.sender]
    case.check(h, number)


def test_the_confirmation_says_what_changed_and_the_clocks_now_running(
    staff_desk: Harness, sink: SmtpSink
) -> None:
    number = file(staff_desk)
    notice = notice_to(staff_desk, sink, SERVICE_MANAGER)
    staff_desk.deliver(reply(notice, "签收"))
    sink.clear()
    confirmation = notice_to(staff_desk, sink, SERVICE_MANAGER)
    assert "已签收" in confirmation.text and "首次联系客户" in confirmation.text
    assert number in confirmation.message["Subject"]


def test_several_commands_in_one_reply_apply_in_order(staff_desk: Harness, sink: SmtpSink) -> None:
    number = file(staff_desk)
    notice = notice_to(staff_desk, sink, SERVICE_MANAGER)
    staff_desk.deliver(reply(notice, "签收\n已联系\n已解决：更换了油封"))
    assert staff_desk.ticket(number)["status"] == "resolved"


def test_a_command_the_state_forbids_changes_nothing_and_says_why(
    staff_desk: Harness, sink: SmtpSink
) -> None:
    number = file(staff_desk)
    notice = notice_to(staff_desk, sink, SERVICE_MANAGER)
    sink.clear()
    staff_desk.deliver(reply(notice, "签收\n恢复"))  # nothing is paused
    ticket = staff_desk.ticket(number)
    assert ticket["status"] == "assigned"
    assert events_of(staff_desk, number, "reply-applied") == []
    (refused,) = events_of(staff_desk, number, "reply-refused")
    assert refused["detail"]["reason"] == "cannot-apply"
    why = notice_to(staff_desk, sink, SERVICE_MANAGER)
    assert "未执行" in why.message["Subject"] and "resume is not allowed" in why.text


@pytest.mark.parametrize("text", ["备注 客户下午再来", "签收\n恢复"], ids=["applied", "refused"])
def test_a_reply_with_commands_stamps_the_ticket_updated_whether_or_not_they_apply(
    staff_desk: Harness, sink: SmtpSink, text: str
) -> None:
    number = file(staff_desk)
    notice = notice_to(staff_desk, sink, SERVICE_MANAGER)
    staff_desk.clock.advance(minutes=10)
    staff_desk.deliver(reply(notice, text))
    updated = datetime.fromisoformat(staff_desk.ticket(number)["updated_at"])
    assert updated == staff_desk.clock()


def test_a_misspelt_command_gets_the_valid_ones_in_the_readers_language(
    staff_desk: Harness, sink: SmtpSink
) -> None:
    number = file(staff_desk)
    notice = notice_to(staff_desk, sink, SERVICE_MANAGER)
    sink.clear()
    staff_desk.deliver(reply(notice, "#acknowledgd"))
    assert staff_desk.ticket(number)["status"] == "assigned"
    why = notice_to(staff_desk, sink, SERVICE_MANAGER)
    assert "无法识别的指令" in why.text and "签收" in why.text


def test_a_handler_may_not_close_only_customer_care_may(
    staff_desk: Harness, sink: SmtpSink
) -> None:
    number = file(staff_desk)
    notice = notice_to(staff_desk, sink, SERVICE_MANAGER)
    before(Event.CONTACT, Event.RESOLVE, Event.CALLBACK)(staff_desk, number)
    sink.clear()
    staff_desk.deliver(reply(notice, "关闭"))
    assert staff_desk.ticket(number)["status"] == "callback_done"
    (refused,) = events_of(staff_desk, number, "reply-refused")
    assert refused["detail"]["reason"] == "not-allowed"
    why = notice_to(staff_desk, sink, SERVICE_MANAGER)
    assert "“关闭”" in why.text


def test_a_reply_without_a_command_is_a_note_on_the_ticket(
    staff_desk: Harness, sink: SmtpSink
) -> None:
    number = file(staff_desk)
    notice = notice_to(staff_desk, sink, SERVICE_MANAGER)
    outcome = staff_desk.deliver(reply(notice, "客户电话没人接，明天再打。"))
    assert outcome.disposition is Disposition.FOLLOWUP
    assert staff_desk.ticket(number)["status"] == "assigned"
    assert events_of(staff_desk, number, "reply-applied") == []
    assert [e["detail"]["role"] for e in events_of(staff_desk, number, "followup")] == ["staff"]


def test_staff_notices_carry_a_reply_token_the_customers_do_not(
    staff_desk: Harness, sink: SmtpSink
) -> None:
    number = file(staff_desk)
    staff = notice_to(staff_desk, sink, SERVICE_MANAGER).message
    customer = notice_to(staff_desk, sink, CUSTOMER).message
    assert staff["Reply-To"].startswith(f"complaints+{number.lower()}.k1.")
    assert staff["Message-ID"].startswith(f"<t.{number.lower()}.k1.")
    assert customer["Reply-To"] is None and not customer["Message-ID"].startswith("<t.")


def test_an_unhappy_callback_reopens_the_ticket_and_takes_it_one_step_up(
    staff_desk: Harness, sink: SmtpSink
) -> None:
    number = file(staff_desk)
    notice = notice_to(staff_desk, sink, CARE_MANAGER)
    before(Event.CONTACT, Event.RESOLVE)(staff_desk, number)
    staff_desk.deliver(reply(notice, "回访 不满意"))
    assert staff_desk.ticket(number)["status"] == "reopened"
    (step,) = events_of(staff_desk, number, "escalated")
    # The customer's own unhappy answer takes the same path (test_reply_callback.py).
    assert (step["detail"]["clock"], step["detail"]["rule"], step["detail"]["emails"][0]) == (
        "callback",
        "customer-unsatisfied",
        SERVICE_DIRECTOR,
    )


def test_a_second_escalation_in_one_reply_goes_a_step_higher(
    staff_desk: Harness, sink: SmtpSink
) -> None:
    number = file(staff_desk)
    notice = notice_to(staff_desk, sink, SERVICE_MANAGER)
    staff_desk.deliver(reply(notice, "升级\n升级"))
    steps = events_of(staff_desk, number, "escalated")
    assert [s["detail"]["emails"][0] for s in steps] == [SERVICE_DIRECTOR, GM]
