"""Staff commands at the top of a reply, and the customer's answer to the satisfaction callback.

The text given here has already lost its quotes and signature (daemon.quoting). Commands are read
one per line from the top; the first line that is not a command ends them, and what follows is
kept as an internal note. A reply with no command at all is an internal note.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum, StrEnum

from daemon.lifecycle import Event


class Kind(StrEnum):
    ACK = "ack"
    CONTACTED = "contacted"
    RESOLVED = "resolved"
    REPLY = "reply"
    ASSIGN = "assign"
    ESCALATE = "escalate"
    PAUSE = "pause"
    RESUME = "resume"
    NOTE = "note"
    MAJOR = "major"
    CALLBACK = "callback"
    CLOSE = "close"
    REOPEN = "reopen"


class Argument(Enum):
    NONE = "none"
    OPTIONAL = "optional"
    REQUIRED = "required"
    REST = "rest"  # this line's rest and every line below it: the answer to the customer
    VERDICT = "verdict"  # satisfied | unsatisfied


class Verdict(StrEnum):
    SATISFIED = "satisfied"
    UNSATISFIED = "unsatisfied"


@dataclass(frozen=True, slots=True)
class Verb:
    """One row of the grammar: how a command is spelt and what it does to the ticket."""

    kind: Kind
    english: tuple[str, ...]  # after '#', lower case; the first is the one shown in help
    chinese: tuple[str, ...]  # the first is the one shown in help
    argument: Argument
    event: Event | None  # the `complaintd tickets act` event; None: no state change by itself
    zh_placeholder: str = ""
    en_placeholder: str = ""


VERBS: tuple[Verb, ...] = (
    Verb(Kind.ACK, ("ack", "acknowledge"), ("签收", "已签收"), Argument.NONE, Event.ACKNOWLEDGE),
    Verb(
        Kind.CONTACTED,
        ("contacted", "contact"),
        ("已联系", "已联系客户", "联系了客户"),
        Argument.NONE,
        Event.CONTACT,
    ),
    Verb(
        Kind.RESOLVED,
        ("resolved", "resolve"),
        ("已解决",),
        Argument.REQUIRED,
        Event.RESOLVE,
        "结果",
        "result",
    ),
    Verb(Kind.REPLY, ("reply",), ("回复客户",), Argument.REST, None, "文本", "text"),
    Verb(
        Kind.ASSIGN,
        ("assign", "reassign"),
        ("转派", "转交"),
        Argument.REQUIRED,
        Event.ASSIGN,
        "人名或别名",
        "person",
    ),
    # The next rung of the ladder is the shell's to find; no lifecycle event moves it.
    Verb(Kind.ESCALATE, ("escalate",), ("升级",), Argument.NONE, None),
    Verb(Kind.PAUSE, ("pause",), ("暂停",), Argument.REQUIRED, Event.PAUSE, "原因", "reason"),
    Verb(Kind.RESUME, ("resume",), ("恢复",), Argument.NONE, Event.RESUME),
    Verb(Kind.NOTE, ("note",), ("备注",), Argument.REQUIRED, None, "内容", "text"),
    Verb(
        Kind.MAJOR,
        ("major",),
        ("重大", "重大投诉"),
        Argument.OPTIONAL,
        Event.MARK_MAJOR,
        "原因",
        "reason",
    ),
    Verb(
        Kind.CALLBACK,
        ("callback",),
        ("回访",),
        Argument.VERDICT,
        Event.CALLBACK,
        "满意|不满意",
        "satisfied|unsatisfied",
    ),
    Verb(Kind.CLOSE, ("close",), ("关闭", "结案"), Argument.NONE, Event.CLOSE),
    Verb(Kind.REOPEN, ("reopen",), ("重开", "重新打开"), Argument.NONE, Event.REOPEN),
)

BY_KIND: Mapping[Kind, Verb] = {v.kind: v for v in VERBS}

# An unhappy callback reopens the ticket (and the shell escalates it one step, seed 000 step 7).
CALLBACK_EVENTS: Mapping[Verdict, Event] = {
    Verdict.SATISFIED: Event.CALLBACK,
    Verdict.UNSATISFIED: Event.REOPEN,
}

# The strict words `回访` takes; a customer's looser answer goes through parse_satisfaction.
CALLBACK_WORDS: Mapping[str, Verdict] = {
    "满意": Verdict.SATISFIED,
    "非常满意": Verdict.SATISFIED,
    "satisfied": Verdict.SATISFIED,
    "不满意": Verdict.UNSATISFIED,
    "unsatisfied": Verdict.UNSATISFIED,
    "dissatisfied": Verdict.UNSATISFIED,
    "not satisfied": Verdict.UNSATISFIED,
}


@dataclass(frozen=True, slots=True)
class Command:
    kind: Kind
    argument: str = ""  # result, text, person or reason as written; "" when there is none
    verdict: Verdict | None = None  # CALLBACK only
    line: int = 0  # 0-based line of the text it was read from

    @property
    def event(self) -> Event | None:
        """The lifecycle event this command applies, as `complaintd tickets act` names it."""
        if self.verdict is not None:
            return CALLBACK_EVENTS[self.verdict]
        return BY_KIND[self.kind].event


@dataclass(frozen=True, slots=True)
class Commands:
    """A reply read as commands; with none, the reply is an internal note."""

    commands: tuple[Command, ...]
    note: str  # what is left once the commands are taken out: recorded as an internal note

    @property
    def is_note(self) -> bool:
        return not self.commands


class Problem(StrEnum):
    UNKNOWN = "unknown"  # '#foo'
    MISSING_ARGUMENT = "missing-argument"  # '#assign' without a person
    BAD_ARGUMENT = "bad-argument"  # '回访 还行'


@dataclass(frozen=True, slots=True)
class CommandError:
    """Why a reply's commands cannot be applied; the reply then changes nothing."""

    problem: Problem
    line: int  # 0-based
    text: str  # the offending line as written
    kind: Kind | None  # None for an unknown command

    @property
    def message_zh(self) -> str:
        verb = BY_KIND[self.kind] if self.kind else None
        if self.problem is Problem.UNKNOWN or verb is None:
            head = f"无法识别的指令：“{self.text}”。"
        elif self.problem is Problem.MISSING_ARGUMENT:
            head = f"指令“{verb.chinese[0]}”缺少{verb.zh_placeholder}：“{self.text}”。"
        else:
            head = f"指令“{verb.chinese[0]}”只接受 {verb.zh_placeholder}：“{self.text}”。"
        return f"{head}\n可用的指令（每行一条，写在回复最上方）：\n{help_text('zh')}"

    @property
    def message_en(self) -> str:
        verb = BY_KIND[self.kind] if self.kind else None
        if self.problem is Problem.UNKNOWN or verb is None:
            head = f'Unknown command: "{self.text}".'
        elif self.problem is Problem.MISSING_ARGUMENT:
            head = f'"#{verb.english[0]}" needs a {verb.en_placeholder}: "{self.text}".'
        else:
            head = f'"#{verb.english[0]}" takes only {verb.en_placeholder}: "{self.text}".'
        return f"{head}\nValid commands (one per line, at the top of the reply):\n{help_text('en')}"

    def message(self, language: str) -> str:
        """The explanation in `language` (a tag such as zh-CN or en); Chinese unless English."""
        return self.message_en if language.lower().startswith("en") else self.message_zh


