"""Header fields, MIME parameters, message ids and HTML bodies to text.

RFC 2047 encoded words (split, mislabelled), raw 8-bit and RFC 6532 UTF-8 headers, RFC 2231
parameters; every function is total and reports repairs as notes, like daemon.charsets.
"""

from __future__ import annotations

import binascii
import html
import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import unquote_to_bytes

from inscriptis import get_text

from daemon.charsets import Decoded, decode_bytes, guess, normalise_label

log = logging.getLogger(__name__)

# ---------------------------------------------------------------- header fields

_FOLD = re.compile(r"\r?\n(?=[ \t])|\r(?=[ \t])")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
_ENCODED_WORD = re.compile(r"=\?([^?\s]{1,60})\?([bBqQ])\?([^?]*)\?=")
_B64_JUNK = re.compile(r"[^A-Za-z0-9+/]")


def header_bytes(value: str) -> bytes:
    """A header value from the stdlib parser (8-bit bytes as surrogates) back to its bytes."""
    return value.encode("utf-8", "surrogateescape")


def unfold(value: str) -> str:
    """Undo header folding; stray line breaks and control characters become spaces."""
    return _CONTROL.sub(" ", _FOLD.sub("", value)).replace("\r", " ").replace("\n", " ")


def _word_bytes(encoding: str, text: str, underscore_is_space: bool = True) -> bytes | None:
    raw = text.encode("utf-8", "surrogateescape")
    try:
        if encoding in "qQ":
            return binascii.a2b_qp(raw, header=underscore_is_space)
        raw = raw.rstrip(b"=").translate(None, b" \t\r\n")
        if _B64_JUNK.search(raw.decode("ascii", "replace")):
            return None  # not base64 at all: better shown as written than dropped
        if len(raw) % 4 == 1:
            raw = raw[:-1]
        return binascii.a2b_base64(raw + b"=" * (-len(raw) % 4))
    except (binascii.Error, ValueError):
        return None


def decode_words(text: str, hint: str | None = None) -> tuple[str, tuple[str, ...]]:
    """Decode RFC 2047 encoded words, joining adjacent words of one charset before decoding.

    Joining first repairs multibyte characters split across two words; whitespace between two
    encoded words is dropped as the RFC says.
    """
    if "=?" not in text:
        return text, ()
    out: list[str] = []
    notes: list[str] = []
    pending: list[tuple[str, str]] = []  # (encoding, encoded text) of words awaiting decoding
    pending_charset = ""
    pos = 0
    after_word = False

    def flush() -> None:
        nonlocal pending_charset
        if pending_charset:
            found = _decode_run(pending, pending_charset, hint)
            out.append(found.text)
            if found.note:
                notes.append(found.note)
        pending.clear()
        pending_charset = ""

    for match in _ENCODED_WORD.finditer(text):
        between = text[pos : match.start()]
        if _word_bytes(match.group(2), match.group(3)) is None:  # not decodable: keep as written
            flush()
            out.append(between + match.group(0))
            pos, after_word = match.end(), False
            continue
        charset = normalise_label(match.group(1)) or "unknown"
        if not (after_word and not between.strip()):
            flush()
            out.append(between)
        elif charset != pending_charset:
            flush()
        pending_charset = charset
        pending.append((match.group(2), match.group(3)))
        pos, after_word = match.end(), True
    flush()
    out.append(text[pos:])
    return "".join(out), tuple(notes)


def _decode_run(words: list[tuple[str, str]], charset: str, hint: str | None) -> Decoded:
    data = b"".join(_word_bytes(enc, text) or b"" for enc, text in words)
    # The sender's software chose the charset for exactly these bytes: a short name must not be
    # re-guessed into the other Chinese codec's characters (姚栋 read as 狾集).
    found = decode_bytes(data, charset, hint, trusted=True)
    if found.note and any(enc in "qQ" and "_" in text for enc, text in words):
        # Some encoders leave "_" unescaped when it is the second byte of a Big5 or GBK character.
        literal = b"".join(_word_bytes(enc, text, False) or b"" for enc, text in words)
        retry = decode_bytes(literal, charset, hint, trusted=True)
        if not retry.note:
            return retry
    return found


