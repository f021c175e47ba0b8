"""Mojang's JSON into the result models. Every string Mojang returns is checked before the model
sees it; a body that is not what its endpoint promises raises a ``ValueError``, which the
transport treats as a malformed (transient) answer."""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from mojang_chat.mojang.errors import InvalidInputError
from mojang_chat.mojang.identity import default_skin, normalize_uuid
from mojang_chat.mojang.players import PlayerId, PlayerProfile, Skin

_MAX_UPSTREAM_MESSAGE = 200


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


def decode_player_id(data: Any) -> PlayerId:
    """An account (``{"id", "name", "legacy"?, "demo"?}``) of the name and UUID lookups."""
    return PlayerId(
        id=_decode_id(data),
        name=_field(data, "name"),
        legacy=_flag(data, "legacy"),
        demo=_flag(data, "demo"),
    )


def decode_player_ids(data: Any) -> list[PlayerId]:
    """The bulk lookup's array of accounts."""
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


def upstream_message(data: Any) -> str:
    """The ``errorMessage`` of a Mojang error body, cut short, or "no reason given"."""
    message = data.get("errorMessage") if isinstance(data, dict) else None
    if not isinstance(message, str):
        return "no reason given"
    return message[:_MAX_UPSTREAM_MESSAGE]
