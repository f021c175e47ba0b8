"""Mojang's JSON into the result models. Every string Mojang returns is checked before the model
or a caller sees it: a UUID must be one; a name must match ``NAME_PATTERN``; a skin or cape
URL must be a texture on ``textures.minecraft.net`` (served over https). A name or URL that
fails is dropped, and the result's ``dropped`` says so. A body that is not what its endpoint
promises raises a ``ValueError``, which the transport treats as a malformed (transient) answer."""

from __future__ import annotations

import base64
import binascii
import json
import re
from typing import Any
from urllib.parse import urlsplit

from mojang_chat.mojang.errors import InvalidInputError
from mojang_chat.mojang.identity import default_skin, normalize_name, normalize_uuid
from mojang_chat.mojang.players import PlayerId, PlayerProfile, Skin

_MAX_UPSTREAM_MESSAGE = 200
# Where Mojang serves skins and capes: http://textures.minecraft.net/texture/<hex hash>.
TEXTURES_HOST = "textures.minecraft.net"
_TEXTURE_PATH = re.compile(r"/texture/[0-9a-f]{1,128}")
_MAX_URL_CHARS = 300
# What ``dropped`` says about a value that failed its check (the value itself is never shown:
# it is what must not reach the model).
NOT_A_NAME = "name: not a valid Minecraft username"
NOT_A_TEXTURE_URL = "not a textures.minecraft.net URL"
# An error message of Mojang's is shown to the model: printable ASCII only, cut short.
_UNSAFE_CHARS = re.compile(r"[^\x20-\x7e]")


class _Malformed(ValueError):
    """A 200 body that is not what the endpoint promises."""


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


def _name(data: Any, dropped: list[str]) -> str | None:
    """Mojang's name for the account if it is a valid username (``NAME_PATTERN``), else
    None (noted)."""
    try:
        return normalize_name(_field(data, "name"))
    except InvalidInputError:
        dropped.append(NOT_A_NAME)
        return None


def texture_url(value: str) -> str | None:
    """``value`` as ``https://textures.minecraft.net/texture/<hash>`` if it is a texture URL
    there (``http`` is upgraded), else None: no other scheme, host, port, user info, query or
    fragment."""
    if len(value) > _MAX_URL_CHARS:
        return None
    try:
        parts = urlsplit(value)
    except ValueError:
        return None
    if (
        parts.scheme not in ("http", "https")
        or parts.netloc != TEXTURES_HOST
        or parts.query
        or parts.fragment
        or _TEXTURE_PATH.fullmatch(parts.path) is None
    ):
        return None
    return f"https://{TEXTURES_HOST}{parts.path}"


def _texture(data: Any, field: str, dropped: list[str]) -> str | None:
    """The texture URL of a SKIN or CAPE entry, or None (noted as ``field``) if it is not
    one of ``textures.minecraft.net``."""
    url = texture_url(_field(data, "url"))
    if url is None:
        dropped.append(f"{field}: {NOT_A_TEXTURE_URL}")
    return url


def decode_player_id(data: Any) -> PlayerId:
    """An account (``{"id", "name", "legacy"?, "demo"?}``) of the name and UUID lookups."""
    dropped: list[str] = []
    return PlayerId(
        id=_decode_id(data),
        name=_name(data, dropped),
        legacy=_flag(data, "legacy"),
        demo=_flag(data, "demo"),
        dropped=tuple(dropped),
    )


def decode_player_ids(data: Any) -> list[PlayerId]:
    """The bulk lookup's array of accounts (an entry whose name is not valid has ``name``
    None: it answers none of the names asked for)."""
    if not isinstance(data, list):
        raise _Malformed("expected a JSON array")
    return [decode_player_id(item) for item in data]


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


def decode_profile(data: Any) -> PlayerProfile:
    """A session server profile, its base64 textures property decoded: the skin (the UUID's
    default skin when it has none) and the cape."""
    uuid = _decode_id(data)
    dropped: list[str] = []
    name = _name(data, dropped)
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
        url = _texture(skin_data, "skin_url", dropped)
        skin = Skin(url=url, model="slim" if slim else "classic", is_default=False)
    cape_data = textures.get("CAPE")
    cape_url = None if cape_data is None else _texture(cape_data, "cape_url", dropped)
    return PlayerProfile(id=uuid, name=name, skin=skin, cape_url=cape_url, dropped=tuple(dropped))


def upstream_message(data: Any) -> str:
    """The ``errorMessage`` of a Mojang error body, cut short, or "no reason given"."""
    message = data.get("errorMessage") if isinstance(data, dict) else None
    if not isinstance(message, str):
        return "no reason given"
    return _UNSAFE_CHARS.sub("?", message[:_MAX_UPSTREAM_MESSAGE])
