"""The demo: its page (the chat widget, with a banner that says what to configure), and its
upstreams: the configured model, or the stand-ins (``local.standins``) when there is none or
``--offline`` asks for them. ``python -m mojang_chat demo`` (``make demo``) runs it.
"""

from __future__ import annotations

import contextlib
import html
import os
import socket
from collections.abc import Iterator
from importlib import resources
from urllib.parse import urlsplit

from mojang_chat.core.settings import ConfigurationError, get_settings
from mojang_chat.local.standins import SAMPLE_PLAYERS, ModelServer, MojangServer

# Shown on the demo page and by `ask` when no model is configured.
MODEL_HELP = (
    "No model is configured. Set OPENAI_API_KEY (and OPENAI_MODEL, default gpt-4o-mini) in the "
    "environment or in a .env file, plus OPENAI_BASE_URL for any other OpenAI-compatible server "
    "(Azure OpenAI, Ollama: http://localhost:11434/v1, vLLM, llama.cpp), then restart. "
    "Or run `make demo-offline` to try it with a stand-in model."
)
OFFLINE_NOTICE = (
    "Offline demo: a scripted stand-in model answers, from sample Mojang players ({players}). "
    "To use a real model, set OPENAI_API_KEY (and OPENAI_MODEL; OPENAI_BASE_URL for Azure "
    "OpenAI, Ollama, vLLM or llama.cpp) in the environment or in .env, and run make demo again."
)
# What `ask` says on stderr when it answers from the stand-ins.
STANDINS_NOTE = (
    "no model is configured: the stand-in model answers, from sample Mojang players. Set "
    "OPENAI_API_KEY (and OPENAI_MODEL, OPENAI_BASE_URL) in the environment or .env for a real one."
)
# A question the stand-ins answer, printed when the demo starts on them.
EXAMPLE_QUESTION = "what is the id of the player username merrydith"
# What points the application at its upstreams: the stand-ins set these, over any .env.
UPSTREAM_VARIABLES = (
    "OPENAI_BASE_URL",
    "OPENAI_API_KEY",
    "OPENAI_MODEL",
    "MOJANG_SESSION_URL",
    "MINECRAFT_SERVICES_URL",
)


def _players() -> str:
    return ", ".join(player.name for player in list(SAMPLE_PLAYERS.values())[:4])


def model_problem() -> str | None:
    """What is wrong with the model configuration, in words; None when it looks usable."""
    try:
        settings = get_settings()
    except ConfigurationError as error:
        return str(error)
    return None if settings.model_configured else MODEL_HELP


def unanswered(url: str, timeout: float = 2.0) -> str | None:
    """Why the model server at ``url`` cannot be reached, in words; None when it takes a
    connection. Only a connection is tried (no request: nothing is spent, no key is sent)."""
    parts = urlsplit(url)
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        return "has an invalid port"
    if not parts.hostname:
        return "has no host name"
    try:
        with socket.create_connection((parts.hostname, port), timeout=timeout):
            return None
    except OSError as error:
        reason = error.strerror or type(error).__name__
        return f"does not answer ({reason}): questions will fail until it does"


def assistant_id() -> str:
    """The id of the runs API's built-in assistant (what a run is created with)."""
    # Imported here: the runs records load only when a page needs them.
    from mojang_chat.runs.records import ASSISTANT_ID

    return ASSISTANT_ID


def demo_page(endpoint: str = "", mode: str = "runs", notice: str | None = None) -> bytes:
    """The demo page: the widget pointed at ``endpoint`` (empty: the origin the widget's script
    comes from, whatever address the browser used), and a banner when the model is not
    configured (so a newcomer sees what to set instead of an error later), or with ``notice``."""
    problem = model_problem()
    banner = ""
    if problem or notice:
        banner = f'<p class="banner" role="alert">{html.escape(problem or notice or "")}</p>'
    page = resources.files("mojang_chat").joinpath("web", "demo.html").read_text(encoding="utf-8")
    return (
        page.replace("{{banner}}", banner)
        .replace("{{endpoint}}", html.escape(endpoint, quote=True))
        .replace("{{mode}}", html.escape(mode, quote=True))
        .replace("{{assistant}}", html.escape(assistant_id(), quote=True))
        .encode()
    )


@contextlib.contextmanager
def upstreams(*, offline: bool = False) -> Iterator[str | None]:
    """The demo's model and Mojang for the duration: the configured ones (yields None), or,
    when no model is configured or ``offline`` is set, the stand-ins on free ports with the
    environment pointed at them (yields the notice for the page; the environment is restored
    on exit)."""
    if not offline and model_problem() is None:
        yield None
        return
    from mojang_chat import container

    saved = {name: os.environ.get(name) for name in UPSTREAM_VARIABLES}
    with ModelServer() as model, MojangServer() as mojang:
        # Set over any .env: the point of this mode is that nothing real is used.
        os.environ["OPENAI_BASE_URL"] = model.base_url
        os.environ["OPENAI_API_KEY"] = "sk-offline-demo"
        os.environ["OPENAI_MODEL"] = "gpt-4o-mini"
        for name in ("MOJANG_SESSION_URL", "MINECRAFT_SERVICES_URL"):
            os.environ[name] = mojang.url
        container.reset()  # settings and clients are made anew from these
        try:
            yield OFFLINE_NOTICE.format(players=_players())
        finally:
            for name, value in saved.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value
            container.reset()
