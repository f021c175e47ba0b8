"""Caches of Mojang's answers: a small in-memory TTL cache with single-flight loading, shared by
the threads of one process, and behind it, when configured, a cache shared by every container.

Mojang sends no cache headers and rate-limits per IP, so the adapter keeps decoded answers for a
while (names change rarely) and makes concurrent callers for the same key share one request
instead of each sending their own (the way XSeries de-duplicates concurrent requests).
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TypeVar, cast

from pydantic import BaseModel

from mojang_chat.core.observability import count
from mojang_chat.mojang.shared import SharedState, SharedStateUnavailable, epoch

T = TypeVar("T")


@dataclass(frozen=True)
class _Entry:
    expires_at: float
    value: object


class _Flight:
    """One load in progress; callers that arrive meanwhile wait for its outcome."""

    def __init__(self) -> None:
        self.done = threading.Event()
        self.value: object = None
        self.error: BaseException | None = None


class TTLCache:
    """Thread-safe, bounded, per-process cache of loaded values.

    A value of ``None`` means "looked up and not found" and lives for ``negative_ttl`` (shorter,
    so a newly registered or renamed player shows up soon); any other value lives for ``ttl``.
    A TTL of 0 disables storing that kind of value (single-flight still applies). When
    ``max_entries`` is reached the oldest stored entry is evicted. Exceptions raised by a loader
    are never stored: the next caller loads again.

    ``hits``, ``misses`` and ``coalesced`` (callers that waited for another caller's load) are
    counted here and reported as the metrics ``<name>Hits``, ``<name>Misses`` and
    ``<name>Coalesced``. Keys are compared exactly: callers normalise them (e.g. lower-case names).
    """

    def __init__(
        self,
        *,
        ttl: float = 3600.0,
        negative_ttl: float = 120.0,
        max_entries: int = 4096,
        clock: Callable[[], float] = time.monotonic,
        name: str = "Cache",
    ) -> None:
        if max_entries < 1:
            raise ValueError("max_entries must be at least 1")
        if ttl < 0 or negative_ttl < 0:
            raise ValueError("TTLs must not be negative")
        self.ttl = ttl
        self.negative_ttl = negative_ttl
        self.max_entries = max_entries
        self.name = name
        self.hits = 0
        self.misses = 0
        self.coalesced = 0
        self._clock = clock
        self._lock = threading.Lock()
        self._entries: OrderedDict[str, _Entry] = OrderedDict()
        self._flights: dict[str, _Flight] = {}

    def __len__(self) -> int:
        with self._lock:
            self._purge_expired()
            return len(self._entries)

    def get(self, key: str) -> tuple[bool, object]:
        """``(True, value)`` for a fresh entry (the value may be ``None``: a cached "not found"),
        else ``(False, None)``. Counts a hit or a miss."""
        with self._lock:
            entry = self._fresh(key)
            if entry is None:
                self._record_miss()
                return False, None
            self._record_hit()
            return True, entry.value

    def put(self, key: str, value: object) -> None:
        """Store ``value`` (``None`` for "not found") under ``key`` with the matching TTL."""
        with self._lock:
            self._store(key, value)

    def clear(self) -> None:
        """Forget every entry (loads in progress still complete for their waiting callers)."""
        with self._lock:
            self._entries.clear()

    def get_or_load(self, key: str, loader: Callable[[], T], *, wait: float | None = None) -> T:
        """The cached value for ``key``, or ``loader()``'s result, stored and returned.

        If another thread is already loading ``key``, wait (at most ``wait`` seconds, then
        ``TimeoutError``) for its outcome instead of loading again: its value is returned, its
        exception re-raised. ``loader`` runs outside the lock, so slow loads of other keys do not
        block each other.
        """
        with self._lock:
            entry = self._fresh(key)
            if entry is not None:
                self._record_hit()
                return cast(T, entry.value)
            flight = self._flights.get(key)
            leader = flight is None
            if flight is None:
                flight = self._flights[key] = _Flight()
                self._record_miss()
            else:
                self.coalesced += 1
                count(f"{self.name}Coalesced")

        if not leader:
            if not flight.done.wait(wait):
                raise TimeoutError("gave up waiting for a concurrent lookup of the same key")
            if flight.error is not None:
                raise flight.error
            return cast(T, flight.value)

        try:
            value = loader()
        except BaseException as error:
            # Shared with the callers already waiting on this load, never stored.
            flight.error = error
            raise
        else:
            flight.value = value
            return value
        finally:
            with self._lock:
                if flight.error is None:
                    # Stored before the flight is dropped, so no caller falls between the two.
                    self._store(key, flight.value)
                self._flights.pop(key, None)
            flight.done.set()

    def get_or_load_many(
        self,
        keys: Sequence[str],
        loader: Callable[[list[str]], Mapping[str, object]],
        *,
        wait: float | None = None,
    ) -> dict[str, object]:
        """``get_or_load`` for many keys with one loader call: ``loader(missing)`` gets the keys
        that are neither cached nor being loaded by another caller, and returns a value or an
        exception for each. Keys another caller is loading are waited for (at most ``wait``
        seconds in all) rather than loaded again, so that two bulk lookups sharing names send
        each shared name once. Returns each distinct key's value or exception (exceptions,
        and keys the loader left out, are never stored)."""
        results: dict[str, object] = {}
        owned: dict[str, _Flight] = {}
        waiting: dict[str, _Flight] = {}
        with self._lock:
            for key in dict.fromkeys(keys):
                entry = self._fresh(key)
                if entry is not None:
                    self._record_hit()
                    results[key] = entry.value
                elif (flight := self._flights.get(key)) is not None:
                    self.coalesced += 1
                    count(f"{self.name}Coalesced")
                    waiting[key] = flight
                else:
                    self._record_miss()
                    owned[key] = self._flights[key] = _Flight()

        if owned:
            loaded: Mapping[str, object] = {}
            failure: BaseException | None = None
            try:
                loaded = loader(list(owned))
            except BaseException as error:
                failure = error
                raise
            finally:
                with self._lock:
                    for key, flight in owned.items():
                        if failure is not None or key not in loaded:
                            flight.error = failure or LookupError(f"no answer for {key!r}")
                        elif isinstance(loaded[key], BaseException):
                            flight.error = cast(BaseException, loaded[key])
                        else:
                            flight.value = loaded[key]
                            self._store(key, flight.value)
                        self._flights.pop(key, None)
                        results[key] = flight.error or flight.value
                for flight in owned.values():
                    flight.done.set()

        deadline = None if wait is None else time.monotonic() + wait
        for key, flight in waiting.items():
            left = None if deadline is None else max(deadline - time.monotonic(), 0.0)
            if not flight.done.wait(left):
                results[key] = TimeoutError("gave up waiting for a concurrent lookup")
            else:
                results[key] = flight.error or flight.value
        return results

    def _fresh(self, key: str) -> _Entry | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        if entry.expires_at <= self._clock():
            del self._entries[key]
            return None
        return entry

    def _store(self, key: str, value: object) -> None:
        ttl = self.negative_ttl if value is None else self.ttl
        if ttl <= 0:
            return
        self._entries.pop(key, None)
        self._entries[key] = _Entry(self._clock() + ttl, value)
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)

    def _purge_expired(self) -> None:
        now = self._clock()
        for key in [key for key, entry in self._entries.items() if entry.expires_at <= now]:
            del self._entries[key]

    def _record_hit(self) -> None:
        self.hits += 1
        count(f"{self.name}Hits")

    def _record_miss(self) -> None:
        self.misses += 1
        count(f"{self.name}Misses")


class SharedCache:
    """Read-through over the state every container shares (``mojang.shared``), behind each
    container's ``TTLCache``: an answer one container got from Mojang serves them all.

    Answers (``None``: "not found") are kept ``ttl`` / ``negative_ttl`` seconds, as in memory;
    exceptions are never stored. A container that finds no answer takes a short lease on the key
    (``lease_seconds``) before asking Mojang; one that finds the lease taken polls for the
    holder's answer until the lease could have ended, then asks Mojang itself (the holder may
    have failed). DynamoDB unavailable: the loader is called directly.
    """

    def __init__(
        self,
        state: SharedState,
        *,
        ttl: float,
        negative_ttl: float,
        lease_seconds: float,
        clock: Callable[[], float] = epoch,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.state = state
        self.ttl = ttl
        self.negative_ttl = negative_ttl
        self.lease_seconds = lease_seconds
        self._clock = clock
        self._sleep = sleep

    def get_or_load(
        self, key: str, loader: Callable[[], T], decode: Callable[[str], T], wait: float | None
    ) -> T:
        """The shared answer for ``key``, or ``loader()``'s, stored for every container.
        ``decode`` turns a stored JSON text back into a value; ``TimeoutError`` after ``wait``
        seconds spent waiting for another container's answer."""
        loaded = self.get_or_load_many(
            [key], lambda keys: {key: _outcome(loader)}, decode, wait=wait
        )
        result = loaded[key]
        if isinstance(result, BaseException):
            raise result
        return cast(T, result)

    def get_or_load_many(
        self,
        keys: Sequence[str],
        loader: Callable[[list[str]], Mapping[str, object]],
        decode: Callable[[str], object],
        *,
        wait: float | None,
    ) -> dict[str, object]:
        """``get_or_load`` for many keys: one read for all, a lease per missing key, one
        ``loader`` call for the keys leased, a poll for the others. Returns each key's value
        or exception (as ``TTLCache.get_or_load_many``)."""
        results: dict[str, object] = {}
        wanted = list(dict.fromkeys(keys))
        try:
            stored = self.state.read(wanted, self._clock())
        except SharedStateUnavailable:
            return self._load(wanted, loader, share=False)
        for key, text in stored.items():
            results[key] = decode(text)
        missing = [key for key in wanted if key not in stored]
        count("MojangSharedHits", len(stored))
        if not missing:
            return results
        try:
            now = self._clock()
            owned = [k for k in missing if self.state.lease(k, now, now + self.lease_seconds)]
        except SharedStateUnavailable:
            results.update(self._load(missing, loader, share=False))
            return results
        if owned:
            results.update(self._load(owned, loader, share=True))
        others = [key for key in missing if key not in owned]
        if others:
            results.update(self._wait_for(others, loader, decode, wait))
        return results

    def _wait_for(
        self,
        keys: list[str],
        loader: Callable[[list[str]], Mapping[str, object]],
        decode: Callable[[str], object],
        wait: float | None,
    ) -> dict[str, object]:
        """Poll for the answers other containers are loading; load what has not come once
        their leases could have ended."""
        results: dict[str, object] = {}
        # Waiting ends when the holders' leases could have ended, or earlier at the deadline.
        by_deadline = wait is not None and wait < self.lease_seconds
        gives_up = self._clock() + (
            wait if wait is not None and by_deadline else self.lease_seconds
        )
        delay = _FIRST_POLL_SECONDS
        pending = list(keys)
        while pending and self._clock() + delay < gives_up:
            self._sleep(delay)
            delay = min(delay * 2, _MAX_POLL_SECONDS)
            try:
                stored = self.state.read(pending, self._clock())
            except SharedStateUnavailable:
                break
            for key, text in stored.items():
                results[key] = decode(text)
                count("MojangSharedCoalesced")
            pending = [key for key in pending if key not in stored]
        if not pending:
            return results
        if by_deadline:
            results.update(
                {key: TimeoutError("gave up waiting for a concurrent lookup") for key in pending}
            )
            return results
        results.update(self._load(pending, loader, share=True))
        return results

    def _load(
        self, keys: list[str], loader: Callable[[list[str]], Mapping[str, object]], *, share: bool
    ) -> dict[str, object]:
        loaded = loader(keys)
        results: dict[str, object] = {}
        for key in keys:
            if key not in loaded:
                results[key] = LookupError(f"no answer for {key!r}")
                continue
            value = results[key] = loaded[key]
            if share and not isinstance(value, BaseException):
                self._store(key, value)
        return results

    def _store(self, key: str, value: object) -> None:
        ttl = self.negative_ttl if value is None else self.ttl
        if ttl <= 0:
            return
        text = "null" if value is None else cast(BaseModel, value).model_dump_json()
        # Unavailable: kept in this container's memory only (the adapter logged why).
        with contextlib.suppress(SharedStateUnavailable):
            self.state.write(key, text, self._clock() + ttl)


# The first poll for another container's answer comes soon (a Mojang lookup takes ~100 ms);
# later ones back off, so that a slow holder costs few reads.
_FIRST_POLL_SECONDS = 0.05
_MAX_POLL_SECONDS = 0.4


def _outcome(loader: Callable[[], object]) -> object:
    """``loader()``'s value, or the ``Exception`` it raised (as a value)."""
    try:
        return loader()
    except Exception as error:
        return error
