"""The cost guard's policy over in-memory counters: window edges, switches, Retry-After, the
daily reset, and the model wrapper that checks before and counts after each call."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pytest

from mojang_chat.chat.model import ModelTurn
from mojang_chat.chat.types import Usage
from mojang_chat.core.deadline import Deadline
from mojang_chat.guard import (
    DAY_SECONDS,
    BudgetExhausted,
    Budgets,
    ClientLimited,
    Guard,
    MemoryCounters,
    client_key,
)
from tests.helpers import FakeClock

# 2026-03-14 12:00:30 UTC: half a minute into a minute, half a day into a day.
NOON = 20526 * DAY_SECONDS + 12 * 3600 + 30


def new_guard(
    clock: FakeClock, rpm: int = 3, client_tokens: int = 1000, tokens: int = 5000
) -> Guard:
    budgets = Budgets(
        client_requests_per_minute=rpm, client_tokens_per_day=client_tokens, tokens_per_day=tokens
    )
    return Guard(MemoryCounters(clock), budgets, clock)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(NOON)


def test_exactly_the_limit_is_admitted_and_one_more_is_refused(clock: FakeClock) -> None:
    guard = new_guard(clock, rpm=3)
    for _ in range(3):
        guard.admit("203.0.113.7")
    with pytest.raises(ClientLimited) as refused:
        guard.admit("203.0.113.7")
    # Retry-After: the 30 s left of this minute
    assert refused.value.retry_after == 30
    assert refused.value.unit == "requests"
    assert "at most 3 a minute" in str(refused.value)
    # Another client has its own minute
    guard.admit("203.0.113.8")


def test_the_next_minute_admits_again_and_retry_after_counts_down(clock: FakeClock) -> None:
    guard = new_guard(clock, rpm=1)
    guard.admit("c")
    clock.advance(29.2)  # 0.8 s before the minute ends
    with pytest.raises(ClientLimited) as refused:
        guard.admit("c")
    assert refused.value.retry_after == 1  # rounded up, never 0
    clock.advance(0.8)  # the minute's first second
    guard.admit("c")


def test_a_refused_request_is_not_counted(clock: FakeClock) -> None:
    guard = new_guard(clock, rpm=2)
    guard.admit("c")
    guard.admit("c")
    for _ in range(5):
        with pytest.raises(ClientLimited):
            guard.admit("c")
    clock.advance(30)
    guard.admit("c")
    guard.admit("c")  # two again in the new minute: the refusals took nothing from it


def test_a_client_over_its_tokens_is_refused_until_midnight_utc(clock: FakeClock) -> None:
    guard = new_guard(clock, rpm=0, client_tokens=1000)
    guard.admit("c")
    guard.count_tokens("c", 999)
    guard.admit("c")  # 999 < 1000: still admitted
    guard.count_tokens("c", 1)
    with pytest.raises(ClientLimited) as refused:
        guard.admit("c")
    assert refused.value.unit == "tokens"
    assert refused.value.retry_after == 12 * 3600 - 30
    guard.admit("other")
    # The day resets at midnight UTC
    clock.advance(12 * 3600 - 31)
    with pytest.raises(ClientLimited):
        guard.check_tokens("c")
    clock.advance(1)
    guard.check_tokens("c")


def test_the_deployment_budget_refuses_everyone_with_budget_exhausted(clock: FakeClock) -> None:
    guard = new_guard(clock, rpm=0, client_tokens=0, tokens=5000)
    guard.count_tokens("a", 3000)
    guard.count_tokens("b", 2000)
    for client in ("a", "b", "new"):
        with pytest.raises(BudgetExhausted) as refused:
            guard.admit(client)
        assert refused.value.retry_after == 12 * 3600 - 30
    clock.advance(12 * 3600)
    guard.admit("new")


def test_the_budget_is_checked_before_the_client_minute(clock: FakeClock) -> None:
    # A spent budget answers 503 (and counts no request), not the client's 429
    guard = new_guard(clock, rpm=1, tokens=10)
    guard.count_tokens("c", 10)
    with pytest.raises(BudgetExhausted):
        guard.admit("c")
    guard.count_tokens("c", -10)  # nothing: a negative count is ignored
    clock.advance(DAY_SECONDS)
    guard.admit("c")


def test_zero_switches_each_budget_off(clock: FakeClock) -> None:
    guard = new_guard(clock, rpm=0, client_tokens=0, tokens=0)
    for _ in range(1000):
        guard.admit("c")
        guard.count_tokens("c", 10**9)
    guard.check_tokens("c")


class Recorder:
    """A model that records its calls and answers with ``tokens`` tokens."""

    name = "recorder"

    def __init__(self, tokens: int) -> None:
        self.tokens = tokens
        self.calls = 0

    def complete(
        self,
        messages: Sequence[dict[str, Any]],
        tools: Sequence[dict[str, Any]],
        deadline: Any,
        options: Mapping[str, Any] | None = None,
    ) -> ModelTurn:
        self.calls += 1
        usage = Usage(self.tokens - 1, 1, self.tokens)
        return ModelTurn(content="hi", tool_calls=[], finish_reason="stop", model="m", usage=usage)


def test_a_metered_model_counts_each_call_and_is_not_called_once_over(clock: FakeClock) -> None:
    guard = new_guard(clock, rpm=0, client_tokens=1000, tokens=0)
    model = Recorder(tokens=400)
    metered = guard.metered(model, "c")
    for _ in range(3):  # 0, 400, 800 used before each call: all under 1000
        metered.complete([], [], Deadline(5))
    with pytest.raises(ClientLimited):
        metered.complete([], [], Deadline(5))
    assert model.calls == 3
    # The same client's requests are refused too; another client's are not
    with pytest.raises(ClientLimited):
        guard.admit("c")
    guard.metered(model, "d").complete([], [], Deadline(5))
    assert model.calls == 4


@pytest.mark.parametrize(
    ("source_ip", "client"),
    [
        ("203.0.113.7", "203.0.113.7"),
        ("2001:db8:1:2:3:4:5:6", "2001:db8:1:2::/64"),
        ("2001:db8:1:2:ffff::1", "2001:db8:1:2::/64"),  # the same /64: the same client
        ("::ffff:203.0.113.7", "203.0.113.7"),
        ("192.168.0.1/32", "192.168.0.1"),  # as in API Gateway's sample events
        (None, "unknown"),
        ("", "unknown"),
        ("not an address", "unknown"),
    ],
)
def test_the_client_is_the_address_or_its_ipv6_network(source_ip: str | None, client: str) -> None:
    assert client_key(source_ip) == client
