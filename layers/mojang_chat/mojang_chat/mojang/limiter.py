"""A limit on the Mojang requests of all containers together: never more than
``MOJANG_MAX_REQUESTS_PER_MINUTE`` in any 60 s window, and a pause for everyone after a 429.

The limit is a ring of that many slots in the shared state: each request takes one slot, and a
slot is taken at most once per window, so any window holds at most one request per slot. A
shared ticket counter hands the slots out in turn, so a request tries the slot that was used
longest ago instead of probing at random. A request whose slot (or the pause) frees only after
its deadline is not sent: ``RateLimitedError`` tells the model when to try again.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable

from mojang_chat.core.deadline import Deadline
from mojang_chat.core.observability import count, logger
from mojang_chat.mojang.errors import RateLimitedError
from mojang_chat.mojang.shared import SharedState, SharedStateUnavailable, epoch

WINDOW_SECONDS = 60.0
# A slot frees this much after the window: the time between taking a slot and the request
# reaching Mojang, and the clock differences between containers, must not let two requests of
# one slot land inside one window at Mojang's end.
WINDOW_MARGIN_SECONDS = 1.0
MIN_WAIT_SECONDS = 0.05


class RateLimiter:
    """``acquire`` before each request sent to Mojang; ``rate_limited`` when Mojang answers 429.

    ``per_minute`` 0 switches the limit off (the 429 pause still applies). ``pause_seconds`` is
    how long everyone waits after a 429 that names no ``Retry-After``.
    """

    def __init__(
        self,
        state: SharedState,
        *,
        per_minute: int,
        pause_seconds: float,
        clock: Callable[[], float] = epoch,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.state = state
        self.per_minute = per_minute
        self.pause_seconds = pause_seconds
        self._clock = clock
        self._sleep = sleep

    def acquire(self, deadline: Deadline | None) -> None:
        """Return once a request may be sent, having waited for a free slot (or the end of a
        shared pause) if need be; ``RateLimitedError`` when that wait would outlast
        ``deadline``. Unknown state (DynamoDB unavailable) lets the request go: the quota is
        Mojang's to enforce, and an answer is worth more than a perfect count."""
        try:
            ticket, pause = self.state.next_ticket()
            self._wait(pause - self._clock(), deadline)
            if self.per_minute <= 0:
                return
            slot = ticket % self.per_minute
            while True:
                now = self._clock()
                last = self.state.take_slot(slot, now, now - WINDOW_SECONDS - WINDOW_MARGIN_SECONDS)
                if last is None:
                    return
                count("MojangRateLimitWaits")
                # At least a moment: a slot another container took with a clock ahead of ours
                # must not make this loop spin on DynamoDB.
                free_in = last + WINDOW_SECONDS + WINDOW_MARGIN_SECONDS - now
                self._wait(max(free_in, MIN_WAIT_SECONDS), deadline)
        except SharedStateUnavailable:
            logger.warning("Mojang limiter unavailable: the request is sent unlimited")

    def rate_limited(self, retry_after: float | None) -> None:
        """Mojang answered 429: every container pauses for ``retry_after`` seconds, or
        ``pause_seconds`` when Mojang did not say."""
        pause = self.pause_seconds if retry_after is None else retry_after
        # Unavailable: this container still backs off (the transport's retry delay).
        with contextlib.suppress(SharedStateUnavailable):
            self.state.pause_until(self._clock() + pause)

    def _wait(self, seconds: float, deadline: Deadline | None) -> None:
        if seconds <= 0:
            return
        if deadline is not None and seconds >= deadline.remaining():
            count("MojangRateLimited")
            raise RateLimitedError(seconds)
        self._sleep(seconds)
