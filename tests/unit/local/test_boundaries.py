"""What the local mode may depend on: ``make demo`` runs from the package alone, so nothing in
``mojang_chat/local`` imports from tests/, and no module of the package imports jsonschema (a
dev-only dependency: the tests' schema checks use it). tests/integration/test_demo.py starts
the demo to prove the same at run time."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from tests.helpers import ROOT

PACKAGE = ROOT / "layers" / "mojang_chat" / "mojang_chat"


def imported_modules(path: Path) -> set[str]:
    """Every module a source file imports, at its top or inside a function."""
    modules: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            modules.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            modules.add(node.module)
    return modules


def _sources(folder: Path) -> list[Path]:
    return sorted(folder.rglob("*.py"))


@pytest.mark.parametrize("path", _sources(PACKAGE / "local"), ids=lambda p: p.name)
def test_the_local_mode_imports_nothing_from_tests(path: Path) -> None:
    from_tests = {m for m in imported_modules(path) if m == "tests" or m.startswith("tests.")}
    assert from_tests == set()
    # Nor by a path trick (sys.path, importlib with a name in a string)
    assert re.search(r"[\"']tests[./]", path.read_text(encoding="utf-8")) is None


def test_the_package_never_imports_jsonschema() -> None:
    importing = [
        str(path.relative_to(PACKAGE))
        for path in _sources(PACKAGE)
        if any(m.split(".")[0] == "jsonschema" for m in imported_modules(path))
    ]
    assert importing == []


@pytest.mark.parametrize("target", ["demo", "demo-offline"])
def test_make_demo_runs_the_package_command(target: str) -> None:
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    recipe = re.search(rf"^{re.escape(target)}:.*\n((?:\t.*\n)+)", makefile, re.MULTILINE)
    assert recipe is not None
    commands = recipe.group(1)
    assert "-m mojang_chat demo" in commands
    assert ("--offline" in commands) is (target == "demo-offline")
    assert "tests" not in commands
