"""systemd/complaintd.service read as text: the directives the daemon relies on."""

from __future__ import annotations

from pathlib import Path

from daemon import config

UNIT = Path(__file__).resolve().parents[2] / "systemd" / "complaintd.service"


def test_the_unit_is_a_notify_service_with_a_watchdog_and_its_own_user():
    settings = _directives(UNIT)
    assert settings["Type"] == ["notify"]
    assert settings["WatchdogSec"] and settings["Restart"] == ["on-failure"]
    assert settings["User"] == ["complaintd"]
    assert settings["StateDirectory"] == ["complaintd"]
    assert settings["ConfigurationDirectory"] == ["complaintd"]
    assert settings["ExecReload"] == ["/bin/kill -HUP $MAINPID"]


def test_the_unit_runs_as_a_static_account_so_a_local_mta_can_deliver_into_its_maildir():
    # A dynamic user's state folder sits under /var/lib/private (root only): no MTA delivering
    # as the service's user, and no `sudo -u complaintd complaintd ...`, could reach it.
    settings = _directives(UNIT)
    assert settings.get("DynamicUser", ["no"]) == ["no"]
    assert settings["WorkingDirectory"] == ["/var/lib/complaintd"]


def test_the_unit_reads_the_config_the_cli_finds_without_an_option():
    (exec_start,) = _directives(UNIT)["ExecStart"]
    assert exec_start.endswith(f"run --config {config.INSTALLED_CONFIG}")


def _directives(unit: Path) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for line in unit.read_text().splitlines():
        if "=" in line and not line.lstrip().startswith(("#", ";", "[")):
            key, value = line.split("=", 1)
            found.setdefault(key.strip(), []).append(value.strip())
    return found
