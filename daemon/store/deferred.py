"""Rows held back and written as a block ends, one statement per table, instead of one
statement each as they come: a filing batch's audit entries and new clocks, a staff reply's
several commands.

Only rows that are write-only while the block runs are held (audit entries, new clocks), and a
read of them calls flush() first. A savepoint (db.savepoint) writes what is held before it
begins and holds its own rows apart, so a rollback to it takes back its rows and no others.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Executable
from sqlalchemy.orm import Session

# session.info key: the open blocks, outermost first; each maps a statement to its rows.
_HELD = "complaintd.held_rows"

_Rows = dict[Executable, list[dict[str, Any]]]


def insert(session: Session, statement: Executable, rows: Sequence[dict[str, Any]]) -> None:
    """Execute `statement` for `rows`, or hold them for the innermost block's end."""
    levels: list[_Rows] | None = session.info.get(_HELD)
    if levels:
        levels[-1].setdefault(statement, []).extend(rows)
    elif rows:
        session.connection().execute(statement, list(rows))


@contextmanager
def holding(session: Session) -> Iterator[None]:
    """Hold the rows inserted in the block; they are written as it ends (or, inside another
    block, as that one ends), in the order they came. An error discards them: the caller rolls
    back what they belong to."""
    levels: list[_Rows] = session.info.setdefault(_HELD, [])
    mine: _Rows = {}
    levels.append(mine)
    try:
        yield
    finally:
        levels.pop()  # blocks nest, so the innermost is this one
    if levels:
        for statement, rows in mine.items():
            levels[-1].setdefault(statement, []).extend(rows)
    else:
        _write(session, mine)


def flush(session: Session) -> None:
    """Write every row held so far, before they are read (or a savepoint begins)."""
    for level in session.info.get(_HELD, ()):
        _write(session, level)
        level.clear()


def _write(session: Session, held: _Rows) -> None:
    for statement, rows in held.items():
        if rows:
            session.connection().execute(statement, rows)
