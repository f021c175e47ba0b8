"""What the cost guard refuses with: a client over one of its limits, or the deployment over its
daily budget. Each says how long until the window that refused it frees (``retry_after``)."""

from __future__ import annotations

# The messages callers read (one definition: the guard raises them, the docs quote them).
REQUESTS_PER_MINUTE_REACHED = "too many questions from this address: at most {limit} a minute"
CLIENT_TOKENS_REACHED = "this address has used its model budget for today ({limit} tokens)"
TOKENS_PER_DAY_REACHED = "the service has used its model budget for today; try again tomorrow"
COUNTERS_UNAVAILABLE = "the service's usage counters could not be reached; try again shortly"


class GuardRefused(Exception):
    """The guard refused model work; ``retry_after`` is whole seconds until it would admit it."""

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class ClientLimited(GuardRefused):
    """One client (an address) is over its requests per minute or its tokens per day."""

    def __init__(self, message: str, retry_after: int, *, unit: str) -> None:
        super().__init__(message, retry_after)
        # What ran out, in OpenAI's words for a rate limit's type: "requests" or "tokens".
        self.unit = unit


class CountersUnavailable(Exception):
    """The guard's counters could not be read or written: model work is refused (closed, never
    open), and the caller is told the service is unavailable, not that it broke."""


class BudgetExhausted(GuardRefused):
    """The whole deployment has used its tokens for the day (UTC)."""
