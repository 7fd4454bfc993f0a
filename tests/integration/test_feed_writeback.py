"""Write-back to a manufacturer over real HTTP, on both databases: acknowledging, contacting and
resolving a case's ticket queues its status in the database, in the same transaction; a worker
posts it; a 503 is tried again after its backoff; a 4xx is marked failed and counted by
`feeds status`; posts still queued when the worker stops are sent after a restart, each once."""

from __future__ import annotations

import asyncio
import json
import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select
from support import process
from support.clock import FakeClock
from support.daemon_run import DaemonProcess, query, wait_until
from support.feeds import ORG, REPAIR, row, write_xlsx
from support.harness import Harness, write_config
from support.oem_server import OemServer, Reply, Request
from support.smtp_sink import SmtpSink

from daemon import acting
from daemon.feeds import ingest, posting
from daemon.feeds.folder import SourceRecord
from daemon.lifecycle import Event
from daemon.store.cases import ManufacturerCase
from daemon.store.models import Ticket
from daemon.store.writeback import WritebackPost

TOKEN = "dscrm-writeback-token"


def feed_config(url: str, token_file: Path) -> str:
    return f"""
[[feeds]]
name = "dscrm"
oem = "faw-vw"
path = "drop"
poll_seconds = 1
writeback_url = "{url}"
token_file = "{token_file}"
writeback_statuses = {{ acknowledged = "已签收", resolved = "已处理" }}
writeback_retry_initial_seconds = 30

[feeds.fields]
case_id = "投诉单号"
dispatched_at = "派单时间"
text = "投诉内容"
"""


@pytest.fixture
def oem() -> Iterator[OemServer]:
    server = OemServer().start()
    server.handler = lambda request: Reply(200, {"ok": True})
    yield server
    server.stop()


@pytest.fixture
def config(tmp_path: Path, db_url: str, sink: SmtpSink, oem: OemServer) -> Path:
    token = tmp_path / "dscrm.token"
    token.write_text(TOKEN + "\n", encoding="utf-8")
    url = oem.url("/dealer/cases/{case_id}/status")
    return write_config(tmp_path, db_url, sink.port, ORG + feed_config(url, token))


@pytest.fixture
def h(config: Path, clock: FakeClock) -> Iterator[Harness]:
    harness = Harness(config, clock)
    yield harness
    harness.close()


def open_case(h: Harness, case_id: str) -> str:
    """A case filed through the feed; its ticket's number."""
    record = {"投诉单号": case_id, "派单时间": "2026-11-23 10:00", "投诉内容": REPAIR}
    ingest.ingest([SourceRecord("test", record)], h.settings.feeds[0], h.deps, "test")
    with h.session() as s:
        number = s.execute(
            select(Ticket.number)
            .join(ManufacturerCase, ManufacturerCase.ticket_id == Ticket.id)
            .where(ManufacturerCase.case_id == case_id)
        ).scalar_one()
    return str(number)


def act(h: Harness, number: str, event: Event) -> None:
    acting.act(h.deps, number, event, "zheng_hao", "test", h.clock())


def deliver(h: Harness) -> int:
    return asyncio.run(posting.deliver_due(h.deps, asyncio.Event()))


def posts(h: Harness) -> list[WritebackPost]:
    with h.session() as s:
        return list(s.scalars(select(WritebackPost).order_by(WritebackPost.id)))


def test_an_acknowledged_case_has_its_status_posted_to_the_manufacturer(h: Harness, oem: OemServer):
    number = open_case(h, "DS100")
    act(h, number, Event.ACKNOWLEDGE)

    assert deliver(h) == 1

    [sent] = oem.sent("POST")
    assert sent.path == "/dealer/cases/DS100/status"
    assert sent.headers["authorization"] == f"Bearer {TOKEN}"
    assert (sent.body["case_id"], sent.body["status"], sent.body["ticket"]) == (
        "DS100",
        "已签收",
        number,
    )
    assert [p.state for p in posts(h)] == ["sent"]


def test_a_status_the_feed_does_not_write_back_queues_nothing(h: Harness):
    number = open_case(h, "DS110")
    act(h, number, Event.CONTACT)  # the feed posts acknowledged and resolved only

    assert posts(h) == []


