"""A manufacturer portal's notification mails as the tests send them (labelled lines, HTML
tables, automatic-mail headers), and the [[feeds]] config of kind `mail` that reads them."""

from __future__ import annotations

import base64
import uuid
from collections.abc import Sequence

PORTAL = "noreply@dscrm.faw-vw.example"

MAIL_FEED = """
[[feeds]]
name = "dscrm-mail"
oem = "faw-vw"
kind = "mail"
senders = ["*@dscrm.faw-vw.example"]
subjects = ["投诉.*(派单|更新|回访)"]
acknowledge = false
levels = ["一般", "升级", "重要"]
alert_minutes = 30

[feeds.fields]
case_id = "投诉单号"
dispatched_at = "派单时间"
level = "投诉级别"
customer_name = "客户姓名"
customer_phone = "联系电话"
text = "投诉内容"
survey_score = "满意度"
status = "状态"
resurvey_score = "回访得分"

[feeds.statuses]
"已结案" = "closed"
"已升级" = "escalated"
"待处理" = "open"
"""

REPAIR = "保养后发动机异响，售后说正常不处理，要求给个说法"


def lines(
    case_id: str = "DS2026112300012",
    dispatched: str = "2026-11-23 10:00",
    level: str = "一般",
    status: str = "待处理",
    score: str = "",
    resurvey: str = "",
    colon: str = "：",
) -> str:
    """A notification's text: one `label：value` line per field."""
    body = [
        "尊敬的经销商：您有一条新的客户投诉，请在30分钟内响应。",
        "",
        f"投诉单号{colon}{case_id}",
        f"派单时间{colon}{dispatched}",
        f"投诉级别{colon}{level}",
        f"客户姓名{colon}王先生",
        f"联系电话{colon}13800138000",
        f"投诉内容{colon}{REPAIR}",
        f"状态{colon}{status}",
    ]
    if score:
        body.append(f"满意度{colon}{score}")
    if resurvey:
        body.append(f"回访得分{colon}{resurvey}")
    body += ["", "此邮件由系统自动发送，请勿回复。"]
    return "\n".join(body)


def table(rows: Sequence[Sequence[str]]) -> str:
    """An HTML page with one table, inside a layout table as portals write them."""
    cells = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows)
    return (
        "<html><head><meta charset='utf-8'><style>td{border:1px}</style></head><body>"
        "<table><tr><td><p>您有新的投诉派单：</p>"
        f"<table border='1'>{cells}</table>"
        "</td></tr></table><p>此邮件由系统自动发送，请勿回复。</p></body></html>"
    )


def notification(
    body: str,
    *,
    subject: str = "【DSCRM】投诉派单通知 DS2026112300012",
    sender: str = PORTAL,
    html: bool = False,
    charset: str = "utf-8",
    automatic: bool = True,
) -> bytes:
    """The mail the portal sends: automatic (Auto-Submitted: auto-generated) by default."""
    encoded = base64.b64encode(subject.encode(charset)).decode()
    headers = [
        f"From: DSCRM <{sender}>",
        "To: complaints@dealer.example",
        f"Subject: =?{charset}?b?{encoded}?=",
        "Date: Mon, 23 Nov 2026 10:01:00 +0800",
        f"Message-ID: <{uuid.uuid4().hex}@dscrm.faw-vw.example>",
    ]
    if automatic:
        headers += ["Auto-Submitted: auto-generated", "Precedence: bulk"]
    kind = "html" if html else "plain"
    headers += [
        "MIME-Version: 1.0",
        f"Content-Type: text/{kind}; charset={charset}",
        "Content-Transfer-Encoding: base64",
    ]
    data = base64.encodebytes(body.encode(charset))
    return "\r\n".join(headers).encode("ascii") + b"\r\n\r\n" + data.replace(b"\n", b"\r\n")
