"""One definition per fact: what the widget and the docs show comes from the code's own
constants, so the two cannot drift apart."""

from __future__ import annotations

import json
import re

from mojang_chat.core import TERMINAL_STATUSES, RunStatus
from mojang_chat.http.chat import widget_constants, widget_script
from mojang_chat.http.limits import MAX_BODY_BYTES, MAX_HISTORY_TURNS, MAX_MESSAGE_CHARS


def _constant(script: str, name: str) -> object:
    match = re.search(rf"\b{name} = (\[[^\]]*\]|\d+)", script)
    assert match is not None, f"widget.js defines no {name}"
    return json.loads(match.group(1))


def test_the_widget_is_served_with_the_servers_own_constants() -> None:
    script, _ = widget_script()

    assert re.search(r"__[A-Z_]+__", script) is None
    terminal = _constant(script, "TERMINAL")
    assert isinstance(terminal, list)
    assert {RunStatus(status) for status in terminal} == TERMINAL_STATUSES
    assert _constant(script, "MAX_CHARS") == MAX_MESSAGE_CHARS
    assert _constant(script, "MAX_HISTORY") == MAX_HISTORY_TURNS


def test_every_constant_the_widget_names_is_filled_in() -> None:
    from importlib import resources

    source = resources.files("mojang_chat").joinpath("web", "widget.js").read_text("utf-8")

    assert set(re.findall(r"__([A-Z_]+)__", source)) == set(widget_constants())


def test_the_size_limit_is_written_nowhere_else() -> None:
    from importlib import resources

    package = resources.files("mojang_chat")
    kib = f"{MAX_BODY_BYTES // 1024} KiB"
    for path in ("http/chat.py", "http/v1.py", "http/resolver.py", "web/widget.js"):
        assert kib not in package.joinpath(path).read_text("utf-8"), path
