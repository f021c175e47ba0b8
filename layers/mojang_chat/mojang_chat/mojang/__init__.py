"""The Mojang adapter: player identity (names, UUIDs, offline UUIDs, default skins), decoding of
Mojang's answers, a retrying transport bounded by the request's deadline, the client (single and
bulk lookups), its cache, and the tools the model calls."""

from mojang_chat.mojang.cache import TTLCache
from mojang_chat.mojang.client import (
    BULK_CHUNK_SIZE,
    MAX_BULK_NAMES,
    MAX_BULK_WORKERS,
    MojangClient,
)
from mojang_chat.mojang.errors import InvalidInputError, MojangError, UpstreamError
from mojang_chat.mojang.identity import (
    DEFAULT_SKIN_NAMES,
    NAME_PATTERN,
    DefaultSkin,
    SkinName,
    dashed_uuid,
    default_skin,
    normalize_name,
    normalize_uuid,
    offline_uuid,
    uuid_version,
)
from mojang_chat.mojang.players import (
    OFFLINE_NOTE,
    BulkLookup,
    NameProblem,
    OfflinePlayer,
    PlayerId,
    PlayerProfile,
    Skin,
)
from mojang_chat.mojang.tools import ToolContext, mojang_tools
from mojang_chat.mojang.transport import USER_AGENT, MojangRequest, Transport

__all__ = [
    "BULK_CHUNK_SIZE",
    "DEFAULT_SKIN_NAMES",
    "MAX_BULK_NAMES",
    "MAX_BULK_WORKERS",
    "NAME_PATTERN",
    "OFFLINE_NOTE",
    "USER_AGENT",
    "BulkLookup",
    "DefaultSkin",
    "InvalidInputError",
    "MojangClient",
    "MojangError",
    "MojangRequest",
    "NameProblem",
    "OfflinePlayer",
    "PlayerId",
    "PlayerProfile",
    "Skin",
    "SkinName",
    "TTLCache",
    "ToolContext",
    "Transport",
    "UpstreamError",
    "dashed_uuid",
    "default_skin",
    "mojang_tools",
    "normalize_name",
    "normalize_uuid",
    "offline_uuid",
    "uuid_version",
]
