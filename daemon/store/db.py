"""Engine, sessions and migrations for SQLite (embedded) and PostgreSQL (multi-instance)."""

from __future__ import annotations

import collections
import logging
import re
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Engine, create_engine, event, inspect, make_url, text
from sqlalchemy.exc import ArgumentError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from daemon.store import deferred

if TYPE_CHECKING:
    from alembic.config import Config as AlembicConfig

log = logging.getLogger(__name__)

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
# Any constant works; it only has to be the same in every instance sharing the database.
_UPGRADE_LOCK = 0x636F6D70
# How long a SQLite statement waits for another writer before it fails as locked.
BUSY_TIMEOUT_MS = 60_000


class UnknownSchema(Exception):
    """The database is at a schema revision this complaintd does not know (a newer one
    migrated it)."""


class Unavailable(Exception):
    """The database cannot be opened for a reason an operator can fix: one line with the URL
    (password hidden), the cause and what to do."""


class _Turns:
    """SQLite's writers in this process, served in the order they asked.

    SQLite has one writer and a waiting one polls for the lock, sleeping up to 100 ms between
    tries; the filing of batches, which asks again a moment after each commit, would win nearly
    every time and the outbox wait seconds to claim its mail. Waiting here instead, each
    writer gets the lock as the one before it lets go. A thread already in a transaction goes
    straight in; one that waits past the busy timeout goes on to SQLite's own waiting.
    """

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._queue: collections.deque[int] = collections.deque()
        self._owner: int | None = None

    @contextmanager
    def turn(self) -> Iterator[None]:
        me = threading.get_ident()
        with self._cond:
            if self._owner == me:
                mine = False
            else:
                self._queue.append(me)
                deadline = time.monotonic() + BUSY_TIMEOUT_MS / 1000
                while self._owner is not None or self._queue[0] != me:
                    left = deadline - time.monotonic()
                    if left <= 0:
                        break
                    self._cond.wait(left)
                mine = self._owner is None and self._queue[0] == me
                self._queue.remove(me)
                if mine:
                    self._owner = me
                else:
                    self._cond.notify_all()
        try:
            yield
        finally:
            if mine:
                with self._cond:
                    self._owner = None
                    self._cond.notify_all()


class Store:
    """The database: a session factory plus schema management."""

    def __init__(self, url: str, echo: bool = False) -> None:
        self.url = url
        self.engine = make_engine(url, echo=echo)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        self._turns = _Turns() if self.engine.dialect.name == "sqlite" else None

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @property
    def sent_log(self) -> Path | None:
        """Where the outbox writes down mail the server accepted, beside a SQLite database
        file: SQLite has one writer, and the filing batch holds it for a whole batch. None on
        PostgreSQL, whose row locks let each mail be marked sent in the database at once."""
        if self.dialect != "sqlite":
            return None
        path = make_url(self.url).database
        if not path or path == ":memory:":
            return None
        return Path(path).with_name(Path(path).name + "-sent")

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """One unit of work: committed on success, rolled back on any exception."""
        if self._turns is None:
            with self._sessions.begin() as session:
                yield session
            return
        with self._turns.turn(), self._sessions.begin() as session:
            yield session

    @contextmanager
    def reading(self) -> Iterator[Session]:
        """A read-only view: on SQLite it does not queue behind writers."""
        with (
            self.engine.connect().execution_options(read_only=True) as conn,
            Session(bind=conn, expire_on_commit=False) as session,
        ):
            yield session

    @contextmanager
    def autocommit(self) -> Iterator[Connection]:
        """A connection on which each statement commits on its own, with no BEGIN ... COMMIT
        around it: for one-row writes that must be durable at once (a mail marked sent)."""
        with self.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            yield conn

    def upgrade(self) -> None:
        """Apply every pending migration; safe when several instances start at once. A
        database already at the head is left alone without loading the migration tool, which
        every command would otherwise pay for at start."""
        if self.dialect == "sqlite":
            _sqlite_parent(self.url)
        if self._revision() == head_revision():
            return
        from alembic import command
        from alembic.util import CommandError

        with self.engine.begin() as conn:
            if self.dialect == "postgresql":
                conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _UPGRADE_LOCK})
            cfg = alembic_config()
            cfg.attributes["connection"] = conn
            try:
                command.upgrade(cfg, "head")
            except CommandError as exc:
                raise UnknownSchema(str(exc)) from None

    def pending_migrations(self) -> bool:
        return self._revision() != head_revision()

    def _revision(self) -> str | None:
        """The schema revision the database is at; None for an empty database."""
        with self.engine.connect() as conn:
            if not inspect(conn).has_table("alembic_version"):
                return None
            return conn.execute(text("SELECT version_num FROM alembic_version")).scalar()

    def dispose(self) -> None:
        self.engine.dispose()


@contextmanager
def savepoint(session: Session) -> Iterator[None]:
    """A savepoint whose rollback has the session read again what it holds: rows a staff
    action writes as statements (a ticket, its clocks) go back with it, and the ORM, which
    did not write them, would otherwise keep showing them."""
    deferred.flush(session)  # rows held before it are not its own to take back
    try:
        with session.begin_nested(), deferred.batch(session):
            yield
    except BaseException:
        session.expire_all()
        raise


