"""scripts/bootstrap and scripts/run as a newcomer runs them, over and over: pip runs only when
pyproject.toml changed. The virtual environment's programs are stand-ins that record how they
were called, so the scripts run for real without a network or a second install."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

RECORDER = """#!/bin/sh
echo "$(basename "$0") $*" >> "$(dirname "$0")/../calls"
"""


@pytest.fixture
def checkout(tmp_path: Path) -> Path:
    """The scripts and pyproject.toml of this checkout, with a stand-in .venv."""
    shutil.copytree(ROOT / "scripts", tmp_path / "scripts")
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    bin_dir = tmp_path / ".venv" / "bin"
    bin_dir.mkdir(parents=True)
    for program in ("python", "complaintd"):
        (bin_dir / program).write_text(RECORDER)
        (bin_dir / program).chmod(0o755)
    return tmp_path


def calls(checkout: Path) -> list[str]:
    """What the stand-ins were asked, since the last look."""
    log = checkout / ".venv" / "calls"
    lines = log.read_text().splitlines() if log.exists() else []
    log.unlink(missing_ok=True)
    return lines


def run(checkout: Path, *command: str) -> None:
    subprocess.run(command, cwd=checkout, check=True, capture_output=True, timeout=60)


def test_the_first_bootstrap_installs_the_package(checkout):
    run(checkout, "scripts/bootstrap")
    assert "python -m pip install -q -e .[postgres]" in calls(checkout)


def test_a_second_bootstrap_installs_nothing(checkout):
    run(checkout, "scripts/bootstrap")
    calls(checkout)
    run(checkout, "scripts/bootstrap")
    assert calls(checkout) == []


def test_a_changed_pyproject_is_installed_again(checkout):
    run(checkout, "scripts/bootstrap")
    calls(checkout)
    with (checkout / "pyproject.toml").open("a") as f:
        f.write("\n# a new dependency would go here\n")
    run(checkout, "scripts/bootstrap")
    assert "python -m pip install -q -e .[postgres]" in calls(checkout)


def test_run_starts_the_daemon_on_the_named_config_without_reinstalling(checkout):
    run(checkout, "scripts/bootstrap")
    calls(checkout)
    run(checkout, "scripts/run", "examples/dealership.toml")
    assert calls(checkout) == ["complaintd run --config examples/dealership.toml"]
    assert (checkout / "var" / "maildir" / "new").is_dir()


def test_run_without_an_argument_uses_the_shipped_config(checkout):
    run(checkout, "scripts/run")
    assert calls(checkout)[-1] == "complaintd run --config config.toml"
