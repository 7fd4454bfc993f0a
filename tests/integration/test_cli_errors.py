"""What an operator can fix is reported in one line with what to do, never as a traceback:
each command run as a real process against a database that is missing, down or not one, at
its start or partway through."""

from __future__ import annotations

import json
import socket
import sqlite3
import time
import uuid
from pathlib import Path

import psycopg
import pytest
from support import postgres, process
from support.mail import complaint

# Every command that opens the database, with the arguments it needs to get that far.
COMMANDS: list[list[str]] = [
    ["db", "status"],
    ["db", "upgrade"],
    ["tickets", "list"],
    ["tickets", "show", "TS-202611-0001"],
    ["quarantine", "list"],
    ["quarantine", "retry", "--all"],
    ["held", "list"],
    ["outbox", "list"],
    ["sweep"],
    ["report", "missed"],
]


def _config(tmp_path: Path, url: str, extra: str = "") -> Path:
    path = tmp_path / "config.toml"
    path.write_text(f'[database]\nurl = "{url}"\n{extra}', encoding="utf-8")
    return path


def _closed_port() -> int:
    """A port nothing listens on: one the kernel just handed out and took back."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


def _one_line_error(config: Path, *args: str) -> str:
    result = process.run("--config", config, *args, check=False, timeout=60)
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


@pytest.mark.parametrize("args", COMMANDS, ids=lambda a: " ".join(a))
def test_every_command_reports_a_sqlite_path_that_is_a_folder_in_one_line(
    tmp_path: Path, args: list[str]
) -> None:
    folder = tmp_path / "complaintd.db"
    folder.mkdir()
    line = _one_line_error(_config(tmp_path, f"sqlite:///{folder}"), *args)
    assert str(folder) in line
    assert "folder" in line


def test_a_file_that_is_not_sqlite_is_named_with_what_to_do(tmp_path: Path) -> None:
    junk = tmp_path / "complaintd.db"
    junk.write_text("these are not the pages of a database\n" * 200, encoding="utf-8")
    line = _one_line_error(_config(tmp_path, f"sqlite:///{junk}"), "tickets", "list")
    assert str(junk) in line
    assert "not a SQLite database" in line
    assert "[database] url" in line


def test_a_missing_postgresql_database_says_how_to_create_it(tmp_path: Path) -> None:
    postgres.require()
    name = f"complaintd_missing_{uuid.uuid4().hex[:8]}"
    url = f"postgresql+psycopg://postgres:hunter2@127.0.0.1:5432/{name}"
    line = _one_line_error(_config(tmp_path, url), "tickets", "list")
    assert "hunter2" not in line
    assert f"postgres:***@127.0.0.1:5432/{name}" in line
    assert f'database "{name}" does not exist' in line
    assert "createdb -h 127.0.0.1 -p 5432 -U postgres " + name in line


def test_a_postgresql_server_that_is_down_asks_whether_it_is_running(tmp_path: Path) -> None:
    url = f"postgresql+psycopg://postgres@127.0.0.1:{_closed_port()}/complaintd"
    line = _one_line_error(_config(tmp_path, url), "db", "status")
    assert "connection refused" in line.lower()
    assert "is the server running" in line


def test_a_role_postgresql_does_not_know_is_reported_as_a_permission_problem(
    tmp_path: Path,
) -> None:
    postgres.require()
    url = "postgresql+psycopg://no_such_role_here@127.0.0.1:5432/postgres"
    line = _one_line_error(_config(tmp_path, url), "db", "upgrade")
    assert 'role "no_such_role_here" does not exist' in line
    assert "[database] url" in line


def test_run_reports_an_unreachable_database_at_start_in_one_line(tmp_path: Path) -> None:
    url = f"postgresql+psycopg://postgres@127.0.0.1:{_closed_port()}/complaintd"
    config = _config(tmp_path, url, f'[outbox]\ndirectory = "{tmp_path / "outbox"}"\n')
    result = process.run("--config", config, "run", check=False, timeout=60)
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr, result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("complaintd:")]
    assert len(errors) == 1, result.stderr
    assert "is the server running" in errors[0]


@pytest.mark.parametrize(
    ("value", "reason"),
    [("", "is empty"), ("complaints", "not a mail address"), ("care @example.com", "spaces")],
    ids=["empty", "no domain", "spaces"],
)
def test_a_bad_from_address_is_refused_at_load_with_file_key_and_reason(
    tmp_path: Path, value: str, reason: str
) -> None:
    config = _config(
        tmp_path, f"sqlite:///{tmp_path / 'c.db'}", f'[outbox]\nfrom_address = "{value}"\n'
    )
    result = process.run("--config", config, "check-config", check=False, timeout=60)
    assert result.returncode == 78, result.stderr
    assert "Traceback" not in result.stderr
    assert str(config) in result.stderr
    assert "[outbox] from_address" in result.stderr
    assert reason in result.stderr


def test_quarantine_retry_without_ids_or_all_is_a_usage_error(tmp_path: Path) -> None:
    config = _config(tmp_path, f"sqlite:///{tmp_path / 'c.db'}")
    result = process.run("--config", config, "quarantine", "retry", check=False, timeout=60)
    assert result.returncode == 2, result.stderr
    assert "--all" in result.stderr


@pytest.fixture
def three_tickets(tmp_path: Path) -> Path:
    """A config whose database holds three tickets, filed by replaying three complaints."""
    folder = tmp_path / "mail"
    folder.mkdir()
    for n in range(3):
        (folder / f"{n}.eml").write_bytes(
            complaint(sender=f"c{n}@example.cn", subject=f"投诉{n}", message_id=f"<{n}@x>")
        )
    config = _config(
        tmp_path, f"sqlite:///{tmp_path / 'c.db'}", f'[outbox]\ndirectory = "{tmp_path / "out"}"\n'
    )
    process.run("--config", config, "replay", folder)
    return config


def test_tickets_list_says_how_many_its_limit_left_out(three_tickets: Path) -> None:
    table = process.run("--config", three_tickets, "tickets", "list", "--limit", "2")
    assert "2 shown, 1 more left out by --limit 2" in table.stderr
    listed = process.run("--config", three_tickets, "tickets", "list", "--limit", "2", "--json")
    assert len(json.loads(listed.stdout)) == 2  # still a plain list
    assert "1 more left out" in listed.stderr
    everything = process.run("--config", three_tickets, "tickets", "list")
    assert "left out" not in everything.stderr


def test_tickets_show_prints_events_as_words_not_python_dicts(three_tickets: Path) -> None:
    number = json.loads(process.run("--config", three_tickets, "tickets", "list", "--json").stdout)[
        0
    ]["number"]
    shown = process.run("--config", three_tickets, "tickets", "show", number).stdout
    events = shown.split("\nevents:\n", 1)[1].split("\nmail:", 1)[0]
    assert events.strip(), shown
    assert "{" not in events and "'" not in events, events
    detail = json.loads(
        process.run("--config", three_tickets, "tickets", "show", number, "--json").stdout
    )
    assert any(isinstance(e["detail"], dict) for e in detail["events"])


@pytest.fixture
def one_ticket(tmp_path: Path, db_url: str) -> tuple[Path, str, str]:
    """A config whose database (both backends) holds one ticket: (config, URL, its number)."""
    folder = tmp_path / "mail"
    folder.mkdir()
    (folder / "1.eml").write_bytes(complaint(sender="c1@example.cn", message_id="<1@x>"))
    config = _config(tmp_path, db_url, f'[outbox]\ndirectory = "{tmp_path / "out"}"\n')
    process.run("--config", config, "replay", folder)
    (row,) = process.run_json("--config", config, "tickets", "list", "--json")
    return config, db_url, row["number"]


def _sql(url: str, statement: str) -> None:
    """One statement on the test's database, beside complaintd, as an operator's tool would."""
    if url.startswith("sqlite"):
        with sqlite3.connect(url.split(":///", 1)[1]) as conn:
            conn.execute(statement)
        return
    with psycopg.connect(url.replace("+psycopg", ""), autocommit=True) as conn:
        conn.execute(statement)


@pytest.mark.parametrize("args", [["tickets", "show"], ["tickets", "list"], ["outbox", "list"]])
def test_a_table_gone_after_the_schema_check_is_one_line_naming_it(
    one_ticket: tuple[Path, str, str], args: list[str]
) -> None:
    # The schema's version still says up to date, so the command gets past opening the database
    # and meets the missing table at its first query.
    config, url, number = one_ticket
    table = "outbox" if "outbox" in args else "tickets"
    # SQLite has no CASCADE, nor needs it: it checks no foreign key unless asked to.
    _sql(url, f"DROP TABLE {table}" + ("" if url.startswith("sqlite") else " CASCADE"))
    line = _one_line_error(config, *args, *([number] if args[-1] == "show" else []))
    assert "the schema is incomplete" in line
    assert table in line
    assert "LINE" not in line  # not PostgreSQL's quotation of our SQL


def test_a_database_from_a_newer_complaintd_is_one_line(one_ticket: tuple[Path, str, str]) -> None:
    config, url, _ = one_ticket
    _sql(url, "UPDATE alembic_version SET version_num = '9999'")
    line = _one_line_error(config, "tickets", "list")
    assert "'9999'" in line
    assert "newer" in line


def _backend_waiting_on_a_lock(admin: psycopg.Connection[tuple[int]], name: str) -> int:
    """The pid of the server process of database `name` that waits for a row lock."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        row = admin.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = %s AND wait_event_type = 'Lock'",
            (name,),
        ).fetchone()
        if row is not None:
            return row[0]
        time.sleep(0.05)  # polling the server's own view of the state, not waiting blind
    raise AssertionError(f"no backend of {name} came to wait for the lock")


