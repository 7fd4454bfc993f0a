"""The code stays as the style guide asks: mypy in strict mode and ruff's rules, run by the
suite so CI enforces them, not only a developer who remembers."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def _run(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / argv[0]), *argv[1:]], cwd=ROOT, capture_output=True, text=True, timeout=300
    )


@pytest.mark.slow
def test_mypy_strict_finds_nothing_in_the_package() -> None:
    result = _run("mypy", "daemon", "--cache-dir", str(ROOT / ".mypy_cache"))
    assert result.returncode == 0, result.stdout[-4000:]


def test_ruff_finds_nothing_in_the_tree() -> None:
    result = _run("ruff", "check", ".", "--no-cache")
    assert result.returncode == 0, result.stdout[-4000:]


def test_the_tree_is_formatted_as_ruff_formats_it() -> None:
    result = _run("ruff", "format", "--check", ".", "--no-cache")
    assert result.returncode == 0, result.stdout[-4000:]


def test_no_two_test_modules_share_a_name() -> None:
    # pytest imports test modules by their base name: a second file of the same name in
    # another folder stops the collection ("import file mismatch").
    names = [p.name for p in (ROOT / "tests").rglob("test_*.py")]
    assert sorted({n for n in names if names.count(n) > 1}) == []
