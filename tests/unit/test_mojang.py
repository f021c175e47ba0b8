"""The Mojang adapter against ``responses``: every status and body of reference/mojang-api.md."""

from __future__ import annotations

import base64
import hashlib
import json
import struct
import threading
import time
import uuid as std_uuid
from collections.abc import Iterator
from typing import Any

import pytest
import requests
import responses

from mojang_chat.core.deadline import Deadline
from mojang_chat.core.settings import Settings
from mojang_chat.mojang import client as mojang
from mojang_chat.mojang.cache import TTLCache
from mojang_chat.mojang.client import (
    DEFAULT_SKIN_NAMES,
    NAME_PATTERN,
    BulkLookup,
    InvalidInputError,
    MojangClient,
    MojangError,
    OfflinePlayer,
    PlayerId,
    PlayerProfile,
    UpstreamError,
    dashed_uuid,
    default_skin,
    normalize_name,
    normalize_uuid,
    offline_uuid,
    uuid_version,
)

API = "https://api.mojang.com"
SESSION = "https://sessionserver.mojang.com"
SERVICES = "https://api.minecraftservices.com"
NAME_URL = f"{API}/users/profiles/minecraft/"
BULK_URL = f"{API}/profiles/minecraft"
LOOKUP_URL = f"{SERVICES}/minecraft/profile/lookup/"
PROFILE_URL = f"{SESSION}/session/minecraft/profile/"

NOTCH = "069a79f444e94726a5befca90e38aaf5"
NOTCH_DASHED = "069a79f4-44e9-4726-a5be-fca90e38aaf5"
NOTCH_OFFLINE = "b50ad385829d3141a2167e7d7539ba7f"
JEB = "853c80ef3c3749fdaa49938b674adae6"
TEXTURE = "http://textures.minecraft.net/texture/"

INJECTION_NAMES = [
    "",
    " ",
    "No tch",
    " Notch",
    "Notch\n",
    "../../x",
    "Notch?x=1",
    "Notch#frag",
    "Notch/../../admin",
    "%2e%2e",
    "N" * 26,
    "N" * 30,
    "Nötch",
    "名前",
    "Notch\x00",
]


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


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


def make_client(slept: list[float], cache: TTLCache | None = None, **options: Any) -> MojangClient:
    return MojangClient(
        requests.Session(),
        api_url=API,
        session_url=SESSION,
        services_url=SERVICES,
        cache=cache,
        sleep=slept.append,
        **options,
    )


@pytest.fixture
def client(slept: list[float], cache: TTLCache) -> MojangClient:
    return make_client(slept, cache)


def sent_timeout(call: Any) -> Any:
    """The timeout the client passed for one recorded call (responses keeps the kwargs)."""
    return call.request.req_kwargs["timeout"]


def response_headers(call: Any) -> Any:
    return call.response.headers


def textures(skin: dict[str, Any] | None = None, cape: str | None = None) -> str:
    document: dict[str, Any] = {"timestamp": 1700000000000, "profileId": NOTCH, "textures": {}}
    if skin is not None:
        document["textures"]["SKIN"] = skin
    if cape is not None:
        document["textures"]["CAPE"] = {"url": cape}
    return base64.b64encode(json.dumps(document).encode()).decode()


def profile_body(uuid: str, name: str, value: str | None) -> dict[str, Any]:
    properties = [] if value is None else [{"name": "textures", "value": value}]
    return {"id": uuid, "name": name, "properties": properties, "profileActions": []}


# -- validation -------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["a", "Notch", "jeb_", "x" * 25, "Player_123"])
def test_valid_names_are_returned_as_given(name: str) -> None:
    assert normalize_name(name) == name


@pytest.mark.parametrize("name", INJECTION_NAMES)
def test_invalid_names_raise_a_readable_value_error(name: str) -> None:
    with pytest.raises(InvalidInputError, match="is not a valid Minecraft username") as caught:
        normalize_name(name)
    assert isinstance(caught.value, ValueError)


def test_the_exported_pattern_agrees_with_the_validator() -> None:
    import re

    for name in ["Notch", "x" * 25, "x" * 26, "../x", "Nötch"]:
        valid = re.match(NAME_PATTERN, name) is not None
        try:
            normalize_name(name)
        except InvalidInputError:
            assert not valid
        else:
            assert valid


def test_a_huge_invalid_input_is_truncated_in_the_message() -> None:
    with pytest.raises(InvalidInputError) as caught:
        normalize_name("x" * 10_000)
    assert len(str(caught.value)) < 300


@pytest.mark.parametrize(
    "value",
    [NOTCH, NOTCH_DASHED, NOTCH_DASHED.upper(), f"  {NOTCH.upper()}\n", f"\t{NOTCH_DASHED}"],
)
def test_uuids_are_normalised_to_32_lowercase_hex(value: str) -> None:
    assert normalize_uuid(value) == NOTCH


