"""The request of Chat Completions (``POST /v1/chat/completions``), what of it is refused, and
the conversation the model is sent, made of its messages.

The deployment's model serves every request (``model`` is accepted and ignored). What cannot
be honoured is refused with OpenAI's 400 (``n`` other than 1, ``logprobs``, audio, a
``response_format`` other than text, image or file input); sampling options are accepted and
ignored (``IGNORED``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from mojang_chat.chat.loop import SYSTEM_PROMPT
from mojang_chat.chat.model import CallOptions, call_options
from mojang_chat.http.errors import ApiError, unsupported
from mojang_chat.http.limits import (
    MAX_COMPLETION_MESSAGE_CHARS,
    MAX_COMPLETION_MESSAGES,
    MAX_FUNCTION_TOOLS,
)
from mojang_chat.http.openai_requests import (
    bounded,
    check_tool_choice,
    content_text,
    refuse_unknown,
)

# Accepted and ignored: they tune how the model samples or what OpenAI records, and the answer
# means the same without them.
IGNORED = frozenset(
    {
        "temperature",
        "top_p",
        "seed",
        "stop",
        "presence_penalty",
        "frequency_penalty",
        "logit_bias",
        "user",
        "metadata",
        "store",
        "service_tier",
        "prompt_cache_key",
        "safety_identifier",
        "verbosity",
        "reasoning_effort",
    }
)
# The content parts a message may hold: text.
TEXT_PARTS = frozenset({"text"})


class CalledFunction(BaseModel):
    name: str
    arguments: str


class MessageToolCall(BaseModel):
    """A tool call of an assistant message, as the caller sends it back."""

    model_config = ConfigDict(extra="forbid")
    id: str
    type: Literal["function"] = "function"
    function: CalledFunction


class ChatMessage(BaseModel):
    """One message of the request: text only. Fields a client echoes back from an answer
    (``annotations``, ``audio``...) are ignored."""

    model_config = ConfigDict(extra="ignore")
    role: Literal["system", "developer", "user", "assistant", "tool"]
    content: str | list[dict[str, Any]] | None = None
    name: str | None = None
    tool_calls: list[MessageToolCall] | None = None
    tool_call_id: str | None = None
    refusal: str | None = None


class StreamOptions(BaseModel):
    model_config = ConfigDict(extra="ignore")
    include_usage: bool | None = None


class ChatCompletionRequest(BaseModel):
    """``POST /v1/chat/completions`` (``CreateChatCompletionRequest`` of OpenAI's schema)."""

    model_config = ConfigDict(
        extra="allow",
        json_schema_extra={
            "examples": [
                {
                    "model": "gpt-4o-mini",
                    "messages": [{"role": "user", "content": "what is the uuid of merrydith?"}],
                }
            ]
        },
    )
    model: str
    messages: list[ChatMessage] = Field(min_length=1, max_length=MAX_COMPLETION_MESSAGES)
    tools: list[dict[str, Any]] | None = Field(None, max_length=MAX_FUNCTION_TOOLS)
    tool_choice: str | dict[str, Any] | None = None
    parallel_tool_calls: bool | None = None
    stream: bool | None = None
    stream_options: StreamOptions | None = None
    n: int | None = None
    max_tokens: int | None = Field(None, ge=1)
    max_completion_tokens: int | None = Field(None, ge=1)
    logprobs: bool | None = None
    top_logprobs: int | None = None
    response_format: dict[str, Any] | None = None
    modalities: list[str] | None = None
    audio: dict[str, Any] | None = None

    def tool_choice_name(self) -> str | None:
        choice = self.tool_choice
        function = choice.get("function") if isinstance(choice, dict) else None
        name = function.get("name") if isinstance(function, dict) else None
        return name if isinstance(name, str) else None

    def refuse_unsupported(self) -> None:
        """A 400 for the first option that cannot be honoured, or an unknown one."""
        refuse_unknown(self.model_extra or {}, IGNORED)
        check_tool_choice(self.tool_choice, self.tool_choice_name())
        if self.n not in (None, 1):
            raise unsupported("n", "Only n=1 is supported: one choice per request.")
        if self.logprobs or self.top_logprobs:
            raise unsupported("logprobs", "logprobs are not supported.")
        if self.audio is not None or any(m != "text" for m in self.modalities or ()):
            raise unsupported("modalities", "Only text output is supported.")
        if self.response_format not in (None, {"type": "text"}):
            raise unsupported("response_format", "Only the text response format is supported.")

    @property
    def include_usage(self) -> bool:
        """Whether a stream ends with a chunk of the usage."""
        return bool(self.stream_options and self.stream_options.include_usage)

    def options(self) -> CallOptions:
        """The options each model call is made with."""
        return call_options(
            self.tool_choice,
            self.parallel_tool_calls,
            self.max_completion_tokens or self.max_tokens,
        )


def model_messages(messages: Sequence[ChatMessage]) -> list[dict[str, Any]]:
    """What the model is sent: the server's prompt, then the caller's messages as Chat
    Completions messages. Every tool message must answer a call of the assistant message
    before it, and every such call must be answered before the next message (as OpenAI
    requires; a 400 naming the message otherwise)."""
    sent: list[dict[str, Any]] = [{"role": "system", "content": SYSTEM_PROMPT}]
    pending: set[str] = set()
    for index, message in enumerate(messages):
        param = f"messages[{index}]"
        text = content_text(message.content, f"{param}.content", TEXT_PARTS)
        if text is not None:
            bounded(text, f"{param}.content", MAX_COMPLETION_MESSAGE_CHARS)
        if message.role == "tool":
            if message.tool_call_id not in pending:
                raise ApiError(
                    400,
                    f"Invalid '{param}': a 'tool' message must answer a tool call of the "
                    "assistant message before it.",
                    param=f"{param}.tool_call_id",
                    code="invalid_value",
                )
            pending.discard(message.tool_call_id)
            sent.append({"role": "tool", "tool_call_id": message.tool_call_id, "content": text})
            continue
        if pending:
            raise _unanswered(pending, param)
        if message.role == "assistant":
            turn: dict[str, Any] = {"role": "assistant", "content": text}
            if message.tool_calls:
                turn["tool_calls"] = [call.model_dump() for call in message.tool_calls]
                pending = {call.id for call in message.tool_calls}
            sent.append(turn)
        else:
            role = "system" if message.role in ("system", "developer") else "user"
            sent.append({"role": role, "content": text or ""})
    if pending:
        raise _unanswered(pending, None)
    return sent


def _unanswered(pending: set[str], param: str | None) -> ApiError:
    where = f"Invalid '{param}': the" if param else "The"
    return ApiError(
        400,
        f"{where} tool calls {sorted(pending)} were not answered by 'tool' messages.",
        param=param or "messages",
        code="invalid_value",
    )
