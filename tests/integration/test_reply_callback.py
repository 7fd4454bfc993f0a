"""Customer care recording an unhappy callback by reply takes the customer's own path: the
verdict recorded, the ticket reopened, one step up the ladder under the unsatisfied rule; and a
backfilled `#escalate` records its step but mails nobody. Real database, real SMTP sink, fake
clock."""

from __future__ import annotations

from typing import Any

import pytest
from support.harness import Harness
from support.mail import complaint
from support.org import CARE_MANAGER, SERVICE_DIRECTOR
from support.smtp_sink import SmtpSink
from support.staffreply import CUSTOMER, events_of, file, notice_to, reply, staff_desk

from daemon.acting import act
from daemon.deps import Run
from daemon.lifecycle import Event
from daemon.values import Disposition

__all__ = ["staff_desk"]

RESULT = "已更换变速箱油封，试车两天无渗漏。"


def _resolved(h: Harness, sink: SmtpSink) -> tuple[str, Any]:
    """A ticket contacted and resolved with a result; the care manager's notice to reply to."""
    number = file(h)
    notice = notice_to(h, sink, CARE_MANAGER)
    act(h.deps, number, Event.CONTACT, "zheng_hao", "phoned", h.clock())
    h.clock.advance(minutes=30)
    act(h.deps, number, Event.RESOLVE, "zheng_hao", "fixed", h.clock(), result=RESULT)
    h.clock.advance(minutes=30)
    return number, notice


def _customer_says(h: Harness, number: str, text: str) -> None:
    (question,) = [m for m in h.outbox() if m.kind == "satisfaction"]
    subject = f"Re: [{number}] 请评价投诉处理结果"
    mail = complaint(text, sender=CUSTOMER, subject=subject, in_reply_to=f"<{question.message_id}>")
    assert h.deliver(mail).ticket == number


def _what_happened(h: Harness, number: str) -> tuple[Any, ...]:
    """The verdict, the transition and the escalation the unhappy answer left, without who."""
    (said,) = events_of(h, number, "satisfaction")
    transitions = [e["detail"]["event"] for e in events_of(h, number, "transition")]
    (step,) = events_of(h, number, "escalated")
    d = step["detail"]
    return (
        said["detail"]["verdict"],
        h.ticket(number)["status"],
        transitions[-1],
        (d["clock"], d["rule"], d["step"], d["to"], d["emails"]),
        [m.recipient for m in h.outbox() if m.kind == "unsatisfied"][:1],
    )


UNHAPPY = (
    "unsatisfied",
    "reopened",
    "reopen",
    ("callback", "customer-unsatisfied", 1, ["qian_hong"], [SERVICE_DIRECTOR]),
    [SERVICE_DIRECTOR],
)


@pytest.mark.parametrize("text", ["回访 不满意\n客户说还是漏油", "#callback unsatisfied"])
def test_an_unhappy_callback_by_reply_reopens_and_escalates_as_the_customers_answer_does(
    staff_desk: Harness, sink: SmtpSink, text: str
) -> None:
    number, notice = _resolved(staff_desk, sink)
    outcome = staff_desk.deliver(reply(notice, text))
    assert outcome.disposition is Disposition.FOLLOWUP
    assert _what_happened(staff_desk, number) == UNHAPPY
    (said,) = events_of(staff_desk, number, "satisfaction")
    assert said["actor"] == "zhou_jie"


def test_the_customers_own_unhappy_answer_leaves_the_same_trail(
    staff_desk: Harness, sink: SmtpSink
) -> None:
    number, _ = _resolved(staff_desk, sink)
    _customer_says(staff_desk, number, "不满意，还是漏油。")
    assert _what_happened(staff_desk, number) == UNHAPPY


def test_the_escalation_for_an_unhappy_callback_quotes_what_customer_care_wrote(
    staff_desk: Harness, sink: SmtpSink
) -> None:
    number, notice = _resolved(staff_desk, sink)
    staff_desk.deliver(reply(notice, "回访 不满意\n客户说还是漏油"))
    staff_desk.send_outbox()
    subjects = [(m, str(m.message["Subject"])) for m in sink.to(SERVICE_DIRECTOR)]
    (mail,) = [m for m, subject in subjects if number in subject and "不满意" in subject]
    assert "客户说还是漏油" in mail.text and "第 1 级上报" in mail.text


def test_a_happy_callback_by_reply_records_the_verdict_and_lets_care_close(
    staff_desk: Harness, sink: SmtpSink
) -> None:
    number, notice = _resolved(staff_desk, sink)
    staff_desk.deliver(reply(notice, "#callback satisfied"))
    (said,) = events_of(staff_desk, number, "satisfaction")
    assert said["detail"]["verdict"] == "satisfied"
    assert staff_desk.ticket(number)["status"] == "callback_done"
    assert events_of(staff_desk, number, "escalated") == []


def test_an_unhappy_callback_before_any_result_changes_nothing(
    staff_desk: Harness, sink: SmtpSink
) -> None:
    number = file(staff_desk)
    notice = notice_to(staff_desk, sink, CARE_MANAGER)
    staff_desk.clock.advance(minutes=10)
    staff_desk.deliver(reply(notice, "回访 不满意"))
    assert staff_desk.ticket(number)["status"] == "assigned"
    assert events_of(staff_desk, number, "satisfaction") == []
    assert events_of(staff_desk, number, "escalated") == []
    (refused,) = events_of(staff_desk, number, "reply-refused")
    assert refused["detail"]["reason"] == "cannot-apply"


@pytest.mark.parametrize("text", ["升级", "#escalate"])
def test_an_escalation_by_reply_in_a_backfill_is_recorded_and_mails_nobody(
    staff_desk: Harness, sink: SmtpSink, text: str
) -> None:
    number = file(staff_desk)
    notice = notice_to(staff_desk, sink, CARE_MANAGER)
    queued = len(staff_desk.outbox())
    staff_desk.clock.advance(minutes=10)
    outcome = staff_desk.deliver(reply(notice, text), run=Run(send_mail=False))
    assert outcome.disposition is Disposition.FOLLOWUP
    (step,) = events_of(staff_desk, number, "escalated")
    assert (step["detail"]["to"], step["detail"]["emails"]) == (["qian_hong"], [])
    assert events_of(staff_desk, number, "unheard") == []
    assert len(staff_desk.outbox()) == queued


def test_an_unhappy_callback_in_a_backfill_reopens_and_mails_nobody(
    staff_desk: Harness, sink: SmtpSink
) -> None:
    number, notice = _resolved(staff_desk, sink)
    queued = len(staff_desk.outbox())
    staff_desk.deliver(reply(notice, "#callback unsatisfied"), run=Run(send_mail=False))
    assert staff_desk.ticket(number)["status"] == "reopened"
    (step,) = events_of(staff_desk, number, "escalated")
    assert (step["detail"]["rule"], step["detail"]["emails"]) == ("customer-unsatisfied", [])
    assert len(staff_desk.outbox()) == queued
