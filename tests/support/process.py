"""Run the complaintd command as a real process."""

from __future__ import annotations

import fcntl
import json
import os
import pty
import struct
import subprocess
import sys
import termios
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]


def command(*args: str | Path) -> list[str]:
    return [sys.executable, "-m", "daemon.cli", *(str(a) for a in args)]


def env(**extra: str) -> dict[str, str]:
    base = {k: v for k, v in os.environ.items() if k not in ("NOTIFY_SOCKET", "WATCHDOG_USEC")}
    base["PYTHONPATH"] = str(ROOT)
    base["PYTHONUNBUFFERED"] = "1"
    return base | extra


def run(
    *args: str | Path, check: bool = True, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        command(*args), capture_output=True, text=True, env=env(), timeout=timeout, cwd=ROOT
    )
    if check and result.returncode != 0:
        raise AssertionError(f"complaintd {args} exited {result.returncode}:\n{result.stderr}")
    return result


def run_json(*args: str | Path) -> Any:
    return json.loads(run(*args).stdout)


def start(*args: str | Path, **extra_env: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        command(*args),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env(**extra_env),
        cwd=ROOT,
    )


def run_on_terminal(*args: str | Path) -> bytes:
    """Run `complaintd ARGS...` with stderr on a real terminal (a pty) and return what it drew:
    progress bars appear only on a terminal."""
    leader, follower = pty.openpty()
    # A new terminal is 0 columns wide, and tqdm draws nothing in no width.
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))
    seen = b""
    try:
        subprocess.run(
            command(*args),
            stdout=subprocess.DEVNULL,
            stderr=follower,
            env=env(),
            cwd=ROOT,
            timeout=120,
            check=True,
        )
        os.close(follower)
        while True:
            try:
                chunk = os.read(leader, 65536)
            except OSError:  # EIO once the terminal's other end is closed
                break
            if not chunk:
                break
            seen += chunk
    finally:
        os.close(leader)
    return seen
