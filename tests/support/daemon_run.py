"""`complaintd run` as a long-lived process whose log goes to a file, and a look into its SQLite
database from outside, as an operator would take it."""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from support import process


class DaemonProcess:
    """One `complaintd run`; stderr goes to `log` (a pipe would fill up and stall the daemon)."""

    def __init__(self, config: Path, log: Path, **extra_env: str) -> None:
        self.config = config
        self.log = log
        self._offset = log.stat().st_size if log.exists() else 0
        with log.open("ab") as sink:
            self.proc = subprocess.Popen(
                process.command("run", "--config", config),
                stdout=sink,
                stderr=sink,
                env=process.env(**extra_env),
                cwd=process.ROOT,
            )

    @property
    def pid(self) -> int:
        return self.proc.pid

    @property
    def alive(self) -> bool:
        return self.proc.poll() is None

    def output(self) -> str:
        """What this run has logged so far."""
        with self.log.open("rb") as f:
            f.seek(self._offset)
            return f.read().decode("utf-8", "replace")

    def wait_for_log(self, text: str, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while text not in self.output():
            if not self.alive:
                raise AssertionError(
                    f"daemon exited {self.proc.returncode} before logging {text!r}:\n"
                    + self.output()[-4000:]
                )
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"daemon did not log {text!r} within {timeout}s:\n" + self.output()[-4000:]
                )
            time.sleep(0.02)

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30.0) -> int:
        """Signal the daemon and wait for it; its exit code."""
        if self.alive:
            self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError(
                f"daemon did not stop within {timeout}s of signal {sig}:\n" + self.output()[-4000:]
            ) from None

    def kill(self) -> None:
        """SIGKILL: no chance to finish anything."""
        if self.alive:
            self.proc.kill()
        self.proc.wait()


def query(database: Path, sql: str, *params: Any) -> list[tuple[Any, ...]]:
    """Rows from the daemon's SQLite database, read while the daemon writes (WAL)."""
    if not database.exists():
        return []
    conn = sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=30)
    try:
        return conn.execute(sql, params).fetchall()
    except sqlite3.OperationalError as exc:
        if "no such table" in str(exc):  # the daemon has not migrated the schema yet
            return []
        raise
    finally:
        conn.close()


def wait_until(
    predicate: Callable[[], bool], timeout: float, what: str, interval: float = 0.02
) -> float:
    """Poll until `predicate` holds; the seconds it took. Fails naming `what`."""
    began = time.monotonic()
    while not predicate():
        if time.monotonic() - began > timeout:
            raise AssertionError(f"{what}: not within {timeout}s")
        time.sleep(interval)
    return time.monotonic() - began