@pytest.mark.parametrize(
    "value",
    [
        "",
        "069a79f4",
        NOTCH + "0",
        NOTCH[:-1] + "g",
        "069a79f444e9-4726-a5be-fca90e38aaf5",
        "{069a79f4-44e9-4726-a5be-fca90e38aaf5}",
        "urn:uuid:" + NOTCH_DASHED,
        "../../" + NOTCH,
        "069a79f4-44e9-4726-a5be-fca90e38aaf５",  # noqa: RUF001 - a full-width digit
    ],
)
def test_invalid_uuids_raise(value: str) -> None:
    with pytest.raises(InvalidInputError, match="is not a valid UUID"):
        normalize_uuid(value)


def test_dashed_uuid_and_version() -> None:
    assert dashed_uuid(NOTCH) == NOTCH_DASHED
    assert uuid_version(NOTCH) == 4
    assert uuid_version(NOTCH_OFFLINE) == 3


def test_offline_uuid_matches_javas_name_uuid_from_bytes() -> None:
    assert offline_uuid("Notch") == NOTCH_OFFLINE
    # Cross-check with the standard library: MD5 with version 3 and the RFC 4122 variant.
    digest = hashlib.md5(b"OfflinePlayer:jeb_").digest()  # noqa: S324
    assert offline_uuid("jeb_") == std_uuid.UUID(bytes=digest, version=3).hex
    # Case-sensitive, unlike Mojang's name lookups.
    assert offline_uuid("notch") != NOTCH_OFFLINE


@pytest.mark.parametrize("name", ["", "x" * 65, "bad\nname"])
def test_offline_uuid_rejects_unusable_names(name: str) -> None:
    with pytest.raises(InvalidInputError):
        offline_uuid(name)


def java_uuid_hash(uuid: str) -> int:
    """java.util.UUID.hashCode, written independently with signed 64/32-bit packing."""
    msb, lsb = struct.unpack(">qq", bytes.fromhex(uuid))
    hilo = msb ^ lsb
    high: int = struct.unpack(">i", struct.pack(">I", (hilo >> 32) & 0xFFFFFFFF))[0]
    low: int = struct.unpack(">i", struct.pack(">I", hilo & 0xFFFFFFFF))[0]
    return high ^ low


@pytest.mark.parametrize(
    ("uuid", "name", "model"),
    [
        # hashCode 0 -> index 0: the first entry of DEFAULT_SKINS, slim Alex.
        ("00000000-0000-0000-0000-000000000000", "alex", "slim"),
        ("00000000000000000000000000000001", "ari", "slim"),  # hash 1 -> index 1
        ("00000000000000000000000000000009", "alex", "classic"),  # index 9: first wide skin
        ("00000000000000000000000000000011", "zuri", "classic"),  # hash 17 -> last entry
        # msb = Long.MIN_VALUE: hashCode = Integer.MIN_VALUE, floorMod(-2^31, 18) = 16 (wide
        # Sunny); an unsigned or truncating modulo would give 2 (slim Efe).
        ("80000000000000000000000000000000", "sunny", "classic"),
        # Notch: hashCode -369792882 = -18 * 20544049, so index 0.
        (NOTCH, "alex", "slim"),
    ],
)
def test_default_skin_follows_minecraft_1_19_3(uuid: str, name: str, model: str) -> None:
    skin = default_skin(uuid)
    assert (skin.name, skin.model) == (name, model)


def test_java_hash_parity_matches_pre_1_19_3_fixtures() -> None:
    # Before 1.19.3 the default was Alex when (hashCode & 1) == 1. Minecord's tests fix jeb_'s
    # account as Alex and f6489b79-7a9f-49e2-980e-265a05dbc3af as Steve. floorMod by an even
    # number keeps the parity, so the 1.19.3 index must be odd for jeb_ and even for the other.
    assert java_uuid_hash(JEB) % 2 == 1
    assert java_uuid_hash("f6489b797a9f49e2980e265a05dbc3af") % 2 == 0
    for uuid in (JEB, NOTCH, NOTCH_OFFLINE, "80000000000000000000000000000000", "f" * 32):
        index = java_uuid_hash(uuid) % 18
        expected = DEFAULT_SKIN_NAMES[index % 9], "slim" if index < 9 else "classic"
        assert (default_skin(uuid).name, default_skin(uuid).model) == expected


# -- uuid_for_name ----------------------------------------------------------------------------


def test_name_lookup_returns_the_canonical_player(
    mocked: responses.RequestsMock, client: MojangClient
) -> None:
    mocked.get(NAME_URL + "notch", json={"id": NOTCH, "name": "Notch"})

    player = client.uuid_for_name("notch")

    assert player == PlayerId(id=NOTCH, name="Notch")
    assert player is not None
    assert player.dashed_id == NOTCH_DASHED
    assert player.model_dump() == {
        "id": NOTCH,
        "name": "Notch",
        "legacy": False,
        "demo": False,
        "dashed_id": NOTCH_DASHED,
    }
    assert mocked.calls[0].request.headers["Accept"] == "application/json"


def test_legacy_and_demo_flags_are_kept(
    mocked: responses.RequestsMock, client: MojangClient
) -> None:
    mocked.get(NAME_URL + "Old", json={"id": JEB, "name": "Old", "legacy": True, "demo": True})

    player = client.uuid_for_name("Old")

    assert player is not None
    assert (player.legacy, player.demo) == (True, True)


