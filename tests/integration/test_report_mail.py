"""The weekly report by mail: due on the right day by the real calendar, sent once by several
daemons on one database, caught up after downtime, with charts inline and a workbook holding
the summary's numbers."""

from __future__ import annotations

import asyncio
import email
import email.policy
import io
import json
import logging
import signal
from collections.abc import Iterator
from datetime import datetime
from email.message import EmailMessage
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from openpyxl import Workbook, load_workbook
from sqlalchemy import func, select
from support import postgres
from support.clock import FakeClock
from support.harness import Harness, write_config
from support.mail import complaint
from support.org import CARE_MANAGER, GM, RETAIL_MANAGER, SALES_DIRECTOR, SERVICE_MANAGER, STORE_ORG
from support.smtp_sink import Received, SmtpSink

from daemon import app, config, sweeps
from daemon.cli import main
from daemon.reports import figures, gather, sending
from daemon.reports.schedule import ReportKind, week_of
from daemon.reports.settings import report_settings
from daemon.service import Daemon
from daemon.store.models import OutboxMail
from daemon.store.outgoing import Queued
from daemon.store.reportruns import ReportRun

SH = ZoneInfo("Asia/Shanghai")
# Qingming 2025: Friday 4 April is a holiday, so week 14's report is due Thursday 3 April 17:30.
THURSDAY_CLOSE = datetime(2025, 4, 3, 17, 30, tzinfo=SH)
FILED = datetime(2025, 4, 1, 10, 0, tzinfo=SH)
SWEPT = datetime(2025, 4, 2, 15, 0, tzinfo=SH)
W14 = "2025-W14"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

# The care manager reads traditional Chinese and the sales director English.
ORG = STORE_ORG.replace(
    'role = "customer_care_manager"\n', 'role = "customer_care_manager"\nlanguage = "zh-TW"\n'
).replace('role = "sales_director"\n', 'role = "sales_director"\nlanguage = "en"\n')
# Four roles read the whole dealership's figures; the retail and service managers their own.
DESK = {GM, CARE_MANAGER, SALES_DIRECTOR, "qian.hong@dealer.example"}
EVERYONE = DESK | {RETAIL_MANAGER, SERVICE_MANAGER}


def report_config(tmp_path: Path, db_url: str, sink: SmtpSink, catch_up_days: int) -> Path:
    extra = f"""
[reports.mail]
monthly = false
catch_up_days = {catch_up_days}
check_seconds = 1

{ORG}
"""
    return write_config(tmp_path, db_url, sink.port, extra)


@pytest.fixture
def pg_url(tmp_path: Path) -> Iterator[str]:
    postgres.require()
    name, url = postgres.create()
    try:
        yield url
    finally:
        postgres.drop(name)


def file_week_14(path: Path) -> None:
    """Two complaints on Tuesday of week 14, and a sweep the next day that misses clocks."""
    clock = FakeClock(FILED)
    harness = Harness(path, clock)
    try:
        harness.store.upgrade()
        harness.deliver(complaint())
        harness.deliver(
            complaint(
                "销售顾问态度很差，承诺的赠品一直没有给。",
                sender="li.na@example.cn",
                name="李娜",
                subject="投诉：赠品未兑现",
            )
        )
        clock.set(SWEPT)
        sweeps.sweep(harness.deps, clock())
    finally:
        harness.close()


def run_daemons(
    path: Path,
    at: datetime,
    count: int,
    caplog: pytest.LogCaptureFixture,
    sink: SmtpSink,
    mails: int = 0,
) -> None:
    """`count` daemons on one config, their clocks at `at`, until they have logged about week
    14's report `count` times (queued it, or found it sent) and the sink holds `mails` mails;
    then stopped."""
    settings = config.load(path)

    def finished() -> bool:
        said = sum(f"weekly report {W14}" in r.getMessage() for r in caplog.records)
        return said >= count and len(reports_in(sink)) >= mails

    async def main() -> None:
        daemons = [Daemon(path, settings, FakeClock(at)) for _ in range(count)]
        tasks = [asyncio.create_task(d.run()) for d in daemons]
        try:
            while not finished():
                for t in tasks:
                    if t.done():
                        t.result()  # a daemon that died says why
                await asyncio.sleep(0.05)
        finally:
            for d in daemons:
                d._request_stop(signal.SIGTERM)
            await asyncio.gather(*tasks)

    with caplog.at_level(logging.DEBUG, logger="daemon.reports.sending"):
        asyncio.run(main())


