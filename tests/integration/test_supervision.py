"""`complaintd run` through real database outages and a stuck mailbox: intake survives without a
restart, each outage is logged once, and `status` and the watchdog tell the truth."""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
import sqlalchemy
from dovecot import Mailbox
from sqlalchemy.pool import NullPool
from support import postgres, process
from support.daemon_run import DaemonProcess, wait_until
from support.harness import calendar_covering_today, write_config
from support.mail import complaint
from support.smtp_sink import SmtpSink
from test_daemon_notify import Manager

pytestmark = pytest.mark.dovecot

# The retry cap of the mailbox and of the other workers: recovery must come within twice this.
RETRY_CAP = 2.0


class Database:
    """The test's database on one backend, and the means to take it away and give it back."""

    def __init__(self, kind: str, url: str, folder: Path, name: str = "") -> None:
        self.kind = kind
        self.url = url
        self.name = name
        self.file = folder / "complaintd.db"
        self._engine = sqlalchemy.create_engine(url, poolclass=NullPool)
        self._held: Any = None

    def count(self, table: str) -> int:
        with self._engine.connect() as conn:
            return int(conn.execute(sqlalchemy.text(f"SELECT count(*) FROM {table}")).scalar_one())

    # --- a real outage: writes (PostgreSQL: any connection) fail ----------------------------

    def fail(self) -> None:
        if self.kind == "sqlite":
            # Root ignores file modes; an immutable file refuses root's writes too. The folder
            # is made immutable as well: otherwise a write finding no WAL file creates a fresh
            # one and succeeds, and the outage comes and goes. The shared memory index stays
            # writable: readers map it.
            subprocess.run(["chattr", "+i", *self._files(), str(self.file.parent)], check=True)
            return
        with psycopg.connect(postgres.ADMIN_DSN, autocommit=True) as conn:
            conn.execute(f'ALTER DATABASE "{self.name}" ALLOW_CONNECTIONS false')
            conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s",
                (self.name,),
            )

    def recover(self) -> None:
        if self.kind == "sqlite":
            subprocess.run(["chattr", "-i", str(self.file.parent), *self._files()], check=True)
            return
        with psycopg.connect(postgres.ADMIN_DSN, autocommit=True) as conn:
            conn.execute(f'ALTER DATABASE "{self.name}" ALLOW_CONNECTIONS true')

    def _files(self) -> list[str]:
        wal = self.file.with_name(self.file.name + "-wal")
        return [str(p) for p in (self.file, wal) if p.exists()]

    # --- a stuck one: the pipeline's writes wait behind our lock ----------------------------

    def hold(self) -> None:
        conn = self._engine.raw_connection()
        cursor = conn.cursor()
        if self.kind == "sqlite":
            conn.driver_connection.isolation_level = None  # type: ignore[union-attr]
            cursor.execute("BEGIN EXCLUSIVE")
        else:
            cursor.execute("LOCK TABLE messages IN ACCESS EXCLUSIVE MODE")
        self._held = conn

    def release(self) -> None:
        if self._held is not None:
            self._held.rollback()
            self._held.close()
            self._held = None

    def close(self) -> None:
        self.release()
        self._engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    if request.param == "sqlite":
        # Its own folder, so the outage can take the whole folder (see Database.fail).
        (tmp_path / "db").mkdir()
        db = Database("sqlite", f"sqlite:///{tmp_path / 'db' / 'complaintd.db'}", tmp_path / "db")
        try:
            yield db
        finally:
            db.recover()
            db.close()
        return
    postgres.require()
    name, url = postgres.create()
    db = Database("postgresql", url, tmp_path, name)
    try:
        yield db
    finally:
        db.recover()
        db.close()
        postgres.drop(name)


class Run:
    """One test's daemon over `database`, watching one Dovecot mailbox and the Maildir."""

    def __init__(
        self, folder: Path, database: Database, mailbox: Mailbox, sink: SmtpSink, **service: Any
    ) -> None:
        self.folder = folder
        self.database = database
        self.mailbox = mailbox
        self.name = mailbox.user
        secret = folder / "imap.password"
        secret.write_text(mailbox.password + "\n")
        keys = {"tick_seconds": 0.2, "retry_max_seconds": RETRY_CAP} | service
        extra = "[service]\n" + "".join(f"{k} = {json.dumps(v)}\n" for k, v in keys.items())
        extra += f"""
[[mailboxes]]
name = "{self.name}"
host = "{mailbox.server.host}"
port = {mailbox.server.port}
security = "none"
username = "{mailbox.user}"
password_file = "{secret}"
poll_seconds = 3600
timeout_seconds = 5
retry_initial_seconds = 0.2
retry_max_seconds = {RETRY_CAP}
"""
        extra += calendar_covering_today()
        self.config = write_config(folder, database.url, sink.port, extra)
        self.log = folder / "complaintd.log"
        self.daemon: DaemonProcess | None = None

    def start(self, **env: str) -> DaemonProcess:
        self.daemon = DaemonProcess(self.config, self.log, **env)
        self.daemon.wait_for_log("complaintd ready", timeout=60)
        self.daemon.wait_for_log(f"{self.name}: watching INBOX", timeout=30)
        return self.daemon

    def status(self) -> tuple[int, dict[str, Any] | str]:
        result = process.run("status", "--json", "--config", self.config, check=False, timeout=60)
        assert result.returncode in (0, 1), result.stderr
        if result.stdout.strip():
            return result.returncode, json.loads(result.stdout)
        return result.returncode, result.stderr.strip()

    def drop_in_maildir(self, data: bytes) -> Path:
        new = self.folder / "maildir" / "new"
        path = new / f"{time.time_ns()}.test.maildir"
        (new.parent / "tmp" / path.name).write_bytes(data)
        (new.parent / "tmp" / path.name).rename(path)
        return path

    def log_lines(self, text: str) -> list[str]:
        assert self.daemon is not None
        return [line for line in self.daemon.output().splitlines() if text in line]