def help_text(language: str) -> str:
    """The valid commands, one per line, in `language` (zh or en)."""
    english = language.lower().startswith("en")
    lines = []
    for v in VERBS:
        if english:
            word, arg = f"#{v.english[0]}", v.en_placeholder
        else:
            word, arg = v.chinese[0], v.zh_placeholder
        if v.argument is Argument.OPTIONAL:
            arg = f"[{arg}]"
        elif arg:
            arg = f"<{arg}>"
        lines.append(f"  {word} {arg}".rstrip())
    return "\n".join(lines)


# Full-width forms our users type and Latin capitals, folded one character for one so that
# positions in the folded line are positions in the line (str.lower may change the length).
_FOLD = str.maketrans(
    {
        "＃": "#",
        "：": ":",
        "\u3000": " ",
        "\u00a0": " ",
        **{chr(0x41 + i): chr(0x61 + i) for i in range(26)},
        **{chr(0xFF21 + i): chr(0x61 + i) for i in range(26)},
        **{chr(0xFF41 + i): chr(0x61 + i) for i in range(26)},
    }
)
_SPACE = " \t\u3000\u00a0"
_ENDS = frozenset(("", *" \t:,.;!?，。；！？、"))  # what may follow a Chinese verb
_LEAD = " \t\u3000:：,，.。;；、-—"  # stripped between a verb and its argument
_ENGLISH = re.compile(r"#\s*([a-z]+)(?![a-z])")

