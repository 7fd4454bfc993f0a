"""The shape of the code: the longest functions and the largest modules of the package.

.venv/bin/python benchmarks/code_shape.py [--top 15] [PACKAGE_DIR]
"""

from __future__ import annotations

import argparse
import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def measure(package: Path) -> tuple[list[tuple[int, str]], list[tuple[int, str]]]:
    """(lines, name) of every function and of every module, migrations left out."""
    functions: list[tuple[int, str]] = []
    modules: list[tuple[int, str]] = []
    for path in sorted(package.rglob("*.py")):
        if "migrations" in path.parts:
            continue
        source = path.read_text(encoding="utf-8")
        where = path.relative_to(package.parent)
        modules.append((len(source.splitlines()), str(where)))
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                length = (node.end_lineno or node.lineno) - node.lineno + 1
                functions.append((length, f"{where}:{node.name}"))
    return sorted(functions, reverse=True), sorted(modules, reverse=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("package", nargs="?", type=Path, default=ROOT / "daemon")
    parser.add_argument("--top", type=int, default=15)
    args = parser.parse_args()
    functions, modules = measure(args.package)
    print("longest functions (lines):")
    for length, name in functions[: args.top]:
        print(f"  {length:4d}  {name}")
    print("largest modules (lines):")
    for length, name in modules[: args.top]:
        print(f"  {length:4d}  {name}")


if __name__ == "__main__":
    main()
