"""Raw RFC 5322 bytes to an InboundMessage: decode, thread, tell personal mail from automatic.

parse() is pure and total: ugly mail (broken MIME, wrong or missing charsets, bad transfer
encodings, junk headers) always parses, degrading to less text plus a note, never to an
exception. Only bytes that are not an e-mail at all raise Unreadable, with one of these reasons:

- "empty": no bytes, or only whitespace;
- "outlook-msg": an Outlook .msg file (OLE2 compound file) saved instead of an .eml;
- "tnef": a bare winmail.dat (TNEF) stream, not a message around it;
- "not-a-message": no RFC 5322 header block: the first line is not a header field, or none of
  the fields is one that mail carries (From, Date, Received, Message-ID ...), e.g. a pasted
  reply body, an image, a mailing-list digest's text;
- "too-deep": MIME nesting deeper than the stdlib parser can follow, or more than 100 multipart
  containers (a crafted message);
- "intake-error": a fault in this module; the bytes are kept so the message can be retried.

The text is every inline text/plain or text/html part in order (HTML converted to text); of a
multipart/alternative only one branch counts, plain text unless it is blank. An attached
message (message/rfc822) is appended as a "Forwarded message" block. Everything else becomes an
attachment: parts with a filename or "attachment" disposition, non-text parts, report fields.

What one message can cost or put in front of later stages is bounded (the _MAX_* limits below,
and the memory budget given to parse()): header fields, their length, parts, text, subject,
References; addresses are validated addr-specs, never taken from a display name.
"""

from __future__ import annotations

import binascii
import email
import hashlib
import logging
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.message import Message
from email.utils import parsedate_to_datetime

from daemon import addresses, mailkind
from daemon.charsets import Decoded, codec_for, decode_bytes
from daemon.decoding import (
    Param,
    attachment_text,
    clean_text,
    decode_8bit,
    decode_header,
    decode_words,
    header_bytes,
    html_to_text,
    join_notes,
    message_id,
    message_ids,
    meta_charset,
    param_text,
    split_params,
    unfold,
)
from daemon.values import Attachment, InboundMessage, MailKind

log = logging.getLogger(__name__)


class Unreadable(Exception):
    """The bytes are not an e-mail message; the pipeline quarantines them with this reason."""

    reason: str  # short slug, e.g. "not-a-message"
    detail: str  # one line for an operator

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


_OLE2_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_TNEF_MAGIC = b"\x78\x9f\x3e\x22"
_BOM = b"\xef\xbb\xbf"
_FIELD_LINE = re.compile(rb"([!-9;-~]{1,100})[ \t]*:")
# Fields that mark a header block as mail; a reply body starting "Note: ..." has none of them.
_MAIL_FIELDS = frozenset(
    b"from to cc bcc subject date message-id received return-path mime-version content-type "
    b"content-transfer-encoding sender reply-to delivered-to x-original-to envelope-to "
    b"in-reply-to references x-mailer user-agent dkim-signature authentication-results "
    b"received-spf x-received arc-seal resent-from resent-to resent-date thread-topic "
    b"x-sender x-envelope-from list-id precedence auto-submitted".split()
)
_HEADER_SCAN = 1 << 20
_LEADING_BLANK_LINES = re.compile(rb"\A(?:[ \t]*\r?\n)+")

