"""The README documents every setting and every template parameter, so the two cannot drift."""

from __future__ import annotations

import pytest

from mojang_chat.core.settings import Settings
from tests.helpers import ROOT
from tests.sam import load_template

README = (ROOT / "README.md").read_text(encoding="utf-8")


@pytest.mark.parametrize(
    "name", sorted(field.alias for field in Settings.model_fields.values() if field.alias)
)
def test_every_setting_is_documented(name: str) -> None:
    assert f"`{name}`" in README


@pytest.mark.parametrize("name", sorted(load_template()["Parameters"]))
def test_every_template_parameter_is_documented(name: str) -> None:
    assert f"`{name}`" in README


def test_the_quick_start_commands_are_there() -> None:
    assert "make demo" in README
    assert "make test" in README
