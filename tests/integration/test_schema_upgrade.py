"""Opening the database: a schema at the newest revision is taken as it is, without loading the
migration tool; one behind is brought up to it."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, select, text
from support.clock import FakeClock
from support.harness import Harness, write_config
from support.mail import complaint
from support.org import STORE_ORG
from support.smtp_sink import SmtpSink

from daemon.acting import act
from daemon.lifecycle import Event
from daemon.store import Store
from daemon.store.db import alembic_config, head_revision
from daemon.store.models import ClockStop, TicketClock


def test_the_head_revision_read_from_file_names_is_the_migration_tools_own():
    assert head_revision() == ScriptDirectory.from_config(alembic_config()).get_current_head()


_OPEN = (
    "import sys; from daemon.store import Store; s = Store(sys.argv[1]); s.upgrade(); "
    "print(s.pending_migrations(), 'alembic' in sys.modules)"
)


def test_a_database_at_the_head_opens_without_loading_the_migration_tool(db_url: str):
    Store(db_url).upgrade()
    opened = subprocess.run(
        [sys.executable, "-c", _OPEN, db_url],
        capture_output=True,
        text=True,
        check=True,
    )
    assert opened.stdout.split() == ["False", "False"]


def test_a_database_two_revisions_behind_is_upgraded_to_the_head(db_url: str):
    store = Store(db_url)
    store.upgrade()
    with store.engine.begin() as conn:
        # Undo 0015 (a table) and 0014 (one index).
        conn.execute(text("DROP TABLE clock_stops"))
        conn.execute(text("DROP INDEX ix_ticket_events_ticket_kind_at"))
        conn.execute(text("UPDATE alembic_version SET version_num = '0013'"))
    store.upgrade()
    assert not store.pending_migrations()
    with store.engine.connect() as conn:
        indexes = {i["name"] for i in inspect(conn).get_indexes("ticket_events")}
        stops = {i["name"] for i in inspect(conn).get_indexes("clock_stops")}
    assert "ix_ticket_events_ticket_kind_at" in indexes
    assert stops == {"ix_clock_stops_stopped_at", "ix_clock_stops_ticket_id"}


@pytest.fixture
def desk(tmp_path: Path, db_url: str, sink: SmtpSink, clock: FakeClock) -> Iterator[Harness]:
    """A desk whose complaints are assigned as they come in (the store's org chart)."""
    h = Harness(write_config(tmp_path, db_url, sink.port, STORE_ORG), clock)
    yield h
    h.close()


def test_the_clock_stops_table_starts_with_the_stops_the_clocks_show(desk: Harness):
    number = desk.deliver(complaint("刹车异响，多次维修没有解决")).ticket
    assert number is not None
    for event in (Event.CONTACT, Event.RESOLVE):
        act(desk.deps, number, event, "zheng_hao", f"test: {event}", desk.clock())
    c = TicketClock
    with desk.session() as s:
        stopped = s.execute(
            select(c.ticket_id, c.kind, c.stopped_at, c.breached_at.is_(None)).where(
                c.stopped_at.is_not(None)
            )
        ).all()
    with desk.store.engine.begin() as conn:
        conn.execute(text("DROP TABLE clock_stops"))
        conn.execute(text("UPDATE alembic_version SET version_num = '0014'"))

    desk.store.upgrade()

    with desk.session() as s:
        stops = s.execute(
            select(ClockStop.ticket_id, ClockStop.clock, ClockStop.stopped_at, ClockStop.on_time)
        ).all()
    assert stopped and sorted(tuple(r) for r in stops) == sorted(tuple(r) for r in stopped)
