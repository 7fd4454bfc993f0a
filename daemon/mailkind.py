"""Is a message written by a person, or automatic: a bounce, an auto-reply, bulk mail?

The answer is the first rule in RULES that fires, so the table's order is the precedence:
bounces first (a bounce often also carries auto-reply headers), then other reports, then
auto-reply signals, then the weak null-sender bounce signal, then bulk mail.

Read receipts (MDN, RFC 8098) count as AUTO_REPLY with reason "mdn": a machine answering for a
person, nothing to file and nothing failed. ARF feedback reports are BULK ("feedback-report").
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from daemon.decoding import message_ids
from daemon.values import MailKind


@dataclass(frozen=True, slots=True)
class Signals:
    """What kind detection looks at, taken from one parsed message."""

    headers: Mapping[str, str]  # lower-case field name -> first value, unfolded
    sender: str  # From address, lower-cased
    sender_name: str
    subject: str
    text: str  # the readable body
    report_types: frozenset[str]  # report-type of every multipart/report in the message
    part_types: frozenset[str]  # content type of every part
    embedded_ids: tuple[str, ...] = ()  # Message-IDs of attached messages or returned headers


@dataclass(frozen=True, slots=True)
class Rule:
    reason: str  # the kind_reason recorded when the rule fires
    kind: MailKind
    test: Callable[[Signals], bool]


def _report(report_type: str, *part_types: str) -> Callable[[Signals], bool]:
    def test(s: Signals) -> bool:
        return report_type in s.report_types or any(t in s.part_types for t in part_types)

    return test


def _header_value(s: Signals, name: str) -> str:
    return s.headers.get(name, "").strip().lower()


def _from_local(*names: str) -> Callable[[Signals], bool]:
    """The From address's local part is one that only machines send from."""

    def test(s: Signals) -> bool:
        return (s.sender.rpartition("@")[0] or s.sender) in names

    return test


_REPLY_PREFIX = r"(?!\s*(?:re|fw|fwd|aw|wg|sv|tr|回复|答复|转发|回覆|轉寄)\s*[:：])"
_BOUNCE_SUBJECT = re.compile(
    _REPLY_PREFIX
    + r"""\s*[\[(]?\s*(?:
        undeliver(?:ed|able)\b | undelivered\s+mail | delivery\s+(?:status\s+notification|failure|
        failed|report|problem|notification) | (?:mail|message)\s+delivery\s+(?:failed|failure|
        problem|error) | returned\s+mail | returned\s+-?\s*mail | failure\s+notice |
        failure\s+delivery | mail\s+(?:system\s+)?error | non[- ]?delivery | delayed\s+mail |
        warning:\s+could\s+not\s+send | mail\s+failed | failed\s+mail | nondeliverable |
        系统退信 | 退信 | 邮件退回 | 投递失败 | 发送失败通知 | 無法傳遞 | 郵件退回 | 退件
    )""",
    re.I | re.X,
)


def _bounce_subject(s: Signals) -> bool:
    return _BOUNCE_SUBJECT.match(s.subject) is not None


# Opening words of the bounce texts the common MTAs write; searched in the first part of the body.
_BOUNCE_TEXT = re.compile(
    r"""
    this\s+is\s+the\s+mail\s+system\s+at\s+host |
    i'?m\s+sorry\s+to\s+(?:have\s+to\s+)?inform\s+you\s+that\s+(?:your\s+)?(?:the\s+)?message |
    this\s+is\s+the\s+qmail-send\s+program |
    this\s+message\s+was\s+created\s+automatically\s+by\s+mail\s+delivery\s+software |
    the\s+original\s+message\s+was\s+received\s+at |
    -+\s*the\s+following\s+addresses\s+had\s+permanent\s+fatal\s+errors |
    delivery\s+to\s+the\s+following\s+recipients?\s+(?:failed|has\s+been\s+delayed) |
    delivery\s+has\s+failed\s+to\s+these\s+recipients |
    your\s+message\s+did\s+not\s+reach\s+some\s+or\s+all\s+of\s+the\s+intended\s+recipients |
    could\s+not\s+be\s+delivered\s+to\s+one\s+or\s+more\s+(?:of\s+its\s+)?recipients |
    (?:message|mail)\s+(?:could\s+not\s+be|was\s+not|wasn't)\s+delivered |
    unable\s+to\s+deliver\s+(?:your\s+)?(?:message|mail) |
    permanent\s+fatal\s+errors |
    automatically\s+generated\s+delivery\s+status\s+notification |
    系统退信 | 退信原因 | 退信代码 | 您发送的邮件(?:被退回|未能|无法) |
    邮件(?:无法|未能|不能)(?:成功)?(?:投递|送达|发送)到 |
    很抱歉.{0,20}(?:邮件|信件).{0,20}(?:退回|无法投递|未能送达) | 無法傳遞 | 郵件退回
    """,
    re.X | re.S,
)
_BOUNCE_TEXT_WINDOW = 3000


def _bounce_text(s: Signals) -> bool:
    # The window lowered once rather than the pattern matched with re.I: several times faster
    # on the long quoted text a reply carries.
    return _BOUNCE_TEXT.search(s.text[:_BOUNCE_TEXT_WINDOW].lower()) is not None


def _null_sender(s: Signals) -> bool:
    path = s.headers.get("return-path")
    if path is not None and path.replace(" ", "") in ("<>", "<<>>"):
        return True
    return "<>" in s.headers.get("from", "").replace(" ", "")


