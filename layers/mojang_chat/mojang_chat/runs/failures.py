"""Why a run failed, and what its caller is told: the error that ended a step (raised in this
process by an inline run, or caught by the workflow's ``Catch`` from a Lambda task) as one
``Failure``, and the run's ``last_error`` made of it.

Only the messages of errors written for callers are shown (see ``chat.model.ModelError``); any
other error's message may carry internals, so the run shows only its name.
"""

from __future__ import annotations

import json
import traceback
from dataclasses import dataclass, field

from pydantic import BaseModel

from mojang_chat.chat.model import (
    ModelFailed,
    ModelRateLimited,
    ModelUnavailable,
    ModelUnreachable,
)
from mojang_chat.core.deadline import DeadlineExceeded
from mojang_chat.core.settings import ConfigurationError, ModelNotConfigured
from mojang_chat.guard import BudgetExhausted, ClientLimited
from mojang_chat.runs.records import ErrorCode, RunError

# The names of the errors whose messages are written for callers.
_READABLE_ERRORS = frozenset(
    error.__name__
    for error in (
        ModelRateLimited,
        ModelUnavailable,
        ModelUnreachable,
        ModelFailed,
        ModelNotConfigured,
        ConfigurationError,
        DeadlineExceeded,
        ClientLimited,
        BudgetExhausted,
    )
)
# What ends a run ``rate_limit_exceeded`` (OpenAI's code) rather than ``server_error``: a model
# that kept throttling, or the cost guard refusing the next model call.
_RATE_LIMIT_ERRORS = frozenset(
    error.__name__ for error in (ModelRateLimited, ClientLimited, BudgetExhausted)
)


class CaughtError(BaseModel):
    """What a ``Catch`` of the workflow puts at its ResultPath: the error's name (the class
    Lambda reports) and its cause (Lambda's error JSON, or the workflow's own text)."""

    Error: str
    Cause: str | None = None

    def failure(self) -> Failure:
        try:
            cause = json.loads(self.Cause or "")
        except ValueError:
            cause = None
        if not isinstance(cause, dict):
            return Failure(self.Error)
        message = cause.get("errorMessage")
        trace = cause.get("stackTrace")
        frames = trace if isinstance(trace, list) else []
        return Failure(
            self.Error,
            message if isinstance(message, str) else None,
            [str(frame).strip().splitlines()[0] for frame in frames if str(frame).strip()],
        )


@dataclass(frozen=True)
class Failure:
    """The error that ended a step: its name, its message, and where it was raised (the
    ``File ..., line ..., in ...`` lines of its stack trace, innermost last; none for an error
    of the workflow's own, such as a timeout)."""

    name: str
    message: str | None = None
    frames: list[str] = field(default_factory=list)

    @classmethod
    def of(cls, error: Exception) -> Failure:
        """The failure an exception raised in this process is."""
        frames = [
            f'File "{frame.filename}", line {frame.lineno}, in {frame.name}'
            for frame in traceback.extract_tb(error.__traceback__)
        ]
        return cls(type(error).__name__, str(error), frames)

    def last_error(self) -> RunError:
        """What the failed run shows its caller."""
        code: ErrorCode = (
            "rate_limit_exceeded" if self.name in _RATE_LIMIT_ERRORS else "server_error"
        )
        if self.name in _READABLE_ERRORS and self.message:
            return RunError(code=code, message=self.message)
        return RunError(code=code, message=f"the run failed ({self.name})")
