"""The Python examples of the README and docs/runs.md, run as written against the local
server (only ``base_url`` pointed at it), so that what a newcomer copies works."""

from __future__ import annotations

import contextlib
import io
import re
import warnings
from pathlib import Path
from typing import Any

import pytest

from mojang_chat.local.server import running
from mojang_chat.local.standins import MERRYDITH_UUID
from tests.fakes import model_server as fake_model
from tests.helpers import ROOT, TEMPLATE

NOTCH_UUID = "069a79f444e94726a5befca90e38aaf5"


def python_blocks(page: Path) -> list[str]:
    """The page's ```python blocks that talk to the API."""
    blocks = re.findall(r"```python\n(.*?)```", page.read_text(encoding="utf-8"), flags=re.DOTALL)
    return [block for block in blocks if "base_url=" in block]


def run_example(code: str, base_url: str) -> str:
    """Run ``code`` with its ``base_url`` pointed at ``base_url``: what it printed."""
    code, changed = re.subn(r'base_url="[^"]*"', f'base_url="{base_url}"', code)
    assert changed == 1
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed), warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # beta.threads is deprecated
        exec(compile(code, "<example>", "exec"), {})  # noqa: S102 (the docs' own example)
    return printed.getvalue()


@pytest.mark.parametrize(
    ("page", "lookup", "expected"),
    [
        (ROOT / "README.md", ("get_username_from_uuid", {"uuid": NOTCH_UUID}), "Notch"),
        (
            ROOT / "docs" / "runs.md",
            ("get_uuid_from_username", {"username": "merrydith"}),
            MERRYDITH_UUID,
        ),
    ],
    ids=["README", "runs.md"],
)
def test_the_python_example_prints_the_answer(
    app_env: Any, page: Path, lookup: tuple[str, dict[str, str]], expected: str
) -> None:
    model, _ = app_env
    model.script(fake_model.tool_calls(lookup), fake_model.answer_from_tools())
    [example] = python_blocks(page)

    with running(TEMPLATE) as server:
        printed = run_example(example, f"{server.url}/v1")

    assert expected.replace("-", "") in printed.replace("-", "")
    assert model.schema_errors == []