def reports_in(sink: SmtpSink) -> list[Received]:
    """The report mails the sink holds (the filing notices of the week go there too)."""
    return [r for r in list(sink.received) if "2025-W" in str(r.message["Subject"])]


def outbox_reports(path: Path) -> list[OutboxMail]:
    store = app.open_store(config.load(path))
    try:
        with store.reading() as s:
            return list(s.scalars(select(OutboxMail).where(OutboxMail.kind == "report")))
    finally:
        store.dispose()


def report_runs(path: Path) -> int:
    store = app.open_store(config.load(path))
    try:
        with store.reading() as s:
            return int(s.scalar(select(func.count()).select_from(ReportRun)) or 0)
    finally:
        store.dispose()


def by_recipient(mails: list[Received]) -> dict[str, list[EmailMessage]]:
    found: dict[str, list[EmailMessage]] = {}
    for m in mails:
        for rcpt in m.rcpt_tos:
            found.setdefault(rcpt, []).append(m.message)
    return found


def test_week_14_lands_once_on_the_thursday_before_qingming_with_two_daemons_on_postgresql(
    tmp_path: Path, pg_url: str, sink: SmtpSink, caplog: pytest.LogCaptureFixture
) -> None:
    path = report_config(tmp_path, pg_url, sink, catch_up_days=1)
    file_week_14(path)
    sink.clear()

    run_daemons(path, THURSDAY_CLOSE, 2, caplog, sink, len(EVERYONE))
    got = by_recipient(reports_in(sink))

    assert len(outbox_reports(path)) == len(EVERYONE)
    assert report_runs(path) == 1
    assert set(got) == EVERYONE and all(len(m) == 1 for m in got.values())
    assert all(W14 in str(m[0]["Subject"]) for m in got.values())


def test_nothing_is_sent_before_the_last_working_days_close(
    tmp_path: Path, pg_url: str, sink: SmtpSink, caplog: pytest.LogCaptureFixture
) -> None:
    path = report_config(tmp_path, pg_url, sink, catch_up_days=1)
    file_week_14(path)
    before = THURSDAY_CLOSE.replace(minute=29)
    settings = config.load(path)
    store = app.open_store(settings)
    try:
        deps = app.build(settings, store, FakeClock(before))
        early = sending.send_due(deps, before)
        on_time = sending.send_due(deps, THURSDAY_CLOSE)
    finally:
        store.dispose()

    assert early == []
    assert [(o.kind, o.period.key) for o in on_time] == [(ReportKind.WEEKLY, W14)]


@pytest.mark.parametrize("db", ["sqlite", "postgresql"])
def test_a_report_missed_while_down_is_sent_when_the_daemon_returns_and_not_again(
    tmp_path: Path, db: str, sink: SmtpSink, caplog: pytest.LogCaptureFixture
) -> None:
    if db == "postgresql":
        postgres.require()
        name, url = postgres.create()
    else:
        name, url = "", f"sqlite:///{tmp_path / 'complaintd.db'}"
    try:
        path = report_config(tmp_path, url, sink, catch_up_days=14)
        file_week_14(path)
        sink.clear()
        monday_after = datetime(2025, 4, 7, 9, 0, tzinfo=SH)  # no daemon ran on Thursday

        run_daemons(path, monday_after, 1, caplog, sink, 2 * len(EVERYONE))  # weeks 13 and 14
        first = [r for r in reports_in(sink) if W14 in str(r.message["Subject"])]
        caplog.clear()
        run_daemons(path, monday_after, 1, caplog, sink)  # a restart: finds it sent

        assert {rcpt for r in first for rcpt in r.rcpt_tos} == EVERYONE
        assert sum(W14 in o.subject for o in outbox_reports(path)) == len(EVERYONE)
    finally:
        if name:
            postgres.drop(name)


