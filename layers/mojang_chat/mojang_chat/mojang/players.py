"""What a lookup answers: frozen result models, the shapes the model reads as JSON."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, computed_field

from mojang_chat.mojang.identity import dashed_uuid

OFFLINE_NOTE = (
    "This is an offline-mode (cracked server) UUID, version 3: it is derived from a player name "
    "by the server itself and belongs to no Mojang account, so Mojang has no name, skin or cape "
    "for it. It was answered locally, without asking Mojang."
)


class _Result(BaseModel):
    model_config = ConfigDict(frozen=True)


class _Identified(_Result):
    """Something with a UUID (32 lowercase hex), shown dashed too: people paste either form."""

    id: str

    @computed_field  # type: ignore[prop-decorator]
    @property
    def dashed_id(self) -> str:
        return dashed_uuid(self.id)


class _Checked(_Identified):
    """An account as Mojang described it, less what failed validation: ``dropped`` says what
    was left out and why (shown only when something was), so the model can say so."""

    dropped: tuple[str, ...] = Field((), exclude_if=lambda dropped: not dropped)


class PlayerId(_Checked):
    """A Mojang account: its UUID and canonical name (None when Mojang's was not a valid
    username, see ``dropped``)."""

    name: str | None
    legacy: bool = False
    demo: bool = False


class Skin(_Result):
    """A player's skin: the texture URL (None for a default skin) and its arm model."""

    url: str | None
    model: Literal["classic", "slim"]
    is_default: bool
    default_name: str | None = None


class PlayerProfile(_Checked):
    """A Mojang account with its decoded textures (what failed validation in ``dropped``)."""

    name: str | None
    skin: Skin
    cape_url: str | None = None


class OfflinePlayer(_Identified):
    """An offline-mode (version 3) UUID, answered locally: it is never a Mojang account."""

    offline_mode: Literal[True] = True
    note: str = OFFLINE_NOTE


class NameProblem(_Result):
    """A name of a bulk lookup that has no answer, and why."""

    name: str
    error: str


class BulkLookup(_Result):
    """The outcome of a many-names lookup: one entry per distinct (case-insensitive) name."""

    found: list[PlayerId]
    not_found: list[str]
    invalid: list[NameProblem]
    failed: list[NameProblem]
