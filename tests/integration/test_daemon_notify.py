"""`complaintd run` under a service manager: the sd_notify conversation over a real socket."""

from __future__ import annotations

import shutil
import signal
import socket
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.daemon_run import DaemonProcess, query, wait_until
from support.harness import write_config
from support.smtp_sink import SmtpSink

WATCHDOG_USEC = 2_000_000


class Manager:
    """A datagram socket standing in for systemd: every state received, with its arrival time."""

    def __init__(self) -> None:
        # sun_path holds 108 bytes: a short folder of its own, not the test's deep tmp_path.
        self._folder = Path(tempfile.mkdtemp(prefix="notify-"))
        self.path = self._folder / "notify"
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self._sock.bind(str(self.path))
        self._sock.settimeout(0.1)
        self._lock = threading.Lock()
        self._closed = threading.Event()
        self.datagrams: list[tuple[float, list[str]]] = []
        self._thread = threading.Thread(target=self._receive, daemon=True)
        self._thread.start()

    def _receive(self) -> None:
        while not self._closed.is_set():
            try:
                data = self._sock.recv(4096)
            except TimeoutError:
                continue
            except OSError:
                return
            with self._lock:
                self.datagrams.append((time.monotonic(), data.decode().split("\n")))

    def states(self) -> list[str]:
        with self._lock:
            return [state for _, states in self.datagrams for state in states]

    def times_of(self, state: str) -> list[float]:
        with self._lock:
            return [at for at, states in self.datagrams if state in states]

    def wait_for(self, state: str, count: int = 1, timeout: float = 30.0) -> float:
        """Until `state` has arrived `count` times; when it last did."""
        wait_until(lambda: len(self.times_of(state)) >= count, timeout, f"{count}x {state}")
        return self.times_of(state)[count - 1]

    def close(self) -> None:
        self._closed.set()
        self._thread.join(2)
        self._sock.close()
        shutil.rmtree(self._folder, ignore_errors=True)


def pings_since(manager: Manager, since: float) -> list[float]:
    return [at for at in manager.times_of("WATCHDOG=1") if at >= since]


def still_pinging(manager: Manager, more: int = 2) -> None:
    """Until `more` further watchdog pings arrive: the main loop runs on."""
    seen = len(manager.times_of("WATCHDOG=1"))
    manager.wait_for("WATCHDOG=1", count=seen + more, timeout=10)


@pytest.fixture
def manager() -> Iterator[Manager]:
    m = Manager()
    yield m
    m.close()


@pytest.fixture
def config(tmp_path: Path, sink: SmtpSink) -> Path:
    return write_config(tmp_path, f"sqlite:///{tmp_path / 'complaintd.db'}", sink.port)


@pytest.fixture
def daemon(tmp_path: Path, config: Path, manager: Manager) -> Iterator[DaemonProcess]:
    proc = DaemonProcess(
        config,
        tmp_path / "complaintd.log",
        NOTIFY_SOCKET=str(manager.path),
        WATCHDOG_USEC=str(WATCHDOG_USEC),
    )
    yield proc
    if proc.alive:
        proc.kill()


def test_ready_is_the_first_state_and_comes_once_the_database_is_usable(
    daemon: DaemonProcess, manager: Manager, tmp_path: Path
) -> None:
    manager.wait_for("READY=1", timeout=60)
    tables = query(tmp_path / "complaintd.db", "SELECT name FROM sqlite_master")

    assert manager.states()[0] == "READY=1"
    assert ("tickets",) in tables and ("outbox",) in tables
    assert daemon.alive


def test_watchdog_pings_come_well_within_the_watchdog_time(
    daemon: DaemonProcess, manager: Manager
) -> None:
    ready = manager.wait_for("READY=1", timeout=60)
    wait_until(lambda: len(pings_since(manager, ready)) >= 5, 10, "five watchdog pings")
    pings = pings_since(manager, ready)

    # systemd kills a service that stays silent for WATCHDOG_USEC; sd_watchdog_enabled(3)
    # advises pinging at half of it. Allow some scheduling slack, never the whole timeout.
    gaps = [b - a for a, b in zip([ready, *pings], pings, strict=False)]
    assert len(pings) >= 4, pings
    assert max(gaps) < 0.75 * WATCHDOG_USEC / 1e6, [round(g, 3) for g in gaps]


