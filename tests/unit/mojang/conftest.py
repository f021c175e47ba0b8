"""Fixtures of the Mojang adapter's tests: mocked HTTP, a fake clock, the back-off sleeps, a
cache and a client over them."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import responses

from mojang_chat.mojang import MojangClient, TTLCache
from tests.helpers import FakeClock
from tests.unit.mojang.helpers import make_client


@pytest.fixture
def mocked() -> Iterator[responses.RequestsMock]:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        yield rsps


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def slept() -> list[float]:
    return []


@pytest.fixture
def cache(clock: FakeClock) -> TTLCache:
    return TTLCache(ttl=3600, negative_ttl=120, max_entries=100, clock=clock)


@pytest.fixture
def client(slept: list[float], cache: TTLCache) -> MojangClient:
    return make_client(slept, cache)
