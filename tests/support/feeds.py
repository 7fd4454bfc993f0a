"""Manufacturer exports as the tests drop them: real .xlsx, .xls and GBK .csv files, and the
[[feeds]] config that reads them."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from pathlib import Path

import openpyxl
import xlwt

from support.org import STORE_ORG

# The columns of a FAW-VW DSCRM export, as its dealer portal names them.
HEADER = (
    "投诉单号",
    "派单时间",
    "投诉级别",
    "客户姓名",
    "联系电话",
    "邮箱",
    "投诉内容",
    "满意度",
    "状态",
    "要求完成时间",
)

FEED = """
[[feeds]]
name = "dscrm"
oem = "faw-vw"
path = "drop"
poll_seconds = 1
acknowledge = true
levels = ["一般", "升级", "重要"]

[feeds.fields]
case_id = "投诉单号"
dispatched_at = "派单时间"
level = "投诉级别"
customer_name = "客户姓名"
customer_phone = "联系电话"
customer_email = "邮箱"
text = "投诉内容"
survey_score = "满意度"
status = "状态"
deadline = "要求完成时间"
"""

# The store's org with routing: after-sales complaints to the service advisor, the rest to
# customer care.
ORG = (
    STORE_ORG
    + """
[[org.routing]]
department = "after_sales"
role = "service_advisor"

[[org.routing]]
role = "customer_care_manager"
"""
)

REPAIR = "保养后发动机异响，售后说正常不处理，要求给个说法"

Row = Sequence[object]


def row(
    case_id: str,
    dispatched: object = "2026-11-23 10:00",
    level: str = "一般",
    name: str = "王先生",
    phone: object = "13800138000",
    email: str = "",
    text: str = REPAIR,
    score: object = "",
    status: str = "待处理",
    deadline: object = "",
) -> tuple[object, ...]:
    return (case_id, dispatched, level, name, phone, email, text, score, status, deadline)


def write_xlsx(path: Path, rows: Sequence[Row], header: Sequence[str] = HEADER) -> Path:
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(list(header))
    for r in rows:
        sheet.append(list(r))
    book.save(path)
    return path


def write_xls(path: Path, rows: Sequence[Row], header: Sequence[str] = HEADER) -> Path:
    book = xlwt.Workbook(encoding="utf-8")
    sheet = book.add_sheet("投诉")
    for n, values in enumerate([header, *rows]):
        for col, value in enumerate(values):
            sheet.write(n, col, value)
    book.save(str(path))
    return path


def write_csv(
    path: Path, rows: Sequence[Row], header: Sequence[str] = HEADER, encoding: str = "gbk"
) -> Path:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    writer.writerows(rows)
    path.write_bytes(out.getvalue().encode(encoding))
    return path
