"""Authentication-Results headers (RFC 8601): what our own receiving servers said about a sender.

Only a header whose authserv-id is one of ours means anything: a sender can write any
Authentication-Results it likes, and the border MTA removes forged ones carrying our id.
"""

from __future__ import annotations

import email.message
import email.parser
import email.policy
import functools
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field

HEADER = "Authentication-Results"


@dataclass(frozen=True, slots=True)
class Result:
    """One resinfo: `dmarc=fail reason="..." header.from=example.cn`."""

    method: str  # lower-cased, version dropped: "dmarc", "spf", "dkim"
    result: str  # lower-cased: "pass", "fail", "none", "temperror", ...
    reason: str = ""
    # "ptype.property" lower-cased -> value as written: {"header.from": "example.cn"}
    properties: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class AuthResults:
    authserv_id: str  # lower-cased (a domain name, usually)
    results: tuple[Result, ...]


# Token kinds after lexing: a word, a quoted string, or one of the separators below.
_WORD, _QUOTED, _SEP = "word", "quoted", "sep"
_SEPARATORS = frozenset(";=/")


@dataclass(frozen=True, slots=True)
class _Token:
    kind: str
    text: str
    glued: bool  # no whitespace or comment before it: `"a b"@example.cn` is one value


def parse(value: str) -> AuthResults | None:
    """The header's authserv-id and results; None when it has no authserv-id at all."""
    tokens = _lex(value)
    if tokens is None:
        return None
    groups: list[list[_Token]] = [[]]
    for token in tokens:
        if token.kind == _SEP and token.text == ";":
            groups.append([])
        else:
            groups[-1].append(token)
    head, *resinfos = groups
    if not head or head[0].kind == _SEP:
        return None
    results = []
    for group in resinfos:
        result = _resinfo(group)
        if result is not None:
            results.append(result)
    return AuthResults(head[0].text.lower(), tuple(results))


def dmarc_failure(headers: Iterable[str], trusted: Collection[str], from_domain: str) -> str | None:
    """Why the From domain is forged, when a trusted server's DMARC check says so; else None."""
    ours = {t.lower() for t in trusted}
    if not ours:
        return None
    domain = from_domain.lower()
    for value in headers:
        parsed = parse(value)
        if parsed is None or parsed.authserv_id not in ours:
            continue
        for r in parsed.results:
            if r.method != "dmarc" or r.result != "fail":
                continue
            # A result about some other From (a second From header, say) is not about this one.
            checked = r.properties.get("header.from", "").rpartition("@")[2].lower()
            if checked and checked != domain:
                continue
            return f"dmarc=fail for {checked or domain} from {parsed.authserv_id}"
    return None


def header_values(raw: bytes, name: str = HEADER) -> tuple[str, ...]:
    """The values of one header in a message's header block, unfolded."""
    return tuple(" ".join(str(v).split()) for v in _head(raw).get_all(name, []))


# A message's header block is asked for several headers in a row: it is parsed once.
@functools.lru_cache(maxsize=2)
def _head(raw: bytes) -> email.message.Message:
    end = min((i for i in (raw.find(b"\r\n\r\n"), raw.find(b"\n\n")) if i >= 0), default=len(raw))
    return email.parser.BytesHeaderParser(policy=email.policy.compat32).parsebytes(raw[:end])


def _resinfo(group: list[_Token]) -> Result | None:
    """`method[/version]=result [reason=value] [ptype.property=value ...]`; None if malformed."""
    if len(group) == 1 and group[0].kind == _WORD and group[0].text.lower() == "none":
        return None  # "no-result": the server checked nothing
    i = 0

    def take(kind: str, text: str | None = None) -> _Token | None:
        nonlocal i
        if i < len(group) and group[i].kind == kind and (text is None or group[i].text == text):
            i += 1
            return group[i - 1]
        return None

    method = take(_WORD)
    if method is None:
        return None
    if take(_SEP, "/") is not None and take(_WORD) is None:
        return None
    if take(_SEP, "=") is None:
        return None
    result = take(_WORD)
    if result is None:
        return None
    reason = ""
    properties: dict[str, str] = {}
    while i < len(group):
        key = take(_WORD)
        if key is None or take(_SEP, "=") is None:
            return None
        value = _value(group, i)
        if value is None:
            return None
        text, i = value
        if key.text.lower() == "reason":
            reason = text
        else:
            properties[key.text.lower()] = text
    return Result(method.text.lower(), result.text.lower(), reason, properties)


def _value(group: list[_Token], i: int) -> tuple[str, int] | None:
    """A value, and the index after it: a word or quoted string, with any glued `@domain`."""
    if i >= len(group) or group[i].kind == _SEP:
        return None
    parts = [group[i].text]
    i += 1
    while i < len(group) and group[i].glued and group[i].kind != _SEP:
        parts.append(group[i].text)
        i += 1
    return "".join(parts), i


def _lex(value: str) -> list[_Token] | None:
    """Words, quoted strings and separators; comments and folding whitespace dropped."""
    tokens: list[_Token] = []
    i, n = 0, len(value)
    glued = False
    while i < n:
        ch = value[i]
        if ch.isspace():
            glued = False
            i += 1
        elif ch == "(":
            i = _skip_comment(value, i)
            glued = False
        elif ch == '"':
            text, i = _quoted(value, i)
            tokens.append(_Token(_QUOTED, text, glued))
            glued = True
        elif ch in _SEPARATORS:
            tokens.append(_Token(_SEP, ch, glued))
            glued = False  # `a=b` splits into three tokens; the value after "=" starts afresh
            i += 1
        else:
            start = i
            while i < n and not value[i].isspace() and value[i] not in '()";=/':
                i += 1
            tokens.append(_Token(_WORD, value[start:i], glued))
            glued = True
    return tokens or None


def _skip_comment(value: str, i: int) -> int:
    """The index after a comment starting at value[i] == "(" (comments nest; `\\` escapes)."""
    depth = 0
    while i < len(value):
        ch = value[i]
        if ch == "\\":
            i += 2
            continue
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
            if depth == 0:
                return i + 1
        i += 1
    return i  # an unclosed comment runs to the end


def _quoted(value: str, i: int) -> tuple[str, int]:
    """The text of a quoted string starting at value[i] == '"', and the index after it."""
    out = []
    i += 1
    while i < len(value):
        ch = value[i]
        if ch == "\\" and i + 1 < len(value):
            out.append(value[i + 1])
            i += 2
            continue
        if ch == '"':
            return "".join(out), i + 1
        out.append(ch)
        i += 1
    return "".join(out), i
