"""A manufacturer's notification mails through the pipeline, on both databases: an automatic
portal mail becomes the case's ticket on the manufacturer's clock and is never answered; the
same case again is the same ticket; later notifications close, escalate or re-survey it; one
that cannot be read is quarantined with its bytes and reason. Also through a real Maildir and a
real Dovecot mailbox with `complaintd run`."""

from __future__ import annotations

import contextlib
import io
import json
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import create_engine, select, text
from support import process
from support.clock import FakeClock
from support.daemon_run import DaemonProcess, wait_until
from support.feedmail import MAIL_FEED, PORTAL, lines, notification, table
from support.feeds import ORG
from support.harness import Harness, calendar_covering_today, write_config
from support.smtp_sink import SmtpSink

from daemon import acting
from daemon.cli import build_parser
from daemon.lifecycle import Event
from daemon.store.cases import FeedState, ManufacturerCase
from daemon.store.models import Message, Quarantined, Ticket, TicketEvent
from daemon.values import Disposition

SH = ZoneInfo("Asia/Shanghai")


def local(hour: int, minute: int = 0, day: int = 23) -> datetime:
    return datetime(2026, 11, day, hour, minute, tzinfo=SH)  # 23 November 2026: a Monday


@pytest.fixture
def h(tmp_path: Path, db_url: str, sink: SmtpSink, clock: FakeClock) -> Iterator[Harness]:
    clock.set(local(10, 5))
    harness = Harness(write_config(tmp_path, db_url, sink.port, ORG + MAIL_FEED), clock)
    yield harness
    harness.close()


def case_row(h: Harness, case_id: str) -> ManufacturerCase:
    with h.session() as s:
        return s.scalars(select(ManufacturerCase).where(ManufacturerCase.case_id == case_id)).one()


def ticket_of(h: Harness, case_id: str) -> Ticket:
    row = case_row(h, case_id)
    with h.session() as s:
        return s.get_one(Ticket, row.ticket_id)


def events_of(h: Harness, ticket: Ticket, kind: str) -> list[TicketEvent]:
    with h.session() as s:
        query = select(TicketEvent).where(
            TicketEvent.ticket_id == ticket.id, TicketEvent.kind == kind
        )
        return list(s.scalars(query.order_by(TicketEvent.id)))


def test_an_automatic_portal_mail_becomes_the_cases_ticket_and_is_never_answered(h: Harness):
    outcome = h.deliver(notification(lines(case_id="DS100")))

    assert outcome.disposition is Disposition.FILED
    ticket = ticket_of(h, "DS100")
    assert ticket.channel == "manufacturer" and outcome.ticket == ticket.number
    detail = h.ticket(ticket.number)
    assert detail["customer"]["address"] == "tel:13800138000"
    assert detail["manufacturer"]["dispatched_at"] == "2026-11-23T02:00:00+00:00"
    due = {c["kind"]: datetime.fromisoformat(c["due_at"]) for c in detail["clocks"]}
    assert due["first_response"] == local(10, 30)  # thirty minutes from dispatch
    assert [m.recipient for m in h.outbox() if m.recipient == PORTAL] == []
    with h.session() as s:
        (stored,) = s.scalars(select(Message))
    assert stored.ticket_id == ticket.id and stored.reason == "manufacturer dscrm-mail"


def test_a_portal_mail_from_another_sender_is_no_case(h: Harness):
    outcome = h.deliver(notification(lines(case_id="DS101"), sender="noreply@portal.example"))

    assert outcome.disposition is Disposition.IGNORED  # automatic mail, as before
    with h.session() as s:
        assert s.scalars(select(ManufacturerCase)).first() is None


def test_an_html_table_notification_opens_one_ticket_per_case_row(h: Harness):
    page = table(
        [
            ["投诉单号", "派单时间", "投诉级别", "投诉内容"],
            ["DS110", "2026-11-23 10:00", "一般", "保养后发动机异响"],
            ["DS111", "2026-11-23 10:02", "重要", "新车漏油，要求退车"],
        ]
    )
    h.deliver(notification(page, html=True))

    assert {ticket_of(h, c).channel for c in ("DS110", "DS111")} == {"manufacturer"}
    assert case_row(h, "DS111").level == "重要"


def test_the_same_case_notified_twice_is_one_ticket(h: Harness, clock: FakeClock):
    h.deliver(notification(lines(case_id="DS120")))
    clock.advance(minutes=5)
    again = h.deliver(notification(lines(case_id="DS120")))  # a new Message-ID

    assert again.disposition is Disposition.FOLLOWUP
    assert again.ticket == ticket_of(h, "DS120").number
    assert h.count(Ticket) == 1


def test_a_notification_without_a_case_id_is_quarantined_with_its_bytes(h: Harness):
    raw = notification("您有新的投诉派单，请登录系统查看。")

    outcome = h.deliver(raw)

    assert outcome.disposition is Disposition.QUARANTINED
    with h.session() as s:
        (held,) = s.scalars(select(Quarantined))
        state = s.get_one(FeedState, "dscrm-mail")
    assert held.raw == raw and held.reason == "unparseable"
    assert "投诉单号" in held.detail
    assert state.failing_since == h.now() and state.quarantined == 1
    assert h.count(Ticket) == 0


