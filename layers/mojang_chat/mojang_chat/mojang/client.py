"""The Mojang adapter: validated names and UUIDs, HTTP with bounded retries, status mapping,
textures decoding and caching. Follows ``reference/mojang-api.md`` to the letter.

Error contract: a name or UUID that fails validation raises ``InvalidInputError`` before any URL
is built. Every upstream failure (403 WAF page, 429, 5xx, timeout, connection error, malformed or
oversized body) is retried at most ``max_retries`` times and then raises ``UpstreamError``. Running
out of request deadline also raises ``UpstreamError`` (never ``DeadlineExceeded``): to the tool
layer it is one more way the Mojang call failed, so every failure of this module is a
``MojangError`` the model can read, while the chat loop keeps owning the request deadline.
Neither outcome is ever cached; only answers (a result, or "not found") are.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Literal, TypeVar
from urllib.parse import quote

import requests
from pydantic import BaseModel, ConfigDict, computed_field
from requests.adapters import HTTPAdapter
from urllib3.exceptions import ReadTimeoutError

from mojang_chat.core.deadline import Deadline
from mojang_chat.core.observability import count, logger, tracer
from mojang_chat.core.settings import Settings
from mojang_chat.mojang.cache import TTLCache

T = TypeVar("T")

# The lookup API accepts 1..25 characters (legacy accounts are shorter or longer than today's
# 3..16). Nothing but these characters may ever reach a URL path. Matched with re.fullmatch:
# "$" alone would also accept a trailing newline.
NAME_PATTERN = r"^[A-Za-z0-9_]{1,25}$"
_NAME_RE = re.compile(r"[A-Za-z0-9_]{1,25}")
_UNDASHED_RE = re.compile(r"[0-9a-fA-F]{32}")
_DASHED_RE = re.compile(
    r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
)

USER_AGENT = "mojang-chat/0.1"
BULK_CHUNK_SIZE = 10  # Mojang's cap per bulk request (it was 100 until 2023)
MAX_BULK_NAMES = 100  # per call: more would be 10+ requests against a tight per-IP rate limit
MAX_BULK_WORKERS = 4  # concurrent chunk requests; bursts of ~50 requests trip the 429 limit
_MAX_SHOWN_INPUT = 40  # characters of a rejected input echoed back in an error message
_MAX_UPSTREAM_MESSAGE = 200

# Minecraft 1.19.3+ net.minecraft.client.resources.DefaultPlayerSkin.DEFAULT_SKINS: the nine
# skins with the slim model (indices 0..8), then the same nine with the wide model (9..17),
# picked by DEFAULT_SKINS[Math.floorMod(uuid.hashCode(), 18)].
SkinName = Literal["alex", "ari", "efe", "kai", "makena", "noor", "steve", "sunny", "zuri"]
DEFAULT_SKIN_NAMES: tuple[SkinName, ...] = (
    "alex",
    "ari",
    "efe",
    "kai",
    "makena",
    "noor",
    "steve",
    "sunny",
    "zuri",
)

OFFLINE_NOTE = (
    "This is an offline-mode (cracked server) UUID, version 3: it is derived from a player name "
    "by the server itself and belongs to no Mojang account, so Mojang has no name, skin or cape "
    "for it. It was answered locally, without asking Mojang."
)


# -- errors -----------------------------------------------------------------------------------


class MojangError(Exception):
    """Base of every error this module raises."""


class InvalidInputError(MojangError, ValueError):
    """A name or UUID that is not valid; the message says why, in words a model can act on."""


class UpstreamError(MojangError):
    """Mojang did not answer usably (after bounded retries); transient, never cached."""

    def __init__(self, reason: str, status: int | None = None) -> None:
        super().__init__(f"Mojang API unavailable: {reason}")
        self.reason = reason
        self.status = status


# -- result models ----------------------------------------------------------------------------


class _Result(BaseModel):
    model_config = ConfigDict(frozen=True)


class _Identified(_Result):
    """Something with a UUID (32 lowercase hex), shown dashed too: people paste either form."""

    id: str

    @computed_field  # type: ignore[prop-decorator]
    @property
    def dashed_id(self) -> str:
        return dashed_uuid(self.id)


class PlayerId(_Identified):
    """A Mojang account: its UUID and canonical name."""

    name: str
    legacy: bool = False
    demo: bool = False


class DefaultSkin(_Result):
    """One of the 18 default skins of Minecraft 1.19.3+ (a character and an arm model)."""

    name: SkinName
    model: Literal["classic", "slim"]


class Skin(_Result):
    """A player's skin: the texture URL (None for a default skin) and its arm model."""

    url: str | None
    model: Literal["classic", "slim"]
    is_default: bool
    default_name: str | None = None