@pytest.mark.parametrize(
    ("status", "body"),
    [
        (
            404,
            {
                "path": "/users/profiles/minecraft/x",
                "errorMessage": "Couldn't find any profile with name x",
            },
        ),
        (204, None),
    ],
)
def test_404_and_204_mean_not_found(
    mocked: responses.RequestsMock, client: MojangClient, status: int, body: Any
) -> None:
    if body is None:
        mocked.get(NAME_URL + "x", status=status, body=b"")
    else:
        mocked.get(NAME_URL + "x", status=status, json=body)

    assert client.uuid_for_name("x") is None
    assert len(mocked.calls) == 1


def test_400_constraint_violation_is_invalid_input_and_not_retried(
    mocked: responses.RequestsMock, client: MojangClient, slept: list[float]
) -> None:
    mocked.get(
        NAME_URL + "weird",
        status=400,
        json={
            "path": "/users/profiles/minecraft/weird",
            "error": "CONSTRAINT_VIOLATION",
            "errorMessage": "getProfileName.name: Invalid profile name",
        },
    )

    with pytest.raises(InvalidInputError, match=r"Mojang rejected it.*Invalid profile name"):
        client.uuid_for_name("weird")
    assert len(mocked.calls) == 1
    assert slept == []


@pytest.mark.parametrize("name", INJECTION_NAMES)
def test_invalid_names_send_no_request(
    mocked: responses.RequestsMock, client: MojangClient, name: str
) -> None:
    with pytest.raises(InvalidInputError):
        client.uuid_for_name(name)
    assert len(mocked.calls) == 0


TRANSIENT = [
    pytest.param(
        {
            "status": 403,
            "body": "<html><body>403 Forbidden</body></html>",
            "content_type": "text/html",
        },
        "blocked by Mojang's firewall (HTTP 403)",
        403,
        id="403-html",
    ),
    pytest.param(
        {"status": 429, "json": {"path": "/users/profiles/minecraft/Notch"}},
        "rate limited (HTTP 429)",
        429,
        id="429",
    ),
    pytest.param({"status": 500, "body": "oops"}, "server error (HTTP 500)", 500, id="500"),
    pytest.param({"status": 503, "body": ""}, "server error (HTTP 503)", 503, id="503"),
    pytest.param(
        {"body": requests.exceptions.ReadTimeout("read timed out")},
        "timed out",
        None,
        id="read-timeout",
    ),
    pytest.param(
        {"body": requests.exceptions.ConnectTimeout("connect timed out")},
        "timed out",
        None,
        id="connect-timeout",
    ),
    pytest.param(
        {"body": requests.exceptions.ConnectionError("reset")},
        "connection failed",
        None,
        id="connection-error",
    ),
    pytest.param(
        {"status": 200, "body": '{"id": "069a'},
        "malformed response (HTTP 200)",
        200,
        id="malformed-json",
    ),
    pytest.param({"status": 200, "body": ""}, "malformed response (HTTP 200)", 200, id="empty-200"),
    pytest.param(
        {"status": 200, "json": {"name": "Notch"}},
        "malformed response (HTTP 200)",
        200,
        id="missing-id",
    ),
    pytest.param(
        {"status": 200, "json": {"id": "nothex", "name": "Notch"}},
        "malformed response (HTTP 200)",
        200,
        id="bad-id",
    ),
    pytest.param(
        {"status": 200, "json": [1, 2]}, "malformed response (HTTP 200)", 200, id="wrong-shape"
    ),
]


@pytest.mark.parametrize(("response", "reason", "status"), TRANSIENT)
def test_transient_failures_are_retried_with_backoff_then_raise(
    mocked: responses.RequestsMock,
    client: MojangClient,
    slept: list[float],
    response: dict[str, Any],
    reason: str,
    status: int | None,
) -> None:
    mocked.get(NAME_URL + "Notch", **response)

    with pytest.raises(UpstreamError) as caught:
        client.uuid_for_name("Notch")

    assert len(mocked.calls) == 3  # the first try and max_retries=2 retries
    assert slept == [0.25, 0.5]
    assert caught.value.reason == reason
    assert caught.value.status == status
    assert str(caught.value) == f"Mojang API unavailable: {reason}"
    assert isinstance(caught.value, MojangError)


def test_a_transient_failure_then_an_answer_returns_the_answer(
    mocked: responses.RequestsMock, client: MojangClient, slept: list[float]
) -> None:
    mocked.get(NAME_URL + "Notch", status=429, json={"path": "/users/profiles/minecraft/Notch"})
    mocked.get(NAME_URL + "Notch", json={"id": NOTCH, "name": "Notch"})

    assert client.uuid_for_name("Notch") == PlayerId(id=NOTCH, name="Notch")
    assert slept == [0.25]


