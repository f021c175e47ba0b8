"""The time a request has left, so no upstream call outlives API Gateway's 30 s limit."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Protocol


class DeadlineExceeded(TimeoutError):
    """The request ran out of time before an answer was ready."""


class LambdaContextLike(Protocol):
    def get_remaining_time_in_millis(self) -> int: ...


class Deadline:
    """A point in (monotonic) time after which a request must already be answering."""

    def __init__(self, seconds: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._expires_at = clock() + max(seconds, 0.0)

    @classmethod
    def for_request(
        cls, context: LambdaContextLike | None, *, cap: float, margin: float
    ) -> Deadline:
        """The request's deadline: ``cap`` seconds, or the Lambda's remaining time if shorter,
        less ``margin`` so that there is still time to answer (with a 504 if need be)."""
        seconds = cap
        if context is not None:
            seconds = min(seconds, context.get_remaining_time_in_millis() / 1000)
        return cls(seconds - margin)

    def within(self, seconds: float) -> Deadline:
        """This deadline, or the one ``seconds`` from now if that comes first."""
        return Deadline(min(self.remaining(), seconds), self._clock)

    def remaining(self) -> float:
        """Seconds left, never negative."""
        return max(self._expires_at - self._clock(), 0.0)

    def expired(self) -> bool:
        return self.remaining() <= 0.0

    def check(self, what: str) -> float:
        """The seconds left, or ``DeadlineExceeded`` naming what could not start in time."""
        remaining = self.remaining()
        if remaining <= 0.0:
            raise DeadlineExceeded(f"no time left for {what}")
        return remaining