def _work_to_resolved(h: Harness, number: str) -> None:
    for event in (Event.ACKNOWLEDGE, Event.CONTACT, Event.RESOLVE):
        acting.act(h.deps, number, event, "feng_yu", "test", h.now())


def test_a_case_the_manufacturer_closes_closes_its_resolved_ticket_as_the_feed(
    h: Harness, clock: FakeClock
):
    h.deliver(notification(lines(case_id="DS130")))
    number = ticket_of(h, "DS130").number
    clock.advance(hours=2)
    _work_to_resolved(h, number)
    clock.advance(days=1)

    h.deliver(notification(lines(case_id="DS130", status="已结案"), subject="投诉单更新 DS130"))

    ticket = ticket_of(h, "DS130")
    assert ticket.status == "closed" and ticket.closed_at == h.now()
    steps = events_of(h, ticket, "transition")[-2:]
    assert [(e.actor, e.detail["event"]) for e in steps] == [
        ("feed:dscrm-mail", "callback"),
        ("feed:dscrm-mail", "close"),
    ]
    assert "closed by the manufacturer" in steps[-1].detail["cause"]


def test_a_case_closed_before_anyone_contacted_the_customer_stays_open(
    h: Harness, clock: FakeClock
):
    h.deliver(notification(lines(case_id="DS131")))
    before = ticket_of(h, "DS131").status
    clock.advance(hours=1)

    h.deliver(notification(lines(case_id="DS131", status="已结案"), subject="投诉单更新"))

    ticket = ticket_of(h, "DS131")
    assert ticket.status == before != "closed"
    (update,) = events_of(h, ticket, "manufacturer-updated")
    assert update.detail["changed"]["status"] == ["待处理", "已结案"]


def test_a_case_the_manufacturer_escalates_goes_one_severity_up(h: Harness, clock: FakeClock):
    h.deliver(notification(lines(case_id="DS140")))
    severity = ticket_of(h, "DS140").severity
    clock.advance(hours=1)

    h.deliver(notification(lines(case_id="DS140", status="已升级"), subject="投诉单更新"))

    ticket = ticket_of(h, "DS140")
    scale = h.settings.classifier.severity_scale
    assert scale.index(ticket.severity) == min(scale.index(severity) + 1, len(scale) - 1)
    (raised,) = events_of(h, ticket, "severity-upgraded")
    assert raised.actor == "feed:dscrm-mail" and raised.detail["from"] == severity


def test_a_zero_complaint_case_resurveyed_satisfied_is_a_success(h: Harness, clock: FakeClock):
    h.deliver(notification(lines(case_id="DS150", score="5")))
    number = ticket_of(h, "DS150").number
    assert h.ticket(number)["manufacturer"]["zero_complaint_state"] == "pending"
    clock.advance(days=7)

    h.deliver(notification(lines(case_id="DS150", score="5", resurvey="9"), subject="投诉回访"))

    shown = h.ticket(number)["manufacturer"]
    assert (shown["zero_complaint_state"], shown["resurvey_score"], shown["penalty"]) == (
        "success",
        9.0,
        None,
    )


def test_a_zero_complaint_case_still_unhappy_records_the_penalty(h: Harness, clock: FakeClock):
    h.deliver(notification(lines(case_id="DS151", score="4")))
    clock.advance(days=7)

    h.deliver(notification(lines(case_id="DS151", score="4", resurvey="5"), subject="投诉回访"))

    ticket = ticket_of(h, "DS151")
    shown = h.ticket(ticket.number)["manufacturer"]
    assert (shown["zero_complaint_state"], shown["penalty"]) == ("failure", 3000.0)
    (settled,) = events_of(h, ticket, "zero-complaint")
    assert settled.actor == "feed:dscrm-mail"
    assert settled.detail == {
        "feed": "dscrm-mail",
        "case_id": "DS151",
        "result": "failure",
        "survey_score": 4.0,
        "resurvey_score": 5.0,
        "penalty": 3000.0,
    }


def test_a_short_update_keeps_what_the_first_notification_said(h: Harness, clock: FakeClock):
    h.deliver(notification(lines(case_id="DS160")))
    clock.advance(hours=1)
    short = "投诉单号：DS160\n派单时间：2026-11-23 10:00\n状态：已升级"

    h.deliver(notification(short, subject="投诉单更新"))

    row = case_row(h, "DS160")
    assert row.status == "已升级" and row.customer_name == "王先生" and row.text


# -- the daemon: a Maildir and a Dovecot mailbox --------------------------------------------


def _run(tmp_path: Path, db_url: str, sink: SmtpSink, extra: str = "") -> DaemonProcess:
    config = write_config(
        tmp_path, db_url, sink.port, ORG + MAIL_FEED + extra + calendar_covering_today()
    )
    process = DaemonProcess(config, tmp_path / "complaintd.log")
    process.wait_for_log("complaintd ready", timeout=60)
    return process