def _auto_submitted(s: Signals) -> bool:
    value = _header_value(s, "auto-submitted")
    return bool(value) and value.split("(")[0].split(";")[0].strip() != "no"


_NEGATIVE = frozenset({"no", "false", "0", "none", "off"})


def _flag(name: str) -> Callable[[Signals], bool]:
    def test(s: Signals) -> bool:
        return name in s.headers and _header_value(s, name) not in _NEGATIVE

    return test


def _suppress(s: Signals) -> bool:
    """Exchange puts X-Auto-Response-Suppress on automatic mail to stop loops.

    "All" is what Exchange stamps on its own out-of-office replies and reports; OOF or AutoReply
    is asked for by automatic senders (notifications, newsletters). DR, NDR, RN, NRN alone only
    opt out of receipts, which ordinary Outlook mail may do.
    """
    flags = {f.strip() for f in _header_value(s, "x-auto-response-suppress").split(",")}
    return bool(flags & {"all", "oof", "autoreply"})


_AUTO_SUBJECT = re.compile(
    _REPLY_PREFIX
    + r"""\s*[\[(]?\s*(?:
        auto(?:matic|matische)?[\s_-]*(?:reply|response|answer|antwort|respond(?:er)?)\b |
        auto\s*: | autoreply | out\s+of\s+(?:the\s+)?office | away\s+from\s+(?:the\s+)?office |
        on\s+vacation\b | vacation\s+(?:reply|message|notice)\b | abwesenheitsnotiz |
        r[ée]ponse\s+automatique | respuesta\s+autom[áa]tica | risposta\s+automatica |
        automatisch\s+antwoord | fuera\s+de\s+la\s+oficina | absence\s+du\s+bureau |
        自动回复 | 自動回覆 | 自动答复 | 自動回復 | 自動答覆 | 自动应答 | 自動應答 |
        休假中 | 不在办公室 | 不在辦公室
    )""",
    re.I | re.X,
)


def _auto_subject(s: Signals) -> bool:
    return _AUTO_SUBJECT.match(s.subject) is not None


def _precedence(*values: str) -> Callable[[Signals], bool]:
    def test(s: Signals) -> bool:
        return _header_value(s, "precedence") in values

    return test


def _has(name: str) -> Callable[[Signals], bool]:
    def test(s: Signals) -> bool:
        return bool(s.headers.get(name, "").strip())

    return test


RULES: tuple[Rule, ...] = (
    Rule(
        "dsn",
        MailKind.BOUNCE,
        _report("delivery-status", "message/delivery-status", "message/global-delivery-status"),
    ),
    Rule(
        "mdn",
        MailKind.AUTO_REPLY,
        _report(
            "disposition-notification",
            "message/disposition-notification",
            "message/global-disposition-notification",
        ),
    ),
    Rule("feedback-report", MailKind.BULK, _report("feedback-report", "message/feedback-report")),
    Rule(
        "mailer-daemon",
        MailKind.BOUNCE,
        _from_local("mailer-daemon", "mdaemon", "mail-daemon", "mailerdaemon"),
    ),
    Rule("postmaster", MailKind.BOUNCE, _from_local("postmaster")),
    Rule("bounce-subject", MailKind.BOUNCE, _bounce_subject),
    Rule("bounce-text", MailKind.BOUNCE, _bounce_text),
    Rule("auto-submitted", MailKind.AUTO_REPLY, _auto_submitted),
    Rule("x-autoreply", MailKind.AUTO_REPLY, _flag("x-autoreply")),
    Rule("x-autorespond", MailKind.AUTO_REPLY, _flag("x-autorespond")),
    Rule("x-auto-response-suppress", MailKind.AUTO_REPLY, _suppress),
    Rule("precedence-auto-reply", MailKind.AUTO_REPLY, _precedence("auto_reply", "auto-reply")),
    Rule("auto-reply-subject", MailKind.AUTO_REPLY, _auto_subject),
    # RFC 3834 asks auto-replies to use a null sender too, so this weak signal comes after them.
    Rule("null-sender", MailKind.BOUNCE, _null_sender),
    Rule("precedence-bulk", MailKind.BULK, _precedence("bulk")),
    Rule("precedence-list", MailKind.BULK, _precedence("list")),
    Rule("precedence-junk", MailKind.BULK, _precedence("junk")),
    Rule("list-id", MailKind.BULK, _has("list-id")),
    Rule("list-unsubscribe", MailKind.BULK, _has("list-unsubscribe")),
)


def detect(signals: Signals, rules: tuple[Rule, ...] = RULES) -> tuple[MailKind, str]:
    """The message's kind and the reason slug; (PERSONAL, "") when no rule fires."""
    return next(((r.kind, r.reason) for r in rules if r.test(signals)), (MailKind.PERSONAL, ""))


# A quoted "Message-ID:" line in a plain-text bounce (possibly "> "-quoted or indented, the id
# possibly folded onto the next line).
_QUOTED_ID = re.compile(
    r"^[ \t>]*(?:X-Original-)?Message-Id[ \t]*:[ \t]*\n?[ \t>]*(<[^<>\n]{1,995}>)", re.M | re.I
)


def bounced_message_ids(signals: Signals) -> tuple[str, ...]:
    """Message-IDs of the mail that bounced: the returned message's headers, or quoted ones."""
    found = list(signals.embedded_ids)
    for match in _QUOTED_ID.finditer(signals.text):
        found.extend(message_ids(match.group(1)))
    own = message_ids(signals.headers.get("message-id", ""))
    return tuple(i for i in dict.fromkeys(found) if i not in own)
