"""A configured complaintd over a real database and a real SMTP sink, with a fake clock."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from daemon import app, config
from daemon.deps import Deps, Run
from daemon.outbox import DeliveryReport, deliver_due, lease_for, make_transport
from daemon.pipeline import process
from daemon.store.models import Message, OutboxMail, Ticket
from daemon.store.views import ticket_detail
from daemon.values import Outcome, RawMail
from support.clock import FakeClock

ROOT = Path(__file__).resolve().parents[2]


def calendar_covering_today() -> str:
    """A [calendar] table vouching for this year and the next by their New Year's Day (a day off
    anyway), for tests that run `complaintd status` on the wall clock: without it a provisional
    next year makes status exit 1 from 1 December."""
    year = datetime.now(UTC).year
    return f"[calendar]\nholidays = [{year}-01-01, {year + 1}-01-01]\n"


def write_config(folder: Path, db_url: str, smtp_port: int, extra: str = "") -> Path:
    """A config.toml for a test: everything local, mail to the sink."""
    path = folder / "config.toml"
    path.write_text(
        f"""
[database]
url = "{db_url}"

[maildir]
path = "maildir"
poll_seconds = 1

[outbox]
transport = "smtp"
from_address = "complaints@dealer.example"
from_name = "客户关爱中心"
message_id_domain = "dealer.example"
poll_seconds = 1
retry_initial_seconds = 60
retry_max_seconds = 600

[smtp]
host = "127.0.0.1"
port = {smtp_port}
timeout_seconds = 5

[templates]
directory = "{ROOT / "templates"}"

{extra}
""",
        encoding="utf-8",
    )
    return path


class Harness:
    def __init__(self, config_path: Path, clock: FakeClock) -> None:
        self.config_path = config_path
        self.clock = clock
        self.settings = config.load(config_path)
        self.store = app.open_store(self.settings)
        self.deps: Deps = app.build(self.settings, self.store, clock)

    def deliver(self, data: bytes, origin: str = "test", run: Run | None = None) -> Outcome:
        return process(RawMail(data, origin, self.clock()), self.deps, run or Run())

    def send_outbox(self) -> DeliveryReport:
        transport = make_transport(self.settings.outbox, self.settings.smtp, self.clock)
        lease = lease_for(self.settings.smtp)
        return asyncio.run(
            deliver_due(self.store, transport, self.settings.outbox, self.clock, lease)
        )

    @contextmanager
    def session(self) -> Iterator[Session]:
        with self.store.reading() as session:
            yield session

    def ticket(self, number: str) -> dict[str, Any]:
        with self.session() as s:
            detail = ticket_detail(s, number)
        assert detail is not None, f"no ticket {number}"
        return detail

    def count(self, model: type[Ticket] | type[Message] | type[OutboxMail]) -> int:
        with self.session() as s:
            return int(s.scalar(select(func.count()).select_from(model)) or 0)

    def outbox(self) -> list[OutboxMail]:
        with self.session() as s:
            return list(s.scalars(select(OutboxMail).order_by(OutboxMail.id)))

    def now(self) -> datetime:
        return self.clock()

    def close(self) -> None:
        self.store.dispose()
