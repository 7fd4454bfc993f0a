"""A manufacturer's notification mail -> the records it announces.

Pure: the mail comes in as bytes (for its HTML) and its readable text, with the feed's patterns;
nothing is read or written here. A notification is recognised by its sender and subject, so a
portal's robot mail (Auto-Submitted, no-reply) is read as a case, never answered. Its fields come
from, in order of precedence: the feed's own `patterns` (a regular expression per field), HTML
tables (a header row over value rows, or label/value rows), and labelled lines (`投诉单号：DS001`,
full- or half-width colon, the label being the column name the feed's `fields` maps).
"""

from __future__ import annotations

import email
import fnmatch
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from email.message import Message
from html.parser import HTMLParser

from daemon.charsets import decode_bytes
from daemon.decoding import meta_charset
from daemon.feeds.records import Cell, Rejection

# A notification's HTML is read up to this much: a portal's table is a few kilobytes.
_MAX_HTML = 1 << 20
_COLONS = ":："
# Decoration people (and portals) put around a label: bullets, brackets, spaces.
_LEAD = r"^[ \t\u3000*•·\-【\[]*"
_TRAIL = r"[】\]]?[ \t\u3000]*[:：][ \t\u3000]*(?P<value>.*?)[ \t\u3000]*$"


@dataclass(frozen=True, slots=True)
class MailShape:
    """What recognising and reading one feed's notification mails needs from its settings."""

    feed: str
    senders: tuple[str, ...]  # shell-style patterns on the sender address, e.g. "*@dscrm.example"
    subjects: tuple[str, ...]  # regular expressions searched in the subject; empty: any subject
    fields: Mapping[str, str]  # our field name -> the label (column name) the portal writes
    patterns: Mapping[str, str]  # our field name -> a regular expression, its first group the value


def recognises(shape: MailShape, sender: str, subject: str) -> bool:
    """Whether a mail is this feed's notification: its sender fits one pattern and, when the
    feed names subjects, its subject one of them."""
    address = sender.strip().lower()
    if not address or not any(fnmatch.fnmatchcase(address, p.lower()) for p in shape.senders):
        return False
    return not shape.subjects or any(re.search(p, subject) for p in shape.subjects)


def extract(shape: MailShape, raw: bytes, text: str) -> list[dict[str, Cell]] | Rejection:
    """The records a notification announces, keyed by the feed's column names (every mapped
    column present, None where the mail says nothing), or why it announces none."""
    tables = list(_tables(raw))
    rows = _header_rows(tables, shape.fields)
    pairs = _label_pairs(tables, shape.fields)
    lines = _labelled_lines(text, shape.fields)
    own = _own_patterns(text, shape.patterns, shape.fields)
    if len(rows) > 1:
        # A digest of several cases: each row is one; what the text says is about none alone.
        found = [{**_empty(shape.fields), **row, **own} for row in rows]
    else:
        first = rows[0] if rows else {}
        found = [{**_empty(shape.fields), **lines, **pairs, **first, **own}]
    case_column = shape.fields["case_id"]
    found = [r for r in found if not _blank(r.get(case_column))]
    if not found:
        return Rejection(
            "unparseable",
            f"no {case_column} (case_id) found in the mail's text or tables; "
            "check the feed's fields or patterns against the portal's mail",
        )
    return found


def _empty(fields: Mapping[str, str]) -> dict[str, Cell]:
    return dict.fromkeys(fields.values())


def _blank(value: Cell) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _labelled_lines(text: str, fields: Mapping[str, str]) -> dict[str, Cell]:
    """`投诉单号：DS001` lines: the first line starting with each column name and a colon."""
    out: dict[str, Cell] = {}
    for column in fields.values():
        pattern = re.compile(_LEAD + re.escape(column) + _TRAIL, re.MULTILINE)
        match = pattern.search(text)
        if match and match.group("value"):
            out[column] = match.group("value")
    return out


def _own_patterns(
    text: str, patterns: Mapping[str, str], fields: Mapping[str, str]
) -> dict[str, Cell]:
    """The feed's own expressions, one per field: the first group (or the one named `value`)
    of the first match in the text."""
    out: dict[str, Cell] = {}
    for field, expression in patterns.items():
        match = re.search(expression, text, re.MULTILINE)
        if match is None:
            continue
        named = match.groupdict().get("value")
        value = named if named is not None else (match.group(1) if match.groups() else match[0])
        if value and value.strip():
            out[fields.get(field, field)] = value.strip()
    return out


