"""The client's lookups against ``responses``: names, UUIDs, profiles and bulk lookups, their
validation before any URL is built, and their use of the cache."""

from __future__ import annotations

import json
import threading
import time
from typing import Any

import pytest
import requests
import responses

from mojang_chat.core.deadline import Deadline
from mojang_chat.core.settings import Settings
from mojang_chat.mojang import (
    BulkLookup,
    InvalidInputError,
    MojangClient,
    OfflinePlayer,
    PlayerId,
    TTLCache,
    UpstreamError,
)
from tests.helpers import FakeClock
from tests.unit.mojang.helpers import (
    BULK_URL,
    INJECTION_NAMES,
    JEB,
    LOOKUP_URL,
    NAME_URL,
    NOTCH,
    NOTCH_DASHED,
    NOTCH_OFFLINE,
    PROFILE_URL,
    TEXTURE,
    make_client,
    profile_body,
    sent_timeout,
    textures,
)

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


@pytest.mark.parametrize("name", INJECTION_NAMES)
def test_invalid_names_send_no_request(
    mocked: responses.RequestsMock, client: MojangClient, name: str
) -> None:
    with pytest.raises(InvalidInputError):
        client.uuid_for_name(name)
    assert len(mocked.calls) == 0


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
            return 429, {}, json.dumps({"path": "/minecraft/profile/lookup/bulk/byname"})
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


# -- construction -----------------------------------------------------------------------------


def test_from_settings_uses_the_settings_and_a_user_agent(
    mocked: responses.RequestsMock,
) -> None:
    settings = Settings.from_env(
        {
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
    mocked.get("https://services.example.test/minecraft/profile/lookup/name/Notch", status=500)

    with pytest.raises(UpstreamError):
        client.uuid_for_name("Notch", deadline=Deadline(0.3))  # no retry fits in 0.3 s

    request = mocked.calls[0].request
    assert request.headers["User-Agent"] == "mojang-chat/0.1"
    assert sent_timeout(mocked.calls[0]) <= 0.3
    assert client.transport.timeout == 2.5
    assert client.transport.max_retries == 1
    assert (client.session_url, client.services_url) == (
        "https://session.example.test",
        "https://services.example.test",
    )
    assert client.cache is not None
    assert (client.cache.ttl, client.cache.negative_ttl, client.cache.max_entries) == (60, 5, 7)
