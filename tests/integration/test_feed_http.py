"""An http feed against a real local HTTP server playing the manufacturer, on both databases:
pages followed, the cursor sent and saved only after the commit, a 500 and a slow answer leave
it where it was, the same case twice is one ticket, a renamed field and a bad date are
quarantined while the rest import. The clock is the only fake."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from support import process
from support.clock import FakeClock
from support.daemon_run import DaemonProcess, query, wait_until
from support.feeds import ORG, REPAIR
from support.harness import Harness, write_config
from support.oem_server import OemServer, Reply, Request, pages
from support.smtp_sink import SmtpSink

from daemon.feeds import http
from daemon.feeds.client import PollFailed
from daemon.store.cases import FeedState, ManufacturerCase
from daemon.store.models import Quarantined, Ticket

TOKEN = "oms-token-0123456789"


def feed_config(url: str, extra: str = "") -> str:
    return f"""
[[feeds]]
name = "oms"
oem = "geely"
kind = "http"
url = "{url}"
records_path = "data.items"
cursor_param = "since"
page_param = "page"
token_env = "OMS_TOKEN"
timeout_seconds = 0.5
poll_seconds = 1
{extra}

[feeds.fields]
case_id = "caseNo"
dispatched_at = "dispatchTime"
level = "level"
customer_name = "customer.name"
customer_phone = "customer.phone"
text = "content"
status = "status"
"""


def case(number: str, dispatched: str = "2026-11-23 10:00", **changes: Any) -> dict[str, Any]:
    record = {
        "caseNo": number,
        "dispatchTime": dispatched,
        "level": "一般",
        "customer": {"name": "王先生", "phone": "13800138000"},
        "content": REPAIR,
        "status": "待处理",
    }
    return record | changes


@pytest.fixture
def oem() -> Iterator[OemServer]:
    server = OemServer().start()
    yield server
    server.stop()


@pytest.fixture
def h(
    tmp_path: Path,
    db_url: str,
    sink: SmtpSink,
    clock: FakeClock,
    oem: OemServer,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[Harness]:
    monkeypatch.setenv("OMS_TOKEN", TOKEN)
    config = write_config(tmp_path, db_url, sink.port, ORG + feed_config(oem.url("/api/cases")))
    harness = Harness(config, clock)
    yield harness
    harness.close()


def poll(h: Harness) -> http.PollReport:
    return asyncio.run(http.poll(h.settings.feeds[0], h.deps))


def cases(h: Harness) -> dict[str, str]:
    """case id -> the manufacturer's status on its ticket."""
    with h.session() as s:
        return dict(s.execute(select(ManufacturerCase.case_id, ManufacturerCase.status)).all())


def state(h: Harness) -> FeedState:
    with h.session() as s:
        return s.get_one(FeedState, "oms")


def test_every_page_is_read_until_an_empty_one_with_the_token_and_each_case_is_a_ticket(
    h: Harness, oem: OemServer
):
    oem.handler = pages(
        [case("GL001"), case("GL002", "2026-11-23 11:00")], [case("GL003", "2026-11-23 10:30")]
    )

    report = poll(h)

    assert sorted(cases(h)) == ["GL001", "GL002", "GL003"]
    assert [r.query.get("page") for r in oem.sent()] == ["1", "2", "3"]
    assert {r.headers["authorization"] for r in oem.sent()} == {f"Bearer {TOKEN}"}
    assert report.pages == 3
    with h.session() as s:
        channels = set(s.scalars(select(Ticket.channel)))
    assert channels == {"manufacturer"}


def test_the_next_poll_asks_since_the_newest_dispatch_time_saved_after_the_commit(
    h: Harness, oem: OemServer
):
    oem.handler = pages([case("GL010", "2026-11-23 10:00"), case("GL011", "2026-11-23 11:30")])
    poll(h)
    assert "since" not in oem.sent()[0].query
    assert state(h).cursor == "2026-11-23 11:30"

    oem.requests.clear()
    poll(h)

    assert {r.query["since"] for r in oem.sent()} == {"2026-11-23 11:30"}


def test_a_500_on_a_later_page_keeps_the_cursor_and_is_the_feeds_last_error(
    h: Harness, oem: OemServer
):
    oem.handler = pages([case("GL020", "2026-11-23 10:00")])
    poll(h)
    before = state(h).cursor

    def broken(request: Request) -> Reply:
        if request.query.get("page") == "2":
            return Reply(500, {"error": "internal"})
        return Reply(body={"data": {"items": [case("GL021", "2026-11-23 12:00")]}})

    oem.handler = broken
    with pytest.raises(PollFailed, match="HTTP 500"):
        asyncio.run(http.poll_feed(h.settings.feeds[0], h.deps))

    assert state(h).cursor == before
    assert "HTTP 500" in state(h).last_error
    assert sorted(cases(h)) == ["GL020", "GL021"]  # the page before the failure is committed


