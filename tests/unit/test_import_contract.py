"""The pure core stays pure: the import contract in pyproject.toml holds, and bites.

The contract (checked by import-linter) keeps the pure modules away from the database, config,
mail servers and templates; the source scan keeps them from reading files or the clock.
"""

from __future__ import annotations

import ast
import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def _pure_modules() -> list[str]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    contracts = config["tool"]["importlinter"]["contracts"]
    return [m for c in contracts if c["type"] == "forbidden" for m in c["source_modules"]]


def _lint(root: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(root)}
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache", "--config", str(root / "pyproject.toml")],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_the_pure_core_imports_nothing_that_does_io() -> None:
    result = _lint(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_contract_refuses_a_pure_module_that_imports_pydantic(tmp_path: Path) -> None:
    shutil.copytree(ROOT / "daemon", tmp_path / "daemon", ignore=shutil.ignore_patterns("*.pyc"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    values = tmp_path / "daemon" / "values.py"
    values.write_text(values.read_text(encoding="utf-8") + "\nimport pydantic\n", encoding="utf-8")
    result = _lint(tmp_path)
    assert result.returncode == 1
    assert "daemon.values -> pydantic" in result.stdout


# Calls that read a file or the time: the shell does those and hands the core the result.
_IMPURE_METHODS = {"open", "read_text", "read_bytes", "write_text", "write_bytes"}
_IMPURE_METHODS |= {"now", "utcnow", "today"}  # datetime.now(), date.today(), ...
_IMPURE_DOTTED = {"time.time", "time.monotonic", "time.perf_counter", "os.read"}


def _impure_calls(source: str) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        dotted = ast.unparse(func)
        if (
            (isinstance(func, ast.Name) and func.id == "open")
            or (isinstance(func, ast.Attribute) and func.attr in _IMPURE_METHODS)
            or dotted in _IMPURE_DOTTED
        ):
            found.append(f"line {node.lineno}: {dotted}()")
    return found


def test_no_pure_module_reads_a_file_or_the_clock() -> None:
    offenders = {}
    for module in _pure_modules():
        path = ROOT / (module.replace(".", "/") + ".py")
        calls = _impure_calls(path.read_text(encoding="utf-8"))
        if calls:
            offenders[module] = calls
    assert offenders == {}


def test_the_source_scan_sees_clock_and_file_reads_but_not_a_time_of_day() -> None:
    source = "a = datetime.now(UTC)\nb = time(9)\nc = Path(p).read_text()\nd = time.time()\n"
    assert _impure_calls(source) == [
        "line 1: datetime.now()",
        "line 3: Path(p).read_text()",
        "line 4: time.time()",
    ]
