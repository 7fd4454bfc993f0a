"""The README's demo walkthrough, run as written: the commands are read from the README itself,
so the walkthrough cannot drift from what works. Real processes, SQLite, mail as files."""

from __future__ import annotations

import email
import json
import re
import shutil
import subprocess
import sys
import time
from email.utils import getaddresses
from pathlib import Path
from typing import Any

import pytest
from support import process
from support.daemon_run import DaemonProcess

ROOT = Path(__file__).resolve().parents[2]
HEADING = "### Try the whole workflow on a demo dealership"
RUN_LINE = "./scripts/run examples/dealership.toml"
ENGLISH_CUSTOMER = "john.smith@example.com"


def walkthrough() -> list[str]:
    """The indented command lines of the README section, in order."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split(HEADING, 1)[1].split("\n#", 1)[0]
    return [line[4:] for line in section.splitlines() if line.startswith("    ")]


@pytest.fixture
def checkout(tmp_path: Path) -> Path:
    """What the walkthrough touches of a fresh checkout: the examples and the templates."""
    shutil.copytree(ROOT / "examples", tmp_path / "examples")
    shutil.copytree(ROOT / "templates", tmp_path / "templates")
    return tmp_path


class Shell:
    """The second terminal: exported variables kept, complaintd the one of this checkout."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.env = process.env()
        self.complaintd = f"{sys.executable} -m daemon.cli"

    def run(self, line: str) -> str:
        command = line.split("#", 1)[0].replace(".venv/bin/complaintd", self.complaintd)
        result = subprocess.run(
            ["bash", "-c", command],
            cwd=self.folder,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert result.returncode == 0, f"{line!r} exited {result.returncode}:\n{result.stderr}"
        return result.stdout

    def tickets(self) -> list[dict[str, Any]]:
        listed: list[dict[str, Any]] = json.loads(
            self.run(".venv/bin/complaintd tickets list --json")
        )
        return listed


def wait_for(what: str, ready: Any, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not ready():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout}s: {what}")
        time.sleep(0.1)


def mails_of(outbox: Path, number: str) -> dict[str, str]:
    """Recipient -> subject of every mail file written for ticket `number`."""
    found: dict[str, str] = {}
    for path in outbox.glob("*.eml"):
        message = email.message_from_bytes(path.read_bytes())
        if message["X-Complaintd-Ticket"] == number:
            for _, address in getaddresses([str(message["To"])]):
                found[address] = str(message["Subject"])
    return found


def test_the_readme_walkthrough_takes_a_ticket_from_new_to_closed(checkout: Path) -> None:
    lines = walkthrough()
    assert lines[0] == RUN_LINE
    # What scripts/run does once bootstrap has installed the package.
    config = lines[0].split()[-1]
    (checkout / "var" / "maildir").mkdir(parents=True)
    daemon = DaemonProcess(checkout / config, checkout / "daemon.log")
    shell = Shell(checkout)
    examples = len(list((checkout / "examples").glob("*.eml")))
    try:
        daemon.wait_for_log("complaintd ready")
        number = ""
        for line in lines[1:]:
            if line.startswith("export "):
                name, value = line.removeprefix("export ").split("=", 1)
                shell.env[name] = value
            elif re.match(r"T=\S+", line):
                # The README shows a sample number; the reader copies the one they were shown.
                number = next(
                    t["number"] for t in shell.tickets() if t["customer"] == ENGLISH_CUSTOMER
                )
                shell.env["T"] = number
            else:
                shell.run(line)
            if "var/maildir/new/" in line:
                wait_for("every example filed", lambda: len(shell.tickets()) == examples)
        assert number, "the walkthrough never names a ticket"
        shown = json.loads(shell.run(f".venv/bin/complaintd tickets show {number} --json"))
        assert shown["status"] == "closed"
        outbox = checkout / "var" / "outbox"
        wait_for("the ticket's mail written", lambda: len(mails_of(outbox, number)) >= 3)
        assert {ENGLISH_CUSTOMER, "zheng.hao@example.com", "zhou.jie@example.com"} <= set(
            mails_of(outbox, number)
        )
    finally:
        daemon.stop()


def test_the_walkthrough_acts_on_the_ticket_in_its_lifecycle_order() -> None:
    acted = [
        m.group(1) for line in walkthrough() if (m := re.search(r"tickets act \$T (\w+)", line))
    ]
    assert acted == ["acknowledge", "contact", "resolve", "callback", "close"]
