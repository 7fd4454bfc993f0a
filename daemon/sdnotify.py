"""The systemd notification protocol (sd_notify): READY, WATCHDOG, RELOADING, STOPPING."""

from __future__ import annotations

import logging
import os
import socket

log = logging.getLogger(__name__)


def notify(*states: str) -> bool:
    """Send states such as "READY=1" to the service manager; False when there is none."""
    address = _socket_address(os.environ.get("NOTIFY_SOCKET", ""))
    if address is None or not states:
        return False
    payload = "\n".join(states).encode("utf-8")
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
            sock.connect(address)
            sock.sendall(payload)
    except OSError as exc:
        # The manager going away must never take the daemon down with it.
        log.debug("sd_notify to %s failed: %s", os.environ.get("NOTIFY_SOCKET"), exc)
        return False
    return True


def watchdog_interval() -> float | None:
    """Seconds between WATCHDOG=1 pings (half the configured timeout), or None when off."""
    usec = os.environ.get("WATCHDOG_USEC", "")
    pid = os.environ.get("WATCHDOG_PID", "")
    # The variables are inherited by children; only the process they name should ping.
    if pid and (not pid.isdigit() or int(pid) != os.getpid()):
        return None
    if not usec.isdigit() or int(usec) == 0:
        return None
    return int(usec) / 1_000_000 / 2


def _socket_address(value: str) -> str | None:
    if value.startswith("@"):
        return "\0" + value[1:]  # a Linux abstract socket
    if value.startswith("/"):
        return value
    return None  # unset, or a transport we do not speak (vsock:)