class PlayerProfile(_Identified):
    """A Mojang account with its decoded textures."""

    name: str
    skin: Skin
    cape_url: str | None = None


class OfflinePlayer(_Identified):
    """An offline-mode (version 3) UUID, answered locally: it is never a Mojang account."""

    offline_mode: Literal[True] = True
    note: str = OFFLINE_NOTE


class NameProblem(_Result):
    """A name of a bulk lookup that has no answer, and why."""

    name: str
    error: str


class BulkLookup(_Result):
    """The outcome of a many-names lookup: one entry per distinct (case-insensitive) name."""

    found: list[PlayerId]
    not_found: list[str]
    invalid: list[NameProblem]
    failed: list[NameProblem]


# -- validation and UUID arithmetic -----------------------------------------------------------


def _shown(value: object) -> str:
    text = value if isinstance(value, str) else str(value)
    if len(text) > _MAX_SHOWN_INPUT:
        text = text[:_MAX_SHOWN_INPUT] + "..."
    return repr(text)


def normalize_name(name: str) -> str:
    """``name`` unchanged (case preserved) if it can be a Minecraft username, else
    ``InvalidInputError``. Only 1..25 of ``A-Z a-z 0-9 _`` pass: nothing else may reach a URL."""
    if not isinstance(name, str):
        raise InvalidInputError(f"{_shown(name)} is not a valid Minecraft username: not a string")
    if _NAME_RE.fullmatch(name) is None:
        raise InvalidInputError(
            f"{_shown(name)} is not a valid Minecraft username: usernames are 1 to 25 "
            "characters, only the letters A-Z and a-z, the digits 0-9 and the underscore _"
        )
    return name


def normalize_uuid(value: str) -> str:
    """``value`` as 32 lowercase hex digits. Accepts the dashed (8-4-4-4-12) or undashed form in
    any case, with surrounding whitespace; anything else raises ``InvalidInputError``."""
    if not isinstance(value, str):
        raise InvalidInputError(f"{_shown(value)} is not a valid UUID: not a string")
    text = value.strip()
    if _UNDASHED_RE.fullmatch(text) is None and _DASHED_RE.fullmatch(text) is None:
        raise InvalidInputError(
            f"{_shown(value)} is not a valid UUID: expected 32 hexadecimal digits, with or "
            "without dashes (e.g. 069a79f4-44e9-4726-a5be-fca90e38aaf5)"
        )
    return text.replace("-", "").lower()


def dashed_uuid(uuid: str) -> str:
    """The 8-4-4-4-12 form of a UUID (validated like ``normalize_uuid``)."""
    u = normalize_uuid(uuid)
    return f"{u[:8]}-{u[8:12]}-{u[12:16]}-{u[16:20]}-{u[20:]}"


def uuid_version(uuid: str) -> int:
    """The UUID's version nibble: 4 for Mojang accounts, 3 for offline-mode players."""
    return int(normalize_uuid(uuid)[12], 16)


def offline_uuid(name: str) -> str:
    """The offline-mode UUID a server in offline mode gives ``name`` (undashed): Java's
    ``UUID.nameUUIDFromBytes(("OfflinePlayer:" + name).getBytes(UTF_8))``, i.e. MD5 with the
    version set to 3 and the IETF variant. Case-sensitive. Offline servers accept more names than
    Mojang does, so any 1..64 printable characters are allowed (no URL is ever built from it)."""
    if not isinstance(name, str) or not 1 <= len(name) <= 64 or not name.isprintable():
        raise InvalidInputError(
            f"{_shown(name)} is not a valid player name: 1 to 64 printable characters"
        )
    digest = bytearray(hashlib.md5(f"OfflinePlayer:{name}".encode()).digest())  # noqa: S324
    digest[6] = (digest[6] & 0x0F) | 0x30
    digest[8] = (digest[8] & 0x3F) | 0x80
    return digest.hex()


