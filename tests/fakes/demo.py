"""``make demo``: the whole application locally, on a real model when one is configured, and on
embedded stand-ins otherwise (``make demo-offline`` always uses them).

The stand-ins are the fake model server and the fake Mojang API of this folder, started on free
ports; the application is pointed at them and served by ``python -m mojang_chat serve``'s code.
The fake model's rule-based "brain" answers questions such as "what is the id of the player
username merrydith" from the sample players, with no API key and no internet.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from mojang_chat.local.cli import load_dotenv, model_problem
from mojang_chat.local.cli import main as cli_main
from tests.fakes.model_server import FakeModelServer
from tests.fakes.mojang_server import SEEDED_PLAYERS, FakeMojangServer

OFFLINE_NOTICE = (
    "Offline demo: a scripted stand-in model answers, from sample Mojang players ({players}). "
    "To use a real model, set OPENAI_API_KEY (and OPENAI_MODEL; OPENAI_BASE_URL for Azure "
    "OpenAI, Ollama, vLLM or llama.cpp) in the environment or in .env, and run make demo again."
)


def main(argv: list[str] | None = None) -> int:
    """Serve the application until Ctrl-C: on the configured model, else on the stand-ins."""
    args = list(sys.argv[1:] if argv is None else argv)
    offline = "--offline" in args
    args = [arg for arg in args if arg != "--offline"]
    load_dotenv(Path.cwd() / ".env")
    if not offline and model_problem() is None:
        return cli_main(["demo", *args])
    with FakeModelServer() as model, FakeMojangServer() as mojang:
        # Set here, over any .env: the point of this mode is that nothing real is used.
        os.environ["OPENAI_BASE_URL"] = model.base_url
        os.environ["OPENAI_API_KEY"] = "sk-offline-demo"
        os.environ["OPENAI_MODEL"] = "gpt-4o-mini"
        for name in ("MOJANG_API_URL", "MOJANG_SESSION_URL", "MINECRAFT_SERVICES_URL"):
            os.environ[name] = mojang.url
        players = ", ".join(player.name for player in list(SEEDED_PLAYERS.values())[:4])
        notice = OFFLINE_NOTICE.format(players=players)
        print('try: "what is the id of the player username merrydith"', flush=True)
        return cli_main(["serve", "--notice", notice, *args])


if __name__ == "__main__":
    sys.exit(main())
