"""`complaintd run` as a real process: Maildir in, SMTP out, signals honoured."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest
from support import process
from support.daemon_run import DaemonProcess, wait_until
from support.harness import write_config
from support.mail import complaint


def _drop(maildir: Path, data: bytes, name: str) -> Path:
    """Deliver like an MTA: write into tmp/, then rename into new/."""
    (maildir / "tmp").mkdir(parents=True, exist_ok=True)
    (maildir / "new").mkdir(parents=True, exist_ok=True)
    tmp = maildir / "tmp" / name
    tmp.write_bytes(data)
    final = maildir / "new" / name
    os.rename(tmp, final)
    return final


@pytest.fixture
def daemon(tmp_path, sqlite_url, sink):
    config = write_config(tmp_path, sqlite_url, sink.port)
    proc = DaemonProcess(config, tmp_path / "complaintd.log")
    yield proc, config, tmp_path / "maildir"
    proc.kill()


def test_a_complaint_dropped_in_the_maildir_is_acknowledged_within_seconds(daemon, sink):
    _proc, _, maildir = daemon
    _drop(maildir, complaint(sender="wang@example.cn"), "1700000000.M1P1.test")
    (ack,) = sink.wait_for(1, timeout=15)
    assert ack.rcpt_tos == ["wang@example.cn"]
    assert ack.message["Subject"].startswith("[TS-")
    processed = list((maildir / ".processed" / "cur").iterdir())
    assert [p.name.split(":")[0] for p in processed] == ["1700000000.M1P1.test"]
    assert list((maildir / "new").iterdir()) == []


def test_an_unreadable_file_in_the_maildir_moves_to_quarantine(daemon, sink):
    _proc, config, maildir = daemon
    _drop(maildir, b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(500), "1700000001.M2P1.test")
    quarantine = maildir / ".quarantine" / "cur"
    wait_until(
        lambda: quarantine.exists() and any(quarantine.iterdir()), 15, "a file in quarantine"
    )
    assert len(list(quarantine.iterdir())) == 1
    listing = process.run_json("quarantine", "list", "--json", "--config", config)
    assert [q["reason"] for q in listing] == ["outlook-msg"]


def test_sigterm_stops_the_daemon_cleanly(daemon, sink):
    proc, _, maildir = daemon
    _drop(maildir, complaint(), "1700000002.M3P1.test")
    sink.wait_for(1, timeout=15)
    code = proc.stop(timeout=20)
    err = proc.output()
    assert code == 0, err
    assert "complaintd stopped" in err
    assert "Traceback" not in err


def test_sighup_reloads_the_config_without_a_restart(daemon, sink):
    proc, config, maildir = daemon
    _drop(maildir, complaint(subject="第一封"), "1700000003.M4P1.test")
    sink.wait_for(1, timeout=15)
    config.write_text(
        config.read_text().replace('from_name = "客户关爱中心"', 'from_name = "Reloaded Care"')
    )
    proc.proc.send_signal(signal.SIGHUP)
    proc.wait_for_log("config reloaded", timeout=15)
    _drop(maildir, complaint(subject="第二封", sender="li@example.cn"), "1700000004.M5P1.test")
    sink.wait_for(2, timeout=15)
    (second,) = sink.to("li@example.cn")
    assert "Reloaded Care" in second.message["From"]
    assert proc.alive


def test_a_bad_config_stops_the_start_naming_the_file_and_key(tmp_path):
    config = tmp_path / "config.toml"
    config.write_text('[outbox]\ntransport = "pigeon"\n')
    result = process.run("run", "--config", config, check=False, timeout=30)
    assert result.returncode == 78
    assert str(config) in result.stderr and "[outbox] transport" in result.stderr


def test_check_config_prints_the_effective_settings_with_secrets_masked(tmp_path, monkeypatch):
    config = tmp_path / "config.toml"
    config.write_text('[database]\nurl = "postgresql+psycopg://app:topsecret@db/c"\n')
    result = process.run("check-config", "--config", config)
    assert "topsecret" not in result.stdout
    assert '"transport": "files"' in result.stdout