# Parts beyond these limits are skipped with a note: crafted mail must not cost unbounded time.
_MAX_DEPTH = 40
_MAX_PARTS = 500
_MAX_NAME = 300
# What one message may put in front of the later stages, whatever it holds: each bound keeps
# the work on a crafted message (and what we store or send back) small and predictable.
_MAX_FIELDS = 1000  # header fields read; a longer header is cut with a note
_MAX_FIELD_BYTES = 16384  # of one header field as received (a 70,000-id References is 1.6 MB)
_MAX_HEADER_BYTES = 1 << 20
_MAX_FIELD_CHARS = _MAX_FIELD_BYTES  # of one header field's value, before decoding
_MAX_DELIMITERS = 4 * _MAX_PARTS  # lines starting "--" the parser is given
_MAX_MULTIPARTS = 100  # multipart containers the parser is given
# Memory a message may take to read, beyond its bytes ([tickets] message_budget_mb). The stdlib
# parser briefly holds up to 16 times the body it reads (short base64 lines): it reads at most
# 1/_PARSER_FACTOR of the budget, 16 MB of 320, so an 11 MB attachment is still read whole.
MEMORY_MB = 320
_PARSER_FACTOR = 20
_MAX_TEXT_BYTES = 4_000_000  # of one text part: enough for _MAX_TEXT in the charsets we read
_MAX_SUBJECT = 1000  # characters of the decoded subject
_MAX_MAILBOXES = 100  # addresses read from To and Cc together
_MAX_REFERENCES = 20  # Message-IDs kept of References: the first (thread root) and the latest
_MAX_IN_REPLY_TO = 5
_MAX_TEXT = 1_000_000  # characters of readable text; the raw bytes keep the rest
_CONTENT_TYPE = re.compile(r"[a-z0-9][a-z0-9!#$&^_.+-]{0,62}/[a-z0-9][a-z0-9!#$&^_.+-]{0,62}")
_READABLE = frozenset({"text/plain", "text/html"})
_ENCAPSULATED = frozenset({"message/rfc822", "message/global", "message/news"})
# Bounded so a search over a long junk header stays linear.
_ADDR_SPEC = re.compile(r"[\w.!#$%&'*+/=?^`{|}~-]{1,64}@[\w-]{1,63}(?:\.[\w-]{1,63}){1,10}")
_HEADER_ID = re.compile(r"^Message-I[dD][ \t]*:[ \t]*((?:.*)(?:\r?\n[ \t].*)*)", re.M | re.I)
_BOUNDARY_LINE = re.compile(rb"^--([!-~]{1,200}?)[ \t]*\r?\n[!-9;-~]{1,100}[ \t]*:", re.M)
_FORWARD_FIELDS = (("From", "from"), ("Date", "date"), ("Subject", "subject"), ("To", "to"))
# Where our servers say they delivered the message, as they name it.
_DELIVERY_FIELDS = ("delivered-to", "x-original-to", "envelope-to")
# Header fields kind detection reads; only these are handed over.
_KIND_FIELDS = (
    "return-path",
    "auto-submitted",
    "x-autoreply",
    "x-autorespond",
    "x-auto-response-suppress",
    "precedence",
    "list-id",
    "list-unsubscribe",
    "message-id",
    "from",
)