def decode_header(value: str, hint: str | None = None) -> Decoded:
    """A raw header value (as the stdlib parser keeps it) to one line of text."""
    text = unfold(value)
    notes: list[str] = []
    charset = "ascii"
    if not text.isascii():
        found = guess(header_bytes(text), hint)
        text, charset = found.text, found.charset
        if charset not in ("ascii", "utf-8"):
            notes.append(f"8-bit header read as {charset}")
    text, word_notes = decode_words(text, hint)
    notes.extend(word_notes)
    return Decoded(" ".join(text.split()), charset, "; ".join(notes))


def decode_8bit(value: str, hint: str | None = None) -> Decoded:
    """Only the raw 8-bit bytes of a header value decoded (encoded words left for later)."""
    text = unfold(value)
    if text.isascii():
        return Decoded(text, "ascii")
    found = guess(header_bytes(text), hint)
    note = f"8-bit header read as {found.charset}" if found.charset != "utf-8" else ""
    return Decoded(found.text, found.charset, note)


# ---------------------------------------------------------------- MIME parameters

_SEGMENT = re.compile(r'(?:"(?:[^"\\]|\\.)*(?:"|$)|[^;"])+', re.S)
_PARAM_NAME = re.compile(r"([^*\s]+)(?:\*(\d{1,3}))?(\*)?")


@dataclass(frozen=True, slots=True)
class Param:
    """One MIME parameter as sent: bytes, and the RFC 2231 charset when it had one."""

    data: bytes
    charset: str | None = None
    extended: bool = False  # RFC 2231 syntax (name*=charset'lang'%XX)


def _unquote(value: str) -> str:
    value = value.strip()
    if value.startswith('"'):
        value = value[1:-1] if value.endswith('"') and len(value) > 1 else value[1:]
        # Only \" and \\ are unescaped: Windows paths in names keep their backslashes.
        return value.replace('\\"', '"').replace("\\\\", "\\")
    return value


def split_params(value: str) -> tuple[str, dict[str, Param]]:
    """Split a Content-Type or Content-Disposition value into its main value and parameters.

    Tolerant: unquoted spaces, missing closing quotes, RFC 2231 continuations out of order.
    """
    segments = _SEGMENT.findall(unfold(value))
    if not segments:
        return "", {}
    main = segments[0].strip().lower()
    pieces: dict[str, list[tuple[int, bool, str]]] = {}
    for segment in segments[1:]:
        name, sep, raw = segment.partition("=")
        match = _PARAM_NAME.fullmatch(name.strip().lower())
        if not sep or match is None:
            continue
        base, index, star = match.group(1), match.group(2), match.group(3)
        key = base + ("*" if index is not None or star else "")
        pieces.setdefault(key, []).append((int(index or 0), bool(star), _unquote(raw)))
    params: dict[str, Param] = {}
    for key, parts in pieces.items():
        base = key.rstrip("*")
        if key.endswith("*"):
            params[base] = _join_extended(sorted(parts, key=lambda p: p[0]))
        elif base not in params:
            params[base] = Param(header_bytes(parts[0][2]))
    return main, params


def _join_extended(parts: list[tuple[int, bool, str]]) -> Param:
    charset: str | None = None
    chunks: list[bytes] = []
    for number, (_, star, raw) in enumerate(parts):
        if star and number == 0 and raw.count("'") >= 2:
            charset, _, raw = raw.split("'", 2)
        chunks.append(unquote_to_bytes(header_bytes(raw)) if star else header_bytes(raw))
    return Param(b"".join(chunks), charset or None, extended=True)


def param_text(param: Param, hint: str | None = None) -> Decoded:
    """A parameter's value as text: RFC 2231 charset, else raw 8-bit and RFC 2047 words."""
    if param.extended:
        found = decode_bytes(param.data, param.charset, hint)
        text = found.text
        notes: tuple[str, ...] = (found.note,) if found.note else ()
        if "=?" in text:
            text, more = decode_words(text, hint)
            notes += more
        return Decoded(text, found.charset, "; ".join(notes))
    raw = param.data.decode("utf-8", "surrogateescape")
    return decode_header(raw, hint)


# ---------------------------------------------------------------- message ids

_BRACKETED = re.compile(r"<([^<>]*)>")
_WHITESPACE = re.compile(r"\s+")


def _clean_id(raw: str) -> str | None:
    ident = _WHITESPACE.sub("", raw)
    if not ident or len(ident) > 995 or not ident.isascii() or not ident.isprintable():
        return None
    return ident if any(ch.isalnum() for ch in ident) else None