def test_retry_after_seconds_is_honoured(
    mocked: responses.RequestsMock, client: MojangClient, slept: list[float]
) -> None:
    mocked.get(NAME_URL + "Notch", status=429, json={"path": "/"}, headers={"Retry-After": "1.5"})
    mocked.get(NAME_URL + "Notch", json={"id": NOTCH, "name": "Notch"})

    assert client.uuid_for_name("Notch") is not None
    assert slept == [1.5]


def test_a_retry_after_beyond_the_cap_ends_the_retries_at_once(
    mocked: responses.RequestsMock, client: MojangClient, slept: list[float]
) -> None:
    mocked.get(NAME_URL + "Notch", status=429, json={"path": "/"}, headers={"Retry-After": "60"})

    with pytest.raises(UpstreamError, match="rate limited"):
        client.uuid_for_name("Notch")
    assert len(mocked.calls) == 1
    assert slept == []


def test_backoff_doubles_up_to_the_cap(mocked: responses.RequestsMock, slept: list[float]) -> None:
    client = make_client(slept, max_retries=5, backoff=0.5, max_backoff=1.0)
    mocked.get(NAME_URL + "Notch", status=503)

    with pytest.raises(UpstreamError):
        client.uuid_for_name("Notch")
    assert slept == [0.5, 1.0, 1.0, 1.0, 1.0]


def test_no_retry_starts_whose_backoff_would_not_fit_the_deadline(
    mocked: responses.RequestsMock, client: MojangClient, slept: list[float], clock: FakeClock
) -> None:
    mocked.get(NAME_URL + "Notch", status=500)

    with pytest.raises(UpstreamError, match=r"server error \(HTTP 500\)"):
        client.uuid_for_name("Notch", deadline=Deadline(0.2, clock=clock))
    assert len(mocked.calls) == 1
    assert slept == []


def test_each_request_timeout_is_capped_by_the_deadline(
    mocked: responses.RequestsMock, client: MojangClient, clock: FakeClock
) -> None:
    mocked.get(NAME_URL + "Notch", json={"id": NOTCH, "name": "Notch"})
    mocked.get(NAME_URL + "jeb_", json={"id": JEB, "name": "jeb_"})

    client.uuid_for_name("Notch", deadline=Deadline(1.5, clock=clock))
    client.uuid_for_name("jeb_", deadline=Deadline(30, clock=clock))

    assert sent_timeout(mocked.calls[0]) == 1.5
    assert sent_timeout(mocked.calls[1]) == 4.0


def test_an_expired_deadline_sends_nothing(
    mocked: responses.RequestsMock, client: MojangClient, clock: FakeClock
) -> None:
    deadline = Deadline(1, clock=clock)
    clock.advance(2)

    with pytest.raises(UpstreamError, match="timed out"):
        client.uuid_for_name("Notch", deadline=deadline)
    assert len(mocked.calls) == 0


def test_a_body_larger_than_the_limit_is_cut_off(
    mocked: responses.RequestsMock, slept: list[float]
) -> None:
    client = make_client(slept, max_body_bytes=1000, max_retries=1)
    big = json.dumps({"id": NOTCH, "name": "N" * 5000})
    # One answer declares its length, the other streams without Content-Length.
    mocked.get(NAME_URL + "Notch", body=big, auto_calculate_content_length=True)
    mocked.get(NAME_URL + "Notch", body=big)

    with pytest.raises(UpstreamError, match="response too large"):
        client.uuid_for_name("Notch")
    assert len(mocked.calls) == 2
    assert "Content-Length" in response_headers(mocked.calls[0])
    assert "Content-Length" not in response_headers(mocked.calls[1])


@pytest.mark.parametrize("status", [302, 401, 415])
def test_unexpected_statuses_fail_without_retries(
    mocked: responses.RequestsMock, client: MojangClient, slept: list[float], status: int
) -> None:
    mocked.get(NAME_URL + "Notch", status=status, headers={"Location": "https://evil.test/"})

    with pytest.raises(UpstreamError, match=f"HTTP {status}") as caught:
        client.uuid_for_name("Notch")
    assert caught.value.status == status
    assert len(mocked.calls) == 1  # and the redirect was not followed
    assert slept == []


# -- caching ----------------------------------------------------------------------------------


def test_a_second_lookup_is_served_from_the_cache_case_insensitively(
    mocked: responses.RequestsMock, client: MojangClient, cache: TTLCache
) -> None:
    mocked.get(NAME_URL + "Notch", json={"id": NOTCH, "name": "Notch"})

    first = client.uuid_for_name("Notch")
    second = client.uuid_for_name("NOTCH")

    assert first == second
    assert len(mocked.calls) == 1
    assert (cache.hits, cache.misses) == (1, 1)


def test_not_found_is_cached_for_the_shorter_negative_ttl(
    mocked: responses.RequestsMock, client: MojangClient, clock: FakeClock
) -> None:
    mocked.get(NAME_URL + "ghost", status=404, json={"path": "/", "errorMessage": "none"})
    mocked.get(NAME_URL + "Notch", json={"id": NOTCH, "name": "Notch"})
    client.uuid_for_name("Notch")

    assert client.uuid_for_name("ghost") is None
    clock.advance(119)
    assert client.uuid_for_name("ghost") is None
    assert len(mocked.calls) == 2

    clock.advance(2)
    assert client.uuid_for_name("ghost") is None
    assert client.uuid_for_name("Notch") is not None  # the positive entry lives on
    assert [call.request.url for call in mocked.calls] == [
        NAME_URL + "Notch",
        NAME_URL + "ghost",
        NAME_URL + "ghost",
    ]


