"""The Mojang client: single and bulk lookups of names, UUIDs and profiles, validated before any
URL is built, answered from the cache where it can, and sent over the retrying ``Transport``.
Follows ``reference/mojang-api.md`` to the letter; ``errors`` states what each failure raises.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar, cast
from urllib.parse import quote

from pydantic import BaseModel

from mojang_chat.core.deadline import Deadline
from mojang_chat.core.observability import count
from mojang_chat.core.settings import Settings
from mojang_chat.mojang.cache import SharedCache, TTLCache
from mojang_chat.mojang.decoding import (
    NOT_A_NAME,
    decode_player_id,
    decode_player_ids,
    decode_profile,
)
from mojang_chat.mojang.errors import InvalidInputError, MojangError, UpstreamError
from mojang_chat.mojang.identity import normalize_name, normalize_uuid, shown, uuid_version
from mojang_chat.mojang.limiter import RateLimiter
from mojang_chat.mojang.players import (
    BulkLookup,
    NameProblem,
    OfflinePlayer,
    PlayerId,
    PlayerProfile,
)
from mojang_chat.mojang.shared import MemorySharedState, SharedState
from mojang_chat.mojang.transport import MojangRequest, Rejected, Transport

T = TypeVar("T")

BULK_CHUNK_SIZE = 10  # Mojang's cap per bulk request (it was 100 until 2023)
MAX_BULK_NAMES = 100  # per call: more would be 10+ requests against a tight per-IP rate limit
MAX_BULK_WORKERS = 4  # concurrent chunk requests; bursts of ~50 requests trip the 429 limit

# Mojang's current lookup routes (reference/mojang-api.md), all on MINECRAFT_SERVICES_URL: the
# older api.mojang.com/users/profiles/minecraft routes get "strict, randomized rate limiting".
NAME_PATH = "/minecraft/profile/lookup/name/"
BULK_PATH = "/minecraft/profile/lookup/bulk/byname"
UUID_PATH = "/minecraft/profile/lookup/"
PROFILE_PATH = "/session/minecraft/profile/"


class MojangClient:
    """The lookups of Mojang's two hosts (the services API, the session server), over one
    ``Transport``.

    ``cache=None`` disables caching and single-flight (every call goes upstream); ``shared``,
    when given, is read through behind ``cache`` (the answers every container shares).
    """

    def __init__(
        self,
        transport: Transport,
        *,
        session_url: str,
        services_url: str,
        cache: TTLCache | None = None,
        shared: SharedCache | None = None,
    ) -> None:
        self.transport = transport
        self.session_url = session_url.rstrip("/")
        self.services_url = services_url.rstrip("/")
        self.cache = cache
        self.shared = shared

    @classmethod
    def from_settings(cls, settings: Settings, shared: SharedState | None = None) -> MojangClient:
        """A client configured from ``settings``, with its own transport and cache. ``shared``
        (every container's state, ``MOJANG_CACHE_TABLE_NAME``) adds the shared cache and makes
        the limiter count every container's requests; without it the limiter counts this
        process's."""
        limiter = RateLimiter(
            shared if shared is not None else MemorySharedState(),
            per_minute=settings.mojang_max_requests_per_minute,
            pause_seconds=settings.mojang_rate_limit_pause_seconds,
        )
        shared_cache = None
        if shared is not None:
            shared_cache = SharedCache(
                shared,
                ttl=settings.mojang_cache_ttl_seconds,
                negative_ttl=settings.mojang_negative_cache_ttl_seconds,
                lease_seconds=settings.mojang_cache_lease_seconds,
            )
        cache = TTLCache(
            ttl=settings.mojang_cache_ttl_seconds,
            negative_ttl=settings.mojang_negative_cache_ttl_seconds,
            max_entries=settings.mojang_cache_max_entries,
            name="MojangCache",
        )
        return cls(
            Transport.from_settings(settings, concurrency=MAX_BULK_WORKERS, limiter=limiter),
            session_url=str(settings.mojang_session_url),
            services_url=str(settings.minecraft_services_url),
            cache=cache,
            shared=shared_cache,
        )

    def close(self) -> None:
        """Close the pooled connections."""
        self.transport.close()

    # -- public lookups -----------------------------------------------------------------------

    def uuid_for_name(self, name: str, *, deadline: Deadline | None = None) -> PlayerId | None:
        """The account currently named ``name`` (case-insensitive), or None if there is none.
        Raises ``InvalidInputError`` (bad name, or Mojang rejected it) or ``UpstreamError``."""
        valid = normalize_name(name)
        return self._cached(
            _name_key(valid), lambda: self._fetch_uuid_for_name(valid, deadline), PlayerId, deadline
        )

    def uuids_for_names(
        self, names: Sequence[str], *, deadline: Deadline | None = None
    ) -> BulkLookup:
        """Look up many names at once: 10 per request, requests sent concurrently, cached names
        not sent again. One entry per distinct name (case-insensitive) lands in exactly one of
        ``found``, ``not_found``, ``invalid`` (never sent) or ``failed`` (Mojang unavailable for
        its chunk); one bad name or one failed chunk never fails the rest."""
        if isinstance(names, str):
            raise InvalidInputError("expected a list of usernames, not a single string")

        order, spelling, invalid = _distinct_names(names)
        if len(order) > MAX_BULK_NAMES:
            raise InvalidInputError(
                f"too many usernames ({len(order)}): look up at most {MAX_BULK_NAMES} at a time"
            )

        answers: dict[str, PlayerId | None] = {}
        failures: dict[str, str] = {}
        to_send = [key for key in order if key not in invalid]
        outcome: Mapping[str, object]
        if self.cache is None:
            outcome = self._bulk(to_send, spelling, deadline)
        else:
            # Single-flight per name: a name that a concurrent lookup (bulk or single) is
            # already fetching is waited for, not sent again.
            def load(keys: list[str]) -> dict[str, object]:
                return {
                    _name_key(key): result
                    for key, result in self._bulk(
                        [key.removeprefix("name:") for key in keys], spelling, deadline
                    ).items()
                }

            def through_shared(keys: list[str]) -> Mapping[str, object]:
                if self.shared is None:
                    return load(keys)
                wait = deadline.remaining() if deadline is not None else None
                return self.shared.get_or_load_many(keys, load, _decoder(PlayerId), wait=wait)

            loaded = self.cache.get_or_load_many(
                [_name_key(key) for key in to_send],
                through_shared,
                wait=deadline.remaining() if deadline is not None else None,
            )
            outcome = {key.removeprefix("name:"): result for key, result in loaded.items()}
        for key, result in outcome.items():
            if isinstance(result, PlayerId) or result is None:
                answers[key] = result
            elif isinstance(result, InvalidInputError):
                invalid[key] = str(result)
            elif isinstance(result, MojangError):
                failures[key] = str(result)
            elif isinstance(result, TimeoutError):  # gave up waiting for a concurrent lookup
                failures[key] = str(UpstreamError("timed out"))
            else:  # the lookup gave no answer for the name
                failures[key] = str(UpstreamError("no answer for this name"))

        return BulkLookup(
            found=[answer for key in order if (answer := answers.get(key)) is not None],
            not_found=[spelling[key] for key in order if key in answers and answers[key] is None],
            invalid=[
                NameProblem(name=spelling[key], error=invalid[key])
                for key in order
                if key in invalid
            ],
            failed=[
                NameProblem(name=spelling[key], error=failures[key])
                for key in order
                if key in failures
            ],
        )

    def name_for_uuid(
        self, uuid: str, *, deadline: Deadline | None = None
    ) -> PlayerId | OfflinePlayer | None:
        """The account with this UUID (dashed or not), or None if there is none. An offline-mode
        (version 3) UUID is answered locally as ``OfflinePlayer``, without a request."""
        url = f"{self.services_url}{UUID_PATH}"
        return self._by_uuid(uuid, url, "name_for_uuid", decode_player_id, PlayerId, deadline)

    def profile(
        self, uuid: str, *, deadline: Deadline | None = None
    ) -> PlayerProfile | OfflinePlayer | None:
        """The account's name, skin (URL and slim/classic model; the UUID's default skin when it
        has none) and cape, or None if there is no such account. Version 3 UUIDs: as
        ``name_for_uuid``."""
        url = f"{self.session_url}{PROFILE_PATH}"
        return self._by_uuid(uuid, url, "profile", decode_profile, PlayerProfile, deadline)

    # -- internals ----------------------------------------------------------------------------

    def _by_uuid(
        self,
        uuid: str,
        url_prefix: str,
        endpoint: str,
        decode: Callable[[Any], T],
        stored_as: type[BaseModel],
        deadline: Deadline | None,
    ) -> T | OfflinePlayer | None:
        valid = normalize_uuid(uuid)
        if uuid_version(valid) == 3:
            return OfflinePlayer(id=valid)  # never a Mojang account: no request
        request = MojangRequest("GET", url_prefix + quote(valid, safe=""), endpoint, decode)
        return self._cached(
            f"{endpoint}:{valid}",
            lambda: self._lookup_uuid(request, valid, deadline),
            stored_as,
            deadline,
        )

    def _cached(
        self,
        key: str,
        loader: Callable[[], T],
        stored_as: type[BaseModel],
        deadline: Deadline | None,
    ) -> T:
        """``loader()``'s answer through the memory cache and, behind it, the shared one
        (where answers are stored as ``stored_as`` JSON)."""
        if self.cache is None:
            return loader()
        wait = deadline.remaining() if deadline is not None else None
        shared = self.shared
        load = loader
        if shared is not None:
            decode = cast(Callable[[str], T], _decoder(stored_as))

            def load() -> T:
                left = deadline.remaining() if deadline is not None else None
                return shared.get_or_load(key, loader, decode, wait=left)

        try:
            return self.cache.get_or_load(key, load, wait=wait)
        except TimeoutError as error:
            count("MojangUpstreamErrors")
            raise UpstreamError("timed out") from error

    def _fetch_uuid_for_name(self, name: str, deadline: Deadline | None) -> PlayerId | None:
        url = f"{self.services_url}{NAME_PATH}{quote(name, safe='')}"
        request = MojangRequest("GET", url, "uuid_for_name", decode_player_id)
        answer = self.transport.fetch(request, deadline=deadline)
        if isinstance(answer, Rejected):
            raise InvalidInputError(
                f"{shown(name)} is not a valid Minecraft username: Mojang rejected it "
                f"({answer.message})"
            )
        return answer

    def _lookup_uuid(
        self, request: MojangRequest[T], uuid: str, deadline: Deadline | None
    ) -> T | None:
        answer = self.transport.fetch(request, deadline=deadline)
        if isinstance(answer, Rejected):
            raise InvalidInputError(
                f"{shown(uuid)} is not a valid UUID: Mojang rejected it ({answer.message})"
            )
        return answer

    def _bulk(
        self, keys: list[str], spelling: Mapping[str, str], deadline: Deadline | None
    ) -> dict[str, PlayerId | MojangError | None]:
        """Each lower-cased name -> its answer or error: 10 names per request, the requests
        sent concurrently (at most ``MAX_BULK_WORKERS`` at a time)."""
        chunks = [
            [spelling[key] for key in keys[start : start + BULK_CHUNK_SIZE]]
            for start in range(0, len(keys), BULK_CHUNK_SIZE)
        ]
        if len(chunks) <= 1:
            return self._bulk_chunk(chunks[0], deadline) if chunks else {}
        results: dict[str, PlayerId | MojangError | None] = {}
        with ThreadPoolExecutor(
            max_workers=min(MAX_BULK_WORKERS, len(chunks)), thread_name_prefix="mojang-bulk"
        ) as pool:
            for outcome in pool.map(lambda chunk: self._bulk_chunk(chunk, deadline), chunks):
                results.update(outcome)
        return results

    def _bulk_chunk(
        self, names: list[str], deadline: Deadline | None
    ) -> dict[str, PlayerId | MojangError | None]:
        """Each name of one chunk (lower-cased) -> its answer or its error; never raises
        for an upstream failure, so one chunk cannot fail the others."""
        request = MojangRequest(
            "POST",
            f"{self.services_url}{BULK_PATH}",
            "uuids_for_names",
            decode_player_ids,
            json.dumps(names).encode(),
        )
        try:
            answer = self.transport.fetch(request, deadline=deadline)
        except UpstreamError as error:
            return {name.lower(): error for name in names}
        if isinstance(answer, Rejected) or answer is None:
            # One name Mojang considers invalid fails the whole batch: ask one by one instead.
            return {name.lower(): self._single_for_bulk(name, deadline) for name in names}
        # The answer is in no particular order and in canonical case; absent names do not exist,
        # unless an entry was dropped for an invalid name: any of them may be its name.
        by_name = {player.name.lower(): player for player in answer if player.name is not None}
        unmatched: PlayerId | MojangError | None = None
        if any(player.name is None for player in answer):
            unmatched = UpstreamError(f"an entry of its answer was dropped ({NOT_A_NAME})")
        return {name.lower(): by_name.get(name.lower(), unmatched) for name in names}

    def _single_for_bulk(
        self, name: str, deadline: Deadline | None
    ) -> PlayerId | MojangError | None:
        # Not through the cache: the caller holds this name's flight and stores the answer.
        try:
            return self._fetch_uuid_for_name(name, deadline)
        except MojangError as error:
            return error


def _decoder(model: type[BaseModel]) -> Callable[[str], BaseModel | None]:
    """Reads back an answer the shared cache stored: ``null`` is "not found"."""
    return lambda text: None if text == "null" else model.model_validate_json(text)


def _name_key(name: str) -> str:
    # Names are case-insensitive at Mojang, so "Notch" and "notch" share one entry.
    return f"name:{name.lower()}"


def _distinct_names(names: Sequence[str]) -> tuple[list[str], dict[str, str], dict[str, str]]:
    """The distinct names of a bulk lookup, lower-cased, in order; the spelling each was
    first given in; and why those that are not valid names are not (they are never sent)."""
    order: list[str] = []
    spelling: dict[str, str] = {}
    invalid: dict[str, str] = {}
    for raw in names:
        key = raw.lower() if isinstance(raw, str) else repr(raw)
        if key in spelling:
            continue
        spelling[key] = raw if isinstance(raw, str) else repr(raw)
        order.append(key)
        try:
            normalize_name(raw)
        except InvalidInputError as error:
            invalid[key] = str(error)
    return order, spelling, invalid