_ENGLISH_WORDS: Mapping[str, Verb] = {w: v for v in VERBS for w in v.english}
# Longest spelling first, so "重大投诉" wins over "重大" and "已联系客户" over "已联系".
_CHINESE = sorted(((s, v) for v in VERBS for s in v.chinese), key=lambda p: -len(p[0]))


def _match(line: str) -> tuple[Verb, str] | Problem | None:
    """The verb a line starts with and the text after it; None for an ordinary line."""
    folded = line.translate(_FOLD)
    m = _ENGLISH.match(folded)
    if m:
        verb = _ENGLISH_WORDS.get(m.group(1))
        if verb is None:
            return Problem.UNKNOWN
        return verb, line[m.end() :]
    for spelling, verb in _CHINESE:
        # A verb ends at a space, a colon or punctuation: "暂停一下" is a sentence, not PAUSE.
        if folded.startswith(spelling) and folded[len(spelling) : len(spelling) + 1] in _ENDS:
            return verb, line[len(spelling) :]
    return None


def parse(text: str) -> Commands | CommandError:
    """Read the commands at the top of a reply's kept text."""
    lines = text.splitlines()
    commands: list[Command] = []
    trailing: list[str] = []  # words after an argument-less verb, e.g. "签收，下午联系客户"
    index = 0
    while index < len(lines):
        line = lines[index].strip(_SPACE)
        if not line:
            index += 1
            continue
        at = index
        found = _match(line)
        if found is None:
            break
        if isinstance(found, Problem):
            return CommandError(found, index, line, None)
        verb, rest = found
        argument = rest.strip(_SPACE).lstrip(_LEAD).strip(_SPACE)
        if verb.argument is Argument.REST:
            below = "\n".join(lines[index + 1 :]).rstrip()
            argument = f"{argument}\n{below}".rstrip() if argument else below.strip("\n")
            if not argument.strip():
                return CommandError(Problem.MISSING_ARGUMENT, index, line, verb.kind)
            commands.append(Command(verb.kind, argument, line=index))
            index = len(lines)
            break
        if verb.argument is Argument.NONE:
            if argument:
                trailing.append(argument)
            commands.append(Command(verb.kind, line=index))
        elif verb.argument is Argument.VERDICT:
            if not argument:
                return CommandError(Problem.MISSING_ARGUMENT, index, line, verb.kind)
            said = " ".join(argument.translate(_FOLD).lower().split()).rstrip("。.!！")
            verdict = CALLBACK_WORDS.get(said)
            if verdict is None:
                return CommandError(Problem.BAD_ARGUMENT, index, line, verb.kind)
            commands.append(Command(verb.kind, argument, verdict, index))
        else:
            if not argument and verb.argument is Argument.REQUIRED:
                # "#resolved" with the result on the line below it.
                below = lines[index + 1].strip(_SPACE) if index + 1 < len(lines) else ""
                if not below or _match(below) is not None:
                    return CommandError(Problem.MISSING_ARGUMENT, index, line, verb.kind)
                argument = below
                index += 1
            commands.append(Command(verb.kind, argument, line=at))
        index += 1
    if not commands:
        return Commands((), text.strip())
    rest_text = "\n".join(lines[index:]).strip()
    note = "\n".join([*trailing, rest_text] if rest_text else trailing)
    return Commands(tuple(commands), note)


# The customer's answer to the satisfaction mail ------------------------------------------------

# Seed 000: a manufacturer survey score of 6 or less counts as a complaint.
UNSATISFIED_AT_OR_BELOW = 6


