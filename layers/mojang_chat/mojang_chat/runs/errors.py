"""The conversation core's errors; each front door maps them to its own status and body."""

from __future__ import annotations

from typing import Literal

from mojang_chat.core.statuses import RunStatus

Kind = Literal["assistant", "thread", "message", "run", "step"]


class NotFound(LookupError):
    """No assistant, thread, message, run or step with that id (or not where it was sought)."""

    def __init__(self, kind: Kind, item_id: str) -> None:
        super().__init__(f"No {kind} found with id '{item_id}'.")
        self.kind = kind
        self.item_id = item_id


class InvalidRequest(ValueError):
    """A request the core refuses as it stands (a front door's 400): ``param`` names what was
    wrong, where one thing was."""

    def __init__(self, message: str, *, param: str | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.param = param
        self.code = code


class CannotCancel(InvalidRequest):
    """The run has already ended (other than by a cancel)."""

    def __init__(self, status: RunStatus) -> None:
        super().__init__(f"Cannot cancel run with status '{status.value}'.")
        self.status = status


class RunConflict(RuntimeError):
    """The record kept changing under a transition (should never happen in practice)."""
