"""The documentation cannot drift from the code: every setting and template parameter is in
docs/configuration.md, every module of the package is in docs/architecture.md, every link
resolves, the README stays a short front page, and history stays in the CHANGELOG.

(The fault table of docs/hardening.md is checked by tests/integration/test_faults.py, which
renders it from its rows.)
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from mojang_chat.core.settings import Settings
from tests.helpers import ROOT
from tests.sam import load_template

DOCS = ROOT / "docs"
README = ROOT / "README.md"
CONFIGURATION = DOCS / "configuration.md"
ARCHITECTURE = DOCS / "architecture.md"
PACKAGE = ROOT / "layers" / "mojang_chat" / "mojang_chat"
# The front page sells and starts; the reference is in docs/.
README_MAX_LINES = 200
# Sentences that tell history belong in CHANGELOG.md, not in the README or the docs.
HISTORY = ("used to ", "before this work", "no longer ", "was replaced", "it now ", "fixed,")
PAGES = [README, *sorted(DOCS.glob("*.md"))]
LINK = re.compile(r"\]\(([^)\s]+)\)")


def text(path: Path) -> str:
    return path.read_text(encoding="utf-8")


def anchors(path: Path) -> set[str]:
    """The anchors GitHub gives a page's headings."""
    found = set()
    for line in text(path).splitlines():
        if line.startswith("#"):
            heading = line.lstrip("#").strip().lower()
            heading = re.sub(r"[^\w\- ]", "", heading)
            found.add(heading.replace(" ", "-"))
    return found


@pytest.mark.parametrize(
    "name", sorted(field.alias for field in Settings.model_fields.values() if field.alias)
)
def test_every_setting_is_documented(name: str) -> None:
    assert f"`{name}`" in text(CONFIGURATION)


@pytest.mark.parametrize("name", sorted(load_template()["Parameters"]))
def test_every_template_parameter_is_documented(name: str) -> None:
    assert f"`{name}`" in text(CONFIGURATION)


@pytest.mark.parametrize(
    "module",
    sorted(
        str(path.relative_to(PACKAGE))
        for path in PACKAGE.rglob("*.py")
        if path.name not in ("__init__.py", "__main__.py")
    ),
)
def test_every_module_of_the_package_is_in_the_architecture(module: str) -> None:
    # Given a module of the package, e.g. mojang/client.py or http/responses/routes.py: its
    # file name (and its folder within the subpackage) is on the page, in its subpackage's
    # entry; a module at the top of the package has an entry of its own
    folder, *within = module.split("/")
    if not within:
        assert re.search(rf"^ {{4}}{re.escape(folder)} ", text(ARCHITECTURE), re.M), module
        return
    entry = re.search(rf"^ {{4}}{folder}/ .*?(?=^ {{4}}\S|\Z)", text(ARCHITECTURE), re.M | re.S)
    assert entry is not None, f"docs/architecture.md has no entry for {folder}/"
    names = [f"{part}/" for part in within[:-1]] + within[-1:]
    for name in names:
        assert name in entry.group(0), f"docs/architecture.md does not mention {module}"


def test_the_quick_start_commands_are_there() -> None:
    assert "make demo" in text(README)
    assert "make test" in text(README)


def test_the_readme_stays_a_front_page() -> None:
    lines = len(text(README).splitlines())
    assert lines <= README_MAX_LINES, f"README.md has {lines} lines: move reference to docs/"


@pytest.mark.parametrize("page", PAGES, ids=lambda page: page.name)
def test_history_stays_in_the_changelog(page: Path) -> None:
    lowered = text(page).lower()
    told = [phrase for phrase in HISTORY if phrase in lowered]
    assert told == [], f"{page.name} tells history ({told}): that belongs in CHANGELOG.md"


@pytest.mark.parametrize("page", [*PAGES, ROOT / "CHANGELOG.md"], ids=lambda page: page.name)
def test_every_link_resolves(page: Path) -> None:
    for target in LINK.findall(text(page)):
        if re.match(r"[a-z]+:", target):
            continue  # an external address
        path, _, anchor = target.partition("#")
        linked = (page.parent / path).resolve() if path else page
        assert linked.exists(), f"{page.name} links to {target}, which does not exist"
        if anchor and linked.suffix == ".md":
            assert anchor in anchors(linked), f"{page.name} links to {target}: no such heading"
