"""Rows held back and written as a block ends, one statement per table, instead of one
statement each as they come: a filing batch's audit entries, new clocks and ticket serials, a
staff reply's several commands.

Only what is write-only while the block runs is held (audit entries, new clocks, the last
serial handed out), and a read of it calls flush() first. A savepoint (db.savepoint) writes
what is held before it begins and holds its own rows apart, so a rollback to it takes back its
rows and no others.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Executable
from sqlalchemy.orm import Session

# session.info key: the open blocks, outermost first.
_HELD = "complaintd.held_rows"

_Row = dict[str, Any]


@dataclass
class _Block:
    rows: dict[Executable, list[_Row]] = field(default_factory=dict)  # in the order they came
    # The last row under each key, and whether it differs from what the database holds.
    latest: dict[Executable, dict[Hashable, tuple[_Row, bool]]] = field(default_factory=dict)

    def take(self, inner: _Block) -> None:
        for statement, rows in inner.rows.items():
            self.rows.setdefault(statement, []).extend(rows)
        for statement, keyed in inner.latest.items():
            self.latest.setdefault(statement, {}).update(keyed)

    def write(self, session: Session) -> None:
        for statement, rows in self.rows.items():
            if rows:
                session.connection().execute(statement, rows)
        for statement, keyed in self.latest.items():
            changed = [row for row, differs in keyed.values() if differs]
            if changed:
                session.connection().execute(statement, changed)
        self.rows.clear()
        self.latest.clear()


def _blocks(session: Session) -> list[_Block]:
    blocks: list[_Block] = session.info.setdefault(_HELD, [])
    return blocks


def insert(session: Session, statement: Executable, rows: Sequence[_Row]) -> None:
    """Execute `statement` for `rows`, or hold them for the innermost block's end."""
    blocks = _blocks(session)
    if blocks:
        blocks[-1].rows.setdefault(statement, []).extend(rows)
    elif rows:
        session.connection().execute(statement, list(rows))


def put(
    session: Session, statement: Executable, key: Hashable, row: _Row, changed: bool = True
) -> None:
    """Hold `row` for `statement`, replacing any held under `key`: only the last one is
    written, and only if `changed` (a row just read from the database is held to be found,
    not to be written back). Outside a block nothing is held (the caller has written it)."""
    blocks = _blocks(session)
    if blocks:
        blocks[-1].latest.setdefault(statement, {})[key] = (row, changed)


def held(session: Session, statement: Executable, key: Hashable) -> _Row | None:
    """The row last held under `key` for `statement` and not yet written."""
    for block in reversed(_blocks(session)):
        found = block.latest.get(statement, {}).get(key)
        if found is not None:
            return found[0]
    return None


@contextmanager
def batch(session: Session) -> Iterator[None]:
    """Hold what is written in the block; it is written as the block ends (or, inside another
    block, as that one ends), in the order it came. An error discards it: the caller rolls
    back what it belongs to."""
    blocks = _blocks(session)
    mine = _Block()
    blocks.append(mine)
    try:
        yield
    finally:
        blocks.pop()  # blocks nest, so the innermost is this one
    if blocks:
        blocks[-1].take(mine)
    else:
        mine.write(session)


def flush(session: Session) -> None:
    """Write everything held so far, before it is read (or a savepoint begins)."""
    for block in _blocks(session):
        block.write(session)