def _java_uuid_hash(uuid: str) -> int:
    # java.util.UUID.hashCode(): hilo = msb ^ lsb; (int)(hilo >> 32) ^ (int) hilo, a signed int.
    hilo = int(uuid[:16], 16) ^ int(uuid[16:], 16)
    folded = ((hilo >> 32) ^ hilo) & 0xFFFFFFFF
    return folded - (1 << 32) if folded >= 1 << 31 else folded


def default_skin(uuid: str) -> DefaultSkin:
    """The default skin Minecraft 1.19.3+ shows for a player without a custom skin:
    ``DEFAULT_SKINS[Math.floorMod(uuid.hashCode(), 18)]`` (see ``DEFAULT_SKIN_NAMES``)."""
    # Python's % is a floor modulo for a positive divisor, like Math.floorMod.
    index = _java_uuid_hash(normalize_uuid(uuid)) % (2 * len(DEFAULT_SKIN_NAMES))
    return DefaultSkin(
        name=DEFAULT_SKIN_NAMES[index % len(DEFAULT_SKIN_NAMES)],
        model="slim" if index < len(DEFAULT_SKIN_NAMES) else "classic",
    )


# -- decoding ---------------------------------------------------------------------------------


class _Malformed(ValueError):
    """A 200 body that is not what the endpoint promises."""


class _Rejected:
    """A 400 answer: Mojang considers the input invalid."""

    def __init__(self, message: str) -> None:
        self.message = message


class _Transient(Exception):
    """One failed attempt that may succeed if retried."""

    def __init__(self, reason: str, status: int | None = None, retry_after: float | None = None):
        super().__init__(reason)
        self.reason = reason
        self.status = status
        self.retry_after = retry_after


def _field(data: Any, key: str) -> str:
    value = data.get(key) if isinstance(data, dict) else None
    if not isinstance(value, str) or not value:
        raise _Malformed(f"missing or invalid {key!r}")
    return value


def _flag(data: dict[str, Any], key: str) -> bool:
    value = data.get(key, False)
    if not isinstance(value, bool):
        raise _Malformed(f"invalid {key!r}")
    return value


def _decode_id(data: Any) -> str:
    try:
        return normalize_uuid(_field(data, "id"))
    except InvalidInputError as error:
        raise _Malformed("invalid 'id'") from error


def _decode_player_id(data: Any) -> PlayerId:
    return PlayerId(
        id=_decode_id(data),
        name=_field(data, "name"),
        legacy=_flag(data, "legacy"),
        demo=_flag(data, "demo"),
    )


def _decode_player_ids(data: Any) -> list[PlayerId]:
    if not isinstance(data, list):
        raise _Malformed("expected a JSON array")
    return [_decode_player_id(item) for item in data]


def _decode_textures(value: str) -> dict[str, Any]:
    try:
        raw = base64.b64decode(value + "=" * (-len(value) % 4), validate=True)
        document = json.loads(raw)
    except (binascii.Error, ValueError) as error:
        raise _Malformed("undecodable textures property") from error
    textures = document.get("textures", {}) if isinstance(document, dict) else None
    if not isinstance(textures, dict):
        raise _Malformed("invalid textures document")
    return textures


def _decode_profile(data: Any) -> PlayerProfile:
    uuid = _decode_id(data)
    name = _field(data, "name")
    properties = data.get("properties", [])
    if not isinstance(properties, list):
        raise _Malformed("invalid 'properties'")
    textures: dict[str, Any] = {}
    for item in properties:
        if isinstance(item, dict) and item.get("name") == "textures":
            textures = _decode_textures(_field(item, "value"))
            break

    skin_data = textures.get("SKIN")
    if skin_data is None:
        fallback = default_skin(uuid)
        skin = Skin(url=None, model=fallback.model, is_default=True, default_name=fallback.name)
    else:
        metadata = skin_data.get("metadata") if isinstance(skin_data, dict) else None
        # No metadata means the classic (wide, "Steve") model; "slim" is the Alex model.
        slim = isinstance(metadata, dict) and metadata.get("model") == "slim"
        skin = Skin(
            url=_field(skin_data, "url"), model="slim" if slim else "classic", is_default=False
        )
    cape_data = textures.get("CAPE")
    cape_url = None if cape_data is None else _field(cape_data, "url")
    return PlayerProfile(id=uuid, name=name, skin=skin, cape_url=cape_url)


