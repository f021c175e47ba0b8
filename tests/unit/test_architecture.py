"""The package's structure (docs/architecture.md), checked on the source itself.

Arrows point down only: ``core`` imports nothing of ours; ``chat`` only ``core``; ``mojang``
and ``guard`` stand on ``chat`` and never import each other; ``runs`` (the conversation core)
never imports the front doors (``http``), the clients (``container``) or what is built from
them (``wiring``); ``container`` never imports ``wiring`` or ``http``; ``wiring`` never imports
``http``. Nothing the layer ships imports ``local`` (which is left out of the layer) or
``functions/``; the handlers in ``functions/`` import only the public names of the entry points.
Every import counts, at module level or inside a function or a ``TYPE_CHECKING`` block, so a
lazy import cannot slip past. Every part of the package has its rule.

And the rooms stay small: no module of the layer over ``MAX_MODULE_LINES`` lines, no function
of the package over ``MAX_FUNCTION_LINES``, but for the exceptions named below with why.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers import ROOT

PACKAGE = ROOT / "layers" / "mojang_chat" / "mojang_chat"
FUNCTIONS = ROOT / "functions"

_DOMAIN_ABOVE_CORE = ("mojang_chat.http", "mojang_chat.local", "mojang_chat.container")
_WIRED = ("mojang_chat.wiring",)
# What each part of the package may not import (by dotted prefix). A part is a subpackage, or
# a module at the top of the package.
FORBIDDEN: dict[str, tuple[str, ...]] = {
    "core": (
        "mojang_chat.guard",
        "mojang_chat.mojang",
        "mojang_chat.chat",
        "mojang_chat.runs",
        *_DOMAIN_ABOVE_CORE,
        *_WIRED,
    ),
    "chat": (
        "mojang_chat.guard",
        "mojang_chat.mojang",
        "mojang_chat.runs",
        *_DOMAIN_ABOVE_CORE,
        *_WIRED,
    ),
    "mojang": ("mojang_chat.guard", "mojang_chat.runs", *_DOMAIN_ABOVE_CORE, *_WIRED),
    "guard": ("mojang_chat.mojang", "mojang_chat.runs", *_DOMAIN_ABOVE_CORE, *_WIRED),
    "runs": (*_DOMAIN_ABOVE_CORE, *_WIRED),
    "container": ("mojang_chat.http", "mojang_chat.local", *_WIRED),
    "wiring": ("mojang_chat.http", "mojang_chat.local"),
    "http": ("mojang_chat.local",),
    # Local mode (not in the layer) may use all of the package.
    "local": (),
    # The package's version, and its command line (local mode).
    "__init__": ("mojang_chat",),
    "__main__": (),
}
# What the layer ships may never import: local mode and the functions' own code.
LAYER_FORBIDDEN = ("mojang_chat.local", "functions")
# The entry points a handler in functions/ may import from.
ENTRY_POINTS = (
    "mojang_chat.core",
    "mojang_chat.container",
    "mojang_chat.http",
    "mojang_chat.wiring",
)

MAX_MODULE_LINES = 450
MAX_FUNCTION_LINES = 80
# The modules and functions over the limits, each with why it may be (none today). Local mode
# is not in the layer: its modules are held to the function limit only.
LONG_MODULES: dict[str, str] = {}
LONG_FUNCTIONS: dict[str, str] = {}


def part_of(path: Path, package: Path) -> str:
    """The part of the package ``path`` is in: its subpackage, or its own name at the top."""
    parts = path.relative_to(package).parts
    return parts[0] if len(parts) > 1 else path.stem


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
        part = part_of(path, package)
        in_layer = part not in ("local", "__main__")
        if part not in FORBIDDEN:
            found.append(f"{path.relative_to(package.parent)} ({part} has no rule in FORBIDDEN)")
            continue
        for line, module in imports(path):
            where = f"{path.relative_to(package.parent)}:{line} imports {module}"
            if _under(module, FORBIDDEN[part]):
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
        ("runs/steps.py", "from mojang_chat import container\n", "runs may not"),
        ("runs/service.py", "from mojang_chat.wiring import step_runner\n", "runs may not"),
        ("runs/store.py", "from mojang_chat.http.errors import ApiError\n", "runs may not"),
        ("container.py", "from mojang_chat.wiring import answer\n", "container may not"),
        ("wiring.py", "from mojang_chat.http import v1_api\n", "wiring may not"),
        ("http/chat.py", "from mojang_chat.local.server import running\n", "http may not"),
        ("http/chat.py", "import functions.chat.app\n", "the layer may not"),
        ("stream/events.py", "from mojang_chat.core import logger\n", "has no rule"),
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


def _lines(node: ast.FunctionDef | ast.AsyncFunctionDef) -> int:
    return (node.end_lineno or node.lineno) - node.lineno + 1


def long_modules(package: Path) -> list[str]:
    """The modules of the layer over ``MAX_MODULE_LINES`` that are not named exceptions."""
    found = []
    for path in sorted(package.rglob("*.py")):
        name = str(path.relative_to(package))
        lines = len(path.read_text(encoding="utf-8").splitlines())
        if (
            lines > MAX_MODULE_LINES
            and name not in LONG_MODULES
            and part_of(path, package) != "local"
        ):
            found.append(f"{name}: {lines} lines")
    return found


def long_functions(package: Path) -> list[str]:
    """The functions of the package over ``MAX_FUNCTION_LINES`` that are not named exceptions."""
    found = []
    for path in sorted(package.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in ast.walk(tree):
            if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            name = f"{path.relative_to(package)}:{node.name}"
            if _lines(node) > MAX_FUNCTION_LINES and name not in LONG_FUNCTIONS:
                found.append(f"{name}: {_lines(node)} lines")
    return found


def test_no_module_of_the_layer_is_too_long() -> None:
    assert long_modules(PACKAGE) == []


def test_no_function_is_too_long() -> None:
    assert long_functions(PACKAGE) == []


def test_the_size_checks_catch_what_is_too_long(tmp_path: Path) -> None:
    package = tmp_path / "mojang_chat"
    (package / "runs").mkdir(parents=True)
    body = "\n".join(f"    x{i} = {i}" for i in range(MAX_FUNCTION_LINES))
    (package / "runs" / "big.py").write_text(
        "def grown():\n" + body + "\n" + "\n" * (MAX_MODULE_LINES - MAX_FUNCTION_LINES)
    )
    (package / "local").mkdir()
    (package / "local" / "big.py").write_text("\n" * (MAX_MODULE_LINES + 1))

    assert long_modules(package) == [f"runs/big.py: {MAX_MODULE_LINES + 1} lines"]
    assert long_functions(package) == [f"runs/big.py:grown: {MAX_FUNCTION_LINES + 1} lines"]
