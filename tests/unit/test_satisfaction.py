"""The customer's answer to the satisfaction question: read only while the ticket awaits it,
below their quotes, and turned into the event it applies."""

from __future__ import annotations

import pytest

from daemon.lifecycle import Event, Status
from daemon.satisfaction import UNSATISFIED_AT_OR_BELOW, read

QUOTE = (
    "\n\n在 2026年11月24日 15:00，客户关爱中心 写道：\n> 您对处理结果是否满意？\n> 满意 或 不满意\n"
)


@pytest.mark.parametrize(
    ("text", "event", "score"),
    [
        ("满意", Event.CALLBACK, None),
        ("非常满意，谢谢", Event.CALLBACK, None),
        ("9分", Event.CALLBACK, 9),
        ("yes", Event.CALLBACK, None),
        ("不满意", Event.REOPEN, None),
        ("一般", Event.REOPEN, None),
        ("5分", Event.REOPEN, 5),
        ("no", Event.REOPEN, None),
        ("不滿意", Event.REOPEN, None),  # traditional characters
        ("評分 8", Event.CALLBACK, 8),
    ],
)
def test_an_answer_on_a_resolved_ticket_applies_its_event(
    text: str, event: Event, score: int | None
) -> None:
    reading = read(Status.RESOLVED, text + QUOTE)
    assert reading is not None
    assert (reading.event, reading.answer.score) == (event, score)


def test_the_manufacturers_threshold_is_six() -> None:
    assert UNSATISFIED_AT_OR_BELOW == 6
    six, seven = read(Status.RESOLVED, "6分"), read(Status.RESOLVED, "7分")
    assert six is not None and seven is not None
    assert (six.event, seven.event) == (Event.REOPEN, Event.CALLBACK)


def test_our_quoted_question_is_no_answer() -> None:
    assert read(Status.RESOLVED, "请问下次保养是什么时候？" + QUOTE) is None


@pytest.mark.parametrize(
    "status", [s for s in Status if s is not Status.RESOLVED], ids=lambda s: s.value
)
def test_only_a_ticket_awaiting_the_callback_reads_an_answer(status: Status) -> None:
    assert read(status, "不满意") is None


@pytest.mark.parametrize("command", ["#close", "关闭", "#reopen", "重开", "#ack"])
def test_a_staff_command_is_no_answer(command: str) -> None:
    assert read(Status.RESOLVED, command) is None


def test_the_cause_names_the_verdict_and_the_score() -> None:
    reading = read(Status.RESOLVED, "5分")
    assert reading is not None
    assert reading.cause == "customer unsatisfied (5分, score 5)"
