"""What the Mojang adapter's tests share: the hosts and players they use, a fake clock, a
client over a given cache, and Mojang's bodies. Imported by tests as a module (never from
conftest.py); the fixtures built on them are in conftest.py."""

from __future__ import annotations

import base64
import json
from typing import Any

import requests

from mojang_chat.mojang import MojangClient, Transport, TTLCache

SESSION = "https://sessionserver.mojang.com"
SERVICES = "https://api.minecraftservices.com"
NAME_URL = f"{SERVICES}/minecraft/profile/lookup/name/"
BULK_URL = f"{SERVICES}/minecraft/profile/lookup/bulk/byname"
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


def make_client(slept: list[float], cache: TTLCache | None = None, **options: Any) -> MojangClient:
    """A client of the three hosts over ``cache``; ``options`` configure its transport."""
    return MojangClient(
        Transport(requests.Session(), sleep=slept.append, **options),
        session_url=SESSION,
        services_url=SERVICES,
        cache=cache,
    )


def sent_timeout(call: Any) -> Any:
    """The timeout the client passed for one recorded call (responses keeps the kwargs)."""
    return call.request.req_kwargs["timeout"]


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
