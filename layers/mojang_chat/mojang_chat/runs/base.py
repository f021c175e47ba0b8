"""What every part of the conversation core shares: the adapters it is given (the store, the
workflow), the bounds of what callers store, the model that serves every run, and the clock.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Literal

from mojang_chat.runs.errors import NotFound
from mojang_chat.runs.records import Clock, IdPrefix, is_id
from mojang_chat.runs.store import RunStore
from mojang_chat.runs.workflow import Workflow


@dataclass(frozen=True)
class ThreadLimits:
    """The bounds of what callers store."""

    # The most messages one thread holds.
    thread_max_messages: int
    # The longest tool output a caller may submit, in characters.
    tool_output_max_chars: int


class CoreBase:
    """The adapters, settings and clock of the core; each part of it (assistants, threads,
    runs, responses) builds on these."""

    def __init__(
        self,
        store: RunStore,
        workflow: Workflow,
        *,
        model: str,
        expires_seconds: int,
        retention_seconds: int,
        limits: ThreadLimits,
        clock: Clock = time.time,
    ) -> None:
        self.store = store
        self._workflow = workflow
        self.model = model
        self._expires_seconds = expires_seconds
        self._retention_seconds = retention_seconds
        self.limits = limits
        self._clock = clock

    def _now(self) -> int:
        return int(self._clock())

    def _ttl(self) -> int:
        """When what is written now expires (the table's TTL)."""
        return self._now() + self._retention_seconds


def valid_id(
    prefix: IdPrefix, value: str, kind: Literal["assistant", "thread", "message", "run", "step"]
) -> str:
    """``value``, when it has the shape of an id of ``prefix``; else nothing has it."""
    if not is_id(prefix, value):
        raise NotFound(kind, value)
    return value