def parse(data: bytes, memory_mb: int = MEMORY_MB) -> InboundMessage:
    """Read one message; raises Unreadable (and nothing else) when the bytes are not mail.

    `memory_mb` is what reading it may take beyond the bytes themselves; the parser is given
    at most a twentieth of that of the body (it needs up to sixteen times what it reads).
    """
    try:
        return _parse(data, (memory_mb << 20) // _PARSER_FACTOR)
    except Unreadable:
        raise
    except RecursionError as exc:
        raise Unreadable("too-deep", "MIME nesting too deep to read") from exc
    except Exception as exc:  # a bug here must quarantine the message, not lose it
        log.exception("sha256:%s could not be read", hashlib.sha256(data).hexdigest()[:16])
        raise Unreadable("intake-error", f"{type(exc).__name__}: {exc}"[:300]) from exc


def _parse(data: bytes, body_limit: int) -> InboundMessage:
    trimmed, cuts = _trimmed(_sniff(data), body_limit)
    msg = email.message_from_bytes(trimmed)
    del trimmed  # the parser holds its own copy; this one would double the peak
    fields = _fields(msg)
    hint = _declared_charset(msg, fields)
    walk = _Walk(hint)
    _walk(msg, 0, walk)
    hint = hint or walk.guessed  # raw 8-bit headers are likely in the body's charset
    notes = [*cuts, *walk.notes]
    if sum(len(values) for values in fields.values()) >= _MAX_FIELDS:
        notes.append(f"header cut at {_MAX_FIELDS} fields")
    decoded_subject = decode_header(_first(fields, "subject"), hint)
    notes.append(decoded_subject.note)
    subject = _safe(decoded_subject.text, _MAX_SUBJECT)
    senders = _addresses(_all(fields, "from"), hint, notes)
    sender_name, sender = senders[0] if senders else ("", "")
    if not sender:
        sender = next((a for _, a in senders if a), "")
    reply_to = next((a for _, a in _addresses(_all(fields, "reply-to"), hint, notes) if a), "")
    recipients = tuple(
        dict.fromkeys(
            a for _, a in _addresses(_all(fields, "to") + _all(fields, "cc"), hint, notes) if a
        )
    )[:_MAX_MAILBOXES]
    text = clean_text(
        "\n\n".join(p.text.lstrip("\r\n").rstrip() for p in walk.pieces if p.text.strip())
    )
    if len(text) > _MAX_TEXT:
        notes.append(f"text cut at {_MAX_TEXT} of {len(text)} characters")
        text = text[:_MAX_TEXT]
    attachments = tuple(_attachment(raw, hint, notes) for raw in walk.attachments)
    date = _first(fields, "date")
    sent_at = _date(date)
    signals = mailkind.Signals(
        headers={name: unfold(_first(fields, name)) for name in _KIND_FIELDS if name in fields},
        sender=sender,
        sender_name=sender_name,
        subject=subject,
        text=text,
        report_types=frozenset(walk.report_types),
        part_types=frozenset(walk.part_types),
        embedded_ids=tuple(walk.embedded_ids),
    )
    kind, reason = mailkind.detect(signals)
    bounced = mailkind.bounced_message_ids(signals) if kind is MailKind.BOUNCE else ()
    return InboundMessage(
        message_id=message_id(_first(fields, "message-id")),
        sha256=hashlib.sha256(data).hexdigest(),
        sender=sender,
        sender_name=sender_name,
        recipients=recipients,
        subject=subject,
        text=text,
        sent_at=sent_at,
        in_reply_to=message_ids(" ".join(_all(fields, "in-reply-to")))[:_MAX_IN_REPLY_TO],
        references=_thread_ids(message_ids(" ".join(_all(fields, "references")))),
        attachments=attachments,
        kind=kind,
        kind_reason=reason,
        bounced_message_ids=bounced,
        notes=join_notes(notes),
        reply_to=reply_to,
        delivered_to=tuple(
            " ".join(v.split()) for name in _DELIVERY_FIELDS for v in _all(fields, name)
        )[:_MAX_MAILBOXES],
        content_sha256=_content_digest(
            (sender, sender_name, sent_at.isoformat() if sent_at else unfold(date).strip()),
            subject,
            text,
            attachments,
        ),
    )


def _thread_ids(ids: tuple[str, ...]) -> tuple[str, ...]:
    """The References worth keeping: the thread's root and the latest ones (RFC 5322 3.6.4)."""
    if len(ids) <= _MAX_REFERENCES:
        return ids
    return (ids[0], *ids[-(_MAX_REFERENCES - 1) :])


def _content_digest(
    sender: tuple[str, str, str], subject: str, text: str, attachments: tuple[Attachment, ...]
) -> str:
    """A digest of what the sender wrote (From, Date, Subject, body), blind to the header
    fields each server on the way adds, so one message delivered to two mailboxes matches."""
    digest = hashlib.sha256()
    for value in (*sender, subject, text):
        digest.update(value.encode("utf-8", "surrogatepass") + b"\x00")
    for part in attachments:
        digest.update(part.filename.encode("utf-8", "surrogatepass") + b"\x00")
        digest.update(hashlib.sha256(part.data).digest())
    return digest.hexdigest()


def _sniff(data: bytes) -> bytes:
    """The bytes to parse, or Unreadable when they are no RFC 5322 message."""
    body = data[len(_BOM) :] if data.startswith(_BOM) else data
    # Blank lines before the header would end the header block before it starts.
    body = _LEADING_BLANK_LINES.sub(b"", body, count=1)
    if not body.strip():
        raise Unreadable("empty", f"{len(data)} bytes, no content")
    if body.startswith(_OLE2_MAGIC):
        raise Unreadable("outlook-msg", "an Outlook .msg file (OLE2), not an RFC 5322 message")
    if body.startswith(_TNEF_MAGIC):
        raise Unreadable("tnef", "a bare TNEF (winmail.dat) stream, not an RFC 5322 message")
    lines = body[:_HEADER_SCAN].splitlines()
    if lines and lines[0].startswith(b"From "):
        lines = lines[1:]  # an mbox envelope line
    if not lines or _FIELD_LINE.match(lines[0]) is None:
        raise Unreadable("not-a-message", f"no header fields; starts with {body[:24]!r}")
    for line in lines:
        if not line.strip():
            break
        match = _FIELD_LINE.match(line)
        if match is not None and match.group(1).lower() in _MAIL_FIELDS:
            return body
    raise Unreadable("not-a-message", "no mail header field (From, Date, Received ...)")


_HEADER_END = re.compile(rb"\r?\n\r?\n")
_FIELD_START = re.compile(rb"\n(?![ \t])")
_SPACE = re.compile(rb"[ \t\r\n]")
_MULTIPART = re.compile(rb"multipart/", re.I)


def _trimmed(data: bytes, body_limit: int) -> tuple[bytes, list[str]]:
    """The bytes the stdlib parser is given, bounded where its cost grows with the input.

    The header keeps at most _MAX_FIELDS fields of at most _MAX_FIELD_BYTES each and
    _MAX_HEADER_BYTES in all; the body is cut at `body_limit` bytes and after
    _MAX_DELIMITERS lines that may be MIME delimiters (each opens a part); more than
    _MAX_MULTIPARTS containers are refused. The raw bytes are stored whole whatever is cut.
    """
    notes: list[str] = []
    end = _HEADER_END.search(data)
    split = end.end() if end is not None else len(data)
    head, body = data[:split], data[split:]
    if len(head) > _MAX_FIELD_BYTES or head.count(b"\n") > _MAX_FIELDS:
        head = _trimmed_header(head, notes)
    if len(body) > body_limit:
        # Past this, parts are not read, and an attachment the cut runs through is recorded
        # short: the parser's transient copies, not the message, would break the budget.
        body = body[: body.rfind(b"\n", 0, body_limit) + 1 or body_limit]
        notes.append(f"MIME body read to {body_limit >> 20} MB; the rest is in the raw message")
    if body.count(b"\n--") > _MAX_DELIMITERS:
        at = -1
        for _ in range(_MAX_DELIMITERS):
            at = body.find(b"\n--", at + 1)
        body = body[: at + 1]
        notes.append(f"MIME body cut after {_MAX_DELIMITERS} delimiter lines")
    # Each nested multipart costs the parser a level of recursion, and it fails a few hundred
    # levels down only after slow work: so many containers are refused before it starts.
    for count, _ in enumerate(_MULTIPART.finditer(body), 1):
        if count > _MAX_MULTIPARTS:
            raise Unreadable("too-deep", f"more than {_MAX_MULTIPARTS} multipart containers")
    if not notes:
        return data, notes
    return head + body, notes


def _trimmed_header(head: bytes, notes: list[str]) -> bytes:
    kept: list[bytes] = []
    size = start = 0
    count = 0
    while start < len(head) and count < _MAX_FIELDS and size < _MAX_HEADER_BYTES:
        found = _FIELD_START.search(head, start)
        end = found.start() + 1 if found is not None else len(head)
        field = head[start:end]
        if len(field) > _MAX_FIELD_BYTES:
            field = _cut_field(field)
            notes.append("header field cut to its first and last bytes")
        kept.append(field)
        size += len(field)
        count += 1
        start = end
    if start < len(head):
        notes.append(f"header cut at {count} fields, {size} bytes")
        kept.append(b"\r\n")  # the header block must still end in a blank line
    return b"".join(kept)


def _cut_field(field: bytes) -> bytes:
    """A long field's start and end (the first and latest Message-IDs of References), cut at
    white space so no word or id is split."""
    half = _MAX_FIELD_BYTES // 2
    head = field[:half]
    last_space = max(head.rfind(b" ", half - 1024), head.rfind(b"\t", half - 1024))
    head = head[:last_space] if last_space > 0 else head
    tail = field[-half:].rstrip(b"\r\n")
    first_space = _SPACE.search(tail, 0, 1024)
    tail = tail[first_space.start() :] if first_space is not None else tail
    return head.rstrip(b"\r\n") + b"\r\n " + tail.lstrip(b"\r\n \t") + b"\r\n"


# ---------------------------------------------------------------- header fields

Fields = dict[str, list[str]]


def _fields(msg: Message) -> Fields:
    """Header fields by lower-cased name, at most _MAX_FIELDS of them, each value bounded."""
    fields: Fields = {}
    for count, (name, value) in enumerate(msg.raw_items()):
        if count >= _MAX_FIELDS:
            break
        fields.setdefault(str(name).strip().lower(), []).append(_bounded(str(value)))
    return fields


def _bounded(value: str) -> str:
    """A header value cut to _MAX_FIELD_CHARS; of a long References, its latest ids are kept."""
    if len(value) <= _MAX_FIELD_CHARS:
        return value
    half = _MAX_FIELD_CHARS // 2
    # The ends hold what matters: the first and latest Message-IDs, the start of a subject.
    return value[:half] + " " + value[-half:]


def _first(fields: Fields, name: str) -> str:
    values = fields.get(name)
    return values[0] if values else ""


def _all(fields: Fields, name: str) -> list[str]:
    return fields.get(name, [])


def _part_header(part: Message, name: str) -> str:
    for key, value in part.raw_items():
        if key.lower() == name:
            return str(value)
    return ""


def _safe(text: str, limit: int | None = None) -> str:
    """No NULs or lone surrogates (databases refuse both), optionally cut to `limit` characters."""
    text = text.replace("\x00", "")
    if not text.isascii():
        text = text.encode("utf-8", "replace").decode("utf-8")
    return text[:limit] if limit else text


def _addresses(values: list[str], hint: str | None, notes: list[str]) -> list[tuple[str, str]]:
    """(display name, address) pairs of address header values; the address is a validated,
    NFKC-folded, lower-cased addr-spec, or "" when the mailbox has none we could write to."""
    found: list[tuple[str, str]] = []
    for value in values:
        decoded = decode_8bit(value, hint)
        notes.append(decoded.note)
        pairs = addresses.mailboxes(decoded.text)[: _MAX_MAILBOXES + 1]
        if not any(addresses.addr_spec(a) for _, a in pairs) and "<" not in decoded.text:
            # Sloppy clients write "Zhang Wei zhang@example.cn": one bare addr-spec is the address.
            specs = _ADDR_SPEC.findall(decoded.text[:_MAX_FIELD_CHARS])
            if len(specs) == 1:
                pairs = [(decoded.text.replace(specs[0], " "), specs[0])]
        for name, address in pairs:
            text, word_notes = decode_words(name, hint)
            notes.extend(word_notes)
            valid = addresses.addr_spec(address)
            if address.strip() and valid is None:
                notes.append("address refused: not a deliverable addr-spec")
            found.append((_safe(" ".join(text.split()).strip("\"' "), _MAX_NAME), valid or ""))
    return found


def _date(value: str) -> datetime | None:
    text = unfold(value).strip()
    if not text:
        return None
    try:
        parsed = parsedate_to_datetime(text)
        if parsed.tzinfo is None:  # "-0000" or no zone: RFC 5322 says the zone is unknown
            parsed = parsed.replace(tzinfo=UTC)
        return parsed.astimezone(UTC)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None


def _declared_charset(msg: Message, fields: Fields) -> str | None:
    """The charset the message itself names first: a text part's, else an encoded word's.

    Raw 8-bit headers and undeclared parts are most likely in the sender's usual charset.
    """
    stack = [msg]
    seen = 0
    while stack and seen < _MAX_PARTS:
        part = stack.pop()
        seen += 1
        ctype, params = split_params(_part_header(part, "content-type"))
        charset = params.get("charset")
        if charset is not None and ctype.startswith("text/"):
            label = charset.data.decode("ascii", "ignore").strip().lower()
            if label and label not in ("us-ascii", "ascii", "utf-8", "utf8"):
                return label
        payload = _raw_payload(part)
        if isinstance(payload, list):
            stack.extend(reversed([p for p in payload if isinstance(p, Message)]))
    for name in ("subject", "from"):
        match = re.search(r"=\?([^?*\s]+)", _first(fields, name))
        if match and match.group(1).lower() not in ("us-ascii", "utf-8", "utf8"):
            return match.group(1)
    return None


# ---------------------------------------------------------------- the MIME tree


@dataclass(frozen=True, slots=True)
class _Piece:
    text: str
    kind: str  # "plain", "html" or "forward"


@dataclass(frozen=True, slots=True)
class _RawAttachment:
    name: Param | None
    content_type: str
    data: bytes


@dataclass(slots=True)
class _Walk:
    """What walking the MIME tree collects."""

    hint: str | None
    pieces: list[_Piece] = field(default_factory=list)
    attachments: list[_RawAttachment] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    report_types: set[str] = field(default_factory=set)
    part_types: set[str] = field(default_factory=set)
    embedded_ids: list[str] = field(default_factory=list)
    guessed: str | None = None  # charset found for the first undeclared text part
    parts: int = 0


def _raw_payload(part: Message) -> object:
    """The payload as parsed, str for a leaf or a list of parts."""
    # get_payload() turns undeclared 8-bit bytes into U+FFFD and raises on an RFC 2231 charset.
    return getattr(part, "_payload", None)


def _content_type(part: Message) -> tuple[str, dict[str, Param], bool]:
    """(type, params, declared): the default type when the header is absent or invalid."""
    raw = _part_header(part, "content-type")
    ctype, params = split_params(raw) if raw else ("", {})
    if _CONTENT_TYPE.fullmatch(ctype):
        return ctype, params, True
    return part.get_default_type(), params, False


def _walk(part: Message, depth: int, walk: _Walk) -> None:
    if depth > _MAX_DEPTH or walk.parts >= _MAX_PARTS:
        walk.notes.append(f"MIME tree cut at {_MAX_DEPTH} levels / {_MAX_PARTS} parts")
        return
    walk.parts += 1
    ctype, params, declared = _content_type(part)
    walk.part_types.add(ctype)
    payload = _raw_payload(part)
    if not isinstance(payload, list):
        _leaf(
            part, ctype, params, declared, payload if isinstance(payload, str) else "", depth, walk
        )
        return
    children = [p for p in payload if isinstance(p, Message)]
    if ctype == "multipart/report" and "report-type" in params:
        walk.report_types.add(param_text(params["report-type"]).text.strip().lower())
    if ctype in _ENCAPSULATED:
        if children:
            _embedded(part, children[0], depth, walk)
    elif ctype.startswith("message/"):  # reports: the parser reads their fields as messages
        data = b"\n".join(_serialised(child) for child in children)
        walk.attachments.append(_RawAttachment(None, ctype, data))
    elif ctype == "multipart/alternative":
        _alternative(children, depth, walk)
    else:
        for child in children:
            _walk(child, depth + 1, walk)


def _alternative(children: list[Message], depth: int, walk: _Walk) -> None:
    """Keep the text of one alternative (plain text unless it is blank); keep every attachment."""
    options: list[list[_Piece]] = []
    for child in children:
        mark = len(walk.pieces)
        _walk(child, depth + 1, walk)
        options.append(walk.pieces[mark:])
        del walk.pieces[mark:]
    with_plain = (o for o in options if any(p.kind == "plain" and p.text.strip() for p in o))
    with_text = (o for o in options if any(p.text.strip() for p in o))
    walk.pieces.extend(next(with_plain, []) or next(with_text, []))


def _embedded(part: Message, inner: Message, depth: int, walk: _Walk) -> None:
    """An attached message: its text appended as a forwarded block; its Message-ID remembered."""
    cte = _transfer_encoding(part)
    if cte and cte not in ("7bit", "8bit", "binary"):
        # The parser reads message/rfc822 as a message even when it is base64 or QP encoded.
        encoded = _serialised(inner).lstrip(b"\r\n")
        inner = email.message_from_bytes(_transfer_decode(encoded, cte))
    inner_fields = _fields(inner)
    ident = message_id(_first(inner_fields, "message-id"))
    if ident:
        walk.embedded_ids.append(ident)
    mark = len(walk.pieces)
    _walk(inner, depth + 1, walk)
    body = "\n\n".join(p.text.lstrip("\r\n").rstrip() for p in walk.pieces[mark:] if p.text.strip())
    del walk.pieces[mark:]
    lines = ["---------- Forwarded message ----------"]
    for label, name in _FORWARD_FIELDS:
        value = _first(inner_fields, name)
        if value:
            decoded = decode_header(value, walk.hint)
            lines.append(f"{label}: {_safe(decoded.text)}")
    walk.pieces.append(_Piece("\n".join(lines) + "\n\n" + body, "forward"))
    disposition, dparams = split_params(_part_header(part, "content-disposition"))
    filename = dparams.get("filename")
    if disposition == "attachment" or filename is not None:
        walk.attachments.append(_RawAttachment(filename, "message/rfc822", _serialised(inner)))


def _serialised(msg: Message) -> bytes:
    try:
        return msg.as_bytes()
    except Exception:  # noqa: BLE001 (re-serialising a broken message can fail; its text is kept anyway)
        return b""


def _leaf(
    part: Message,
    ctype: str,
    params: dict[str, Param],
    declared: bool,
    payload: str,
    depth: int,
    walk: _Walk,
) -> None:
    disposition, dparams = split_params(_part_header(part, "content-disposition"))
    name = dparams.get("filename") or params.get("name")
    data = _payload_bytes(part, payload)
    if ctype.startswith("multipart/"):
        if _recovered(data, depth, walk):
            return
        ctype = "text/plain"  # a multipart with no usable boundary: its body is all there is
    # A lone text part is the body even when it carries a name; elsewhere a name means a file.
    inline = disposition != "attachment" and (name is None or depth == 0)
    if ctype in _READABLE and inline:
        walk.pieces.append(_Piece(_text(data, ctype, params, walk), ctype[5:]))
        return
    if ctype in ("text/rfc822-headers", "message/rfc822-headers"):
        for match in _HEADER_ID.finditer(data.decode("ascii", "replace")):
            walk.embedded_ids.extend(message_ids(match.group(1))[:1])
    if not declared and name is not None:
        ctype = "application/octet-stream"
    walk.attachments.append(_RawAttachment(name, ctype, data))


def _text(data: bytes, ctype: str, params: dict[str, Param], walk: _Walk) -> str:
    data = data[:_MAX_TEXT_BYTES]  # more than the text kept: decoding it would cost for nothing
    charset = params.get("charset")
    label = charset.data.decode("ascii", "ignore") if charset is not None else None
    if ctype == "text/html" and (not label or codec_for(label) is None):
        label = meta_charset(data) or label
    decoded: Decoded = decode_bytes(data, label, walk.hint)
    walk.notes.append(decoded.note)
    if not label and decoded.charset not in ("ascii", "utf-8") and walk.guessed is None:
        walk.guessed = decoded.charset
    return html_to_text(decoded.text) if ctype == "text/html" else decoded.text


def _recovered(data: bytes, depth: int, walk: _Walk) -> bool:
    """Re-read a multipart whose boundary parameter is missing, using its first delimiter line."""
    match = _BOUNDARY_LINE.search(data)
    if match is None or b'"' in match.group(1):
        return False
    boundary = match.group(1)
    rebuilt = b'Content-Type: multipart/mixed; boundary="' + boundary + b'"\n\n' + data
    walk.notes.append("multipart with no usable boundary: boundary taken from the body")
    _walk(email.message_from_bytes(rebuilt), depth + 1, walk)
    return True


def _payload_bytes(part: Message, payload: str) -> bytes:
    """A leaf part's content, transfer encoding undone; unknown encodings leave it as sent."""
    return _transfer_decode(header_bytes(payload), _transfer_encoding(part))


def _transfer_encoding(part: Message) -> str:
    return unfold(_part_header(part, "content-transfer-encoding")).strip().strip("\"'").lower()


def _transfer_decode(raw: bytes, cte: str) -> bytes:
    if "base64" in cte:
        return _base64(raw)
    if "quoted-printable" in cte or cte == "qp":
        return binascii.a2b_qp(raw)
    if "uu" in cte:
        return _uudecode(raw)
    return raw


def _base64(raw: bytes) -> bytes:
    try:
        return binascii.a2b_base64(raw)
    except binascii.Error:  # bad padding or junk after it: keep what is well formed
        cleaned = re.sub(rb"[^A-Za-z0-9+/]", b"", raw)
        cleaned = cleaned[: len(cleaned) - len(cleaned) % 4]
        try:
            return binascii.a2b_base64(cleaned)
        except binascii.Error:
            return raw


def _uudecode(raw: bytes) -> bytes:
    out = bytearray()
    inside = False
    for line in raw.splitlines():
        if not inside:
            inside = line.startswith(b"begin ")
            continue
        if line.strip() == b"end":
            break
        try:
            out += binascii.a2b_uu(line)
        except binascii.Error:  # encoders that pad lines wrongly: trust the length byte
            length = (((line[0] - 32) & 63) * 4 + 5) // 3 if line else 0
            try:
                out += binascii.a2b_uu(line[:length])
            except binascii.Error:
                continue
    return bytes(out) if inside else raw


def _attachment(raw: _RawAttachment, hint: str | None, notes: list[str]) -> Attachment:
    filename = ""
    if raw.name is not None:
        found = param_text(raw.name, hint)
        notes.append(found.note)
        # Only the last path component: a name is a label, never a place to write to.
        filename = _safe(re.split(r"[\\/]", found.text)[-1].strip(), _MAX_NAME)
    return Attachment(filename=filename, content_type=raw.content_type, data=raw.data)


def written_text(msg: InboundMessage) -> str:
    """Everything the sender wrote that may name a person: subject, body and text attachments."""
    attached = (attachment_text(a.content_type, a.data) for a in msg.attachments)
    return "\n".join([msg.subject, msg.text, *(t for t in attached if t)])
