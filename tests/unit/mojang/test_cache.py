"""TTLCache: TTLs, bounds, single-flight, exceptions never stored."""

from __future__ import annotations

import threading
import time

import pytest

from mojang_chat.mojang import TTLCache
from tests.helpers import FakeClock


@pytest.fixture
def clock() -> FakeClock:
    """Not at zero: an entry that kept its TTL instead of its expiry time would expire at once."""
    return FakeClock(1000.0)


@pytest.fixture
def cache(clock: FakeClock) -> TTLCache:
    """Short TTLs and only three entries, so the bounds are reached in a few calls."""
    return TTLCache(ttl=60, negative_ttl=10, max_entries=3, clock=clock)


def test_positive_and_negative_entries_expire_after_their_own_ttl(
    cache: TTLCache, clock: FakeClock
) -> None:
    cache.put("found", "value")
    cache.put("missing", None)

    clock.advance(10)
    assert cache.get("missing") == (False, None)
    assert cache.get("found") == (True, "value")

    clock.advance(50)
    assert cache.get("found") == (False, None)


def test_a_cached_none_is_a_hit_not_a_miss(cache: TTLCache) -> None:
    cache.put("missing", None)

    assert cache.get("missing") == (True, None)
    assert (cache.hits, cache.misses) == (1, 0)


def test_oldest_entry_is_evicted_beyond_max_entries(cache: TTLCache) -> None:
    for key in ("a", "b", "c", "d"):
        cache.put(key, key)

    assert cache.get("a") == (False, None)
    assert [cache.get(key)[1] for key in ("b", "c", "d")] == ["b", "c", "d"]
    assert len(cache) == 3


def test_zero_ttl_stores_nothing(clock: FakeClock) -> None:
    cache = TTLCache(ttl=0, negative_ttl=0, clock=clock)
    cache.put("k", "v")
    cache.put("n", None)

    assert len(cache) == 0


def test_get_or_load_loads_once_then_hits(cache: TTLCache) -> None:
    calls: list[str] = []

    def loader() -> str:
        calls.append("load")
        return "v"

    assert cache.get_or_load("k", loader) == "v"
    assert cache.get_or_load("k", loader) == "v"
    assert calls == ["load"]
    assert (cache.hits, cache.misses) == (1, 1)


def test_exceptions_are_never_cached(cache: TTLCache) -> None:
    outcomes: list[str | Exception] = [RuntimeError("upstream down"), "v"]

    def loader() -> str:
        outcome = outcomes.pop(0)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    with pytest.raises(RuntimeError, match="upstream down"):
        cache.get_or_load("k", loader)
    assert cache.get_or_load("k", loader) == "v"
    assert outcomes == []


def _run_concurrently(cache: TTLCache, loader_result: object) -> tuple[list[object], list[str]]:
    """Two callers of one key while the first one's load is held open."""
    release = threading.Event()
    loads: list[str] = []
    results: list[object] = []

    def loader() -> object:
        loads.append("load")
        release.wait(5)
        if isinstance(loader_result, Exception):
            raise loader_result
        return loader_result

    def call() -> None:
        try:
            results.append(cache.get_or_load("k", loader, wait=5))
        except Exception as error:
            results.append(error)

    first = threading.Thread(target=call)
    first.start()
    while not loads:
        time.sleep(0.001)
    second = threading.Thread(target=call)
    second.start()
    deadline = time.monotonic() + 5
    while cache.coalesced == 0 and time.monotonic() < deadline:
        time.sleep(0.001)
    release.set()
    first.join(5)
    second.join(5)
    return results, loads


def test_concurrent_loads_of_one_key_share_one_load(cache: TTLCache) -> None:
    results, loads = _run_concurrently(cache, "v")

    assert loads == ["load"]
    assert results == ["v", "v"]
    assert cache.coalesced == 1


def test_concurrent_callers_share_the_leaders_exception_and_it_is_not_stored(
    cache: TTLCache,
) -> None:
    error = RuntimeError("rate limited")
    results, loads = _run_concurrently(cache, error)

    assert loads == ["load"]
    assert results == [error, error]
    assert cache.get("k") == (False, None)


