"""The grammar of staff commands by reply, and the customer's satisfaction answer."""

from __future__ import annotations

import pytest

from daemon.lifecycle import Event
from daemon.replycommands import (
    VERBS,
    Command,
    CommandError,
    Commands,
    Kind,
    Problem,
    Verdict,
    help_text,
    parse,
    parse_satisfaction,
)


def _commands(text: str) -> Commands:
    result = parse(text)
    assert isinstance(result, Commands), result
    return result


def _error(text: str) -> CommandError:
    result = parse(text)
    assert isinstance(result, CommandError), result
    return result


def _one(text: str) -> Command:
    (command,) = _commands(text).commands
    return command


@pytest.mark.parametrize(
    ("chinese", "english", "kind"),
    [
        ("签收", "#ack", Kind.ACK),
        ("已联系", "#contacted", Kind.CONTACTED),
        ("升级", "#escalate", Kind.ESCALATE),
        ("恢复", "#resume", Kind.RESUME),
        ("重大", "#major", Kind.MAJOR),
        ("关闭", "#close", Kind.CLOSE),
        ("重开", "#reopen", Kind.REOPEN),
    ],
)
def test_each_command_without_argument_reads_the_same_in_both_languages(
    chinese: str, english: str, kind: Kind
) -> None:
    assert _one(chinese).kind is _one(english).kind is kind


@pytest.mark.parametrize(
    ("chinese", "english", "kind", "argument"),
    [
        ("已解决 已更换配件", "#resolved 已更换配件", Kind.RESOLVED, "已更换配件"),
        ("转派 张师傅", "#assign 张师傅", Kind.ASSIGN, "张师傅"),
        ("暂停 等厂家配件", "#pause 等厂家配件", Kind.PAUSE, "等厂家配件"),
        ("备注 客户很着急", "#note 客户很着急", Kind.NOTE, "客户很着急"),
        ("重大 客户要曝光", "#major 客户要曝光", Kind.MAJOR, "客户要曝光"),
        ("回复客户 您好", "#reply 您好", Kind.REPLY, "您好"),
    ],
)
def test_each_command_with_an_argument_reads_the_same_in_both_languages(
    chinese: str, english: str, kind: Kind, argument: str
) -> None:
    assert _one(chinese) == _one(english) == Command(kind, argument)


@pytest.mark.parametrize(
    "text",
    ["已解决：已更换配件", "已解决:已更换配件", "＃RESOLVED：已更换配件", "#Resolved 已更换配件"],
)
def test_colon_width_and_case_do_not_matter(text: str) -> None:
    assert _one(text) == Command(Kind.RESOLVED, "已更换配件")


def test_an_argument_is_kept_as_written_whatever_its_letters() -> None:
    assert _one("＃ＮＯＴＥ İzmir branch called") == Command(Kind.NOTE, "İzmir branch called")


def test_a_full_width_space_separates_a_verb_from_its_argument() -> None:
    assert _one("\u3000转派\u3000李顾问") == Command(Kind.ASSIGN, "李顾问")


def test_the_answer_to_the_customer_runs_to_the_end_of_the_kept_text() -> None:
    text = "签收\n回复客户 李女士您好：\n\n您的车辆已修好。\n#close 不是指令"
    parsed = _commands(text)
    assert parsed.commands[1] == Command(
        Kind.REPLY, "李女士您好：\n\n您的车辆已修好。\n#close 不是指令", line=1
    )
    assert len(parsed.commands) == 2


def test_the_answer_may_start_on_the_line_below_the_verb() -> None:
    assert _one("#reply\nDear Ms. Chen,\nYour car is ready.").argument == (
        "Dear Ms. Chen,\nYour car is ready."
    )


def test_a_required_argument_may_stand_on_the_line_below_the_verb() -> None:
    parsed = _commands("#resolved\nGave her a loan car.\nShe was pleased.")
    assert parsed.commands == (Command(Kind.RESOLVED, "Gave her a loan car."),)
    assert parsed.note == "She was pleased."


def test_a_command_below_a_verb_is_not_taken_as_its_argument() -> None:
    assert _error("#assign\n签收").problem is Problem.MISSING_ARGUMENT


def test_commands_are_read_one_per_line_until_the_first_ordinary_line() -> None:
    parsed = _commands("签收\n\n已联系\n客户下午到店\n升级")
    assert [c.kind for c in parsed.commands] == [Kind.ACK, Kind.CONTACTED]
    assert parsed.note == "客户下午到店\n升级"


def test_words_after_an_argument_less_command_become_the_note() -> None:
    parsed = _commands("已联系客户，约了明天到店。")
    assert [c.kind for c in parsed.commands] == [Kind.CONTACTED]
    assert parsed.note == "约了明天到店。"


def test_a_reply_without_a_command_is_an_internal_note() -> None:
    parsed = _commands("好的，我下午给客户打电话。\n王伟")
    assert parsed.is_note
    assert parsed.note == "好的，我下午给客户打电话。\n王伟"


@pytest.mark.parametrize(
    "text",
    [
        "恢复正常了，谢谢",
        "关闭车窗后异响消失",
        "升级软件后问题依旧",
        "暂停一下，我先问问",
        "重大问题已处理",
    ],
)
def test_a_sentence_that_starts_like_a_verb_is_not_a_command(text: str) -> None:
    assert _commands(text).is_note