@pytest.mark.parametrize("status", [403, 429, 500])
def test_upstream_errors_are_never_cached(
    mocked: responses.RequestsMock, slept: list[float], cache: TTLCache, status: int
) -> None:
    client = make_client(slept, cache, max_retries=0)
    mocked.get(NAME_URL + "Notch", status=status, body="<html>no</html>")
    mocked.get(NAME_URL + "Notch", json={"id": NOTCH, "name": "Notch"})

    with pytest.raises(UpstreamError):
        client.uuid_for_name("Notch")
    assert client.uuid_for_name("Notch") == PlayerId(id=NOTCH, name="Notch")
    assert len(mocked.calls) == 2


def test_concurrent_identical_lookups_send_one_request(
    mocked: responses.RequestsMock, client: MojangClient, cache: TTLCache
) -> None:
    release = threading.Event()
    entered = threading.Event()

    def answer(request: requests.PreparedRequest) -> tuple[int, dict[str, str], str]:
        entered.set()
        release.wait(5)
        return 200, {}, json.dumps({"id": NOTCH, "name": "Notch"})

    mocked.add_callback("GET", NAME_URL + "Notch", callback=answer)
    mocked.add_callback("GET", NAME_URL + "notch", callback=answer)
    results: list[PlayerId | None] = []
    first = threading.Thread(target=lambda: results.append(client.uuid_for_name("Notch")))
    second = threading.Thread(target=lambda: results.append(client.uuid_for_name("notch")))

    first.start()
    assert entered.wait(5)
    second.start()
    for _ in range(5000):
        if cache.coalesced:
            break
        time.sleep(0.001)
    release.set()
    first.join(5)
    second.join(5)

    assert len(mocked.calls) == 1
    assert results == [PlayerId(id=NOTCH, name="Notch")] * 2


def test_without_a_cache_every_call_goes_upstream(
    mocked: responses.RequestsMock, slept: list[float]
) -> None:
    client = make_client(slept, cache=None)
    mocked.get(NAME_URL + "Notch", json={"id": NOTCH, "name": "Notch"})

    client.uuid_for_name("Notch")
    client.uuid_for_name("Notch")
    assert len(mocked.calls) == 2


# -- name_for_uuid ----------------------------------------------------------------------------


@pytest.mark.parametrize("value", [NOTCH, NOTCH_DASHED, NOTCH_DASHED.upper(), f" {NOTCH} "])
def test_uuid_lookup_sends_the_undashed_lowercase_uuid(
    mocked: responses.RequestsMock, client: MojangClient, value: str
) -> None:
    mocked.get(LOOKUP_URL + NOTCH, json={"id": NOTCH, "name": "Notch"})

    assert client.name_for_uuid(value) == PlayerId(id=NOTCH, name="Notch")
    assert mocked.calls[0].request.url == LOOKUP_URL + NOTCH


@pytest.mark.parametrize(
    ("status", "body"),
    [
        (
            404,
            {
                "path": "/minecraft/profile/lookup/x",
                "error": "NOT FOUND",
                "errorMessage": "Not Found",
            },
        ),
        (204, None),
    ],
)
def test_uuid_lookup_not_found(
    mocked: responses.RequestsMock, client: MojangClient, status: int, body: Any
) -> None:
    mocked.get(LOOKUP_URL + JEB, status=status, json=body)

    assert client.name_for_uuid(JEB) is None


def test_uuid_lookup_400_is_invalid_input(
    mocked: responses.RequestsMock, client: MojangClient
) -> None:
    mocked.get(
        LOOKUP_URL + JEB, status=400, json={"path": "/", "errorMessage": f"Not a valid UUID: {JEB}"}
    )

    with pytest.raises(InvalidInputError, match="Not a valid UUID"):
        client.name_for_uuid(JEB)


@pytest.mark.parametrize(
    "value", ["../../x", f"{NOTCH}/../../admin", f"{NOTCH}?unsigned=false", "", "Notch"]
)
def test_invalid_uuids_send_no_request(
    mocked: responses.RequestsMock, client: MojangClient, value: str
) -> None:
    with pytest.raises(InvalidInputError):
        client.name_for_uuid(value)
    with pytest.raises(InvalidInputError):
        client.profile(value)
    assert len(mocked.calls) == 0


def test_offline_uuids_are_answered_locally(
    mocked: responses.RequestsMock, client: MojangClient
) -> None:
    by_name = client.name_for_uuid("B50AD385-829D-3141-A216-7E7D7539BA7F")
    profile = client.profile(NOTCH_OFFLINE)

    assert isinstance(by_name, OfflinePlayer)
    assert by_name == profile
    assert by_name.id == NOTCH_OFFLINE
    assert by_name.offline_mode is True
    assert "offline" in by_name.note
    assert len(mocked.calls) == 0