@contextmanager
def reporting(url: str, setting: str = "[database] url") -> Iterator[None]:
    """Turn a failure to reach the database into Unavailable; `setting` names where the URL
    comes from, for the advice."""
    try:
        yield
    except (SQLAlchemyError, OSError) as exc:
        raise Unavailable(explain(url, exc, setting)) from None


def explain(url: str, exc: BaseException, setting: str = "[database] url") -> str:
    """One line: the masked URL, what went wrong and what to do about it."""
    shown = masked_url(url)
    # PostgreSQL follows a statement's error with the statement's text ("LINE 2: ..."): not ours.
    message = str(getattr(exc, "orig", None) or exc).split("\nLINE ", 1)[0]
    cause = " ".join(message.split())
    if url.startswith("sqlite"):
        return f"database {shown}: {_sqlite_advice(url, cause, setting)}"
    return f"database {shown}: {_postgres_advice(url, cause, setting)}"


def masked_url(url: str) -> str:
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return re.sub(r"(://[^:/@]+:)[^@]+@", r"\1***@", url)


def _sqlite_advice(url: str, cause: str, setting: str) -> str:
    path = Path(url.split(":///", 1)[-1])
    if path.is_dir():
        return f"{path} is a folder, not a database file; point {setting} at a file"
    if "file is not a database" in cause:
        return f"{path} is not a SQLite database; check {setting}, or move the file away"
    if "readonly" in cause or "permission" in cause.lower():
        return f"{cause}; let the daemon's user write {path} and its folder"
    if "no such table" in cause:
        return (
            f"{cause}: the schema is incomplete; is {path} complaintd's database? (check "
            f"{setting}, or restore the file from a backup)"
        )
    if "unable to open" in cause:
        return (
            f"cannot open {path}; check that its folder exists and the daemon's user may "
            f"write there (or check {setting})"
        )
    return f"{cause}; check {setting}"


def _postgres_advice(url: str, cause: str, setting: str) -> str:
    # psycopg prefixes the server's message with where it tried to connect: keep the message.
    reason = re.sub(r"^.*?port \d+ failed: (FATAL: )?", "", cause).strip()
    where = make_url(url)
    host, port = where.host or "localhost", where.port or 5432
    missing = re.search(r'database "([^"]+)" does not exist', cause)
    if missing:
        user = f" -U {where.username}" if where.username else ""
        return (
            f"{reason}; create it with `createdb -h {host} -p {port}{user} {missing.group(1)}`, "
            f"or check {setting}"
        )
    if re.search(r'relation "[^"]+" does not exist', cause):
        return (
            f"{reason}: the schema is incomplete; is {where.database} complaintd's database? "
            f"(check {setting}, or restore it from a backup)"
        )
    if re.search(r"terminating connection|server closed the connection|consuming input", cause):
        return (
            f"{reason}: {host}:{port} closed the connection partway through (stopped or "
            f"restarted?); run the command again once it answers"
        )
    if "connection refused" in cause.lower():
        return f"connection refused by {host}:{port}; is the server running? (or check {setting})"
    if re.search(r"role .* does not exist|authentication failed|permission denied", cause):
        return f"{reason}; check the user and password in {setting} and the server's grants"
    if re.search(r"timeout|timed out|could not translate host name|No route", cause, re.I):
        return f"{reason}; is the server running and reachable? (or check {setting})"
    return f"{reason}; check {setting}"


def head_revision() -> str:
    """The newest migration's revision: each file in versions/ is named after its revision,
    numbered in order (a test checks this against the migration tool's own reading)."""
    return max(p.name.split("_", 1)[0] for p in (MIGRATIONS / "versions").glob("[0-9]*_*.py"))


def alembic_config() -> AlembicConfig:
    from alembic.config import Config as AlembicConfig

    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    return cfg


def make_engine(url: str, echo: bool = False) -> Engine:
    if url.startswith("sqlite"):
        _sqlite_parent(url)
        engine = create_engine(url, echo=echo, connect_args={"timeout": 60})
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin_immediate)
        return engine
    return create_engine(url, echo=echo, pool_pre_ping=True, pool_size=10, max_overflow=10)


def _sqlite_parent(url: str) -> None:
    path = url.split(":///", 1)[-1]
    if path and path != ":memory:":
        Path(path).parent.mkdir(parents=True, exist_ok=True)


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    # Let SQLAlchemy issue BEGIN itself (see _sqlite_begin_immediate).
    dbapi_conn.isolation_level = None
    cursor = dbapi_conn.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    cursor.close()


def _sqlite_begin_immediate(conn: Any) -> None:
    # Writers take the lock at BEGIN: a deferred transaction that reads then writes can fail with
    # "database is locked" instead of waiting when another thread writes in between.
    options = conn.get_execution_options()
    if options.get("isolation_level") == "AUTOCOMMIT":
        return  # each statement is its own transaction (Store.autocommit)
    conn.exec_driver_sql("BEGIN" if options.get("read_only", False) else "BEGIN IMMEDIATE")