def test_a_waiter_gives_up_after_its_wait(cache: TTLCache) -> None:
    started = threading.Event()
    release = threading.Event()

    def slow() -> str:
        started.set()
        release.wait(5)
        return "v"

    leader = threading.Thread(target=lambda: cache.get_or_load("k", slow))
    leader.start()
    started.wait(5)
    try:
        with pytest.raises(TimeoutError):
            cache.get_or_load("k", lambda: "other", wait=0.01)
    finally:
        release.set()
        leader.join(5)
    assert cache.get("k") == (True, "v")


def test_invalid_configuration_is_rejected() -> None:
    with pytest.raises(ValueError, match="max_entries"):
        TTLCache(max_entries=0)
    with pytest.raises(ValueError, match="negative"):
        TTLCache(ttl=-1)


# --- many keys in one load ---------------------------------------------------------------------


def test_many_loads_only_what_is_neither_cached_nor_in_flight(cache: TTLCache) -> None:
    cache.put("a", 1)
    calls: list[list[str]] = []

    def loader(keys: list[str]) -> dict[str, object]:
        calls.append(keys)
        return {key: key.upper() for key in keys}

    assert cache.get_or_load_many(["a", "b", "b", "c"], loader) == {"a": 1, "b": "B", "c": "C"}
    assert calls == [["b", "c"]]  # "a" was cached, "b" asked once
    assert cache.get_or_load_many(["b", "c"], loader) == {"b": "B", "c": "C"}
    assert calls == [["b", "c"]]  # now all cached


def test_overlapping_bulk_loads_send_each_shared_key_once() -> None:
    cache = TTLCache(ttl=60, negative_ttl=10, max_entries=100)
    first_started, release = threading.Event(), threading.Event()
    calls: list[list[str]] = []

    def slow(keys: list[str]) -> dict[str, object]:
        calls.append(keys)
        first_started.set()
        release.wait(5)
        return {key: f"v-{key}" for key in keys}

    results: dict[str, dict[str, object]] = {}
    first = threading.Thread(
        target=lambda: results.update(a=cache.get_or_load_many(["x", "y"], slow))
    )
    first.start()
    assert first_started.wait(5)
    second = threading.Thread(
        target=lambda: results.update(b=cache.get_or_load_many(["y", "z"], slow, wait=5))
    )
    second.start()
    # Let the second caller start waiting on "y" and load "z" itself
    deadline = time.monotonic() + 5
    while len(calls) < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    release.set()
    first.join(5)
    second.join(5)
    assert calls == [["x", "y"], ["z"]]
    assert results["b"] == {"y": "v-y", "z": "v-z"}
    assert cache.coalesced == 1


def test_a_single_lookup_waits_for_a_bulk_load_of_its_key() -> None:
    cache = TTLCache(ttl=60, negative_ttl=10, max_entries=100)
    started, release = threading.Event(), threading.Event()

    def bulk(keys: list[str]) -> dict[str, object]:
        started.set()
        release.wait(5)
        return {key: key * 2 for key in keys}

    thread = threading.Thread(target=lambda: cache.get_or_load_many(["ab", "cd"], bulk))
    thread.start()
    assert started.wait(5)
    single_calls: list[str] = []
    got: list[object] = []

    def single() -> object:
        single_calls.append("cd")
        return "never"

    waiter = threading.Thread(target=lambda: got.append(cache.get_or_load("cd", single, wait=5)))
    waiter.start()
    time.sleep(0.05)
    release.set()
    thread.join(5)
    waiter.join(5)
    assert got == ["cdcd"]
    assert single_calls == []


def test_keys_the_loader_leaves_out_and_errors_are_not_stored(cache: TTLCache) -> None:
    boom = ValueError("upstream failed")

    def loader(keys: list[str]) -> dict[str, object]:
        return {"a": boom}  # nothing for "b"

    results = cache.get_or_load_many(["a", "b"], loader)
    assert results["a"] is boom
    assert isinstance(results["b"], LookupError)
    calls: list[list[str]] = []

    def second(keys: list[str]) -> dict[str, object]:
        calls.append(keys)
        return dict.fromkeys(keys, "ok")

    assert cache.get_or_load_many(["a", "b"], second) == {"a": "ok", "b": "ok"}
    assert calls == [["a", "b"]]  # neither the error nor the gap was cached
