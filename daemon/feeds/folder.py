"""A drop folder of manufacturer exports (.xlsx, .xls, .csv): the header row names the columns,
each further row is one record. Imported files move to done/, unreadable ones to failed/ with a
`.reason.txt` beside them."""

from __future__ import annotations

import csv
import io
import os
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import python_calamine

from daemon.feeds.records import Cell

SPREADSHEETS = (".xlsx", ".xlsm", ".xls", ".xlsb", ".ods")
SUFFIXES = (*SPREADSHEETS, ".csv")
# A CSV that is not UTF-8 comes from a Chinese Excel: GB18030, of which GBK is a subset.
_CSV_ENCODINGS = ("utf-8-sig", "gb18030")


class Unreadable(Exception):
    """A file that holds no records we can read; the message says why."""


@dataclass(frozen=True, slots=True)
class SourceRecord:
    """One record and where it came from ("export.xlsx row 7"), for the quarantine."""

    where: str
    data: dict[str, Cell]


def read_file(path: Path) -> list[SourceRecord]:
    """Every record of an export, in order; blank rows skipped."""
    rows = _spreadsheet_rows(path) if path.suffix.lower() in SPREADSHEETS else _csv_rows(path)
    return records_of(rows, path.name)


def records_of(rows: Sequence[Sequence[Cell]], name: str) -> list[SourceRecord]:
    """Rows -> records keyed by the header row (the first row with anything in it)."""
    numbered = [(n, row) for n, row in enumerate(rows, start=1) if not _blank_row(row)]
    if not numbered:
        raise Unreadable("no header row: the file is empty")
    header_at, header_row = numbered[0]
    header = [_header_cell(c) for c in header_row]
    named = [h for h in header if h]
    duplicated = sorted({h for h in named if named.count(h) > 1})
    if duplicated:
        raise Unreadable(f"header row {header_at} names {', '.join(duplicated)} twice")
    out = []
    for n, row in numbered[1:]:
        cells = list(row) + [None] * (len(header) - len(row))
        data = {h: _cell(c) for h, c in zip(header, cells, strict=False) if h}
        extra = [c for c in cells[len(header) :] if not _blank_cell(c)]
        if extra:
            data["(beyond the header)"] = ", ".join(str(c) for c in extra)
        out.append(SourceRecord(f"{name} row {n}", data))
    return out


def _spreadsheet_rows(path: Path) -> list[list[Cell]]:
    try:
        with python_calamine.CalamineWorkbook.from_path(path) as book:
            if not book.sheet_names:
                raise Unreadable("the workbook has no sheet")
            sheet = book.get_sheet_by_index(0)
            return [list(row) for row in sheet.to_python(skip_empty_area=False)]
    except python_calamine.CalamineError as exc:
        raise Unreadable(f"not a readable spreadsheet: {exc}") from None
    except (OSError, ValueError) as exc:  # calamine reports a corrupt file as ValueError too
        raise Unreadable(f"not a readable spreadsheet: {exc}") from None


def _csv_rows(path: Path) -> list[list[Cell]]:
    data = path.read_bytes()
    for encoding in _CSV_ENCODINGS:
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError:
            continue
        try:
            return [list(row) for row in csv.reader(io.StringIO(text, newline=""))]
        except csv.Error as exc:
            raise Unreadable(f"not a readable CSV file: {exc}") from None
    raise Unreadable("neither UTF-8 nor GBK/GB18030 text")


def _header_cell(value: Cell) -> str:
    # Headers are written by people: a stray space or a full-width one is not a new column.
    return "" if value is None else str(value).replace("\u3000", " ").strip()


def _cell(value: Cell) -> Cell:
    return value.strip() if isinstance(value, str) else value


def _blank_cell(value: Cell) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _blank_row(row: Sequence[Cell]) -> bool:
    return all(_blank_cell(c) for c in row)


# -- the folder -------------------------------------------------------------------------------


def waiting(folder: Path, settle_seconds: float = 2.0) -> Iterator[Path]:
    """Exports waiting in `folder`, oldest first. Hidden files, Excel's lock files (~$...) and
    files changed in the last `settle_seconds` (still being copied in) wait for a later look."""
    try:
        entries = list(os.scandir(folder))
    except FileNotFoundError:
        return
    found = []
    now = time.time()
    for entry in entries:
        name = entry.name
        if name.startswith((".", "~$")) or not entry.is_file():
            continue
        if not name.lower().endswith(SUFFIXES):
            continue
        mtime = entry.stat().st_mtime
        if now - mtime < settle_seconds:
            continue
        found.append((mtime, name))
    for _, name in sorted(found):
        yield folder / name


def move_done(path: Path, done: Path) -> Path:
    """Move an imported file into the done folder (a same-named earlier one is kept)."""
    return _move(path, done)


def move_failed(path: Path, failed: Path, reason: str, at: datetime) -> Path:
    """Move an unreadable file into the failed folder, with NAME.reason.txt beside it."""
    target = _move(path, failed)
    note = target.with_name(target.name + ".reason.txt")
    note.write_text(f"{at.isoformat()}\n{reason}\n", encoding="utf-8")
    return target


def _move(path: Path, folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / path.name
    n = 1
    while target.exists():
        n += 1
        target = folder / f"{path.stem}.{n}{path.suffix}"
    os.replace(path, target)
    return target
