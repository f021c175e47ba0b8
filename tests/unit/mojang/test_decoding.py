"""Decoding Mojang's answers, through the lookups that receive them: account flags, profile
textures (skin model, cape, the default skin) and textures that do not decode."""

from __future__ import annotations

import base64

import pytest
import responses

from mojang_chat.mojang import MojangClient, PlayerProfile, UpstreamError, default_skin
from tests.unit.mojang.helpers import (
    JEB,
    NAME_URL,
    NOTCH,
    NOTCH_DASHED,
    PROFILE_URL,
    TEXTURE,
    profile_body,
    textures,
)

# -- accounts ---------------------------------------------------------------------------------


def test_legacy_and_demo_flags_are_kept(
    mocked: responses.RequestsMock, client: MojangClient
) -> None:
    mocked.get(NAME_URL + "Old", json={"id": JEB, "name": "Old", "legacy": True, "demo": True})

    player = client.uuid_for_name("Old")

    assert player is not None
    assert (player.legacy, player.demo) == (True, True)


# -- profiles ---------------------------------------------------------------------------------


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
