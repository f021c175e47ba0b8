"""Player identity without I/O: name and UUID validation, UUID forms and versions, offline
UUIDs and default skins."""

from __future__ import annotations

import hashlib
import struct
import uuid as std_uuid

import pytest

from mojang_chat.mojang import (
    DEFAULT_SKIN_NAMES,
    NAME_PATTERN,
    InvalidInputError,
    dashed_uuid,
    default_skin,
    normalize_name,
    normalize_uuid,
    offline_uuid,
    uuid_version,
)
from tests.unit.mojang.helpers import INJECTION_NAMES, JEB, NOTCH, NOTCH_DASHED, NOTCH_OFFLINE

# -- names ------------------------------------------------------------------------------------


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


# -- UUIDs ------------------------------------------------------------------------------------


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


# -- default skins ----------------------------------------------------------------------------


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
