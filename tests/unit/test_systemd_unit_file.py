"""systemd/complaintd.service read as text: the directives the daemon relies on."""

from __future__ import annotations

from pathlib import Path

UNIT = Path(__file__).resolve().parents[2] / "systemd" / "complaintd.service"


def test_the_unit_is_a_notify_service_with_a_watchdog_and_its_own_user():
    settings = _directives(UNIT)
    assert settings["Type"] == ["notify"]
    assert settings["WatchdogSec"] and settings["Restart"] == ["on-failure"]
    assert settings["User"] == ["complaintd"]
    assert settings["StateDirectory"] == ["complaintd"]
    assert settings["ConfigurationDirectory"] == ["complaintd"]
    assert settings["ExecReload"] == ["/bin/kill -HUP $MAINPID"]


def _directives(unit: Path) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for line in unit.read_text().splitlines():
        if "=" in line and not line.lstrip().startswith(("#", ";", "[")):
            key, value = line.split("=", 1)
            found.setdefault(key.strip(), []).append(value.strip())
    return found