def test_other_uuid_versions_are_still_sent(
    mocked: responses.RequestsMock, client: MojangClient
) -> None:
    version_1 = "6ba7b8109dad11d180b400c04fd430c8"
    mocked.get(LOOKUP_URL + version_1, status=404, json={"errorMessage": "Not Found"})

    assert client.name_for_uuid(version_1) is None
    assert len(mocked.calls) == 1


# -- profile ----------------------------------------------------------------------------------


def test_profile_decodes_a_slim_skin_and_a_cape(
    mocked: responses.RequestsMock, client: MojangClient
) -> None:
    value = textures({"url": TEXTURE + "aa", "metadata": {"model": "slim"}}, cape=TEXTURE + "cc")
    mocked.get(PROFILE_URL + NOTCH, json=profile_body(NOTCH, "Notch", value))

    profile = client.profile(NOTCH_DASHED)

    assert isinstance(profile, PlayerProfile)
    assert profile.name == "Notch"
    assert profile.dashed_id == NOTCH_DASHED
    assert profile.skin.model_dump() == {
        "url": TEXTURE + "aa",
        "model": "slim",
        "is_default": False,
        "default_name": None,
    }
    assert profile.cape_url == TEXTURE + "cc"


def test_profile_without_metadata_is_the_classic_model_and_no_cape(
    mocked: responses.RequestsMock, client: MojangClient
) -> None:
    mocked.get(
        PROFILE_URL + NOTCH, json=profile_body(NOTCH, "Notch", textures({"url": TEXTURE + "bb"}))
    )

    profile = client.profile(NOTCH)

    assert isinstance(profile, PlayerProfile)
    assert (profile.skin.url, profile.skin.model, profile.skin.is_default) == (
        TEXTURE + "bb",
        "classic",
        False,
    )
    assert profile.cape_url is None


@pytest.mark.parametrize("value", [textures(None), None], ids=["no-skin", "no-textures-property"])
def test_profile_without_a_skin_gets_the_uuids_default_skin(
    mocked: responses.RequestsMock, client: MojangClient, value: str | None
) -> None:
    sunny = "80000000000040008000000000000000"  # hashCode -> index 16: wide Sunny
    mocked.get(PROFILE_URL + sunny, json=profile_body(sunny, "Sunny_", value))

    profile = client.profile(sunny)

    assert isinstance(profile, PlayerProfile)
    expected = default_skin(sunny)
    assert profile.skin.model_dump() == {
        "url": None,
        "model": expected.model,
        "is_default": True,
        "default_name": expected.name,
    }


def test_unknown_profile_is_204_empty(mocked: responses.RequestsMock, client: MojangClient) -> None:
    mocked.get(PROFILE_URL + JEB, status=204, body=b"")

    assert client.profile(JEB) is None


def test_profile_400_is_invalid_input(mocked: responses.RequestsMock, client: MojangClient) -> None:
    mocked.get(
        PROFILE_URL + JEB,
        status=400,
        json={"path": "/", "errorMessage": f"Not a valid UUID: {JEB}"},
    )

    with pytest.raises(InvalidInputError, match="Not a valid UUID"):
        client.profile(JEB)


@pytest.mark.parametrize(
    "value",
    ["!!!not base64!!!", base64.b64encode(b"not json").decode(), textures({"metadata": {}})],
    ids=["bad-base64", "bad-json", "skin-without-url"],
)
def test_undecodable_textures_are_malformed_and_retried(
    mocked: responses.RequestsMock, client: MojangClient, value: str
) -> None:
    mocked.get(PROFILE_URL + NOTCH, json=profile_body(NOTCH, "Notch", value))

    with pytest.raises(UpstreamError, match="malformed"):
        client.profile(NOTCH)
    assert len(mocked.calls) == 3


def test_decoded_profiles_are_cached_despite_changing_timestamps(
    mocked: responses.RequestsMock, client: MojangClient
) -> None:
    mocked.get(
        PROFILE_URL + NOTCH, json=profile_body(NOTCH, "Notch", textures({"url": TEXTURE + "bb"}))
    )

    assert client.profile(NOTCH) == client.profile(NOTCH_DASHED)
    assert len(mocked.calls) == 1


# -- uuids_for_names --------------------------------------------------------------------------


def bulk_answer(known: dict[str, str], seen: list[list[str]]) -> Any:
    """A bulk endpoint that knows ``known`` (lower name -> uuid), answers in reverse order, and
    415s without the JSON content type, as Mojang does."""

    def answer(request: requests.PreparedRequest) -> tuple[int, dict[str, str], str]:
        if request.headers.get("Content-Type") != "application/json":
            return 415, {}, json.dumps({"error": "Unsupported Media Type"})
        assert request.body is not None
        names = json.loads(request.body)
        seen.append(names)
        if not 1 <= len(names) <= 10:
            return 400, {}, json.dumps({"error": "CONSTRAINT_VIOLATION"})
        found = [
            {"id": known[name.lower()], "name": name.upper()}  # "canonical" case differs
            for name in names
            if name.lower() in known
        ]
        return 200, {}, json.dumps(list(reversed(found)))

    return answer