def _upstream_message(data: Any) -> str:
    message = data.get("errorMessage") if isinstance(data, dict) else None
    if not isinstance(message, str):
        return "no reason given"
    return message[:_MAX_UPSTREAM_MESSAGE]


def _retry_after(response: requests.Response) -> float | None:
    value = response.headers.get("Retry-After")
    if value is None:
        return None
    try:
        seconds = float(value)
    except ValueError:
        return None  # an HTTP-date: not worth a clock comparison; the normal back-off applies
    return seconds if seconds >= 0 else None


def _transient_for_status(status: int, response: requests.Response) -> _Transient | None:
    if status == 403:
        return _Transient("blocked by Mojang's firewall (HTTP 403)", status)
    if status == 429:
        return _Transient("rate limited (HTTP 429)", status, _retry_after(response))
    if status == 408 or 500 <= status <= 599:
        return _Transient(f"server error (HTTP {status})", status, _retry_after(response))
    return None


# -- the client -------------------------------------------------------------------------------


class MojangClient:
    """The three Mojang hosts behind one pooled ``requests.Session``.

    ``cache=None`` disables caching and single-flight (every call goes upstream). ``sleep`` is
    the back-off sleep (injected by tests). A ``Retry-After`` header longer than
    ``max_retry_after`` seconds ends the retries at once: waiting that long cannot help a chat
    request.
    """

    def __init__(
        self,
        session: requests.Session,
        *,
        api_url: str,
        session_url: str,
        services_url: str,
        timeout: float = 4.0,
        max_retries: int = 2,
        backoff: float = 0.25,
        max_backoff: float = 2.0,
        cache: TTLCache | None = None,
        sleep: Callable[[float], None] = time.sleep,
        max_body_bytes: int = 1_000_000,
        max_retry_after: float = 10.0,
    ) -> None:
        self._session = session
        self.api_url = api_url.rstrip("/")
        self.session_url = session_url.rstrip("/")
        self.services_url = services_url.rstrip("/")
        self.timeout = timeout
        self.max_retries = max(max_retries, 0)
        self.backoff = backoff
        self.max_backoff = max_backoff
        self.cache = cache
        self._sleep = sleep
        self.max_body_bytes = max_body_bytes
        self.max_retry_after = max_retry_after

    @classmethod
    def from_settings(cls, settings: Settings) -> MojangClient:
        """A client configured from ``settings``, with its own session and cache."""
        session = requests.Session()
        session.headers["User-Agent"] = USER_AGENT
        # Enough pooled connections per host for the concurrent bulk chunks; retries are ours.
        adapter = HTTPAdapter(pool_connections=4, pool_maxsize=MAX_BULK_WORKERS * 2, max_retries=0)
        session.mount("https://", adapter)
        session.mount("http://", adapter)
        cache = TTLCache(
            ttl=settings.mojang_cache_ttl_seconds,
            negative_ttl=settings.mojang_negative_cache_ttl_seconds,
            max_entries=settings.mojang_cache_max_entries,
            name="MojangCache",
        )
        return cls(
            session,
            api_url=str(settings.mojang_api_url),
            session_url=str(settings.mojang_session_url),
            services_url=str(settings.minecraft_services_url),
            timeout=settings.mojang_timeout_seconds,
            max_retries=settings.mojang_max_retries,
            cache=cache,
        )

    def close(self) -> None:
        """Close the pooled connections."""
        self._session.close()

    # -- public lookups -----------------------------------------------------------------------

    def uuid_for_name(self, name: str, *, deadline: Deadline | None = None) -> PlayerId | None:
        """The account currently named ``name`` (case-insensitive), or None if there is none.
        Raises ``InvalidInputError`` (bad name, or Mojang rejected it) or ``UpstreamError``."""
        valid = normalize_name(name)
        return self._cached(
            _name_key(valid), lambda: self._fetch_uuid_for_name(valid, deadline), deadline
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

        order: list[str] = []  # distinct lower-cased names, first spelling wins
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
            loaded = self.cache.get_or_load_many(
                [_name_key(key) for key in to_send],
                lambda keys: {
                    _name_key(key): result
                    for key, result in self._bulk(
                        [key.removeprefix("name:") for key in keys], spelling, deadline
                    ).items()
                },
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
        url = f"{self.services_url}/minecraft/profile/lookup/"
        return self._by_uuid(uuid, url, "name_for_uuid", _decode_player_id, deadline)

    def profile(
        self, uuid: str, *, deadline: Deadline | None = None
    ) -> PlayerProfile | OfflinePlayer | None:
        """The account's name, skin (URL and slim/classic model; the UUID's default skin when it
        has none) and cape, or None if there is no such account. Version 3 UUIDs: as
        ``name_for_uuid``."""
        url = f"{self.session_url}/session/minecraft/profile/"
        return self._by_uuid(uuid, url, "profile", _decode_profile, deadline)

    # -- internals ----------------------------------------------------------------------------

    def _by_uuid(
        self,
        uuid: str,
        url_prefix: str,
        endpoint: str,
        decode: Callable[[Any], T],
        deadline: Deadline | None,
    ) -> T | OfflinePlayer | None:
        valid = normalize_uuid(uuid)
        if uuid_version(valid) == 3:
            return OfflinePlayer(id=valid)  # never a Mojang account: no request
        url = url_prefix + quote(valid, safe="")
        return self._cached(
            f"{endpoint}:{valid}",
            lambda: self._lookup_uuid(url, valid, endpoint, decode, deadline),
            deadline,
        )

    def _cached(self, key: str, loader: Callable[[], T], deadline: Deadline | None) -> T:
        if self.cache is None:
            return loader()
        wait = deadline.remaining() if deadline is not None else None
        try:
            return self.cache.get_or_load(key, loader, wait=wait)
        except TimeoutError as error:
            count("MojangUpstreamErrors")
            raise UpstreamError("timed out") from error

    def _fetch_uuid_for_name(self, name: str, deadline: Deadline | None) -> PlayerId | None:
        url = f"{self.api_url}/users/profiles/minecraft/{quote(name, safe='')}"
        answer = self._fetch("GET", url, "uuid_for_name", _decode_player_id, deadline)
        if isinstance(answer, _Rejected):
            raise InvalidInputError(
                f"{_shown(name)} is not a valid Minecraft username: Mojang rejected it "
                f"({answer.message})"
            )
        return answer

    def _lookup_uuid(
        self,
        url: str,
        uuid: str,
        endpoint: str,
        decode: Callable[[Any], T],
        deadline: Deadline | None,
    ) -> T | None:
        answer = self._fetch("GET", url, endpoint, decode, deadline)
        if isinstance(answer, _Rejected):
            raise InvalidInputError(
                f"{_shown(uuid)} is not a valid UUID: Mojang rejected it ({answer.message})"
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
        url = f"{self.api_url}/profiles/minecraft"
        body = json.dumps(names).encode()
        try:
            answer = self._fetch("POST", url, "uuids_for_names", _decode_player_ids, deadline, body)
        except UpstreamError as error:
            return {name.lower(): error for name in names}
        if isinstance(answer, _Rejected) or answer is None:
            # One name Mojang considers invalid fails the whole batch: ask one by one instead.
            return {name.lower(): self._single_for_bulk(name, deadline) for name in names}
        # The answer is in no particular order and in canonical case; absent names do not exist.
        by_name = {player.name.lower(): player for player in answer}
        return {name.lower(): by_name.get(name.lower()) for name in names}

    def _single_for_bulk(
        self, name: str, deadline: Deadline | None
    ) -> PlayerId | MojangError | None:
        # Not through the cache: the caller holds this name's flight and stores the answer.
        try:
            return self._fetch_uuid_for_name(name, deadline)
        except MojangError as error:
            return error

    def _fetch(
        self,
        method: str,
        url: str,
        endpoint: str,
        decode: Callable[[Any], T],
        deadline: Deadline | None,
        body: bytes | None = None,
    ) -> T | _Rejected | None:
        """One logical request: the decoded 200 body, ``_Rejected`` for 400, None for 204/404;
        transient failures retried with capped exponential back-off, then ``UpstreamError``."""
        # A subsegment per upstream call, not @tracer.capture_method on the public methods: that
        # decorator logs every exception at ERROR, and an InvalidInputError message holds the
        # player's name.
        with tracer.provider.in_subsegment(name=f"## mojang.{endpoint}"):
            attempt = 0
            while True:
                try:
                    return self._attempt(method, url, endpoint, decode, deadline, body)
                except _Transient as failure:
                    delay = failure.retry_after
                    if delay is None:
                        delay = min(self.backoff * 2**attempt, self.max_backoff)
                    give_up = (
                        attempt >= self.max_retries
                        or delay > self.max_retry_after
                        # A retry whose back-off would not fit in the deadline is not started.
                        or (deadline is not None and delay >= deadline.remaining())
                    )
                    logger.warning(
                        "Mojang request failed",
                        extra={
                            "endpoint": endpoint,
                            "reason": failure.reason,
                            "attempt": attempt + 1,
                            "retrying": not give_up,
                        },
                    )
                    if give_up:
                        count("MojangUpstreamErrors")
                        raise UpstreamError(failure.reason, failure.status) from failure
                    count("MojangRetries")
                    self._sleep(delay)
                    attempt += 1

    def _attempt(
        self,
        method: str,
        url: str,
        endpoint: str,
        decode: Callable[[Any], T],
        deadline: Deadline | None,
        body: bytes | None,
    ) -> T | _Rejected | None:
        timeout = self.timeout
        if deadline is not None:
            remaining = deadline.remaining()
            if remaining <= 0:
                count("MojangUpstreamErrors")
                raise UpstreamError("timed out (no time left for the request)")
            timeout = min(timeout, remaining)
        headers = {"Accept": "application/json"}
        if body is not None:
            headers["Content-Type"] = "application/json"  # without it Mojang answers 415

        count("MojangRequests")
        logger.debug("Mojang request", extra={"endpoint": endpoint, "method": method})
        try:
            response = self._session.request(
                method,
                url,
                data=body,
                headers=headers,
                timeout=timeout,
                stream=True,  # so an oversized body is cut off, not read into memory
                allow_redirects=False,
            )
        except requests.Timeout as error:
            raise _Transient("timed out") from error
        except requests.RequestException as error:
            raise _Transient("connection failed") from error

        with response:
            status = response.status_code
            if status in (204, 404):
                return None
            if status == 400:
                try:
                    return _Rejected(_upstream_message(json.loads(self._read(response, deadline))))
                except (_Transient, ValueError):
                    return _Rejected("no reason given")
            transient = _transient_for_status(status, response)
            if transient is not None:
                raise transient
            if status != 200:
                # 3xx, 401, 415...: a contract change or our own bug; retrying cannot help.
                count("MojangUpstreamErrors")
                raise UpstreamError(f"unexpected response (HTTP {status})", status)
            raw = self._read(response, deadline)
            try:
                return decode(json.loads(raw))
            except ValueError as error:  # includes JSONDecodeError and _Malformed
                raise _Transient("malformed response (HTTP 200)", status) from error

    def _read(self, response: requests.Response, deadline: Deadline | None) -> bytes:
        """The body, at most ``max_body_bytes`` of it, before the deadline."""
        too_large = _Transient("response too large", response.status_code)
        declared = response.headers.get("Content-Length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_body_bytes:
            raise too_large
        chunks: list[bytes] = []
        size = 0
        try:
            for chunk in response.iter_content(chunk_size=65536):
                size += len(chunk)
                if size > self.max_body_bytes:
                    raise too_large
                if deadline is not None and deadline.expired():
                    raise _Transient("timed out", response.status_code)
                chunks.append(chunk)
        except requests.ConnectionError as error:
            # requests reports a read timeout in the middle of a body as a ConnectionError.
            if error.args and isinstance(error.args[0], ReadTimeoutError):
                raise _Transient("timed out", response.status_code) from error
            raise _Transient("connection failed", response.status_code) from error
        except requests.RequestException as error:
            raise _Transient("connection failed", response.status_code) from error
        return b"".join(chunks)


def _name_key(name: str) -> str:
    # Names are case-insensitive at Mojang, so "Notch" and "notch" share one entry.
    return f"name:{name.lower()}"
