"""The time a request has left, so no upstream call outlives API Gateway's 30 s limit."""

from __future__ import annotations

import contextvars
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, wait
from typing import Protocol, TypeVar

T = TypeVar("T")


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


def call_by(deadline: Deadline, what: str, function: Callable[[], T]) -> T:
    """``function()``, run on a thread of its own: its result (or its exception) when it ends
    by ``deadline``, else ``DeadlineExceeded`` naming ``what``, at the deadline.

    A socket timeout bounds each read, not a call: an upstream that sends a byte every half
    second never trips it. Waiting here bounds the whole call, the connection and the
    response's headers included, however slowly the bytes come. The abandoned thread is left
    to end by itself; ``function`` should stop reading once the deadline has passed.
    """
    remaining = deadline.check(what)
    future: Future[T] = Future()
    context = contextvars.copy_context()  # the request's logging and tracing context

    def run() -> None:
        try:
            future.set_result(context.run(function))
        except BaseException as error:  # handed to the waiting caller
            future.set_exception(error)

    threading.Thread(target=run, name="deadline-call", daemon=True).start()
    # Not future.result(timeout=...): its TimeoutError could not be told apart from one that
    # the call itself raised (socket timeouts are TimeoutErrors too).
    if not wait([future], timeout=remaining).done:
        raise DeadlineExceeded(f"{what} did not end before the request's deadline")
    return future.result()