def message_ids(value: str) -> tuple[str, ...]:
    """Every msg-id in a header value (In-Reply-To, References), in order, duplicates dropped."""
    text = unfold(value)
    if "=?" in text:  # Python's email package folds a long msg-id into RFC 2047 words
        text = decode_words(text)[0]
    found = _BRACKETED.findall(text)
    if not found:  # unbracketed ids from sloppy clients: keep tokens that look like addr-specs
        found = [t.strip("<>,;") for t in text.split() if "@" in t]
    ids: dict[str, None] = {}
    for raw in found:
        ident = _clean_id(raw)
        if ident is not None:
            ids.setdefault(ident)
    return tuple(ids)


def message_id(value: str) -> str | None:
    """The first usable msg-id in a Message-ID header value; None when there is none."""
    ids = message_ids(value)
    return ids[0] if ids else None


# ---------------------------------------------------------------- HTML and body text

_META_CHARSET = re.compile(
    rb"""<meta[^>]{0,300}?charset\s*=\s*["']?\s*([A-Za-z0-9_.:-]{1,40})""", re.I
)
_XML_DECL = re.compile(r"^\s*<\?xml[^>]*>", re.I)
_TAG = re.compile(r"<[^<>]*>")  # stops at the next "<": linear on unclosed tags
_SPACE_RUNS = re.compile(r"[ \t]+")
_SCRIPT_OPEN = re.compile(r"<(script|style)\b", re.I)
_SCRIPT_CLOSE = {
    "script": re.compile(r"</script\s*>", re.I),
    "style": re.compile(r"</style\s*>", re.I),
}
_BLANK_RUNS = re.compile(r"\n{3,}")
_LEADING_BLANK_LINES = re.compile(r"\A(?:[ \t]*\n)+")


def meta_charset(data: bytes) -> str | None:
    """The charset an HTML document declares in a <meta> tag, if any."""
    match = _META_CHARSET.search(data, 0, 8192)
    return match.group(1).decode("ascii") if match else None


def html_to_text(markup: str) -> str:
    """Readable text of an HTML document; scripts and styles dropped, tables and lists kept."""
    if not markup.strip():
        return ""
    markup = _XML_DECL.sub("", markup)  # lxml refuses str input that declares an encoding
    try:
        text = get_text(markup)
    except Exception:  # broken markup still has readable words in it
        log.debug("inscriptis failed; stripping tags instead", exc_info=True)
        text = ""
    if not text.strip():  # lxml gives up silently on very deep nesting
        text = html.unescape(_TAG.sub(" ", _without_scripts(markup)))
        text = _SPACE_RUNS.sub(" ", text).strip()
    # Layout padding from table cells would otherwise fill the text with blank space.
    text = "\n".join(line.rstrip() for line in text.splitlines())
    return _BLANK_RUNS.sub("\n\n", text)


def _without_scripts(markup: str) -> str:
    """Markup minus <script> and <style> elements, in one pass (an unclosed one runs to the end)."""
    kept: list[str] = []
    pos = 0
    while (opening := _SCRIPT_OPEN.search(markup, pos)) is not None:
        kept.append(markup[pos : opening.start()])
        closing = _SCRIPT_CLOSE[opening.group(1).lower()].search(markup, opening.end())
        if closing is None:
            return " ".join(kept)
        pos = closing.end()
    kept.append(markup[pos:])
    return " ".join(kept)


# Only the start of a large text attachment is read for names: a log file must not cost seconds.
_ATTACHMENT_TEXT_LIMIT = 1 << 20


def attachment_text(content_type: str, data: bytes, hint: str | None = None) -> str:
    """The readable text of a text attachment (plain, HTML, CSV ...); "" for any other type."""
    if not content_type.startswith("text/"):
        return ""
    data = data[:_ATTACHMENT_TEXT_LIMIT]
    html_part = content_type == "text/html"
    found = decode_bytes(data, meta_charset(data) if html_part else None, hint)
    return clean_text(html_to_text(found.text) if html_part else found.text)


def clean_text(text: str) -> str:
    """Line endings to \\n; NULs and stray surrogates removed; blank edges trimmed."""
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\x00", "")
    if not text.isascii():
        text = text.encode("utf-8", "replace").decode("utf-8")
    return _LEADING_BLANK_LINES.sub("", text.rstrip())


def join_notes(notes: Iterable[str], limit: int = 20) -> tuple[str, ...]:
    """Distinct notes in first-seen order, at most `limit`."""
    return tuple(dict.fromkeys(n for n in notes if n))[:limit]
