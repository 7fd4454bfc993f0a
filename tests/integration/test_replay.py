"""complaintd replay: every message accounted for, and exactly once even after a crash."""

from __future__ import annotations

import json
import signal
import time
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import create_engine, select
from support import process
from support.harness import write_config
from support.mail import complaint

from daemon.sources.replay import count
from daemon.store.models import HeldMessage, Message, Quarantined

KEYS = ("filed", "followups", "duplicates", "ignored", "quarantined", "held")


def _recorded(db_url: str) -> tuple[set[str], set[str]]:
    engine = create_engine(db_url)
    with engine.connect() as conn:
        # A message held for review is recorded in its own table, not among the messages.
        keys = set(conn.scalars(select(Message.dedupe_key)))
        keys |= set(conn.scalars(select(HeldMessage.dedupe_key)))
        quarantined = set(conn.scalars(select(Quarantined.sha256)))
    engine.dispose()
    return keys, quarantined


def test_replay_prints_counts_that_add_up(tmp_path, sqlite_url):
    folder = tmp_path / "mail"
    folder.mkdir()
    (folder / "a.eml").write_bytes(complaint(subject="一", message_id="<a@x>"))
    # replay files with the real clock: the first ticket's number is of this month in Shanghai.
    first = f"TS-{datetime.now(ZoneInfo('Asia/Shanghai')):%Y%m}-0001"
    (folder / "b.eml").write_bytes(complaint(subject=f"Re: [{first}]", message_id="<b@x>"))
    (folder / "c.eml").write_bytes(complaint(subject="一", message_id="<a@x>"))
    (folder / "d.eml").write_bytes(
        complaint(headers={"Auto-Submitted": "auto-replied"}, message_id="<d@x>")
    )
    (folder / "e.msg").write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(600))
    config = write_config(tmp_path, sqlite_url, 25)
    report = process.run_json("replay", folder, "--config", config)
    assert report == {
        "messages": 5,
        "filed": 1,
        "followups": 1,
        "duplicates": 1,
        "ignored": 1,
        "quarantined": 1,
        "held": 0,
        "reasons": {"auto-reply": 1, "outlook-msg": 1},
    }


def test_replay_reads_mbox_files_message_by_message(tmp_path, sqlite_url):
    mbox = tmp_path / "archive.mbox"
    parts = [complaint(subject=f"第{i}封", message_id=f"<m{i}@x>") for i in range(3)]
    mbox.write_bytes(
        b"".join(b"From someone Mon Nov 23 10:00:00 2026\n" + p + b"\n" for p in parts)
    )
    report = process.run_json("replay", mbox, "--config", write_config(tmp_path, sqlite_url, 25))
    assert (report["messages"], report["filed"]) == (3, 3)


def test_replay_of_the_corpus_accounts_for_every_message(tmp_path, db_url, corpus_dir):
    emails = corpus_dir / "emails"
    config = write_config(tmp_path, db_url, 25)
    result = process.run("replay", emails, "--config", config)
    report = json.loads(result.stdout)
    assert "Traceback" not in result.stderr
    assert report["messages"] == count([emails]) > 600
    assert sum(report[k] for k in KEYS) == report["messages"]
    assert sum(report["reasons"].values()) == (
        report["ignored"] + report["quarantined"] + report["held"]
    )
    keys, quarantined = _recorded(db_url)
    assert len(keys) + len(quarantined) == report["messages"] - report["duplicates"]


@pytest.mark.slow
def test_replay_killed_midway_and_run_again_records_each_message_exactly_once(tmp_path, corpus_dir):
    emails = corpus_dir / "emails"
    clean_dir, crash_dir = tmp_path / "clean", tmp_path / "crash"
    clean_dir.mkdir()
    crash_dir.mkdir()
    clean_url = f"sqlite:///{clean_dir / 'db.sqlite'}"
    crash_url = f"sqlite:///{crash_dir / 'db.sqlite'}"
    process.run("replay", emails, "--config", write_config(clean_dir, clean_url, 25))
    expected = _recorded(clean_url)

    crash_config = write_config(crash_dir, crash_url, 25)
    for at_least in (50, 200):
        proc = process.start("replay", emails, "--config", crash_config)
        _wait_for_rows(crash_url, at_least, proc)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    partial = _recorded(crash_url)
    assert 0 < len(partial[0]) + len(partial[1]) < len(expected[0]) + len(expected[1])
    process.run("replay", emails, "--config", crash_config)
    assert _recorded(crash_url) == expected


def _wait_for_rows(db_url: str, rows: int, proc) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            keys, quarantined = _recorded(db_url)
        except Exception:  # noqa: BLE001 (the schema is still being created)
            keys, quarantined = set(), set()
        if len(keys) + len(quarantined) >= rows:
            return
        time.sleep(0.05)
    raise AssertionError(f"replay did not record {rows} messages in time")


def test_replay_writes_its_warnings_above_the_progress_bar_not_onto_it(tmp_path, sqlite_url):

    folder = tmp_path / "mail"
    folder.mkdir()
    first = f"TS-{datetime.now(ZoneInfo('Asia/Shanghai')):%Y%m}-0001"
    (folder / "a.eml").write_bytes(complaint(message_id="<a@x>"))
    # Someone who is no party of the ticket names it: held for review, with a WARNING.
    (folder / "b.eml").write_bytes(
        complaint(sender="stranger@example.org", subject=f"Re: [{first}]", message_id="<b@x>")
    )
    config = write_config(tmp_path, sqlite_url, 25)
    seen = process.run_on_terminal("replay", folder, "--config", config)
    text = seen.decode("utf-8", "replace")
    assert "2/2" in text  # the bar was drawn
    pieces = [p for line in text.split("\n") for p in line.split("\r")]
    warnings = [p for p in pieces if "held #" in p]
    assert warnings, text
    assert all("msg" not in p and "|" not in p for p in warnings), warnings
