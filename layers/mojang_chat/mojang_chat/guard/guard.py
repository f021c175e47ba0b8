"""The cost guard's policy: who may start model work, and how the tokens it used are counted.

Three budgets, each off at 0: requests per minute of one client, tokens per day of one client,
tokens per day of the whole deployment. A request that starts model work (``POST /chat``,
creating a run) is admitted or refused before anything else happens (``Guard.admit``); every
model call is checked before it is made and its tokens counted after (``Guard.metered``).
Reads (polls, lists, docs) never come here.

Windows are fixed and in UTC: a minute, and a day that resets at midnight. A client is the
address API Gateway saw (``requestContext.http.sourceIp``), never a header a caller can write.
"""

from __future__ import annotations

import ipaddress
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from mojang_chat.chat.model import CallOptions, ChatModel, ModelTurn
from mojang_chat.core.deadline import Deadline
from mojang_chat.core.observability import count, logger
from mojang_chat.guard.counters import Counters
from mojang_chat.guard.errors import (
    CLIENT_TOKENS_REACHED,
    REQUESTS_PER_MINUTE_REACHED,
    TOKENS_PER_DAY_REACHED,
    BudgetExhausted,
    ClientLimited,
)

MINUTE_SECONDS = 60
DAY_SECONDS = 86400
# The client of a request without a source address (a direct invocation, the command line).
UNKNOWN_CLIENT = "unknown"
# An IPv6 subscriber gets a whole /64 (often more): its addresses count as one client.
IPV6_CLIENT_PREFIX = 64


@dataclass(frozen=True)
class Budgets:
    """The guard's limits; 0 switches one off."""

    client_requests_per_minute: int
    client_tokens_per_day: int
    tokens_per_day: int


def client_key(source_ip: str | None) -> str:
    """The client a request counts against: its IPv4 address, or its IPv6 address's /64."""
    if not source_ip:
        return UNKNOWN_CLIENT
    try:
        # An interface, not an address: sample events write "192.168.0.1/32".
        address = ipaddress.ip_interface(source_ip).ip
    except ValueError:
        return UNKNOWN_CLIENT
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.ip_network(f"{address}/{IPV6_CLIENT_PREFIX}", strict=False))
    return str(address)


class Guard:
    """Admits or refuses model work against the budgets, over shared counters."""

    def __init__(
        self, counters: Counters, budgets: Budgets, clock: Callable[[], float] = time.time
    ) -> None:
        self._counters = counters
        self.budgets = budgets
        self._clock = clock

    def admit(self, client: str) -> None:
        """A request that starts model work: refused (``BudgetExhausted``, ``ClientLimited``)
        when a budget is spent or the client's minute is full, else counted in that minute."""
        self.check_tokens(client)
        limit = self.budgets.client_requests_per_minute
        if not limit:
            return
        now = self._clock()
        ends = _window_end(now, MINUTE_SECONDS)
        key = f"client-requests#{client}#{ends}"
        if not self._counters.add(key, 1, expires_at=ends, limit=limit):
            _refused("requests_per_minute")
            message = REQUESTS_PER_MINUTE_REACHED.format(limit=limit)
            raise ClientLimited(message, _seconds_until(ends, now), unit="requests")

    def check_tokens(self, client: str) -> None:
        """Before a model call: refused when the deployment's or the client's tokens for
        today are spent."""
        now = self._clock()
        ends = _window_end(now, DAY_SECONDS)
        deployment = self.budgets.tokens_per_day
        if deployment and not self._counters.add(
            f"tokens#{ends}", 0, expires_at=ends, limit=deployment
        ):
            _refused("tokens_per_day")
            raise BudgetExhausted(TOKENS_PER_DAY_REACHED, _seconds_until(ends, now))
        limit = self.budgets.client_tokens_per_day
        if limit and not self._counters.add(
            f"client-tokens#{client}#{ends}", 0, expires_at=ends, limit=limit
        ):
            _refused("client_tokens_per_day")
            message = CLIENT_TOKENS_REACHED.format(limit=limit)
            raise ClientLimited(message, _seconds_until(ends, now), unit="tokens")

    def count_tokens(self, client: str, tokens: int) -> None:
        """After a model call: its tokens count against today's budgets (never refused: they
        are spent already)."""
        if tokens <= 0:
            return
        ends = _window_end(self._clock(), DAY_SECONDS)
        if self.budgets.tokens_per_day:
            self._counters.add(f"tokens#{ends}", tokens, expires_at=ends)
        if self.budgets.client_tokens_per_day:
            self._counters.add(f"client-tokens#{client}#{ends}", tokens, expires_at=ends)

    def metered(self, model: ChatModel, client: str) -> ChatModel:
        """``model`` with each call checked before and its tokens counted after."""
        return MeteredModel(model, self, client)


class MeteredModel:
    """A model whose calls go through the guard (see ``Guard.metered``)."""

    def __init__(self, model: ChatModel, guard: Guard, client: str) -> None:
        self._model = model
        self._guard = guard
        self._client = client
        self.name = model.name

    def complete(
        self,
        messages: Sequence[dict[str, Any]],
        tools: Sequence[dict[str, Any]],
        deadline: Deadline,
        options: CallOptions | None = None,
    ) -> ModelTurn:
        """One call of the wrapped model, if the budgets allow it."""
        self._guard.check_tokens(self._client)
        turn = self._model.complete(messages, tools, deadline, options)
        self._guard.count_tokens(self._client, turn.usage.total_tokens)
        return turn


def _window_end(now: float, length: int) -> int:
    """The end of the fixed window of ``length`` seconds that ``now`` is in (epoch seconds:
    days end at midnight UTC); it also names the window in the counters' keys."""
    return (int(now) // length + 1) * length


def _seconds_until(ends: int, now: float) -> int:
    """A ``Retry-After`` value: whole seconds until ``ends``, at least 1."""
    return max(1, math.ceil(ends - now))


def _refused(budget: str) -> None:
    # Which budget refused, never who: the address is in API Gateway's access log already.
    logger.warning("cost guard refused a request", extra={"budget": budget})
    count("GuardRefusals")
