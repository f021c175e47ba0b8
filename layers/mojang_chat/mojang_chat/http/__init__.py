"""The HTTP front doors: a resolver base (validation, limits, CORS, the shared secret, error
mapping per API shape, docs), ``POST /chat`` and the OpenAI-compatible ``/v1`` API.

Each front door is imported on first use (PEP 562): the chat function never pays for the runs
API's models and store at its cold start.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mojang_chat.http.assistants import runs_api
    from mojang_chat.http.chat import chat_api
    from mojang_chat.http.resolver import JsonApi

__all__ = ["JsonApi", "chat_api", "runs_api"]

_HOMES = {
    "JsonApi": "mojang_chat.http.resolver",
    "chat_api": "mojang_chat.http.chat",
    "runs_api": "mojang_chat.http.assistants",
}


def __getattr__(name: str) -> Any:
    if name not in _HOMES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(import_module(_HOMES[name]), name)
