"""After the result the customer is asked whether they are satisfied; their answer closes the
loop (customer care may close) or reopens the ticket one step up the ladder; no answer has
customer care phone them. Real database, real SMTP sink, fake clock."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from support.clock import FakeClock
from support.harness import Harness, write_config
from support.mail import complaint
from support.org import CARE_MANAGER, GM, SERVICE_DIRECTOR, SERVICE_MANAGER, STORE_ORG
from support.smtp_sink import Received, SmtpSink

from daemon import sweeps
from daemon.acting import act
from daemon.lifecycle import Event
from daemon.store.models import OutboxMail

SH = ZoneInfo("Asia/Shanghai")
CUSTOMER = "zhang.wei@example.cn"
CALLBACK = "xu.li@dealer.example"
REPAIR = "车辆在贵店维修后变速箱还是漏油，售后一直拖着不处理。"
RESULT = "已更换变速箱油封，试车两天无渗漏。"

CALLBACK_SPECIALIST = f"""
[[org.people]]
key = "xu_li"
name = "徐丽"
email = "{CALLBACK}"
role = "callback_specialist"
manager = "zhou_jie"
"""


def local(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 11, day, hour, minute, tzinfo=SH)


@pytest.fixture
def desk(tmp_path: Path, db_url: str, sink: SmtpSink, clock: FakeClock) -> Iterator[Harness]:
    config = write_config(tmp_path, db_url, sink.port, STORE_ORG + CALLBACK_SPECIALIST)
    h = Harness(config, clock)
    yield h
    h.close()


def resolved(h: Harness) -> str:
    """A repair complaint (handled by the service manager), contacted and resolved with a
    result on Tuesday at 15:00."""
    h.clock.set(local(23, 10))
    number = h.deliver(complaint(REPAIR, sender=CUSTOMER)).ticket
    assert number is not None
    act(h.deps, number, Event.CONTACT, "zheng_hao", "phoned", local(23, 11))
    h.clock.set(local(24, 15))
    act(h.deps, number, Event.RESOLVE, "zheng_hao", "fixed", h.clock(), result=RESULT)
    return number


def mails(h: Harness, kind: str) -> list[OutboxMail]:
    return [m for m in h.outbox() if m.kind == kind]


def answer(h: Harness, number: str, text: str, at: datetime | None = None) -> None:
    """The customer answers the satisfaction mail from their client, quoting it."""
    (question,) = mails(h, "satisfaction")[-1:]
    h.clock.set(at or local(25, 9))
    quoted = "\n".join(f"> {line}" for line in ["您对处理结果是否满意？", "满意 或 不满意"])
    body = f"{text}\n\n在 2026年11月24日 15:00，客户关爱中心 写道：\n{quoted}\n"
    subject = f"Re: [{number}] 请评价投诉处理结果"
    outcome = h.deliver(
        complaint(body, sender=CUSTOMER, subject=subject, in_reply_to=f"<{question.message_id}>")
    )
    assert outcome.ticket == number


def events_of(h: Harness, number: str, kind: str) -> list[dict[str, Any]]:
    return [e for e in h.ticket(number)["events"] if e["kind"] == kind]


def delivered(h: Harness, sink: SmtpSink, address: str) -> list[Received]:
    h.send_outbox()
    return sink.to(address)


def test_resolving_asks_the_customer_once_whether_they_are_satisfied(desk: Harness) -> None:
    number = resolved(desk)
    (question,) = mails(desk, "satisfaction")
    assert question.recipient == CUSTOMER
    (told,) = events_of(desk, number, "customer-mail")[-1:]
    assert (told["detail"]["what"], told["detail"]["outbox"]) == ("satisfaction", question.id)


def test_the_question_reaches_the_customer_in_their_language_and_thread(
    desk: Harness, sink: SmtpSink
) -> None:
    resolved(desk)
    (mail,) = [m for m in delivered(desk, sink, CUSTOMER) if "评价" in m.message["Subject"]]
    assert mail.message["Content-Language"] == "zh-CN"
    assert "不满意" in mail.text and "1 到 10 分" in mail.text
    assert mail.message["In-Reply-To"] is not None


def test_a_satisfied_answer_records_the_callback_so_customer_care_can_close(
    desk: Harness,
) -> None:
    number = resolved(desk)
    answer(desk, number, "满意，谢谢！")
    ticket = desk.ticket(number)
    assert ticket["status"] == "callback_done"
    assert {c["kind"]: c["state"] for c in ticket["clocks"]}["callback"] == "met"
    (said,) = events_of(desk, number, "satisfaction")
    assert (said["detail"]["verdict"], said["detail"]["score"]) == ("satisfied", None)
    assert said["actor"] == CUSTOMER
    act(desk.deps, number, Event.CLOSE, "zhou_jie", "callback confirmed", local(25, 10))
    assert desk.ticket(number)["status"] == "closed"


def test_a_score_of_nine_is_satisfied(desk: Harness) -> None:
    number = resolved(desk)
    answer(desk, number, "9分")
    (said,) = events_of(desk, number, "satisfaction")
    assert (said["detail"]["verdict"], said["detail"]["score"]) == ("satisfied", 9)
    assert desk.ticket(number)["status"] == "callback_done"


def test_an_unsatisfied_answer_reopens_the_ticket_and_restarts_its_resolution_clock(
    desk: Harness,
) -> None:
    number = resolved(desk)
    answer(desk, number, "不满意，还是漏油。")
    ticket = desk.ticket(number)
    assert ticket["status"] == "reopened"
    clocks = {c["kind"]: c for c in ticket["clocks"]}
    assert clocks["resolution"]["state"] == "running"
    assert clocks["callback"]["state"] == "met"
    (reopened,) = [e for e in events_of(desk, number, "transition")
                   if e["detail"]["event"] == "reopen"]  # fmt: skip
    assert reopened["actor"] == CUSTOMER
    assert "unsatisfied" in reopened["detail"]["cause"]


def test_a_score_of_five_is_unsatisfied_and_reopens(desk: Harness) -> None:
    number = resolved(desk)
    answer(desk, number, "5分")
    (said,) = events_of(desk, number, "satisfaction")
    assert (said["detail"]["verdict"], said["detail"]["score"]) == ("unsatisfied", 5)
    assert desk.ticket(number)["status"] == "reopened"


def test_an_unsatisfied_answer_goes_one_step_up_to_the_handlers_director(
    desk: Harness, sink: SmtpSink
) -> None:
    number = resolved(desk)
    answer(desk, number, "不满意，还是漏油。")
    (step,) = [e for e in events_of(desk, number, "escalated")
               if e["detail"]["rule"] == "customer-unsatisfied"]  # fmt: skip
    assert (step["detail"]["step"], step["detail"]["to"]) == (1, ["qian_hong"])
    (mail,) = [m for m in delivered(desk, sink, SERVICE_DIRECTOR) if number in m.message["Subject"]]
    assert "不满意" in mail.message["Subject"]
    assert "还是漏油" in mail.text and "第 1 级上报" in mail.text
    assert [m for m in sink.to(GM) if number in m.message["Subject"]] == []


def test_a_second_unsatisfied_answer_goes_one_step_further_to_the_general_manager(
    desk: Harness, sink: SmtpSink
) -> None:
    number = resolved(desk)
    answer(desk, number, "不满意")
    act(desk.deps, number, Event.RESOLVE, "zheng_hao", "again", local(26, 10), result=RESULT)
    answer(desk, number, "还是不满意", local(26, 15))
    steps = [e["detail"] for e in events_of(desk, number, "escalated")
             if e["detail"]["rule"] == "customer-unsatisfied"]  # fmt: skip
    # The director was told at step 1 (and is step 2 as well): the GM is the next one up.
    assert [(s["step"], s["to"]) for s in steps] == [(1, ["qian_hong"]), (3, ["zhao_gang"])]
    assert [m for m in delivered(desk, sink, GM) if number in m.message["Subject"]] != []


def test_each_resolution_asks_once(desk: Harness) -> None:
    number = resolved(desk)
    answer(desk, number, "不满意")
    act(desk.deps, number, Event.RESOLVE, "zheng_hao", "again", local(26, 10), result=RESULT)
    assert len(mails(desk, "satisfaction")) == 2
    assert len(mails(desk, "resolution")) == 2


def test_a_second_answer_to_the_same_question_is_an_ordinary_follow_up(desk: Harness) -> None:
    number = resolved(desk)
    answer(desk, number, "满意")
    answer(desk, number, "不满意", local(25, 11))
    assert desk.ticket(number)["status"] == "callback_done"
    assert len(events_of(desk, number, "satisfaction")) == 1


def test_an_answer_that_says_neither_changes_nothing(desk: Harness) -> None:
    number = resolved(desk)
    answer(desk, number, "请问下次保养是什么时候？")
    assert desk.ticket(number)["status"] == "resolved"
    assert events_of(desk, number, "satisfaction") == []


@pytest.mark.parametrize("command", ["#close", "关闭"])
def test_a_customer_cannot_close_their_ticket(desk: Harness, command: str) -> None:
    number = resolved(desk)
    answer(desk, number, "满意")
    answer(desk, number, command, local(25, 11))
    assert desk.ticket(number)["status"] == "callback_done"


@pytest.mark.parametrize("command", ["#reopen", "重开"])
def test_a_customer_cannot_reopen_by_command(desk: Harness, command: str) -> None:
    number = resolved(desk)
    answer(desk, number, command)
    assert desk.ticket(number)["status"] == "resolved"


def test_no_answer_has_the_callback_specialist_phone_the_customer(
    desk: Harness, sink: SmtpSink
) -> None:
    number = resolved(desk)
    callback = {c["kind"]: c for c in desk.ticket(number)["clocks"]}["callback"]
    desk.clock.set(datetime.fromisoformat(callback["next_action_at"]))
    report = sweeps.sweep(desk.deps, desk.clock())
    (remind,) = [a for a in report.actions if a.clock == "callback"]
    assert (remind.action, remind.to) == ("remind", (CALLBACK,))
    (mail,) = [m for m in delivered(desk, sink, CALLBACK) if number in m.message["Subject"]]
    assert "请致电客户" in mail.message["Subject"] + mail.text
    assert RESULT in mail.text and "客户至今未答复" in mail.text
    assert [m for m in sink.to(SERVICE_MANAGER) if "回访" in m.message["Subject"]] == []


def test_a_satisfied_customer_is_not_phoned_about(desk: Harness) -> None:
    number = resolved(desk)
    answer(desk, number, "非常满意")
    report = sweeps.sweep(desk.deps, local(30, 17))
    assert [a for a in report.actions if a.clock == "callback"] == []


def test_an_unsatisfied_answer_naming_the_director_passes_them_by(
    desk: Harness, sink: SmtpSink
) -> None:
    number = resolved(desk)
    answer(desk, number, "不满意，找了钱红也没人管。")
    (step,) = [e for e in events_of(desk, number, "escalated")
               if e["detail"]["rule"] == "customer-unsatisfied"]  # fmt: skip
    assert "qian_hong" not in step["detail"]["to"] and step["detail"]["to"] != []
    assert [m for m in delivered(desk, sink, SERVICE_DIRECTOR) if number in m.message["Subject"]
            and "不满意" in m.message["Subject"]] == []  # fmt: skip


def test_without_a_callback_specialist_the_customer_care_manager_is_asked_to_phone(
    tmp_path: Path, db_url: str, sink: SmtpSink, clock: FakeClock
) -> None:
    h = Harness(write_config(tmp_path, db_url, sink.port, STORE_ORG), clock)
    try:
        number = resolved(h)
        callback = {c["kind"]: c for c in h.ticket(number)["clocks"]}["callback"]
        h.clock.set(datetime.fromisoformat(callback["next_action_at"]))
        (remind,) = [a for a in sweeps.sweep(h.deps, h.clock()).actions if a.clock == "callback"]
        assert remind.to == (CARE_MANAGER,)
    finally:
        h.close()
