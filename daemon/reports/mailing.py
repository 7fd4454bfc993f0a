"""The report as one mail: HTML with its charts inline (multipart/related, by Content-ID), a
plain-text part with the same figures, and the workbook attached; in the reader's language.

Pure apart from the uuid in the Message-ID: the charts and the workbook come in rendered.
"""

from __future__ import annotations

import html
import uuid
from collections.abc import Sequence
from datetime import datetime
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime, formataddr

from daemon.reports.charts import Chart
from daemon.reports.content import Report, Table, tables, text_rows, title
from daemon.reports.words import Words
from daemon.store.outgoing import Queued

XLSX = ("application", "vnd.openxmlformats-officedocument.spreadsheetml.sheet")
KIND = "report"  # the outbox rows' kind


def period_text(report: Report, words: Words) -> str:
    first, last = report.period.first, report.period.last
    sep = " – " if words.language == "en" else " 至 "
    return f"{words('period')}: {first.isoformat()}{sep}{last.isoformat()}"


def plain_text(report: Report, words: Words) -> str:
    lines = [title(report, words), period_text(report, words), ""]
    for table in tables(report, words):
        lines.append(f"{table.title}")
        lines.append("  " + " | ".join(table.header))
        rows = text_rows(table, words)
        if not rows:
            lines.append("  " + (words("no_penalties") if table.name == "penalties" else "—"))
        lines += ["  " + " | ".join(row) for row in rows]
        lines.append("")
    lines.append(words("attached"))
    return "\n".join(lines) + "\n"


def html_text(report: Report, words: Words, images: dict[str, str]) -> str:
    """The HTML body; `images` maps a table's name to the Content-ID of its chart."""
    e = html.escape
    parts = [
        "<!DOCTYPE html>",
        f'<html lang="{e(words.language)}"><head><meta charset="utf-8">',
        f"<title>{e(title(report, words))}</title></head>",
        '<body style="font-family: sans-serif">',
        f"<h1>{e(title(report, words))}</h1>",
        f"<p>{e(period_text(report, words))}</p>",
    ]
    for table in tables(report, words):
        parts.append(f"<h2>{e(table.title)}</h2>")
        cid = images.get(table.name)
        if cid:
            parts.append(f'<p><img src="cid:{e(cid)}" alt="{e(table.title)}"></p>')
        parts.append(_html_table(table, words))
    parts += [f"<p>{e(words('attached'))}</p>", "</body></html>"]
    return "\n".join(parts) + "\n"


def _html_table(table: Table, words: Words) -> str:
    e = html.escape
    rows = text_rows(table, words)
    if not rows:
        empty = words("no_penalties") if table.name == "penalties" else "—"
        return f"<p>{e(empty)}</p>"
    cell = 'style="border:1px solid #ccc; padding:2px 8px"'
    head = "".join(f"<th {cell}>{e(h)}</th>" for h in table.header)
    body = "".join(
        "<tr>" + "".join(f"<td {cell}>{e(v)}</td>" for v in row) + "</tr>" for row in rows
    )
    return f'<table style="border-collapse:collapse">\n<tr>{head}</tr>\n{body}\n</table>'


# Which table each chart illustrates (the mail shows a chart above its table).
_CHART_OF_TABLE = {"on_time": "trend", "categories": "categories", "backlog": "backlog"}


def compose(
    report: Report,
    words: Words,
    recipient: str,
    sender: tuple[str, str],
    charts: Sequence[Chart],
    workbook: bytes,
    now: datetime,
    domain: str,
) -> Queued:
    """The whole mail to one reader; `sender` is (name, address), `now` its Date (in the zone
    it is shown in), `domain` the Message-ID's."""
    subject = title(report, words)
    message_id = f"report.{report.period.key}.{uuid.uuid4().hex}@{domain}"
    cids = {c.name: f"{c.name}.{uuid.uuid4().hex}@{domain}" for c in charts}
    images = {_CHART_OF_TABLE.get(c.name, c.name): cids[c.name] for c in charts}

    mail = EmailMessage(policy=SMTP)
    mail["From"] = formataddr(sender)
    mail["To"] = recipient
    mail["Subject"] = subject
    mail["Date"] = format_datetime(now)
    mail["Message-ID"] = f"<{message_id}>"
    # RFC 3834: automatic mail, so no robot answers it.
    mail["Auto-Submitted"] = "auto-generated"
    mail["X-Auto-Response-Suppress"] = "All"
    mail["Content-Language"] = words.language
    mail.set_content(plain_text(report, words), charset="utf-8")
    mail.add_alternative(html_text(report, words, images), subtype="html", charset="utf-8")
    rich = mail.get_body(("html",))
    if not isinstance(rich, EmailMessage):
        raise TypeError("the HTML part was not made")  # EmailMessage always makes it
    for chart in charts:
        rich.add_related(
            chart.png,
            maintype="image",
            subtype="png",
            cid=f"<{cids[chart.name]}>",
            filename=f"{chart.name}.png",
            disposition="inline",
        )
    mail.add_attachment(
        workbook,
        maintype=XLSX[0],
        subtype=XLSX[1],
        filename=f"{report.kind.value}-{report.period.key}.xlsx",
    )
    return Queued(
        kind=KIND,
        recipient=recipient,
        message_id=message_id,
        subject=subject,
        raw=mail.as_bytes(),
        auto_reply=False,
    )
