"""Mailbox checkpoints (committed with the tickets they produced) and mailbox health."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import Table, select
from sqlalchemy.orm import Session

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


class MailboxHealth:
    """daemon.sources.imap.StatusSink over the database; each report its own transaction."""

    def __init__(self, store: Store) -> None:
        self._store = store

    def _update(self, mailbox: str, at: datetime, **values: Any) -> None:
        with self._store.transaction() as session:
            row = session.get(MailboxState, mailbox)
            if row is None:
                row = MailboxState(mailbox=mailbox, updated_at=at)
                session.add(row)
            for key, value in values.items():
                setattr(row, key, value)
            row.updated_at = at

    def connected(self, mailbox: str, at: datetime) -> None:
        self._update(mailbox, at, connected=True, failing_since=None)

    def fetched(self, mailbox: str, at: datetime, waiting: int) -> None:
        self._update(
            mailbox, at, connected=True, last_ok_at=at, waiting=waiting, failing_since=None
        )

    def failed(self, mailbox: str, at: datetime, error: str) -> None:
        with self._store.reading() as session:
            row = session.get(MailboxState, mailbox)
            since = row.failing_since if row is not None and row.failing_since else at
        self._update(
            mailbox,
            at,
            connected=False,
            last_error=error[:2000],
            last_error_at=at,
            failing_since=since,
        )


def states(session: Session) -> dict[str, MailboxState]:
    return {row.mailbox: row for row in session.scalars(select(MailboxState))}