def test_bulk_splits_into_chunks_of_ten_sent_with_the_json_content_type(
    mocked: responses.RequestsMock, client: MojangClient
) -> None:
    names = [f"player_{i}" for i in range(25)]
    known = {name: f"{i:032x}" for i, name in enumerate(names) if i % 2 == 0}
    seen: list[list[str]] = []
    mocked.add_callback("POST", BULK_URL, callback=bulk_answer(known, seen))

    result = client.uuids_for_names(names)

    assert sorted(len(chunk) for chunk in seen) == [5, 10, 10]
    assert sorted(name for chunk in seen for name in chunk) == sorted(names)
    assert all(call.request.headers["Content-Type"] == "application/json" for call in mocked.calls)
    assert [player.name for player in result.found] == [n.upper() for n in names[::2]]
    assert result.not_found == names[1::2]
    assert result.invalid == []
    assert result.failed == []


def test_bulk_matches_the_answer_case_insensitively_in_any_order(
    mocked: responses.RequestsMock, client: MojangClient
) -> None:
    mocked.post(BULK_URL, json=[{"id": JEB, "name": "jeb_"}, {"id": NOTCH, "name": "Notch"}])

    result = client.uuids_for_names(["NOTCH", "Jeb_", "nobody"])

    assert result == BulkLookup(
        found=[PlayerId(id=NOTCH, name="Notch"), PlayerId(id=JEB, name="jeb_")],
        not_found=["nobody"],
        invalid=[],
        failed=[],
    )
    assert json.loads(mocked.calls[0].request.body or b"") == ["NOTCH", "Jeb_", "nobody"]


def test_bulk_empty_answer_means_none_exist(
    mocked: responses.RequestsMock, client: MojangClient
) -> None:
    mocked.post(BULK_URL, json=[])

    result = client.uuids_for_names(["ghost_1", "ghost_2"])

    assert result.found == []
    assert result.not_found == ["ghost_1", "ghost_2"]


def test_bulk_deduplicates_names_case_insensitively(
    mocked: responses.RequestsMock, client: MojangClient
) -> None:
    mocked.post(BULK_URL, json=[{"id": NOTCH, "name": "Notch"}])

    result = client.uuids_for_names(["Notch", "notch", "NOTCH"])

    assert result.found == [PlayerId(id=NOTCH, name="Notch")]
    assert json.loads(mocked.calls[0].request.body or b"") == ["Notch"]


def test_bulk_reports_invalid_names_individually_and_never_sends_them(
    mocked: responses.RequestsMock, client: MojangClient
) -> None:
    mocked.post(BULK_URL, json=[{"id": NOTCH, "name": "Notch"}])

    result = client.uuids_for_names(["../../x", "Notch", "Nötch", "N" * 30, "../../x"])

    assert [entry.name for entry in result.invalid] == ["../../x", "Nötch", "N" * 30]
    assert all("not a valid Minecraft username" in entry.error for entry in result.invalid)
    assert result.found == [PlayerId(id=NOTCH, name="Notch")]
    assert json.loads(mocked.calls[0].request.body or b"") == ["Notch"]


def test_bulk_with_only_invalid_names_sends_nothing(
    mocked: responses.RequestsMock, client: MojangClient
) -> None:
    result = client.uuids_for_names(["", "a b"])

    assert len(result.invalid) == 2
    assert len(mocked.calls) == 0


def test_a_400_chunk_falls_back_to_single_lookups(
    mocked: responses.RequestsMock, client: MojangClient
) -> None:
    # Mojang rejects "Weird" although it passes our validation: the whole batch fails.
    mocked.post(
        BULK_URL,
        status=400,
        json={"error": "CONSTRAINT_VIOLATION", "errorMessage": "Invalid profile name"},
    )
    mocked.get(NAME_URL + "Notch", json={"id": NOTCH, "name": "Notch"})
    mocked.get(
        NAME_URL + "ghost",
        status=404,
        json={"errorMessage": "Couldn't find any profile with name ghost"},
    )
    mocked.get(
        NAME_URL + "Weird",
        status=400,
        json={"error": "CONSTRAINT_VIOLATION", "errorMessage": "Invalid profile name"},
    )

    result = client.uuids_for_names(["Notch", "Weird", "ghost"])

    assert result.found == [PlayerId(id=NOTCH, name="Notch")]
    assert result.not_found == ["ghost"]
    assert [entry.name for entry in result.invalid] == ["Weird"]
    assert "Mojang rejected it" in result.invalid[0].error
    assert result.failed == []
    assert len(mocked.calls) == 4


