"""The report as an .xlsx workbook: one sheet per table, native Excel charts beside the data.

openpyxl writes it: the same maintained, MIT-licensed library the listing export uses and the
tests read workbooks back with, and its charts are Excel's own (they stay live when a manager
edits the numbers), unlike a pasted picture.
"""

from __future__ import annotations

import io

from openpyxl import Workbook
from openpyxl.chart import BarChart, LineChart, Reference
from openpyxl.styles import Font
from openpyxl.worksheet.worksheet import Worksheet

from daemon.reports.content import Report, Table, tables, title
from daemon.reports.words import Words

# Which tables get a chart, and of what kind: the same four the mail shows.
_CHARTED = {"trend": "line", "categories": "bar", "backlog": "bar", "penalties": "bar"}
_PERCENT = "0.0%"


def workbook(report: Report, words: Words) -> bytes:
    """The report's tables as workbook bytes; sheets in the order of content.tables."""
    book = Workbook()
    default = book.active
    if default is not None:
        book.remove(default)
    heading = title(report, words)
    for table in tables(report, words):
        sheet = book.create_sheet(_sheet_name(table.title))
        _fill(sheet, table, heading)
        kind = _CHARTED.get(table.name)
        if kind is not None and table.rows:
            _chart(sheet, table, kind)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _sheet_name(text: str) -> str:
    """Excel allows 31 characters and none of []:*?/\\ in a sheet's name."""
    return "".join(c for c in text if c not in "[]:*?/\\")[:31]


# Data starts on row 3: the report's title on 1, the header on 2.
_HEADER_ROW = 2


def _fill(sheet: Worksheet, table: Table, heading: str) -> None:
    sheet.cell(1, 1, heading).font = Font(bold=True)
    for col, name in enumerate(table.header, start=1):
        sheet.cell(_HEADER_ROW, col, name).font = Font(bold=True)
    for r, row in enumerate(table.rows, start=_HEADER_ROW + 1):
        for c, value in enumerate(row, start=1):
            cell = sheet.cell(r, c, value)
            if (c - 1) in table.rates:
                cell.number_format = _PERCENT
    sheet.column_dimensions["A"].width = 24
    sheet.freeze_panes = sheet.cell(_HEADER_ROW + 1, 1)


def _chart(sheet: Worksheet, table: Table, kind: str) -> None:
    last_row = _HEADER_ROW + len(table.rows)
    # Penalties chart the amount (last column); the others every value column.
    first_col = len(table.header) if table.name == "penalties" else 2
    data = Reference(
        sheet, min_col=first_col, max_col=len(table.header), min_row=_HEADER_ROW, max_row=last_row
    )
    labels = Reference(sheet, min_col=1, min_row=_HEADER_ROW + 1, max_row=last_row)
    chart: BarChart | LineChart
    if kind == "line":
        chart = LineChart()
        chart.y_axis.number_format = _PERCENT
        chart.y_axis.scaling.min = 0
        chart.y_axis.scaling.max = 1
    else:
        chart = BarChart()
        chart.type = "bar"  # horizontal: long names read along the row
    chart.title = table.title
    chart.add_data(data, titles_from_data=True)
    chart.set_categories(labels)
    chart.width, chart.height = 18, 9
    sheet.add_chart(chart, f"{chr(ord('A') + len(table.header) + 1)}2")
