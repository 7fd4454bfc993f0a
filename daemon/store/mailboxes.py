"""Mailbox checkpoints (committed with the tickets they produced) and the health rows of every
source, copied from the daemon's memory."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import Table, select
from sqlalchemy.orm import Session

from daemon.health import SourceState
from daemon.store.db import Store
from daemon.store.models import DIALECT_INSERTS, MailboxCheckpoint, MailboxState, table
from daemon.values import Checkpoint


def _advance(insert: Callable[[Table], Any]) -> Any:
    """INSERT ... ON CONFLICT DO UPDATE, moving the checkpoint forward only."""
    t = table(MailboxCheckpoint)
    statement = insert(t)
    new = statement.excluded
    return statement.on_conflict_do_update(
        index_elements=[t.c.mailbox, t.c.folder],
        set_={
            "uidvalidity": new.uidvalidity,
            "last_uid": new.last_uid,
            "updated_at": new.updated_at,
        },
        where=(t.c.uidvalidity != new.uidvalidity) | (t.c.last_uid < new.last_uid),
    )


_ADVANCE = {name: _advance(insert_for) for name, insert_for in DIALECT_INSERTS.items()}


def save_checkpoint(session: Session, cp: Checkpoint, now: datetime) -> None:
    """Advance a folder's checkpoint; a new UIDVALIDITY replaces the old one outright."""
    conn = session.connection()
    conn.execute(
        _ADVANCE[conn.dialect.name],
        {
            "mailbox": cp.mailbox,
            "folder": cp.folder,
            "uidvalidity": cp.uidvalidity,
            "last_uid": cp.uid,
            "updated_at": now,
        },
    )


class Checkpoints:
    """daemon.sources.imap.CheckpointStore over the database."""

    def __init__(self, store: Store) -> None:
        self._store = store

    def load(self, mailbox: str, folder: str) -> Checkpoint | None:
        with self._store.reading() as session:
            row = session.get(MailboxCheckpoint, (mailbox, folder))
            if row is None:
                return None
            return Checkpoint(row.mailbox, row.folder, row.uidvalidity, row.last_uid)


def save_health(store: Store, sources: Iterable[SourceState], now: datetime) -> None:
    """Copy the daemon's in-memory health to the database in one transaction."""
    by_name = {source.name: source for source in sources}
    with store.transaction() as session:
        rows = {
            row.mailbox: row
            for row in session.scalars(
                select(MailboxState).where(MailboxState.mailbox.in_(list(by_name)))
            )
        }
        for name, source in by_name.items():
            row = rows.get(name)
            if row is None:
                row = MailboxState(mailbox=name)
                session.add(row)
            row.kind = source.kind
            row.connected = source.connected
            row.last_ok_at = source.last_progress_at
            row.waiting = source.waiting
            row.last_error = source.last_error
            row.last_error_at = source.last_error_at
            row.failing_since = source.failing_since
            row.heartbeat_at = source.heartbeat_at
            row.updated_at = source.changed_at or now
            row.reported_at = now


def states(session: Session) -> dict[str, MailboxState]:
    return {row.mailbox: row for row in session.scalars(select(MailboxState))}
