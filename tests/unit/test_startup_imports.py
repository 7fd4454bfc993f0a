"""What a command loads before it runs: the daemon's workers and the libraries only some
commands need (HTTP, spreadsheets, migrations) are loaded by those commands alone, so a
replay or a listing starts in a fraction of the time."""

from __future__ import annotations

import subprocess
import sys

HEAVY = ("alembic", "httpx", "aiohttp", "openpyxl", "matplotlib", "daemon.service")


def loaded_by(statement: str) -> set[str]:
    code = f"import sys; {statement}; print(' '.join(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return set(out.stdout.split())


def test_the_command_line_loads_no_worker_nor_library_only_some_commands_use():
    assert loaded_by("import daemon.cli").isdisjoint(HEAVY)


def test_filing_a_message_loads_no_http_client():
    assert loaded_by("import daemon.pipeline, daemon.app").isdisjoint(HEAVY)
