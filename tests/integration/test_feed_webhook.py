"""A webhook feed's receiver over real HTTP, on both databases: a delivery signed the Standard
Webhooks way is answered 2xx once its case is committed; a bad signature, a stale timestamp and a
body that is not JSON are refused with 4xx and quarantined; a replayed delivery id files nothing;
a database that is down gets a 503 so the manufacturer sends it again. The clock is the only
fake (the receiver judges timestamps by it)."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from sqlalchemy import select
from sqlalchemy.engine import make_url
from support import postgres
from support.clock import FakeClock
from support.daemon_run import DaemonProcess, query, wait_until
from support.feeds import ORG, REPAIR
from support.harness import Harness, write_config
from support.smtp_sink import SmtpSink

from daemon.feeds import webhook
from daemon.store.cases import ManufacturerCase
from daemon.store.models import Quarantined, Ticket

KEY = b"dscrm-webhook-signing-key-32byte"
SECRET = "whsec_" + base64.b64encode(KEY).decode()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def feed_config(port: int) -> str:
    return f"""
[[feeds]]
name = "hook"
oem = "faw-vw"
kind = "webhook"
listen_port = {port}
listen_path = "/dscrm"
secret_env = "DSCRM_HOOK_SECRET"
records_path = "cases"

[feeds.fields]
case_id = "caseNo"
dispatched_at = "dispatchTime"
level = "level"
customer_name = "customerName"
text = "content"
status = "status"
"""


def case(number: str, **changes: Any) -> dict[str, Any]:
    record = {
        "caseNo": number,
        "dispatchTime": "2026-11-23 10:00",
        "level": "一般",
        "customerName": "王先生",
        "content": REPAIR,
        "status": "待处理",
    }
    return record | changes


class Receiver:
    """The feed's receiver running in an event loop of its own thread, as in the daemon."""

    def __init__(self, h: Harness) -> None:
        self.h = h
        self.feed = h.settings.feeds[0]
        self.delivered = 0
        self._loop = asyncio.new_event_loop()
        self._stop = asyncio.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        wait_until(self._listening, 10, "the receiver listening")

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._loop.run_until_complete(
            webhook.serve(self.feed, self.h.deps, self._stop, webhook.Hooks(delivered=self._count))
        )

    def _count(self) -> None:
        self.delivered += 1

    def _listening(self) -> bool:
        with (
            contextlib.suppress(OSError),
            socket.create_connection(("127.0.0.1", self.feed.listen_port), timeout=0.2),
        ):
            return True
        return False

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.feed.listen_port}/dscrm"

    def post(
        self, body: bytes, delivery_id: str = "msg_1", at: float | None = None, key: bytes = KEY
    ) -> httpx.Response:
        timestamp = str(int(self.h.clock().timestamp() if at is None else at))
        headers = {
            "content-type": "application/json",
            "webhook-id": delivery_id,
            "webhook-timestamp": timestamp,
            "webhook-signature": webhook.sign(key, delivery_id, timestamp, body),
        }
        return httpx.post(self.url, content=body, headers=headers, timeout=30)

    def close(self) -> None:
        self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(10)


def payload(*records: dict[str, Any]) -> bytes:
    return json.dumps({"cases": list(records)}, ensure_ascii=False).encode()


@pytest.fixture
def h(
    tmp_path: Path, db_url: str, sink: SmtpSink, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Harness]:
    monkeypatch.setenv("DSCRM_HOOK_SECRET", SECRET)
    harness = Harness(write_config(tmp_path, db_url, sink.port, ORG + feed_config(free_port())),
                      clock)  # fmt: skip
    yield harness
    harness.close()


@pytest.fixture
def receiver(h: Harness) -> Iterator[Receiver]:
    running = Receiver(h)
    yield running
    running.close()


def statuses(h: Harness) -> dict[str, str]:
    with h.session() as s:
        return dict(s.execute(select(ManufacturerCase.case_id, ManufacturerCase.status)).all())


def quarantined(h: Harness) -> list[str]:
    with h.session() as s:
        return [q.reason for q in s.scalars(select(Quarantined).order_by(Quarantined.id))]


def test_a_signed_delivery_is_answered_2xx_when_its_case_is_already_a_ticket(
    h: Harness, receiver: Receiver
):
    answer = receiver.post(payload(case("WH001")))

    assert answer.status_code == 200
    assert statuses(h) == {"WH001": "待处理"}  # committed before the answer left
    assert answer.json()["imported"] == 1
    with h.session() as s:
        assert s.scalars(select(Ticket.channel)).one() == "manufacturer"


