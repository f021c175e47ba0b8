"""The Mojang adapter: player identity (names, UUIDs, offline UUIDs, default skins), decoding of
Mojang's answers, a retrying transport bounded by the request's deadline, the client (single and
bulk lookups), its cache, and the tools the model calls."""

from mojang_chat.mojang.cache import TTLCache
from mojang_chat.mojang.client import (
    MAX_BULK_NAMES,
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
)
from mojang_chat.mojang.tools import ToolContext, mojang_tools

__all__ = [
    "MAX_BULK_NAMES",
    "NAME_PATTERN",
    "BulkLookup",
    "InvalidInputError",
    "MojangClient",
    "MojangError",
    "OfflinePlayer",
    "PlayerId",
    "PlayerProfile",
    "TTLCache",
    "ToolContext",
    "UpstreamError",
    "dashed_uuid",
    "default_skin",
    "mojang_tools",
    "normalize_name",
    "normalize_uuid",
    "offline_uuid",
]