def test_the_poll_after_a_500_files_nothing_twice(h: Harness, oem: OemServer):
    calls = {"n": 0}

    def flaky(request: Request) -> Reply:
        calls["n"] += 1
        if calls["n"] == 2:
            return Reply(500, {"error": "internal"})
        return pages([case("GL030"), case("GL031")])(request)

    oem.handler = flaky
    with pytest.raises(PollFailed):
        poll(h)
    poll(h)

    with h.session() as s:
        assert len(list(s.scalars(select(Ticket)))) == 2
    assert state(h).cursor == "2026-11-23 10:00"


def test_an_answer_slower_than_the_timeout_fails_the_poll_and_keeps_the_cursor(
    h: Harness, oem: OemServer
):
    oem.handler = lambda request: Reply(body={"data": {"items": [case("GL040")]}}, delay=1.5)

    with pytest.raises(PollFailed, match=r"no answer within 0\.5s"):
        poll(h)

    assert cases(h) == {}
    with h.session() as s:
        assert s.get(FeedState, "oms") is None or s.get_one(FeedState, "oms").cursor == ""


def test_the_same_case_on_two_pages_is_one_ticket_showing_the_later_status(
    h: Harness, oem: OemServer
):
    oem.handler = pages([case("GL050")], [case("GL050", status="已升级")])

    poll(h)

    assert cases(h) == {"GL050": "已升级"}
    with h.session() as s:
        assert len(list(s.scalars(select(Ticket)))) == 1


def test_a_renamed_field_and_a_bad_date_are_quarantined_while_the_rest_import(
    h: Harness, oem: OemServer
):
    renamed = case("GL061")
    renamed["caseNumber"] = renamed.pop("caseNo")  # the manufacturer renamed its key
    oem.handler = pages([case("GL060"), renamed, case("GL062", dispatched="上周五")])

    poll(h)

    assert sorted(cases(h)) == ["GL060"]
    with h.session() as s:
        held = list(s.scalars(select(Quarantined).order_by(Quarantined.id)))
    assert [q.reason for q in held] == ["schema-drift", "bad-date"]
    assert held[0].origin.startswith("feed oms: ") and "record 2" in held[0].origin
    assert json.loads(held[1].raw)["caseNo"] == "GL062"
    assert state(h).quarantined == 2


def test_a_next_link_is_followed_to_the_last_page(
    tmp_path: Path, db_url: str, sink: SmtpSink, clock: FakeClock, oem: OemServer,
    monkeypatch: pytest.MonkeyPatch,
):  # fmt: skip
    monkeypatch.setenv("OMS_TOKEN", TOKEN)
    linked = feed_config(oem.url("/api/cases"), 'next_field = "links.next"').replace(
        'page_param = "page"\n', ""
    )
    h = Harness(write_config(tmp_path, db_url, sink.port, ORG + linked), clock)

    def handle(request: Request) -> Reply:
        if request.path == "/api/cases":
            return Reply(body={"data": {"items": [case("GL070")]}, "links": {"next": "more?p=2"}})
        return Reply(body={"data": {"items": [case("GL071")]}, "links": {"next": None}})

    oem.handler = handle
    try:
        poll(h)
        assert sorted(cases(h)) == ["GL070", "GL071"]
    finally:
        h.close()
    assert [r.path for r in oem.sent()] == ["/api/cases", "/api/more"]


def test_the_daemon_polls_the_feed_and_a_failing_endpoint_shows_in_feeds_status(
    tmp_path: Path, sink: SmtpSink, oem: OemServer
):
    db = tmp_path / "complaintd.db"
    oem.handler = pages([case("GL080")])
    config = write_config(tmp_path, f"sqlite:///{db}", sink.port,
                          ORG + feed_config(oem.url("/api/cases")))  # fmt: skip
    daemon = DaemonProcess(config, tmp_path / "daemon.log", OMS_TOKEN=TOKEN)
    try:
        daemon.wait_for_log("feed oms: ")
        wait_until(lambda: query(db, "SELECT case_id FROM manufacturer_cases") == [("GL080",)],
                   10, "the case filed")  # fmt: skip
        oem.handler = lambda request: Reply(500, {"error": "down for maintenance"})

        def failing() -> bool:
            rows = query(db, "SELECT failing_since FROM mailbox_states WHERE mailbox = ?",
                         "[feed oms]")  # fmt: skip
            return bool(rows) and rows[0][0] is not None

        wait_until(failing, 20, "the feed worker reported failing")
        shown = process.run("feeds", "status", "--config", config, "--json")
        [row] = json.loads(shown.stdout)
        assert "HTTP 500" in row["last_error"]
        assert row["imported"] == 1
    finally:
        assert daemon.stop() == 0