def _label(cell: str) -> str:
    return cell.replace("\u3000", " ").strip().rstrip(_COLONS).strip()


def _header_rows(
    tables: Sequence[list[list[str]]], fields: Mapping[str, str]
) -> list[dict[str, Cell]]:
    """Records from a table whose header row names the case-id column: one per value row."""
    case_column = fields["case_id"]
    known = set(fields.values())
    for table in tables:
        for n, row in enumerate(table):
            header = [_label(c) for c in row]
            if case_column not in header or len(header) < 2:
                continue
            # A label/value row ("投诉单号 | DS001") is no header: its other cells are values.
            if len(header) == 2 and header[1] not in known:
                continue
            out = []
            for values in table[n + 1 :]:
                record = {h: v.strip() for h, v in zip(header, values, strict=False) if h in known}
                if any(record.values()):
                    out.append(dict[str, Cell](record))
            if out:
                return out
    return []


def _label_pairs(tables: Sequence[list[list[str]]], fields: Mapping[str, str]) -> dict[str, Cell]:
    """Label/value rows ("投诉单号 | DS001", or several pairs in one row) of any table."""
    known = set(fields.values())
    out: dict[str, Cell] = {}
    for table in tables:
        for row in table:
            for label, value in zip(row[::2], row[1::2], strict=False):
                name = _label(label)
                if name in known and name not in out and value.strip():
                    out[name] = value.strip()
    return out


def _tables(raw: bytes) -> Iterator[list[list[str]]]:
    """Every table of every HTML part, innermost first, as rows of cell texts."""
    for markup in _html_parts(raw):
        reader = _TableReader()
        reader.feed(markup)
        reader.close()
        yield from (t for t in reader.tables if t)


class _TableReader(HTMLParser):
    """Collects tables as rows of cell texts; a table inside a cell is a table of its own, and
    is finished (so listed) before the table around it."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tables: list[list[list[str]]] = []
        # Open tables, innermost last: their rows, the row being read, the cell being read.
        self._open: list[tuple[list[list[str]], list[str], list[str]]] = []
        self._in_cell: list[bool] = []
        self._skip = 0  # inside <script> or <style>

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "style"):
            self._skip += 1
        elif tag == "table":
            self._open.append(([], [], []))
            self._in_cell.append(False)
        elif not self._open:
            return
        elif tag == "tr":
            self._end_row()
        elif tag in ("td", "th"):
            self._end_cell()
            self._in_cell[-1] = True
        elif tag == "br":
            self._text(" ")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style"):
            self._skip = max(self._skip - 1, 0)
        elif not self._open:
            return
        elif tag == "table":
            self._end_row()
            rows, _, _ = self._open.pop()
            self._in_cell.pop()
            self.tables.append(rows)
        elif tag == "tr":
            self._end_row()
        elif tag in ("td", "th"):
            self._end_cell()

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self._text(data)

    def _text(self, data: str) -> None:
        if self._open and self._in_cell[-1]:
            self._open[-1][2].append(data)

    def _end_cell(self) -> None:
        if self._open and self._in_cell[-1]:
            _, row, cell = self._open[-1]
            row.append(" ".join("".join(cell).split()))
            cell.clear()
            self._in_cell[-1] = False

    def _end_row(self) -> None:
        self._end_cell()
        if self._open:
            rows, row, _ = self._open[-1]
            if any(row):
                rows.append(list(row))
            row.clear()


def _html_parts(raw: bytes) -> Iterator[str]:
    """The text of each text/html part, decoded by its declared (or guessed) charset."""
    message = email.message_from_bytes(raw)
    for part in message.walk():
        if part.get_content_type() != "text/html" or _is_attachment(part):
            continue
        payload = part.get_payload(decode=True)
        if not isinstance(payload, bytes):
            continue
        data = payload[:_MAX_HTML]
        label = part.get_content_charset() or meta_charset(data)
        yield decode_bytes(data, label).text


def _is_attachment(part: Message) -> bool:
    return (part.get_content_disposition() or "") == "attachment"
