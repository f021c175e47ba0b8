"""The values the tool loop passes between the model adapter, the tool registry and the
conversation core: a tool call, its result, and token usage."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class ToolCall:
    """One function call the model asked for; ``arguments`` is the JSON string it wrote.

    ``problem`` says why the call cannot run, when reading the model's answer showed it (its
    arguments were not a JSON string): the model is told instead of the tool running.
    """

    id: str
    name: str
    arguments: str
    problem: str | None = None


@dataclass(frozen=True)
class ToolResult:
    """The outcome of one tool call: what the model reads, and what the caller's trace shows."""

    call: ToolCall
    arguments: dict[str, Any] | None
    output: dict[str, Any]

    @property
    def failed(self) -> bool:
        return "error" in self.output

    def content(self, max_chars: int) -> str:
        """The tool message's content: the output as JSON, bounded so that a huge upstream
        answer cannot flood the model's context (or the token bill)."""
        text = json.dumps(self.output, ensure_ascii=False, separators=(",", ":"))
        if len(text) <= max_chars:
            return text
        return json.dumps(
            {"error": f"the tool's output was {len(text)} characters, too long to show"}
        )


@dataclass(frozen=True)
class Usage:
    """Token counts, summed over every model call of a conversation (a run's and /chat's
    ``usage``: pydantic models take this dataclass as a field type)."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            self.prompt_tokens + other.prompt_tokens,
            self.completion_tokens + other.completion_tokens,
            self.total_tokens + other.total_tokens,
        )