@dataclass(frozen=True, slots=True)
class Satisfaction:
    verdict: Verdict
    score: int | None  # 0-10 when the customer gave one
    said: str  # the words or score it was read from


_UNHAPPY_WORDS = (
    "非常不满意",
    "不是很满意",
    "很不满意",
    "不太满意",
    "不大满意",
    "不满意",
    "不满",
    "一般般",
    "一般",
    "非常差",
    "很差",
    "太差",
    "差评",
    "不好",
    "没解决",
    "未解决",
    "not satisfied",
    "not happy",
    "unsatisfied",
    "dissatisfied",
    "unhappy",
)
_HAPPY_WORDS = (
    "非常满意",
    "十分满意",
    "很满意",
    "比较满意",
    "基本满意",
    "满意",
    "很好",
    "好评",
    "very satisfied",
    "satisfied",
    "happy",
)
_POLARITY: Mapping[str, Verdict] = {
    **dict.fromkeys(_UNHAPPY_WORDS, Verdict.UNSATISFIED),
    **dict.fromkeys(_HAPPY_WORDS, Verdict.SATISFIED),
}
_WORDS = re.compile(
    "|".join(
        rf"(?<![a-z]){re.escape(w)}(?![a-z])" if w.isascii() else re.escape(w)
        for w in sorted(_POLARITY, key=len, reverse=True)
    )
)
_SHORT_ANSWERS: Mapping[str, Verdict] = {
    "yes": Verdict.SATISFIED,
    "y": Verdict.SATISFIED,
    "是": Verdict.SATISFIED,
    "是的": Verdict.SATISFIED,
    "no": Verdict.UNSATISFIED,
    "n": Verdict.UNSATISFIED,
    "否": Verdict.UNSATISFIED,
}
_CHINESE_DIGITS = {c: i for i, c in enumerate("零一二三四五六七八九十")}
_SCORES = (
    re.compile(r"(?:评分|打分|分数|得分|score|rating)\s*(?:[:是为]|is)?\s*(\d{1,2})(?!\d)"),
    re.compile(r"(?<!\d)(\d{1,2})\s*(?:/|out of)\s*10(?!\d)"),
    re.compile(r"(?<![\d.])(\d{1,2})\s*分"),
    # "十分满意" is "very satisfied", not a score of ten.
    re.compile(r"([零一二三四五六七八九十])\s*分(?![满不好差])"),
    re.compile(r"^(\d{1,2})$"),
)
_LOOK_AT = 3  # non-blank lines: the answer is at the top


def parse_satisfaction(
    text: str, unsatisfied_at_or_below: int = UNSATISFIED_AT_OR_BELOW
) -> Satisfaction | None:
    """The customer's verdict, or None when the answer says neither (or both)."""
    lines = [ln.strip(_SPACE) for ln in text.translate(_FOLD).lower().splitlines()]
    top = [ln for ln in lines if ln][:_LOOK_AT]
    if not top:
        return None
    head = top[0].rstrip("。.!！~")
    if head in _SHORT_ANSWERS:
        return Satisfaction(_SHORT_ANSWERS[head], None, head)
    # The first line alone when it answers; the lines below may retell the complaint.
    return _verdict(top[:1], unsatisfied_at_or_below) or _verdict(top, unsatisfied_at_or_below)


def _verdict(lines: list[str], unsatisfied_at_or_below: int) -> Satisfaction | None:
    joined = "\n".join(lines)
    for pattern in _SCORES:
        m = pattern.search(joined)
        if m:
            digits = m.group(1)
            score = int(digits) if digits.isdigit() else _CHINESE_DIGITS[digits]
            if 0 <= score <= 10:
                # The score is the manufacturer's measure; it outweighs words beside it.
                happy = score > unsatisfied_at_or_below
                verdict = Verdict.SATISFIED if happy else Verdict.UNSATISFIED
                return Satisfaction(verdict, score, m.group(0))
    found = [(m.group(0), _POLARITY[m.group(0)]) for m in _WORDS.finditer(joined)]
    verdicts = {v for _, v in found}
    if len(verdicts) != 1:
        return None
    return Satisfaction(verdicts.pop(), None, found[0][0])
