"""Player identity, without I/O: which names and UUIDs are valid, UUID forms and versions, the
UUID an offline-mode server derives from a name, and the default skin a UUID gets."""

from __future__ import annotations

import hashlib
import re
from typing import Literal

from pydantic import BaseModel, ConfigDict

from mojang_chat.mojang.errors import InvalidInputError

# The lookup API accepts 1..25 characters (legacy accounts are shorter or longer than today's
# 3..16). Nothing but these characters may ever reach a URL path. Matched with re.fullmatch:
# "$" alone would also accept a trailing newline.
NAME_PATTERN = r"^[A-Za-z0-9_]{1,25}$"
_NAME_RE = re.compile(r"[A-Za-z0-9_]{1,25}")
_UNDASHED_RE = re.compile(r"[0-9a-fA-F]{32}")
_DASHED_RE = re.compile(
    r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
)
_MAX_SHOWN_INPUT = 40  # characters of a rejected input echoed back in an error message

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


class DefaultSkin(BaseModel):
    """One of the 18 default skins of Minecraft 1.19.3+ (a character and an arm model)."""

    model_config = ConfigDict(frozen=True)

    name: SkinName
    model: Literal["classic", "slim"]


def shown(value: object) -> str:
    """``value`` as an error message echoes it: quoted, and cut short if it is long (a model may
    send anything, of any length)."""
    text = value if isinstance(value, str) else str(value)
    if len(text) > _MAX_SHOWN_INPUT:
        text = text[:_MAX_SHOWN_INPUT] + "..."
    return repr(text)


def normalize_name(name: str) -> str:
    """``name`` unchanged (case preserved) if it can be a Minecraft username, else
    ``InvalidInputError``. Only 1..25 of ``A-Z a-z 0-9 _`` pass: nothing else may reach a URL."""
    if not isinstance(name, str):
        raise InvalidInputError(f"{shown(name)} is not a valid Minecraft username: not a string")
    if _NAME_RE.fullmatch(name) is None:
        raise InvalidInputError(
            f"{shown(name)} is not a valid Minecraft username: usernames are 1 to 25 "
            "characters, only the letters A-Z and a-z, the digits 0-9 and the underscore _"
        )
    return name


def normalize_uuid(value: str) -> str:
    """``value`` as 32 lowercase hex digits. Accepts the dashed (8-4-4-4-12) or undashed form in
    any case, with surrounding whitespace; anything else raises ``InvalidInputError``."""
    if not isinstance(value, str):
        raise InvalidInputError(f"{shown(value)} is not a valid UUID: not a string")
    text = value.strip()
    if _UNDASHED_RE.fullmatch(text) is None and _DASHED_RE.fullmatch(text) is None:
        raise InvalidInputError(
            f"{shown(value)} is not a valid UUID: expected 32 hexadecimal digits, with or "
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
            f"{shown(name)} is not a valid player name: 1 to 64 printable characters"
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
