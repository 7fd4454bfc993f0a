"""Mailbox header values to addresses we may write to: parsed by syntax, normalised, validated.

Pure. A display name is never read as an address, whatever it looks like: in
`victim@x.test <real@sender.test>` the mailbox is real@sender.test.
"""

from __future__ import annotations

import re
import unicodedata

# RFC 5321: 64 octets of local part, 255 of domain, 256 for the whole path with its brackets.
MAX_LOCAL = 64
MAX_DOMAIN = 253
MAX_ADDRESS = 254

# Dot-atom local part (RFC 5322 atext, and UTF-8 beyond ASCII per RFC 6531); quoted local
# parts are refused: no complaint sender needs one, and they hide spaces and "@".
_LOCAL = re.compile(r"[\w!#$%&'*+/=?^`{|}~-]+(?:\.[\w!#$%&'*+/=?^`{|}~-]+)*")
_LABEL = re.compile(r"[^\W_](?:[\w-]{0,61}[^\W_])?")
_BRACKETED = re.compile(r"<([^<>]*)>")


def addr_spec(text: str) -> str | None:
    """`text` as a deliverable lower-cased addr-spec (NFKC-folded), or None when it is not one."""
    address = unicodedata.normalize("NFKC", text.strip()).lower()
    if len(address) > MAX_ADDRESS or address.count("@") != 1:
        return None
    local, domain = address.split("@")
    if len(local) > MAX_LOCAL or len(domain) > MAX_DOMAIN or not _LOCAL.fullmatch(local):
        return None
    labels = domain.split(".")
    # One label is allowed: mail for root@localhost or a host on the LAN is delivered locally.
    if not all(_LABEL.fullmatch(label) for label in labels):
        return None
    if labels[-1].isdigit():
        return None  # a bare IP address is no mail domain
    return address


def mailboxes(value: str) -> list[tuple[str, str]]:
    """(display name, raw address) per mailbox of a decoded address header, by RFC 5322 syntax.

    The address is what stands in angle brackets, else the whole mailbox when it has none; the
    raw address still needs addr_spec(). Groups ("team: a@b, c@d;") are flattened.
    """
    found: list[tuple[str, str]] = []
    for chunk in _split(value):
        chunk = _without_group(chunk).strip()
        if not chunk:
            continue
        brackets = list(_BRACKETED.finditer(chunk))
        if brackets:
            last = brackets[-1]
            found.append((_name(chunk[: last.start()]), _comment_split(last.group(1))[0]))
            continue
        bare, comment = _comment_split(chunk)
        found.append((_name(comment), bare.strip()))
    return found


def _split(value: str) -> list[str]:
    """The comma-separated mailboxes of a header value; commas in quotes, <> and () do not count."""
    parts: list[str] = []
    current: list[str] = []
    quoted = escaped = False
    angle = paren = 0
    for char in value:
        if escaped:
            escaped = False
        elif char == "\\" and (quoted or paren):
            escaped = True
        elif char == '"' and not paren:
            quoted = not quoted
        elif not quoted:
            if char == "(":
                paren += 1
            elif char == ")" and paren:
                paren -= 1
            elif char == "<" and not paren:
                angle += 1
            elif char == ">" and angle and not paren:
                angle -= 1
            elif char == "," and not angle and not paren:
                parts.append("".join(current))
                current = []
                continue
        current.append(char)
    parts.append("".join(current))
    return parts


def _without_group(chunk: str) -> str:
    """A mailbox without the "group name:" before it or the ";" that closes a group."""
    match = re.match(r'\s*[^"<>():,@]*:(?!:)', chunk)
    if match is not None and "<" not in chunk[: match.end()]:
        chunk = chunk[match.end() :]
    return chunk.rstrip().rstrip(";")


def _comment_split(chunk: str) -> tuple[str, str]:
    """(text outside parentheses, text inside them): `a@b (Zhang Wei)` names its owner."""
    outside: list[str] = []
    inside: list[str] = []
    depth = 0
    for char in chunk:
        if char == "(":
            depth += 1
        elif char == ")" and depth:
            depth -= 1
        elif depth:
            inside.append(char)
        else:
            outside.append(char)
    return "".join(outside), "".join(inside)


def _name(text: str) -> str:
    text = " ".join(text.split()).strip()
    if len(text) >= 2 and text[0] == text[-1] == '"':
        text = text[1:-1].replace('\\"', '"').replace("\\\\", "\\")
    return text
