"""The package's import direction (docs/architecture.md), checked on the source itself.

Arrows point down only: ``core`` imports nothing of ours; ``mojang`` and ``chat`` never import
``http``, ``runs``, ``local`` or the container's wiring; nothing the layer ships imports ``local``
(which is left out of the layer) or ``functions/``; the handlers in ``functions/`` import only the
subpackages' public names. Every import counts, at module level or inside a function or a
``TYPE_CHECKING`` block, so a lazy import cannot slip past.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers import ROOT

PACKAGE = ROOT / "layers" / "mojang_chat" / "mojang_chat"
FUNCTIONS = ROOT / "functions"

# What each part of the package may not import (by dotted prefix).
FORBIDDEN: dict[str, tuple[str, ...]] = {
    "core": (
        "mojang_chat.guard",
        "mojang_chat.mojang",
        "mojang_chat.chat",
        "mojang_chat.runs",
        "mojang_chat.http",
        "mojang_chat.local",
        "mojang_chat.container",
    ),
    "mojang": (
        "mojang_chat.guard",
        "mojang_chat.http",
        "mojang_chat.runs",
        "mojang_chat.local",
        "mojang_chat.container",
    ),
    "chat": (
        "mojang_chat.guard",
        "mojang_chat.http",
        "mojang_chat.runs",
        "mojang_chat.local",
        "mojang_chat.container",
    ),
    "guard": (
        "mojang_chat.mojang",
        "mojang_chat.http",
        "mojang_chat.runs",
        "mojang_chat.local",
        "mojang_chat.container",
    ),
}
# What the layer ships may never import: local mode and the functions' own code.
LAYER_FORBIDDEN = ("mojang_chat.local", "functions")
# The entry points a handler in functions/ may import from.
ENTRY_POINTS = ("mojang_chat.core", "mojang_chat.container", "mojang_chat.http", "mojang_chat.runs")


def imports(path: Path) -> Iterator[tuple[int, str]]:
    """Every module ``path`` imports, with its line, wherever the statement is: ``import a.b``
    as ``a.b``; ``from a.b import c`` as ``a.b.c`` (``c`` may be a module or a name)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:
                yield node.lineno, f"{node.module}.{alias.name}"


def _under(module: str, prefixes: tuple[str, ...]) -> bool:
    return any(module == prefix or module.startswith(prefix + ".") for prefix in prefixes)


def violations(package: Path, functions: Path) -> list[str]:
    """Each import that breaks the direction, as ``file:line imports module (rule)``."""
    found: list[str] = []
    for path in sorted(package.rglob("*.py")):
        parts = path.relative_to(package).parts
        part = parts[0] if len(parts) > 1 else ""
        in_layer = part != "local" and parts != ("__main__.py",)
        for line, module in imports(path):
            where = f"{path.relative_to(package.parent)}:{line} imports {module}"
            if _under(module, FORBIDDEN.get(part, ())):
                found.append(f"{where} ({part} may not import it)")
            elif in_layer and _under(module, LAYER_FORBIDDEN):
                found.append(f"{where} (the layer may not import it)")
    for path in sorted(functions.rglob("*.py")):
        for line, module in imports(path):
            if not module.startswith("mojang_chat"):
                continue
            # Only a subpackage's public names: `from mojang_chat.http import chat_api`, never
            # `from mojang_chat.http.chat import ...`.
            entry = ".".join(module.split(".")[:2])
            if (
                entry not in ENTRY_POINTS
                or module.count(".") > 2
                or (module.count(".") == 2 and not _public_name(package, module))
            ):
                found.append(f"functions/{path.relative_to(functions)}:{line} imports {module}")
    return found


def _public_name(package: Path, module: str) -> bool:
    """True when ``a.b.c`` names something ``a.b`` exports rather than the submodule ``c``."""
    _, sub, name = module.split(".")
    home = package / sub
    return not (home / f"{name}.py").exists() and not (home / name).is_dir()


def test_the_package_imports_only_downwards() -> None:
    assert violations(PACKAGE, FUNCTIONS) == []


@pytest.mark.parametrize(
    ("where", "source", "rule"),
    [
        ("core/settings.py", "from mojang_chat.mojang import client\n", "core may not"),
        ("mojang/client.py", "def f():\n    from mojang_chat.runs import Runs\n", "mojang may not"),
        ("chat/loop.py", "import mojang_chat.http.chat\n", "chat may not"),
        ("chat/model.py", "from mojang_chat import container\n", "chat may not"),
        ("runs/steps.py", "from mojang_chat.local.server import running\n", "the layer may not"),
        ("http/chat.py", "import functions.chat.app\n", "the layer may not"),
    ],
)
def test_a_wrong_import_is_reported(tmp_path: Path, where: str, source: str, rule: str) -> None:
    """The check itself: a package with one import against the direction fails it."""
    package = tmp_path / "mojang_chat"
    (package / where).parent.mkdir(parents=True)
    (package / where).write_text("from __future__ import annotations\n" + source)
    (tmp_path / "functions").mkdir()

    problems = violations(package, tmp_path / "functions")

    assert len(problems) == 1
    assert where in problems[0]
    assert rule in problems[0]


@pytest.mark.parametrize(
    ("source", "allowed"),
    [
        ("from mojang_chat.http import chat_api\n", True),
        ("from mojang_chat.core import logger, metrics, tracer\n", True),
        ("from mojang_chat import container\n", True),
        ("from mojang_chat.http.chat import chat_api\n", False),
        ("from mojang_chat.mojang import MojangClient\n", False),
        ("import mojang_chat.runs.steps\n", False),
    ],
)
def test_handlers_import_only_entry_points(tmp_path: Path, source: str, allowed: bool) -> None:
    package = tmp_path / "mojang_chat"
    for sub, module in (("http", "chat"), ("runs", "steps"), ("core", "settings")):
        (package / sub).mkdir(parents=True, exist_ok=True)
        (package / sub / f"{module}.py").write_text("")
    (tmp_path / "functions" / "chat").mkdir(parents=True)
    (tmp_path / "functions" / "chat" / "app.py").write_text(source)

    assert (violations(package, tmp_path / "functions") == []) is allowed