def test_sighup_sends_reloading_then_ready_and_the_daemon_keeps_running(
    daemon: DaemonProcess, manager: Manager
) -> None:
    manager.wait_for("READY=1", timeout=60)
    daemon.proc.send_signal(signal.SIGHUP)
    reloading = manager.wait_for("RELOADING=1", timeout=10)
    ready_again = manager.wait_for("READY=1", count=2, timeout=30)

    assert reloading < ready_again
    states = manager.states()
    at = states.index("RELOADING=1")
    assert any(s.startswith("MONOTONIC_USEC=") for s in states[at:]), states
    assert daemon.alive
    daemon.wait_for_log("config reloaded")


def test_a_reload_with_a_broken_config_answers_ready_and_keeps_running(
    daemon: DaemonProcess, manager: Manager, config: Path
) -> None:
    manager.wait_for("READY=1", timeout=60)
    config.write_text(config.read_text() + "\n[outbox]\ntransport = 'pigeon'\n")
    daemon.proc.send_signal(signal.SIGHUP)
    manager.wait_for("RELOADING=1", timeout=10)
    manager.wait_for("READY=1", count=2, timeout=30)

    daemon.wait_for_log("reload refused")
    still_pinging(manager)
    assert daemon.alive


def test_a_reload_whose_templates_cannot_be_read_keeps_the_running_config(
    daemon: DaemonProcess, manager: Manager, config: Path, tmp_path: Path
) -> None:
    manager.wait_for("READY=1", timeout=60)
    text = config.read_text()
    start = text.index('[templates]\ndirectory = "') + len('[templates]\ndirectory = "')
    end = text.index('"', start)
    config.write_text(text[:start] + str(tmp_path / "no-such-templates") + text[end:])
    daemon.proc.send_signal(signal.SIGHUP)
    manager.wait_for("RELOADING=1", timeout=10)

    wait_until(
        lambda: len(manager.times_of("READY=1")) >= 2 or not daemon.alive, 30, "READY or exit"
    )
    if daemon.alive:
        still_pinging(manager)
    assert daemon.alive, f"exited {daemon.proc.returncode}:\n{daemon.output()[-3000:]}"
    changes = [state for state in manager.states() if state != "WATCHDOG=1"]
    assert changes[-1] == "READY=1", changes
    daemon.wait_for_log("reload refused")


def test_sigterm_sends_stopping_and_exits_0(daemon: DaemonProcess, manager: Manager) -> None:
    manager.wait_for("READY=1", timeout=60)
    code = daemon.stop(signal.SIGTERM)

    assert code == 0, daemon.output()[-3000:]
    assert "STOPPING=1" in manager.states()
    assert manager.states()[-1] == "STOPPING=1"
    assert "Traceback" not in daemon.output()


class SilentServer:
    """Accepts TCP connections and never says a word: an IMAP server that hangs."""

    def __init__(self) -> None:
        self._sock = socket.create_server(("127.0.0.1", 0))
        self.port = self._sock.getsockname()[1]
        self._held: list[socket.socket] = []
        self._connected = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self._sock.accept()
            except OSError:
                return
            self._held.append(conn)
            self._connected.set()

    def wait_connected(self, timeout: float = 10.0) -> None:
        """Until a client has connected (and now waits for a greeting that never comes)."""
        assert self._connected.wait(timeout), "nobody connected to the silent server"

    def close(self) -> None:
        self._sock.close()
        for conn in self._held:
            conn.close()


def test_a_hanging_mailbox_server_neither_stops_the_watchdog_nor_delays_sigterm(
    tmp_path: Path, sink: SmtpSink, manager: Manager
) -> None:
    silent = SilentServer()
    password = tmp_path / "password"
    password.write_text("secret\n")
    config = write_config(
        tmp_path,
        f"sqlite:///{tmp_path / 'complaintd.db'}",
        sink.port,
        f"""
[[mailboxes]]
name = "hung"
host = "127.0.0.1"
port = {silent.port}
security = "none"
username = "complaints"
password_file = "{password}"
timeout_seconds = 30
""",
    )
    daemon = DaemonProcess(
        config,
        tmp_path / "complaintd.log",
        NOTIFY_SOCKET=str(manager.path),
        WATCHDOG_USEC=str(WATCHDOG_USEC),
    )
    try:
        ready = manager.wait_for("READY=1", timeout=60)
        silent.wait_connected()
        wait_until(lambda: len(pings_since(manager, ready)) >= 3, 10, "three watchdog pings")
        pings = pings_since(manager, ready)
        began = time.monotonic()
        code = daemon.stop(signal.SIGTERM)
        took = time.monotonic() - began
    finally:
        daemon.kill()
        silent.close()

    assert len(pings) >= 3, pings
    assert code == 0, daemon.output()[-3000:]
    assert took < 10, f"stopped {took:.1f}s after SIGTERM"
