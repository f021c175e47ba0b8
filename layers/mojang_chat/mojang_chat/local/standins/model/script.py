"""The stand-in model's script: what it answers the next chat completion requests with (an
answer, tool calls, an error with OpenAI's body, raw bytes, a hang, a trickle, a dropped
connection), queued by ``ModelServer.script``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

FinishReason = Literal["stop", "length", "tool_calls", "content_filter"]
Json = Any


@dataclass(frozen=True)
class Reply:
    """A ``chat.completion``: text, tool calls, or (``from_tools``) the brain's summary."""

    content: str | None = None
    calls: tuple[tuple[str, str], ...] = ()  # (name, arguments as the model wrote them)
    finish_reason: FinishReason = "stop"
    from_tools: bool = False


@dataclass(frozen=True)
class ErrorReply:
    """An error response with OpenAI's body shape."""

    status: int
    body: Json
    headers: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class RawReply:
    """Exactly these bytes, e.g. an HTML page from a proxy."""

    status: int
    body: bytes
    content_type: str
    headers: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Hang:
    """Wait, then answer with `then` (the brain's answer when None)."""

    seconds: float
    then: Step | None = None


@dataclass(frozen=True)
class Disconnect:
    """Close the connection without answering."""


@dataclass(frozen=True)
class Trickle:
    """Answer with `reply` (the brain's answer when None), the body's bytes sent one every
    `byte_interval` seconds: each read gets a byte in time, so no read timeout fires."""

    byte_interval: float
    reply: Reply | None = None


Step = Reply | ErrorReply | RawReply | Hang | Disconnect | Trickle


def answer(text: str, *, finish_reason: FinishReason = "stop") -> Reply:
    """The model answers with `text`."""
    return Reply(content=text, finish_reason=finish_reason)


def answer_from_tools() -> Reply:
    """The model answers in plain English from the tool messages of the request."""
    return Reply(from_tools=True)


def tool_calls(*calls: tuple[str, Mapping[str, Any] | str], content: str | None = None) -> Reply:
    """The model calls these tools in one turn. Arguments given as a string are sent verbatim,
    so a test can make the model write invalid JSON or unknown keys."""
    if not calls:
        raise ValueError("tool_calls() needs at least one (name, arguments) pair")
    encoded = tuple(
        (name, args if isinstance(args, str) else json.dumps(args)) for name, args in calls
    )
    return Reply(content=content, calls=encoded, finish_reason="tool_calls")


_ERROR_TYPES = {
    400: "invalid_request_error",
    401: "invalid_request_error",
    403: "invalid_request_error",
    404: "invalid_request_error",
    409: "invalid_request_error",
    422: "invalid_request_error",
    429: "requests",
}


def error(
    status: int,
    message: str = "The server had an error while processing your request. Sorry about that!",
    *,
    type: str | None = None,
    code: str | None = None,
    param: str | None = None,
    headers: Mapping[str, str] | None = None,
) -> ErrorReply:
    """An error with the exact body OpenAI sends: ``{"error": {message, type, param, code}}``."""
    kind = type or _ERROR_TYPES.get(status, "server_error")
    body = {"error": {"message": message, "type": kind, "param": param, "code": code}}
    return ErrorReply(status, body, dict(headers or {}))


def rate_limited(retry_after: float = 1, *, model: str = "gpt-4o-mini") -> ErrorReply:
    """429 as OpenAI sends it: ``Retry-After`` plus the ``x-ratelimit-*`` headers."""
    seconds = f"{retry_after:g}"
    return error(
        429,
        f"Rate limit reached for {model} in organization org-fake on requests per min (RPM): "
        f"Limit 500, Used 500, Requested 1. Please try again in {seconds}s. Visit "
        "https://platform.openai.com/account/rate-limits to learn more.",
        code="rate_limit_exceeded",
        headers={
            "retry-after": seconds,
            "x-ratelimit-limit-requests": "500",
            "x-ratelimit-remaining-requests": "0",
            "x-ratelimit-reset-requests": f"{seconds}s",
            "x-ratelimit-limit-tokens": "200000",
            "x-ratelimit-remaining-tokens": "199000",
            "x-ratelimit-reset-tokens": "300ms",
        },
    )


def server_error() -> ErrorReply:
    """500 with OpenAI's body."""
    return error(500)


def overloaded() -> ErrorReply:
    """503 with OpenAI's body."""
    return error(503, "The server is overloaded or not ready yet.")


def hang(seconds: float, then: Step | None = None) -> Hang:
    """Answer only after `seconds` (other requests are served meanwhile; stop() cuts it short)."""
    return Hang(seconds, then)


def raw(status: int, body: bytes, content_type: str = "text/html; charset=utf-8") -> RawReply:
    """Answer with these exact bytes, e.g. a gateway's HTML error page."""
    return RawReply(status, body, content_type)


def trickle(byte_interval: float = 0.5, reply: Reply | None = None) -> Trickle:
    """A valid completion, sent one byte every `byte_interval` seconds."""
    return Trickle(byte_interval, reply)


def disconnect() -> Disconnect:
    """Close the socket without sending a response."""
    return Disconnect()