def test_a_postgresql_connection_cut_partway_through_a_command_is_one_line(
    tmp_path: Path,
) -> None:
    """`tickets act` has opened the database and waits for the ticket's row lock (held here)
    when the server ends its connection, as a restart or an administrator would."""
    postgres.require()
    name, url = postgres.create()
    try:
        config = _config(tmp_path, url)
        process.run("--config", config, "db", "upgrade")
        (tmp_path / "mail").mkdir()
        (tmp_path / "mail" / "1.eml").write_bytes(complaint(message_id="<cut@x>"))
        process.run("--config", config, "replay", "--no-mail", tmp_path / "mail")
        (row,) = process.run_json("--config", config, "tickets", "list", "--json")
        dsn = url.replace("+psycopg", "")
        with psycopg.connect(dsn) as locker, psycopg.connect(dsn, autocommit=True) as admin:
            locker.execute("SELECT id FROM tickets WHERE number = %s FOR UPDATE", (row["number"],))
            acting = process.start("--config", config, "tickets", "act", row["number"], "contact")
            try:
                pid = _backend_waiting_on_a_lock(admin, name)
                admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
                _, err = acting.communicate(timeout=60)
            finally:
                acting.kill()
                acting.wait()
            locker.rollback()
    finally:
        postgres.drop(name)
    assert acting.returncode == 1, err
    assert "Traceback" not in err, err
    (line,) = err.strip().splitlines()
    assert "closed the connection partway through" in line
    assert "run the command again" in line
