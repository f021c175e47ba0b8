"""The upstreams of a benchmark: the stand-in model and Mojang API on 127.0.0.1
(``mojang_chat.local.standins``) with configurable latency, players enough for every question,
and the environment pointing the application at them."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from mojang_chat.local.standins import ModelServer, MojangServer, Player


def player_names(count: int, prefix: str = "Bench") -> list[str]:
    """``count`` distinct valid usernames (3..16 characters, not English words)."""
    return [f"{prefix}{index:05d}" for index in range(count)]


def question(names: Sequence[str]) -> str:
    """A question the stand-in model answers with one lookup round: one name, or a bulk lookup."""
    if len(names) == 1:
        return f"what is the uuid of the player {names[0]}"
    return "what are the uuids of the players " + " ".join(names)


@dataclass
class Upstreams:
    """The two stand-ins, running."""

    model: ModelServer
    mojang: MojangServer

    def environment(self) -> dict[str, str]:
        """What the functions' environment needs to use the stand-ins."""
        return {
            "OPENAI_BASE_URL": self.model.base_url,
            "OPENAI_API_KEY": "sk-bench-0123456789abcdef",
            "OPENAI_MODEL": "gpt-4o-mini",
            "MOJANG_SESSION_URL": self.mojang.url,
            "MINECRAFT_SERVICES_URL": self.mojang.url,
            # One client asks every question: its own limits would refuse the burst. The
            # deployment's budget stays on, so its counters' cost is in the numbers.
            "CLIENT_REQUESTS_PER_MINUTE": "0",
            "CLIENT_TOKENS_PER_DAY": "0",
            "POWERTOOLS_TRACE_DISABLED": "true",
            "POWERTOOLS_METRICS_NAMESPACE": "MojangChatBench",
            "POWERTOOLS_LOG_LEVEL": "WARNING",
            "AWS_ACCESS_KEY_ID": "bench",
            "AWS_SECRET_ACCESS_KEY": "bench",
            "AWS_DEFAULT_REGION": "us-east-1",
        }

    def set_latency(self, model: float, mojang: float) -> None:
        """Seconds added to every model call and every Mojang request."""
        self.model.latency = model
        self.mojang.latency = mojang

    def add_players(self, names: Sequence[str]) -> None:
        """More accounts on the stand-in Mojang (ids after the first 100,000 players')."""
        for index, name in enumerate(names, start=200_000):
            self.mojang.add_player(Player(id=f"{index:032x}", name=name))

    def mojang_requests(self) -> int:
        """Requests the stand-in Mojang received so far."""
        return len(self.mojang.requests())


@contextlib.contextmanager
def running(players: int, *, model: float = 0.0, mojang: float = 0.0) -> Iterator[Upstreams]:
    """Both stand-ins, with ``players`` extra accounts, and os.environ pointing at them."""
    accounts = {
        name.lower(): Player(id=f"{index + 1:032x}", name=name)
        for index, name in enumerate(player_names(players))
    }
    saved = dict(os.environ)
    with (
        ModelServer(latency=model) as stand_in_model,
        MojangServer(accounts, latency=mojang) as stand_in_mojang,
    ):
        upstreams = Upstreams(stand_in_model, stand_in_mojang)
        os.environ.update(upstreams.environment())
        try:
            yield upstreams
        finally:
            os.environ.clear()
            os.environ.update(saved)