def test_a_503_is_posted_again_after_its_backoff(h: Harness, oem: OemServer, clock: FakeClock):
    answers = iter([Reply(503, {"error": "busy"}), Reply(200, {"ok": True})])
    oem.handler = lambda request: next(answers)
    act(h, open_case(h, "DS120"), Event.ACKNOWLEDGE)

    deliver(h)
    [waiting] = posts(h)
    assert (waiting.state, waiting.attempts, "503" in waiting.last_error) == ("pending", 1, True)
    assert deliver(h) == 0  # not due before its backoff
    clock.advance(seconds=31)
    assert deliver(h) == 1

    assert [p.state for p in posts(h)] == ["sent"]
    assert len(oem.sent("POST")) == 2


def test_a_refusal_marks_the_post_failed_and_feeds_status_counts_it(
    h: Harness, oem: OemServer, config: Path
):
    oem.handler = lambda request: Reply(422, {"error": "unknown case"})
    act(h, open_case(h, "DS130"), Event.ACKNOWLEDGE)

    deliver(h)
    deliver(h)

    [failed] = posts(h)
    assert (failed.state, failed.attempts) == ("failed", 1)
    assert "422" in failed.last_error
    [row] = json.loads(process.run("feeds", "status", "--config", config, "--json").stdout)
    assert (row["writeback_failed"], row["writeback_pending"]) == (1, 0)


def test_posts_left_when_the_worker_stops_are_sent_after_a_restart_each_once(
    h: Harness, oem: OemServer, config: Path, clock: FakeClock
):
    for case_id in ("DS140", "DS141", "DS142"):
        act(h, open_case(h, case_id), Event.ACKNOWLEDGE)

    async def stopped_after_the_first_post() -> int:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()

        def answer(request: Request) -> Reply:
            loop.call_soon_threadsafe(stop.set)  # the daemon is asked to stop meanwhile
            return Reply(200, {"ok": True})

        oem.handler = answer
        return await posting.deliver_due(h.deps, stop)

    assert asyncio.run(stopped_after_the_first_post()) == 1
    assert [p.state for p in posts(h)] == ["sent", "pending", "pending"]
    h.close()

    oem.handler = lambda request: Reply(200, {"ok": True})
    restarted = Harness(config, clock)
    try:
        assert deliver(restarted) == 2
        assert [p.state for p in posts(restarted)] == ["sent", "sent", "sent"]
    finally:
        restarted.close()
    posted = [r.body["case_id"] for r in oem.sent("POST")]
    assert sorted(posted) == ["DS140", "DS141", "DS142"]


def test_the_daemon_posts_a_case_acknowledged_from_the_command_line(
    tmp_path: Path, sink: SmtpSink, oem: OemServer
):
    db = tmp_path / "complaintd.db"
    token = tmp_path / "dscrm.token"
    token.write_text(TOKEN, encoding="utf-8")
    url = oem.url("/dealer/cases/{case_id}/status")
    config = write_config(tmp_path, f"sqlite:///{db}", sink.port, ORG + feed_config(url, token))
    staged = write_xlsx(tmp_path / "case.xlsx", [row("DS150")])
    past = time.time() - 60  # copied in long ago: no longer being written
    os.utime(staged, (past, past))
    daemon = DaemonProcess(config, tmp_path / "daemon.log")
    try:
        daemon.wait_for_log("complaintd ready")
        (tmp_path / "drop").mkdir(exist_ok=True)
        os.replace(staged, tmp_path / "drop" / "case.xlsx")
        wait_until(lambda: len(query(db, "SELECT number FROM tickets")) == 1, 15, "the case filed")
        [(number,)] = query(db, "SELECT number FROM tickets")

        process.run("tickets", "act", number, "acknowledge", "--by", "zheng_hao",
                    "--config", config)  # fmt: skip

        wait_until(lambda: len(oem.sent("POST")) == 1, 15, "the status posted")
        assert oem.sent("POST")[0].body["status"] == "已签收"
        wait_until(lambda: query(db, "SELECT state FROM writeback_queue") == [("sent",)], 10,
                   "the post recorded sent")  # fmt: skip
    finally:
        assert daemon.stop() == 0
