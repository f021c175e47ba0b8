"""The locks hold what pyproject.toml asks for: a dependency added to the project but not to a
lock would install on a developer's machine and be missing on a fresh one (CI's)."""

from __future__ import annotations

import re
import tomllib

from tests.helpers import ROOT


def _name(requirement: str) -> str:
    """A requirement's distribution name, normalised (PEP 503)."""
    name = re.split(r"[\s\[<>=!~;]", requirement.strip(), maxsplit=1)[0]
    return re.sub(r"[-_.]+", "-", name).lower()


def _pinned(lock: str) -> set[str]:
    return {_name(line) for line in lock.splitlines() if "==" in line and not line.startswith(" ")}


def test_the_dev_lock_pins_every_dependency_of_the_project() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted = {_name(r) for r in project["dependencies"] + project["optional-dependencies"]["dev"]}

    missing = wanted - _pinned((ROOT / "requirements-dev.txt").read_text())

    assert not missing, f"run `make lock`: requirements-dev.txt lacks {sorted(missing)}"


def test_the_dev_lock_keeps_the_layers_pins() -> None:
    layer = (ROOT / "layers" / "mojang_chat" / "requirements.txt").read_text()
    dev = (ROOT / "requirements-dev.txt").read_text()
    pins = dict(re.findall(r"^([A-Za-z0-9_.-]+)==(\S+)", layer, re.M))
    dev_pins = dict(re.findall(r"^([A-Za-z0-9_.-]+)==(\S+)", dev, re.M))

    assert {name: dev_pins.get(name) for name in pins} == pins
