"""The tools the model may call: the Mojang API, through the adapter in ``mojang``.

Each tool is a typed function; its signature and docstring are its schema (see ``chat.registry``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from pydantic import Field

from mojang_chat.chat.registry import ToolRegistry
from mojang_chat.core.deadline import Deadline, DeadlineExceeded
from mojang_chat.mojang.client import MAX_BULK_NAMES, MojangClient
from mojang_chat.mojang.errors import MojangError
from mojang_chat.mojang.identity import NAME_PATTERN, dashed_uuid, offline_uuid

Username = Annotated[
    str,
    Field(
        description="A Minecraft: Java Edition username (1-25 letters, digits or _), any case.",
        pattern=NAME_PATTERN,
    ),
]
PlayerUuid = Annotated[
    str,
    Field(
        description="A player's UUID: 32 hexadecimal digits, with or without dashes.",
        max_length=64,
    ),
]


@dataclass(frozen=True)
class ToolContext:
    """What every tool call gets besides the model's arguments."""

    mojang: MojangClient
    deadline: Deadline


mojang_tools = ToolRegistry(
    context_type=ToolContext, readable_errors=(MojangError, DeadlineExceeded)
)


@mojang_tools.tool
def get_uuid_from_username(context: ToolContext, username: Username) -> dict[str, Any]:
    """Look up the UUID of one Minecraft: Java Edition player by username (case-insensitive).
    Returns the UUID and the username's canonical spelling, or found=false."""
    player = context.mojang.uuid_for_name(username, deadline=context.deadline)
    if player is None:
        return {"found": False, "username": username}
    return {"found": True, **player.model_dump(mode="json")}


@mojang_tools.tool
def get_uuids_from_usernames(
    context: ToolContext,
    usernames: Annotated[list[str], Field(min_length=1, max_length=MAX_BULK_NAMES)],
) -> dict[str, Any]:
    """Look up the UUIDs of several players at once (faster than one call per player).
    Reports which names were found, which do not exist, and which are not valid usernames."""
    return context.mojang.uuids_for_names(usernames, deadline=context.deadline).model_dump(
        mode="json"
    )


@mojang_tools.tool
def get_username_from_uuid(context: ToolContext, uuid: PlayerUuid) -> dict[str, Any]:
    """Find the current username of the player with this UUID."""
    player = context.mojang.name_for_uuid(uuid, deadline=context.deadline)
    if player is None:
        return {"found": False, "uuid": uuid}
    return {"found": True, **player.model_dump(mode="json")}


@mojang_tools.tool
def get_player_profile(context: ToolContext, uuid: PlayerUuid) -> dict[str, Any]:
    """Get a player's profile by UUID: current username, skin (its URL, and whether it uses the
    slim "Alex" or the classic "Steve" arm model, or a default skin) and cape, if any."""
    profile = context.mojang.profile(uuid, deadline=context.deadline)
    if profile is None:
        return {"found": False, "uuid": uuid}
    return {"found": True, **profile.model_dump(mode="json")}


@mojang_tools.tool
def get_offline_uuid(username: Username) -> dict[str, Any]:
    """The UUID a player with this username gets on an offline-mode (cracked) server. It is
    computed, not looked up, and is never the UUID of a Mojang account."""
    uuid = offline_uuid(username)
    return {"username": username, "offline_uuid": uuid, "dashed_offline_uuid": dashed_uuid(uuid)}
