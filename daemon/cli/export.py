"""A listing written as CSV (UTF-8 with a BOM, which Excel needs to read Chinese) or as .xlsx."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from pathlib import Path
from typing import Any


def _cell(value: object) -> object:
    """A value as a spreadsheet holds it: lists joined, None empty."""
    if value is None:
        return ""
    if isinstance(value, list | tuple):
        return ", ".join(str(v) for v in value)
    return value


def csv_bytes(rows: Sequence[dict[str, Any]], columns: Sequence[str]) -> bytes:
    """The rows as CSV, a header line first."""
    text = io.StringIO(newline="")
    writer = csv.writer(text)
    writer.writerow(columns)
    for row in rows:
        writer.writerow([_cell(row.get(c)) for c in columns])
    return text.getvalue().encode("utf-8-sig")


def write_xlsx(
    rows: Sequence[dict[str, Any]], columns: Sequence[str], path: Path, title: str
) -> None:
    """The rows as one sheet, a header row first and frozen."""
    from openpyxl import Workbook  # here: the spreadsheet library is no cost to other commands

    book = Workbook()
    sheet = book.active
    sheet.title = title
    sheet.append(list(columns))
    for row in rows:
        sheet.append([_cell(row.get(c)) for c in columns])
    sheet.freeze_panes = "A2"
    book.save(path)