def test_the_mail_has_html_with_inline_charts_a_text_part_and_the_workbook_in_each_language(
    tmp_path: Path, sqlite_url: str, sink: SmtpSink
) -> None:
    path = report_config(tmp_path, sqlite_url, sink, catch_up_days=1)
    file_week_14(path)
    mails = {m.recipient: m for m in dry_run(path, ())}
    gm, care, sales = (parse(mails[a].raw) for a in (GM, CARE_MANAGER, SALES_DIRECTOR))

    html = gm.get_body(("html",))
    assert html is not None and html.get_content_type() == "text/html"
    related = [p for p in gm.walk() if p.get_content_type() == "multipart/related"]
    images = [p for p in gm.walk() if p.get_content_type() == "image/png"]
    cids = {str(p["Content-ID"]).strip("<>") for p in images}
    assert len(related) == 1 and len(images) == 4
    assert all(f"cid:{cid}" in html.get_content() for cid in cids)
    assert [p.get_content_type() for p in gm.iter_attachments()] == [XLSX]
    assert "投诉周报 2025-W14" in text_of(gm)
    assert "投訴週報 2025-W14" in text_of(care)
    assert "Weekly complaints report 2025-W14" in text_of(sales)


def test_a_department_manager_reads_only_their_departments_figures(
    tmp_path: Path, sqlite_url: str, sink: SmtpSink
) -> None:
    path = report_config(tmp_path, sqlite_url, sink, catch_up_days=1)
    file_week_14(path)
    mails = {m.recipient: m for m in dry_run(path, ())}
    desk = sheet_values(workbook_of(parse(mails[GM].raw)), 0)
    sales = sheet_values(workbook_of(parse(mails[RETAIL_MANAGER].raw)), 0)

    assert "销售部" in str(parse(mails[RETAIL_MANAGER].raw)["Subject"])
    assert desk["新登记"] == 2
    assert sales["新登记"] < desk["新登记"]


def test_the_workbook_holds_the_summarys_numbers_with_native_charts(
    tmp_path: Path, sqlite_url: str, sink: SmtpSink
) -> None:
    path = report_config(tmp_path, sqlite_url, sink, catch_up_days=1)
    file_week_14(path)
    (mail,) = dry_run(path, (GM,))
    book = workbook_of(parse(mail.raw))
    summary = summary_of(path)

    tickets = sheet_values(book, 0)
    clocks = book.worksheets[1]
    rows = list(clocks.iter_rows(min_row=3, values_only=True))
    (satisfaction,) = book.worksheets[2].iter_rows(min_row=3, values_only=True)
    backlog = sheet_values(book, 3)
    assert summary.tickets.opened == tickets["新登记"] == 2
    assert tickets["期末未结"] == summary.tickets.open_at_end
    assert [r[1:4] for r in rows] == [(c.due, c.on_time, c.missed) for c in summary.clocks]
    assert any(c.missed for c in summary.clocks)  # the sweep missed clocks: not all zeros
    assert [r[4] for r in rows] == [c.on_time_rate for c in summary.clocks]
    assert satisfaction[:5] == (
        summary.satisfaction.surveyed,
        summary.satisfaction.satisfied,
        summary.satisfaction.unsatisfied,
        summary.satisfaction.no_answer,
        summary.satisfaction.rate,
    )
    assert backlog == dict(summary.tickets.backlog)
    penalties = book.worksheets[5]
    amounts = [r[4] for r in penalties.iter_rows(min_row=3, values_only=True)]
    assert amounts == [p.amount for p in summary.penalties]
    charted = {ws.title: len(ws._charts) for ws in book.worksheets}
    assert [charted[book.worksheets[n].title] for n in (3, 4, 5, 6)] == [1, 1, 1, 1]


