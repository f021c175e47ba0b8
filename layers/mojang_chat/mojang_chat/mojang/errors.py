"""The Mojang adapter's exceptions: every failure of the adapter is a ``MojangError``.

Error contract: a name or UUID that fails validation raises ``InvalidInputError`` before any URL
is built. Every upstream failure (403 WAF page, 429, 5xx, timeout, connection error, malformed or
oversized body) is retried at most ``max_retries`` times and then raises ``UpstreamError``. Running
out of request deadline also raises ``UpstreamError`` (never ``DeadlineExceeded``): to the tool
layer it is one more way the Mojang call failed, so every failure of this adapter is a
``MojangError`` the model can read, while the chat loop keeps owning the request deadline.
Neither outcome is ever cached; only answers (a result, or "not found") are.
"""

from __future__ import annotations

import math


class MojangError(Exception):
    """Base of every error the Mojang adapter raises."""


class InvalidInputError(MojangError, ValueError):
    """A name or UUID that is not valid; the message says why, in words a model can act on."""


class UpstreamError(MojangError):
    """Mojang did not answer usably (after bounded retries); transient, never cached."""

    def __init__(self, reason: str, status: int | None = None) -> None:
        super().__init__(f"Mojang API unavailable: {reason}")
        self.reason = reason
        self.status = status


class RateLimitedError(UpstreamError):
    """The deployment's own limit on Mojang requests (``MOJANG_MAX_REQUESTS_PER_MINUTE``, or a
    pause after Mojang answered 429) leaves no room before the deadline: the model is told when
    to try again. Transient, never cached."""

    def __init__(self, retry_after: float) -> None:
        self.retry_after = max(math.ceil(retry_after), 1)
        super().__init__(
            f"Mojang's rate limit was reached: try again in {self.retry_after} seconds", 429
        )
