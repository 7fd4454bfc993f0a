"""What a database error says: the database is out of reach, or this one message cannot be
stored in it. The first keeps the message for a later try; the second quarantines it."""

from __future__ import annotations

import sqlite3
from collections import OrderedDict
from enum import Enum

from sqlalchemy import text
from sqlalchemy.exc import (
    DataError,
    DBAPIError,
    DisconnectionError,
    IntegrityError,
    InterfaceError,
    OperationalError,
)
from sqlalchemy.exc import TimeoutError as PoolTimeout

from daemon.store.db import Store


class Fault(Enum):
    UNREACHABLE = "unreachable"  # the database, not the message: keep it and retry later
    UNSTORABLE = "unstorable"  # this message's data: quarantine it now
    RETRY = "retry"  # unclear: try again, a bounded number of times


# PostgreSQL SQLSTATE classes (psycopg's .sqlstate): which side of the fault they name.
_PG_UNREACHABLE = ("08", "53", "57P", "58", "XX")  # connection, resources, shutdown, I/O
_PG_UNSTORABLE = ("22", "23", "54")  # data exception, constraint, program limit exceeded
_SQLITE_UNREACHABLE = frozenset(
    {
        sqlite3.SQLITE_BUSY,
        sqlite3.SQLITE_LOCKED,
        sqlite3.SQLITE_NOMEM,
        sqlite3.SQLITE_READONLY,
        sqlite3.SQLITE_IOERR,
        sqlite3.SQLITE_CORRUPT,
        sqlite3.SQLITE_FULL,
        sqlite3.SQLITE_CANTOPEN,
        sqlite3.SQLITE_PROTOCOL,
        sqlite3.SQLITE_NOTADB,
    }
)
_SQLITE_UNSTORABLE = frozenset({sqlite3.SQLITE_TOOBIG, sqlite3.SQLITE_MISMATCH})

# A unique row another instance inserted first (a new customer, say) is a race: the next try
# finds the row. PostgreSQL's unique_violation; SQLite's extended UNIQUE and PRIMARYKEY codes.
_UNIQUE_SQLSTATE = "23505"
_SQLITE_UNIQUE = frozenset({2067, 1555})


def _by_code(exc: DBAPIError) -> Fault | None:
    """The verdict the driver's error code gives, or None when it gives none."""
    if exc.connection_invalidated:
        return Fault.UNREACHABLE
    orig = exc.orig
    sqlstate = getattr(orig, "sqlstate", None)
    errorcode = getattr(orig, "sqlite_errorcode", None)
    if isinstance(sqlstate, str):
        if sqlstate.startswith(_PG_UNREACHABLE):
            return Fault.UNREACHABLE
        if sqlstate.startswith(_PG_UNSTORABLE):
            return Fault.UNSTORABLE
    if isinstance(errorcode, int):
        if errorcode & 0xFF in _SQLITE_UNREACHABLE:  # extended codes carry the primary low
            return Fault.UNREACHABLE
        if errorcode & 0xFF in _SQLITE_UNSTORABLE:
            return Fault.UNSTORABLE
    if isinstance(exc, DataError):
        return Fault.UNSTORABLE
    return None


def fault(exc: DBAPIError, store: Store) -> Fault:
    """Whether the database is unreachable or this message cannot be stored in it."""
    verdict = _by_code(exc)
    if verdict is not None:
        return verdict
    # The driver's own refusals (too many parameters, a lost connection) carry no code: a
    # database that answers a probe at once tells the two apart.
    return Fault.RETRY if answers(store) else Fault.UNREACHABLE


def unreachable(exc: BaseException) -> bool:
    """True when `exc` says the database cannot be reached or written at all; decided without
    asking the database, for logging an outage once rather than per failure."""
    if isinstance(exc, DBAPIError):
        verdict = _by_code(exc)
        if verdict is not None:
            return verdict is Fault.UNREACHABLE
    return isinstance(exc, OperationalError | InterfaceError | DisconnectionError | PoolTimeout)


def answers(store: Store) -> bool:
    """Whether the database answers a trivial query now."""
    try:
        # Read-only: asked from inside a batch's transaction, a probe that took SQLite's write
        # lock would wait on that very transaction.
        with store.engine.connect().execution_options(read_only=True) as conn:
            conn.execute(text("SELECT 1"))
        return True
    except Exception:  # noqa: BLE001 (any failure means: not now)
        return False


def is_unique_violation(exc: IntegrityError) -> bool:
    orig = exc.orig
    return (
        getattr(orig, "sqlstate", None) == _UNIQUE_SQLSTATE
        or getattr(orig, "sqlite_errorcode", None) in _SQLITE_UNIQUE
    )


def error_line(exc: DBAPIError) -> str:
    """The database's complaint in one line, without the statement and its parameters."""
    orig = exc.orig if exc.orig is not None else exc
    first = str(orig).strip().splitlines()[0] if str(orig).strip() else ""
    return f"{type(orig).__name__}: {first}"[:500]


def signature(exc: DBAPIError) -> str:
    """What "failing the same way" compares: the error class and code, not its wording."""
    orig = exc.orig
    code = getattr(orig, "sqlstate", None) or getattr(orig, "sqlite_errorcode", None)
    return f"{type(orig).__name__}:{code}"


class Strikes:
    """How often each message (by sha256) failed, and how; in memory, lost on restart.

    In memory on purpose: the count must work while the database is what fails, and a restart
    giving a message fresh tries costs little. Bounded: the oldest entries are dropped.
    """

    _SIZE = 1000

    def __init__(self) -> None:
        self._seen: OrderedDict[str, tuple[str, int]] = OrderedDict()

    def add(self, sha256: str, how: str) -> int:
        """Record one failure; how many times in a row it has failed this way."""
        last, count = self._seen.pop(sha256, (how, 0))
        count = count + 1 if last == how else 1
        self._seen[sha256] = (how, count)
        while len(self._seen) > self._SIZE:
            self._seen.popitem(last=False)
        return count

    def forget(self, sha256: str) -> None:
        self._seen.pop(sha256, None)