def _cases(db_url: str) -> list[tuple[str, str]]:
    engine = create_engine(db_url)
    try:
        with engine.connect() as c:
            query = text(
                "SELECT c.case_id, t.channel FROM manufacturer_cases c "
                "JOIN tickets t ON t.id = c.ticket_id ORDER BY c.case_id"
            )
            return [(str(a), str(b)) for a, b in c.execute(query)]
    finally:
        engine.dispose()


def test_a_portal_mail_dropped_in_the_maildir_opens_the_case(
    tmp_path: Path, db_url: str, sink: SmtpSink
):
    daemon = _run(tmp_path, db_url, sink)
    try:
        maildir = tmp_path / "maildir"
        for sub in ("tmp", "new", "cur"):
            (maildir / sub).mkdir(parents=True, exist_ok=True)
        (maildir / "tmp" / "1.M1.test").write_bytes(notification(lines(case_id="DS200")))
        (maildir / "tmp" / "1.M1.test").rename(maildir / "new" / "1.M1.test")
        wait_until(lambda: _cases(db_url) == [("DS200", "manufacturer")], 30, "the case filed")
    finally:
        daemon.stop()
    assert sink.to(PORTAL) == []


@pytest.mark.dovecot
def test_a_portal_mail_in_a_dovecot_mailbox_opens_the_case_and_status_reports_the_feed(
    tmp_path: Path, db_url: str, sink: SmtpSink, mailbox: object
):
    from dovecot import Mailbox

    assert isinstance(mailbox, Mailbox)
    (tmp_path / "imap.password").write_text(mailbox.password + "\n")
    watched = {
        "name": "intake",
        "host": mailbox.server.host,
        "port": mailbox.server.port,
        "security": "none",
        "username": mailbox.user,
        "password_file": str(tmp_path / "imap.password"),
        "timeout_seconds": 5,
        "retry_initial_seconds": 0.2,
        "retry_max_seconds": 1,
    }
    block = "\n[[mailboxes]]\n" + "".join(f"{k} = {json.dumps(v)}\n" for k, v in watched.items())
    daemon = _run(tmp_path, db_url, sink, block)
    try:
        mailbox.append(notification(lines(case_id="DS300")))
        wait_until(lambda: _cases(db_url) == [("DS300", "manufacturer")], 60, "the case filed")
        (row,) = process.run_json("feeds", "status", "--json", "--config", daemon.config)
    finally:
        daemon.stop()
    assert (row["feed"], row["kind"], row["imported"]) == ("dscrm-mail", "mail", 1)
    assert sink.to(PORTAL) == []


# -- status: a feed failing too long ---------------------------------------------------------


def cli_at(h: Harness, now: datetime, *argv: str) -> tuple[int, Any]:
    # The handler alone (main() would also set up the process's logging), on the fake clock.
    args = build_parser(clock=lambda: now).parse_args([*argv, "--config", str(h.config_path)])
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = args.handler(args)
    return code, json.loads(out.getvalue())


def test_status_exits_1_once_a_feed_has_failed_longer_than_its_alert_time(h: Harness):
    h.deliver(notification("您有新的投诉派单，请登录系统查看。"))  # no case id: the feed fails
    failed = h.now()

    early, _ = cli_at(h, failed + timedelta(minutes=29), "status", "--json")
    late, report = cli_at(h, failed + timedelta(minutes=31), "status", "--json")

    assert early == 0
    assert late == 1
    (feed,) = report["feeds"]
    assert feed["feed"] == "dscrm-mail" and feed["alert"].startswith("failing for 1860s")
    assert "unparseable" in feed["last_error"]


def test_a_notification_read_after_a_failure_ends_the_alert(h: Harness, clock: FakeClock):
    h.deliver(notification("您有新的投诉派单，请登录系统查看。"))
    clock.advance(minutes=10)
    h.deliver(notification(lines(case_id="DS400")))

    code, report = cli_at(h, h.now() + timedelta(hours=2), "status", "--json")

    assert code == 0 and report["feeds"][0]["alert"] is None


def test_feeds_status_shows_each_feeds_kind_counts_lag_and_failure(h: Harness, clock: FakeClock):
    h.deliver(notification(lines(case_id="DS410")))
    clock.advance(minutes=30)
    h.deliver(notification(lines(case_id="DS410", status="已升级"), subject="投诉单更新"))
    h.deliver(notification("您有新的投诉派单，请登录系统查看。"))

    code, rows = cli_at(h, h.now(), "feeds", "status", "--json")

    assert code == 0
    (row,) = rows
    assert (row["kind"], row["imported"], row["updated"], row["quarantined"]) == ("mail", 1, 1, 1)
    assert row["lag_seconds"] == 35 * 60  # from the newest dispatch, 10:00, to now, 10:35
    assert row["failing_since"] is not None and row["alert"] is None
    assert "unparseable" in row["last_error"]
    assert row["cursor"] is None and row["writeback_failed"] == 0