@pytest.fixture
def run(tmp_path: Path, database: Database, mailbox: Mailbox, sink: SmtpSink) -> Iterator[Any]:
    made: list[Run] = []

    def make(**service: Any) -> Run:
        made.append(Run(tmp_path, database, mailbox, sink, **service))
        return made[-1]

    yield make
    for each in made:
        if each.daemon is not None and each.daemon.alive:
            each.database.release()
            each.database.recover()
            each.daemon.stop()


def acks(sink: SmtpSink) -> int:
    return sum(1 for r in sink.received if str(r.message["Subject"]).startswith("[TS-"))


# --- the defect: a database outage stopped a mailbox for good --------------------------------


def test_mail_arriving_during_and_after_a_database_outage_is_filed_without_a_restart(
    run: Any, database: Database, mailbox: Mailbox, sink: SmtpSink
) -> None:
    site = run()
    daemon = site.start()
    mailbox.append(complaint(sender="before@example.cn"))
    wait_until(lambda: acks(sink) == 1, 15, "the first complaint acknowledged")

    database.fail()
    try:
        mailbox.append(complaint(sender="during@example.cn"))
        dropped = site.drop_in_maildir(complaint(sender="maildir@example.cn"))
        daemon.wait_for_log("database failing", timeout=15)
        # The mailbox has tried the message and failed: the point where it used to die.
        wait_until(
            lambda: any("retrying" in line for line in site.log_lines(f"{site.name}: ")),
            15,
            "the mailbox's failure",
        )
        assert dropped.exists()  # not moved anywhere while it cannot be filed
        if database.kind == "postgresql":  # SQLite's readers still read an immutable file
            code, said = site.status()
            assert code == 1
            assert str(said).startswith("complaintd: database unreachable: "), said
            assert "\n" not in str(said)
    finally:
        database.recover()
    ended = time.monotonic()
    mailbox.append(complaint(sender="after@example.cn"))

    wait_until(lambda: database.count("tickets") == 4, 4 * RETRY_CAP, "all four complaints filed")
    recovery = time.monotonic() - ended
    daemon.wait_for_log("database working again", timeout=RETRY_CAP)

    assert recovery <= 2 * RETRY_CAP, f"filed {recovery:.1f}s after the outage"
    assert daemon.alive
    assert not list((site.folder / "maildir" / ".quarantine" / "cur").iterdir())
    assert database.count("quarantine") == 0
    wait_until(lambda: acks(sink) == 4, 10, "four acknowledgements")
    wait_until(lambda: mailbox.count("INBOX") == 0, 10, "every message moved out of INBOX")
    assert len(site.log_lines("database failing")) == 1
    assert len(site.log_lines("database working again")) == 1
    assert site.log_lines("died") == []


# --- truthful status and watchdog --------------------------------------------------------


def test_a_mailbox_stuck_on_one_message_fails_status_and_stops_the_watchdog_until_it_moves(
    run: Any, database: Database, mailbox: Mailbox, sink: SmtpSink
) -> None:
    manager = Manager()
    try:
        # Alert after 1.8 s; stuck after 7 s, past the idle mailbox's 5-second heartbeat.
        site = run(mailbox_alert_minutes=0.03, stuck_seconds=7)
        daemon = site.start(NOTIFY_SOCKET=str(manager.path), WATCHDOG_USEC="2000000")
        manager.wait_for("WATCHDOG=1")

        database.hold()
        try:
            mailbox.append(complaint(sender="stuck@example.cn"))
            daemon.wait_for_log(f"{site.name} stuck", timeout=20)
            fed_before = len(manager.times_of("WATCHDOG=1"))
            since = time.monotonic()
            code, report = site.status()
            # A full watchdog interval (1 s) with the mailbox still stuck.
            wait_until(lambda: time.monotonic() - since > 1.2, 5, "a watchdog interval")
            fed_while_stuck = len(manager.times_of("WATCHDOG=1")) - fed_before
        finally:
            database.release()

        daemon.wait_for_log(f"{site.name} moving again", timeout=15)
        wait_until(lambda: acks(sink) == 1, 15, "the stuck complaint acknowledged")
        fed_again = manager.wait_for("WATCHDOG=1", count=fed_before + 1, timeout=10)
        wait_until(lambda: site.status()[0] == 0, 10, "status exit 0 after recovery")
    finally:
        manager.close()

    assert code == 1, report
    assert fed_while_stuck == 0
    assert fed_again > since
    assert len(site.log_lines(f"{site.name} stuck")) == 1
    assert "ERROR" in site.log_lines(f"{site.name} stuck")[0]