# --- helpers -----------------------------------------------------------------------------


def dry_run(path: Path, to: tuple[str, ...]) -> list[Queued]:
    settings = config.load(path)
    store = app.open_store(settings)
    try:
        deps = app.build(settings, store, FakeClock(THURSDAY_CLOSE))
        period = week_of(THURSDAY_CLOSE.date(), deps.triage.calendar)
        outcome = sending.send(deps, ReportKind.WEEKLY, period, THURSDAY_CLOSE, to=to, dry_run=True)
    finally:
        store.dispose()
    return list(outcome.mails)


def summary_of(path: Path) -> figures.Summary:
    settings = config.load(path)
    store = app.open_store(settings)
    try:
        deps = app.build(settings, store, FakeClock(THURSDAY_CLOSE))
        week = week_of(THURSDAY_CLOSE.date(), deps.triage.calendar)
        window = figures.Period(week.start, week.end, settings.zone)
        with store.reading() as s:
            facts = gather.gather(s, window, deps.triage.calendar)
        return figures.summarize(facts, window, report_settings(settings.reports, settings.org))
    finally:
        store.dispose()


def parse(raw: bytes) -> EmailMessage:
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(msg, EmailMessage)
    return msg


def text_of(msg: EmailMessage) -> str:
    body = msg.get_body(("plain",))
    assert body is not None
    return str(body.get_content())


def workbook_of(msg: EmailMessage) -> Workbook:
    (part,) = list(msg.iter_attachments())
    return load_workbook(io.BytesIO(part.get_content()))


def sheet_values(book: Workbook, index: int) -> dict[str, object]:
    return {str(r[0]): r[1] for r in book.worksheets[index].iter_rows(min_row=3, values_only=True)}


def test_report_send_by_hand_records_the_period_and_refuses_it_twice_unless_to_a_copy(
    tmp_path: Path, sqlite_url: str, sink: SmtpSink, capsys: pytest.CaptureFixture[str]
) -> None:
    path = report_config(tmp_path, sqlite_url, sink, catch_up_days=1)
    file_week_14(path)
    send = ["report", "send", "weekly", "--config", str(path), "--period", W14, "--json"]
    preview = main([*send, "--dry-run"])
    previewed = json.loads(capsys.readouterr().out)
    first = main(send)
    queued = json.loads(capsys.readouterr().out)
    again = main(send)
    refused = capsys.readouterr().err
    copy = main([*send, "--to", "auditor@dealer.example"])
    copied = json.loads(capsys.readouterr().out)

    assert (preview, previewed["sent"], len(previewed["mails"])) == (0, False, len(EVERYONE))
    assert (first, queued["sent"]) == (0, True)
    assert again == 1 and f"{W14} was already sent" in refused
    assert (copy, [m["to"] for m in copied["mails"]]) == (0, ["auditor@dealer.example"])
    assert sum(W14 in o.subject for o in outbox_reports(path)) == len(EVERYONE) + 1


def test_a_monthly_report_previews_for_the_month_in_each_readers_language(
    tmp_path: Path, sqlite_url: str, sink: SmtpSink, capsys: pytest.CaptureFixture[str]
) -> None:
    path = report_config(tmp_path, sqlite_url, sink, catch_up_days=1)
    file_week_14(path)
    monthly = ["report", "send", "monthly", "--config", str(path), "--period", "2025-04-15"]
    code = main([*monthly, "--dry-run", "--json"])
    shown = json.loads(capsys.readouterr().out)
    subjects = {m["to"]: m["subject"] for m in shown["mails"]}

    assert (code, shown["period"], shown["first"], shown["last"]) == (
        0,
        "2025-04",
        "2025-04-01",
        "2025-04-30",
    )
    assert subjects[GM] == "投诉月报 2025-04（全店）"
    assert subjects[SALES_DIRECTOR] == "Monthly complaints report 2025-04 (whole dealership)"
    assert subjects[SERVICE_MANAGER] == "投诉月报 2025-04（售后服务部）"
