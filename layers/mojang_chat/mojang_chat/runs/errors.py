"""The conversation core's errors; each front door maps them to its own status and body."""

from __future__ import annotations

from typing import Literal

from mojang_chat.core.statuses import RunStatus


class RunNotFound(LookupError):
    """No run (or thread) with that id, or not on that thread."""

    def __init__(self, kind: Literal["run", "thread"], item_id: str) -> None:
        super().__init__(f"No {kind} found with id '{item_id}'.")
        self.kind = kind
        self.item_id = item_id


class CannotCancel(ValueError):
    """The run has already ended (other than by a cancel)."""

    def __init__(self, status: RunStatus) -> None:
        super().__init__(f"Cannot cancel run with status '{status.value}'.")
        self.status = status


class RunConflict(RuntimeError):
    """The record kept changing under a transition (should never happen in practice)."""