def test_a_failed_chunk_does_not_fail_the_others(
    mocked: responses.RequestsMock, slept: list[float], cache: TTLCache
) -> None:
    client = make_client(slept, cache, max_retries=0)
    names = [f"p{i}" for i in range(12)]

    def answer(request: requests.PreparedRequest) -> tuple[int, dict[str, str], str]:
        chunk = json.loads(request.body or b"")
        if "p0" in chunk:
            return 429, {}, json.dumps({"path": "/profiles/minecraft"})
        return 200, {}, json.dumps([{"id": JEB, "name": name} for name in chunk])

    mocked.add_callback("POST", BULK_URL, callback=answer)

    result = client.uuids_for_names(names)

    assert [entry.name for entry in result.failed] == names[:10]
    assert all(
        entry.error == "Mojang API unavailable: rate limited (HTTP 429)" for entry in result.failed
    )
    assert [player.name for player in result.found] == ["p10", "p11"]
    # The failed names were not cached: asking again goes upstream for them.
    mocked.calls.reset()
    client.uuids_for_names(names)
    assert [json.loads(call.request.body or b"") for call in mocked.calls] == [names[:10]]


def test_bulk_does_not_resend_cached_names_and_fills_the_cache(
    mocked: responses.RequestsMock, client: MojangClient
) -> None:
    mocked.get(NAME_URL + "Notch", json={"id": NOTCH, "name": "Notch"})
    mocked.post(BULK_URL, json=[{"id": JEB, "name": "jeb_"}])
    client.uuid_for_name("Notch")

    result = client.uuids_for_names(["notch", "jeb_", "ghost"])

    assert [player.name for player in result.found] == ["Notch", "jeb_"]
    assert result.not_found == ["ghost"]
    assert json.loads(mocked.calls[1].request.body or b"") == ["jeb_", "ghost"]
    # The bulk answer (found and not found) now serves single lookups too.
    assert client.uuid_for_name("JEB_") == PlayerId(id=JEB, name="jeb_")
    assert client.uuid_for_name("ghost") is None
    assert client.uuids_for_names(["jeb_", "ghost"]).not_found == ["ghost"]
    assert len(mocked.calls) == 2


def test_bulk_rejects_too_many_names_and_a_bare_string(
    mocked: responses.RequestsMock, client: MojangClient
) -> None:
    with pytest.raises(InvalidInputError, match="at most 100"):
        client.uuids_for_names([f"p{i}" for i in range(101)])
    with pytest.raises(InvalidInputError, match="list"):
        client.uuids_for_names("Notch")
    assert len(mocked.calls) == 0


# -- construction, metrics, logs --------------------------------------------------------------


def test_from_settings_uses_the_settings_and_a_user_agent(
    mocked: responses.RequestsMock,
) -> None:
    settings = Settings.from_env(
        {
            "MOJANG_API_URL": "https://api.example.test/",
            "MOJANG_SESSION_URL": "https://session.example.test",
            "MINECRAFT_SERVICES_URL": "https://services.example.test",
            "MOJANG_TIMEOUT_SECONDS": "2.5",
            "MOJANG_MAX_RETRIES": "1",
            "MOJANG_CACHE_TTL_SECONDS": "60",
            "MOJANG_NEGATIVE_CACHE_TTL_SECONDS": "5",
            "MOJANG_CACHE_MAX_ENTRIES": "7",
        }
    )
    client = MojangClient.from_settings(settings)
    mocked.get("https://api.example.test/users/profiles/minecraft/Notch", status=500)

    with pytest.raises(UpstreamError):
        client.uuid_for_name("Notch", deadline=Deadline(0.3))  # no retry fits in 0.3 s

    request = mocked.calls[0].request
    assert request.headers["User-Agent"] == "mojang-chat/0.1"
    assert sent_timeout(mocked.calls[0]) <= 0.3
    assert client.timeout == 2.5
    assert client.max_retries == 1
    assert (client.session_url, client.services_url) == (
        "https://session.example.test",
        "https://services.example.test",
    )
    assert client.cache is not None
    assert (client.cache.ttl, client.cache.negative_ttl, client.cache.max_entries) == (60, 5, 7)


def test_requests_and_upstream_errors_are_counted(
    mocked: responses.RequestsMock,
    client: MojangClient,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    counted: list[str] = []
    monkeypatch.setattr(mojang, "count", lambda name, value=1: counted.append(name))
    mocked.get(NAME_URL + "Notch", status=503)

    with pytest.raises(UpstreamError):
        client.uuid_for_name("Notch")

    assert counted.count("MojangRequests") == 3
    assert counted.count("MojangRetries") == 2
    assert counted.count("MojangUpstreamErrors") == 1


def test_failures_are_logged_without_the_player_name(
    mocked: responses.RequestsMock, client: MojangClient, caplog: pytest.LogCaptureFixture
) -> None:
    mocked.get(NAME_URL + "SecretPlayer42", status=503)

    with pytest.raises(UpstreamError):
        client.uuid_for_name("SecretPlayer42")
    with pytest.raises(InvalidInputError):
        client.uuid_for_name("Secret/Player")

    logged = [(record.getMessage(), str(record.__dict__)) for record in caplog.records]
    assert any("server error (HTTP 503)" in extra for _, extra in logged)  # warned...
    assert all(
        "SecretPlayer42" not in extra and "Secret/Player" not in extra for _, extra in logged
    )
    assert all(record.levelname != "ERROR" for record in caplog.records)
