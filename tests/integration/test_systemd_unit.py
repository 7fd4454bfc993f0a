"""systemd/complaintd.service as systemd reads it, and the daemon's sd_notify conversation."""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from support import process

ROOT = Path(__file__).resolve().parents[2]
UNIT = ROOT / "systemd" / "complaintd.service"
INSTALLED = "/opt/complaintd/.venv/bin/complaintd"


@pytest.fixture
def analyze() -> str:
    tool = shutil.which("systemd-analyze")
    if tool is None:
        if os.environ.get("CI"):
            pytest.fail("systemd-analyze is needed in CI (apt-get install systemd)")
        pytest.skip("systemd-analyze not installed")
    return tool


@pytest.fixture
def unit_here(tmp_path: Path) -> Path:
    """The unit with ExecStart pointing at this checkout's complaintd, which exists here."""
    program = Path(sys.executable).parent / "complaintd"
    assert program.exists(), f"{program} missing: pip install -e . first"
    text = UNIT.read_text()
    assert f"ExecStart={INSTALLED} " in text
    copy = tmp_path / "complaintd.service"
    copy.write_text(text.replace(INSTALLED, str(program)))
    return copy


def test_systemd_analyze_verify_finds_nothing_to_complain_about(analyze, unit_here):
    result = subprocess.run([analyze, "verify", str(unit_here)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stderr.strip() == ""


def test_systemd_rates_the_unit_exposure_as_low(analyze, unit_here):
    result = subprocess.run(
        [analyze, "security", "--offline=yes", str(unit_here)], capture_output=True, text=True
    )
    match = re.search(r"Overall exposure level for \S+: (\d+\.\d+)", result.stdout)
    assert match, result.stdout + result.stderr
    assert float(match.group(1)) <= 2.0, result.stdout


# --- the daemon talking to a NOTIFY_SOCKET ----------------------------------------------------


@pytest.fixture
def manager(tmp_path: Path) -> Iterator[tuple[socket.socket, Path]]:
    path = tmp_path / "notify"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(path))
    yield sock, path
    sock.close()


def _await_state(
    proc: subprocess.Popen[str], sock: socket.socket, state: str, seen: list[str], timeout: float
) -> None:
    deadline = time.monotonic() + timeout
    sock.settimeout(0.2)
    while time.monotonic() < deadline:
        try:
            datagram = sock.recv(4096).decode()
        except TimeoutError:
            if proc.poll() is not None:
                _, err = proc.communicate()
                raise AssertionError(
                    f"daemon exited {proc.returncode} before {state}:\n{err}"
                ) from None
            continue
        seen.extend(datagram.split("\n"))
        if state in datagram.split("\n"):
            return
    raise AssertionError(f"no {state} within {timeout}s; got {seen}")


def test_the_daemon_reports_ready_watchdog_reload_and_stopping(tmp_path, manager):
    sock, path = manager
    config = tmp_path / "config.toml"
    database, templates = tmp_path / "complaintd.db", ROOT / "templates"
    config.write_text(
        f'[database]\nurl = "sqlite:///{database}"\n'
        '[outbox]\ntransport = "files"\ndirectory = "outbox"\n'
        f'[templates]\ndirectory = "{templates}"\n'
    )
    proc = process.start(
        "run", "--config", config, NOTIFY_SOCKET=str(path), WATCHDOG_USEC="1000000"
    )
    seen: list[str] = []
    try:
        _await_state(proc, sock, "READY=1", seen, timeout=60)
        _await_state(proc, sock, "WATCHDOG=1", seen, timeout=5)
        proc.send_signal(signal.SIGHUP)
        _await_state(proc, sock, "RELOADING=1", seen, timeout=10)
        assert any(s.startswith("MONOTONIC_USEC=") for s in seen), seen
        _await_state(proc, sock, "READY=1", seen, timeout=30)
        proc.send_signal(signal.SIGTERM)
        _await_state(proc, sock, "STOPPING=1", seen, timeout=10)
        assert proc.wait(30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.communicate()