def test_a_bad_signature_is_refused_with_401_and_quarantined(h: Harness, receiver: Receiver):
    answer = receiver.post(payload(case("WH010")), key=b"someone-else's-key-of-32-bytes!!")

    assert answer.status_code == 401
    assert statuses(h) == {}
    assert quarantined(h) == ["bad-signature"]


def test_a_timestamp_older_than_five_minutes_is_refused_as_stale(h: Harness, receiver: Receiver):
    six_minutes_ago = h.clock().timestamp() - 360

    answer = receiver.post(payload(case("WH020")), at=six_minutes_ago)

    assert answer.status_code == 400
    assert answer.json()["error"] == "stale-timestamp"
    assert statuses(h) == {}
    assert quarantined(h) == ["stale-timestamp"]


def test_a_replayed_delivery_id_is_answered_but_files_nothing(h: Harness, receiver: Receiver):
    receiver.post(payload(case("WH030")), delivery_id="msg_replayed")

    again = receiver.post(payload(case("WH030", status="已关闭")), delivery_id="msg_replayed")

    assert again.status_code == 200 and again.json() == {"duplicate": True}
    assert statuses(h) == {"WH030": "待处理"}


def test_a_body_that_is_not_json_is_refused_with_400_and_quarantined(
    h: Harness, receiver: Receiver
):
    answer = receiver.post(b'{"cases": [ {"caseNo": "WH040",')

    assert answer.status_code == 400
    assert quarantined(h) == ["bad-json"]


def test_a_bad_record_in_a_signed_delivery_is_quarantined_and_the_rest_filed(
    h: Harness, receiver: Receiver
):
    answer = receiver.post(payload(case("WH050"), case("WH051", dispatchTime="昨天")))

    assert answer.status_code == 200
    assert statuses(h) == {"WH050": "待处理"}
    assert quarantined(h) == ["bad-date"]


@contextlib.contextmanager
def database_down(db_url: str) -> Iterator[None]:
    """A real outage: SQLite's file and folder immutable (root ignores modes), PostgreSQL's
    database refusing connections."""
    url = make_url(db_url)
    if url.get_backend_name() == "sqlite":
        file = Path(str(url.database))
        taken = [str(p) for p in (file, file.with_name(file.name + "-wal")) if p.exists()]
        subprocess.run(["chattr", "+i", *taken, str(file.parent)], check=True)
        try:
            yield
        finally:
            subprocess.run(["chattr", "-i", str(file.parent), *taken], check=True)
        return
    with psycopg.connect(postgres.ADMIN_DSN, autocommit=True) as conn:
        conn.execute(f'ALTER DATABASE "{url.database}" ALLOW_CONNECTIONS false')
        conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s",
            (url.database,),
        )
    try:
        yield
    finally:
        with psycopg.connect(postgres.ADMIN_DSN, autocommit=True) as conn:
            conn.execute(f'ALTER DATABASE "{url.database}" ALLOW_CONNECTIONS true')


def test_a_delivery_while_the_database_is_down_gets_503_and_its_retry_is_filed(
    h: Harness, receiver: Receiver, db_url: str
):
    body = payload(case("WH060"))
    with database_down(db_url):
        answer = receiver.post(body, delivery_id="msg_outage")
    assert answer.status_code == 503

    retried = receiver.post(body, delivery_id="msg_outage")

    assert retried.status_code == 200
    assert statuses(h) == {"WH060": "待处理"}


def test_the_daemon_receives_signed_deliveries_on_the_configured_port(
    tmp_path: Path, sink: SmtpSink
):
    db = tmp_path / "complaintd.db"
    port = free_port()
    config = write_config(tmp_path, f"sqlite:///{db}", sink.port, ORG + feed_config(port))
    daemon = DaemonProcess(config, tmp_path / "daemon.log", DSCRM_HOOK_SECRET=SECRET)
    try:
        daemon.wait_for_log("receiving webhooks on 127.0.0.1")
        body = payload(case("WH070"))
        timestamp = str(int(time.time()))
        answer = httpx.post(
            f"http://127.0.0.1:{port}/dscrm",
            content=body,
            headers={
                "webhook-id": "msg_daemon",
                "webhook-timestamp": timestamp,
                "webhook-signature": webhook.sign(KEY, "msg_daemon", timestamp, body),
            },
            timeout=30,
        )
        assert answer.status_code == 200
        assert query(db, "SELECT case_id FROM manufacturer_cases") == [("WH070",)]
    finally:
        assert daemon.stop() == 0
