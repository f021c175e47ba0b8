"""The HTTP front doors: a resolver base and the routers of the doors (``resolver.py``: validation,
limits, CORS, the shared secret, docs), the error shapes (``errors.py``), ``POST /chat``
(``chat.py``) and the OpenAI-compatible ``/v1`` API (``v1.py``: one resolver joining the
Assistants, Chat Completions, models, Responses and Conversations routers).

Each API is imported on first use (PEP 562): the chat function never pays for the /v1 API's
models and store at its cold start.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mojang_chat.http.chat import chat_api
    from mojang_chat.http.resolver import JsonApi
    from mojang_chat.http.v1 import v1_api

__all__ = ["JsonApi", "chat_api", "v1_api"]

_HOMES = {
    "JsonApi": "mojang_chat.http.resolver",
    "chat_api": "mojang_chat.http.chat",
    "v1_api": "mojang_chat.http.v1",
}


def __getattr__(name: str) -> Any:
    if name not in _HOMES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(import_module(_HOMES[name]), name)
