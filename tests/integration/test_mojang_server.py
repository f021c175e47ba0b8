"""The fake Mojang behaves per reference/mojang-api.md, and MojangClient works against it over
real HTTP on 127.0.0.1."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from mojang_chat.local.standins import JEB_UUID, MERRYDITH_UUID, NOTCH_UUID, SAMPLE_PLAYERS
from mojang_chat.mojang import (
    MojangClient,
    PlayerId,
    PlayerProfile,
    Transport,
    TTLCache,
    UpstreamError,
    default_skin,
)
from tests.fakes.mojang_server import FakeMojangServer, Fault


@pytest.fixture
def fake() -> Iterator[FakeMojangServer]:
    with FakeMojangServer() as server:
        yield server


@pytest.fixture
def http() -> Iterator[requests.Session]:
    with requests.Session() as session:
        yield session


@pytest.fixture
def slept() -> list[float]:
    return []


def make_client(
    fake: FakeMojangServer,
    slept: list[float],
    cache: TTLCache | None = None,
    **options: Any,
) -> MojangClient:
    return MojangClient(
        Transport(requests.Session(), sleep=slept.append, **options),
        session_url=fake.url,
        services_url=fake.url,
        cache=cache,
    )


@pytest.fixture
def client(fake: FakeMojangServer, slept: list[float]) -> Iterator[MojangClient]:
    client = make_client(fake, slept, cache=TTLCache())
    yield client
    client.close()


def decode_textures(body: dict[str, Any]) -> dict[str, Any]:
    value = body["properties"][0]["value"]
    document: dict[str, Any] = json.loads(base64.b64decode(value))
    return document


# -- the fake, per reference ------------------------------------------------------------------


def test_name_lookup_is_case_insensitive_with_the_reference_404(
    fake: FakeMojangServer, http: requests.Session
) -> None:
    found = http.get(f"{fake.url}/minecraft/profile/lookup/name/MERRYDITH", timeout=5)
    missing = http.get(f"{fake.url}/minecraft/profile/lookup/name/x", timeout=5)
    too_long = http.get(f"{fake.url}/minecraft/profile/lookup/name/{'a' * 26}", timeout=5)
    legacy = http.get(f"{fake.url}/minecraft/profile/lookup/name/oldtimer", timeout=5)

    assert found.json() == {"id": MERRYDITH_UUID, "name": "merrydith"}  # no false flags
    assert missing.status_code == 404
    assert missing.json() == {
        "path": "/minecraft/profile/lookup/name/x",
        "errorMessage": "Couldn't find any profile with name x",
    }
    assert too_long.status_code == 400
    assert too_long.json()["error"] == "CONSTRAINT_VIOLATION"
    assert legacy.json()["legacy"] is True
    assert http.get(f"{fake.url}/minecraft/profile/lookup/name/jeb_", timeout=5).json() == {
        "id": JEB_UUID,
        "name": "jeb_",
    }


def test_bulk_follows_the_reference_rules(fake: FakeMojangServer, http: requests.Session) -> None:
    url = f"{fake.url}/minecraft/profile/lookup/bulk/byname"

    no_type = http.post(url, data=b'["Notch"]', timeout=5)
    too_many = http.post(url, json=[f"p{i}" for i in range(11)], timeout=5)
    one_bad = http.post(url, json=["Notch", "bad name"], timeout=5)
    empty = http.post(url, json=[], timeout=5)
    none_exist = http.post(url, json=["ghost_1", "ghost_2"], timeout=5)
    names = ["notch", "JEB_", "merrydith", "Dinnerbone", "ghost"]
    answers = [http.post(url, json=names, timeout=5).json() for _ in range(6)]

    assert no_type.status_code == 415
    assert [r.status_code for r in (too_many, one_bad, empty)] == [400, 400, 400]
    assert one_bad.json()["error"] == "CONSTRAINT_VIOLATION"
    assert none_exist.json() == []
    assert all(
        sorted(p["name"] for p in answer) == ["Dinnerbone", "Notch", "jeb_", "merrydith"]
        for answer in answers
    )
    assert len({tuple(p["name"] for p in answer) for answer in answers}) > 1  # no fixed order


def test_uuid_lookups_and_profiles(fake: FakeMojangServer, http: requests.Session) -> None:
    unknown = "0" * 12 + "4" + "0" * 19
    lookup = http.get(f"{fake.url}/minecraft/profile/lookup/{NOTCH_UUID}", timeout=5)
    lookup_missing = http.get(f"{fake.url}/minecraft/profile/lookup/{unknown}", timeout=5)
    lookup_bad = http.get(f"{fake.url}/minecraft/profile/lookup/nope", timeout=5)
    profile_missing = http.get(f"{fake.url}/session/minecraft/profile/{unknown}", timeout=5)
    profile_bad = http.get(f"{fake.url}/session/minecraft/profile/nope", timeout=5)
    merrydith = http.get(f"{fake.url}/session/minecraft/profile/{MERRYDITH_UUID}", timeout=5)

    assert lookup.json() == {"id": NOTCH_UUID, "name": "Notch"}
    assert lookup_missing.status_code == 404
    assert lookup_missing.json()["error"] == "NOT FOUND"
    assert lookup_bad.status_code == 400
    assert lookup_bad.json()["errorMessage"] == "Not a valid UUID: nope"
    assert (profile_missing.status_code, profile_missing.content) == (204, b"")
    assert profile_bad.status_code == 400
    document = decode_textures(merrydith.json())
    assert document["textures"]["SKIN"]["metadata"] == {"model": "slim"}
    assert abs(document["timestamp"] / 1000 - time.time()) < 60
    assert merrydith.json()["profileActions"] == []


def test_faults_hit_only_matching_paths_and_every_request_is_logged(
    fake: FakeMojangServer, http: requests.Session
) -> None:
    fake.inject(
        Fault.rate_limited(retry_after=2), times=2, path_prefix="/minecraft/profile/lookup/name/"
    )

    profile = http.get(f"{fake.url}/minecraft/profile/lookup/{NOTCH_UUID}", timeout=5)
    first = http.get(f"{fake.url}/minecraft/profile/lookup/name/Notch", timeout=5)
    second = http.get(f"{fake.url}/minecraft/profile/lookup/name/Notch", timeout=5)
    third = http.get(f"{fake.url}/minecraft/profile/lookup/name/Notch", timeout=5)
    http.post(f"{fake.url}/minecraft/profile/lookup/bulk/byname", json=["Notch"], timeout=5)

    assert profile.status_code == 200
    assert [r.status_code for r in (first, second, third)] == [429, 429, 200]
    assert first.headers["Retry-After"] == "2"
    assert [(r.method, r.path) for r in fake.requests()] == [
        ("GET", f"/minecraft/profile/lookup/{NOTCH_UUID}"),
        ("GET", "/minecraft/profile/lookup/name/Notch"),
        ("GET", "/minecraft/profile/lookup/name/Notch"),
        ("GET", "/minecraft/profile/lookup/name/Notch"),
        ("POST", "/minecraft/profile/lookup/bulk/byname"),
    ]
    assert fake.requests("/minecraft/profile/lookup/bulk/")[0].json() == ["Notch"]


def test_seeded_players_cover_slim_cape_and_no_skin() -> None:
    players = list(SAMPLE_PLAYERS.values())
    assert SAMPLE_PLAYERS["merrydith"].id == MERRYDITH_UUID
    assert any(p.slim for p in players)
    assert any(p.cape_url for p in players)
    assert any(p.skin_url is None for p in players)
    assert all(len(p.id) == 32 and p.id[12] == "4" for p in players)


# -- MojangClient over real HTTP --------------------------------------------------------------


def test_client_name_lookup(fake: FakeMojangServer, client: MojangClient) -> None:
    assert client.uuid_for_name("MerryDith") == PlayerId(id=MERRYDITH_UUID, name="merrydith")
    assert client.uuid_for_name("nobody_here") is None
    assert fake.requests()[0].headers["Accept"] == "application/json"


def test_client_bulk_of_25_names(fake: FakeMojangServer, client: MojangClient) -> None:
    seeded = [player.name.upper() for player in SAMPLE_PLAYERS.values()]
    missing = [f"missing_{i}" for i in range(25 - len(seeded) - 1)]
    names = [*seeded[:3], "../../etc/passwd", *missing, *seeded[3:]]
    assert len(names) == 25

    result = client.uuids_for_names(names)

    assert [p.id for p in result.found] == [p.id for p in SAMPLE_PLAYERS.values()]
    assert result.not_found == missing
    assert [entry.name for entry in result.invalid] == ["../../etc/passwd"]
    assert result.failed == []
    bodies = [request.json() for request in fake.requests("/minecraft/profile/lookup/bulk/byname")]
    assert sorted(len(body) for body in bodies) == [4, 10, 10]
    assert all(r.headers["Content-Type"] == "application/json" for r in fake.requests())
    assert all("passwd" not in r.path and b"passwd" not in r.body for r in fake.requests())


def test_client_profiles_decode_textures(fake: FakeMojangServer, client: MojangClient) -> None:
    merrydith = client.profile(MERRYDITH_UUID)
    jeb = client.profile(JEB_UUID.upper())
    plain = SAMPLE_PLAYERS["plain_steve"]
    plain_profile = client.profile(plain.id)

    assert isinstance(merrydith, PlayerProfile)
    assert (merrydith.skin.model, merrydith.cape_url) == ("slim", None)
    assert isinstance(jeb, PlayerProfile)
    assert jeb.skin.model == "classic"
    cape = SAMPLE_PLAYERS["jeb_"].cape_url
    assert cape is not None
    assert jeb.cape_url == cape.replace("http://", "https://", 1)  # served over https
    assert isinstance(plain_profile, PlayerProfile)
    assert plain_profile.skin.is_default
    assert plain_profile.skin.default_name == default_skin(plain.id).name
    assert client.profile("4" * 12 + "4" + "0" * 19) is None  # 204 from the session server


def test_client_retries_a_429_then_gets_the_answer(
    fake: FakeMojangServer, client: MojangClient, slept: list[float]
) -> None:
    fake.inject(Fault.rate_limited(), times=1, path_prefix="/minecraft/profile/lookup/name/")
    fake.inject(Fault.rate_limited(retry_after=0.75), times=1, path_prefix="/minecraft/")

    assert client.uuid_for_name("Notch") == PlayerId(id=NOTCH_UUID, name="Notch")
    assert client.name_for_uuid(JEB_UUID) == PlayerId(id=JEB_UUID, name="jeb_")
    assert slept == [0.25, 0.75]
    assert len(fake.requests()) == 4


def test_client_never_caches_a_waf_block(
    fake: FakeMojangServer, client: MojangClient, slept: list[float]
) -> None:
    fake.inject(Fault.waf(), times=3)

    with pytest.raises(UpstreamError) as caught:
        client.uuid_for_name("Notch")
    assert caught.value.status == 403
    assert client.uuid_for_name("Notch") is not None
    assert len(fake.requests()) == 4


def test_client_gives_up_on_a_hang_a_huge_body_and_malformed_json(
    fake: FakeMojangServer, slept: list[float]
) -> None:
    client = make_client(fake, slept, timeout=0.2, max_retries=0, max_body_bytes=10_000)
    fake.inject(Fault.hanging(5), path_prefix="/minecraft/profile/lookup/name/")
    fake.inject(Fault.huge_body(), path_prefix="/minecraft/")
    fake.inject(Fault.malformed_json(), path_prefix="/session/")

    started = time.monotonic()
    with pytest.raises(UpstreamError, match="timed out"):
        client.uuid_for_name("Notch")
    assert time.monotonic() - started < 2
    with pytest.raises(UpstreamError, match="too large"):
        client.name_for_uuid(NOTCH_UUID)
    with pytest.raises(UpstreamError, match="malformed"):
        client.profile(NOTCH_UUID)
    client.close()


def test_latency_is_added_to_every_request(fake: FakeMojangServer, client: MojangClient) -> None:
    fake.latency = 0.1

    started = time.monotonic()
    client.uuid_for_name("Notch")

    assert time.monotonic() - started >= 0.1