@pytest.mark.parametrize(
    ("text", "verdict", "event"),
    [
        ("回访 满意", Verdict.SATISFIED, Event.CALLBACK),
        ("回访：不满意", Verdict.UNSATISFIED, Event.REOPEN),
        ("#callback Satisfied", Verdict.SATISFIED, Event.CALLBACK),
        ("#callback unsatisfied", Verdict.UNSATISFIED, Event.REOPEN),
    ],
)
def test_a_callback_carries_its_verdict_and_an_unhappy_one_reopens(
    text: str, verdict: Verdict, event: Event
) -> None:
    command = _one(text)
    assert (command.verdict, command.event) == (verdict, event)


@pytest.mark.parametrize(
    ("kind", "event"),
    [
        (Kind.ACK, Event.ACKNOWLEDGE),
        (Kind.CONTACTED, Event.CONTACT),
        (Kind.RESOLVED, Event.RESOLVE),
        (Kind.ASSIGN, Event.ASSIGN),
        (Kind.PAUSE, Event.PAUSE),
        (Kind.RESUME, Event.RESUME),
        (Kind.MAJOR, Event.MARK_MAJOR),
        (Kind.CLOSE, Event.CLOSE),
        (Kind.REOPEN, Event.REOPEN),
        (Kind.REPLY, None),
        (Kind.NOTE, None),
        (Kind.ESCALATE, None),
    ],
)
def test_each_command_maps_to_the_event_tickets_act_applies(
    kind: Kind, event: Event | None
) -> None:
    assert Command(kind).event == event


def test_every_kind_has_one_row_in_the_table() -> None:
    assert sorted(v.kind for v in VERBS) == sorted(Kind)


@pytest.mark.parametrize(
    ("text", "problem", "kind"),
    [
        ("回访 还行", Problem.BAD_ARGUMENT, Kind.CALLBACK),
        ("回访", Problem.MISSING_ARGUMENT, Kind.CALLBACK),
        ("#assign", Problem.MISSING_ARGUMENT, Kind.ASSIGN),
        ("转派：", Problem.MISSING_ARGUMENT, Kind.ASSIGN),
        ("#resolved", Problem.MISSING_ARGUMENT, Kind.RESOLVED),
        ("#reply\n\n", Problem.MISSING_ARGUMENT, Kind.REPLY),
        ("#foo bar", Problem.UNKNOWN, None),
        ("签收\n＃fix now", Problem.UNKNOWN, None),
    ],
)
def test_a_malformed_command_is_a_typed_error(
    text: str, problem: Problem, kind: Kind | None
) -> None:
    error = _error(text)
    assert (error.problem, error.kind) == (problem, kind)


def test_the_error_names_the_line_and_lists_the_valid_commands_in_both_languages() -> None:
    error = _error("签收\n#foo")
    assert error.line == 1
    assert "#foo" in error.message_zh and "回复客户 <文本>" in error.message_zh
    assert "#foo" in error.message_en and "#reply <text>" in error.message_en
    assert error.message("en-GB") == error.message_en
    assert error.message("zh-CN") == error.message_zh


def test_help_lists_every_command_once() -> None:
    assert len(help_text("zh").splitlines()) == len(help_text("en").splitlines()) == len(VERBS)


@pytest.mark.parametrize(
    ("answer", "verdict", "score"),
    [
        ("满意", Verdict.SATISFIED, None),
        ("非常满意，谢谢！", Verdict.SATISFIED, None),
        ("十分满意", Verdict.SATISFIED, None),
        ("不满意", Verdict.UNSATISFIED, None),
        ("不是很满意，异响还有", Verdict.UNSATISFIED, None),
        ("一般", Verdict.UNSATISFIED, None),
        ("很差", Verdict.UNSATISFIED, None),
        ("yes", Verdict.SATISFIED, None),
        ("No.", Verdict.UNSATISFIED, None),
        ("Satisfied, thank you", Verdict.SATISFIED, None),
        ("I am not satisfied", Verdict.UNSATISFIED, None),
        ("9分", Verdict.SATISFIED, 9),
        ("评分：5", Verdict.UNSATISFIED, 5),
        ("6分", Verdict.UNSATISFIED, 6),
        ("7", Verdict.SATISFIED, 7),
        ("打九分吧", Verdict.SATISFIED, 9),
        ("score: 3/10", Verdict.UNSATISFIED, 3),
        ("还算满意，6分", Verdict.UNSATISFIED, 6),
    ],
)
def test_the_customers_answer_is_read_as_a_verdict(
    answer: str, verdict: Verdict, score: int | None
) -> None:
    result = parse_satisfaction(answer)
    assert result is not None
    assert (result.verdict, result.score) == (verdict, score)


@pytest.mark.parametrize("answer", ["还行", "", "满意是满意，但是很差", "你好，请问什么时候提车"])
def test_an_answer_that_says_neither_or_both_has_no_verdict(answer: str) -> None:
    assert parse_satisfaction(answer) is None


def test_the_threshold_comes_from_the_caller() -> None:
    result = parse_satisfaction("7分", unsatisfied_at_or_below=7)
    assert result is not None and result.verdict is Verdict.UNSATISFIED


def test_only_the_top_of_the_answer_counts() -> None:
    result = parse_satisfaction("满意\n\n\n上次的事情：\n服务很差\n等了三小时")
    assert result is not None and result.verdict is Verdict.SATISFIED
