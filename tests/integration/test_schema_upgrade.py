"""Opening the database: a schema at the newest revision is taken as it is, without loading the
migration tool; one behind is brought up to it."""

from __future__ import annotations

import subprocess
import sys

from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text

from daemon.store import Store
from daemon.store.db import alembic_config, head_revision


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


def test_a_database_one_revision_behind_is_upgraded_to_the_head(db_url: str):
    store = Store(db_url)
    store.upgrade()
    with store.engine.begin() as conn:
        # Undo 0014, which adds one index.
        conn.execute(text("DROP INDEX ix_ticket_events_ticket_kind_at"))
        conn.execute(text("UPDATE alembic_version SET version_num = '0013'"))
    store.upgrade()
    assert not store.pending_migrations()
    with store.engine.connect() as conn:
        indexes = {i["name"] for i in inspect(conn).get_indexes("ticket_events")}
    assert "ix_ticket_events_ticket_kind_at" in indexes
