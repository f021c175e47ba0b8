"""A scripted, OpenAI-compatible model on 127.0.0.1 (``POST /v1/chat/completions``), for the
offline demo, the tests and the benchmarks.

The real openai SDK talks to it over real HTTP (``base_url=server.base_url``): answers, errors
and headers have the shapes OpenAI's reference describes, streamed or not. Each request is
answered by the next step of the script (this module's reply DSL), or, when the script is
empty, by the "brain" (``brain.py``): deterministic rules, not an LLM, that answer questions
about Minecraft players with the tools the request offers.

    with ModelServer() as model:
        model.script(tool_calls(("get_uuid_from_username", {"username": "merrydith"})),
                     answer_from_tools())
        client = openai.OpenAI(base_url=model.base_url, api_key="any-key", max_retries=0)
        ...

Test controls (tests/fakes) subclass it to check every request against OpenAI's schema
(``check``).
"""

from mojang_chat.local.standins.model.brain import HELP, NO_PLAYER, brain, compose_answer
from mojang_chat.local.standins.model.script import (
    Disconnect,
    ErrorReply,
    Hang,
    RawReply,
    Reply,
    Step,
    Trickle,
    answer,
    answer_from_tools,
    disconnect,
    error,
    hang,
    overloaded,
    rate_limited,
    raw,
    server_error,
    tool_calls,
    trickle,
)
from mojang_chat.local.standins.model.server import (
    ModelServer,
    RecordedRequest,
    Violation,
    chat_completion,
    stream_chunks,
)

__all__ = [
    "HELP",
    "NO_PLAYER",
    "Disconnect",
    "ErrorReply",
    "Hang",
    "ModelServer",
    "RawReply",
    "RecordedRequest",
    "Reply",
    "Step",
    "Trickle",
    "Violation",
    "answer",
    "answer_from_tools",
    "brain",
    "chat_completion",
    "compose_answer",
    "disconnect",
    "error",
    "hang",
    "overloaded",
    "rate_limited",
    "raw",
    "server_error",
    "stream_chunks",
    "tool_calls",
    "trickle",
]
