"""The requests of the Responses API (``POST /v1/responses``) and of Conversations, what of
them is refused, and the core's inputs made of them.

``input`` is a string, or items: messages, ``function_call_output`` items (the caller's answers
to the calls its previous response ended with), and, from a caller that keeps the conversation
itself, the earlier ``function_call`` items and this server's ``mcp_call`` items.

Not supported (400): ``stream`` with ``background``; ``store: false`` with ``background``,
``previous_response_id`` or ``conversation``; image and file input, hosted tools, a
``text.format`` other than text. Sampling and bookkeeping options are accepted and ignored
(``IGNORED``).
"""

from __future__ import annotations

import json
from typing import Any, NamedTuple

from pydantic import BaseModel, ConfigDict, Field

from mojang_chat.http.errors import ApiError, unsupported
from mojang_chat.http.limits import (
    MAX_FUNCTION_TOOLS,
    MAX_INPUT_ITEMS,
    MAX_INSTRUCTIONS_CHARS,
    MAX_MESSAGE_CHARS,
    Metadata,
)
from mojang_chat.http.openai_requests import (
    bounded,
    check_tool_choice,
    content_text,
    function_tools,
    refuse_unknown,
)
from mojang_chat.runs import EarlierCall, HistoryItem, NewMessage, RunOptions

# The label of the server's tools in ``mcp_call`` items.
SERVER_LABEL = "mojang"
# Accepted and ignored: they tune sampling or what OpenAI records.
IGNORED = frozenset(
    {
        "temperature",
        "top_p",
        "user",
        "safety_identifier",
        "prompt_cache_key",
        "service_tier",
        "include",
        "truncation",
        "reasoning",
        "max_tool_calls",
        "top_logprobs",
        "prompt_cache_retention",
        "stream_options",
    }
)
# The content parts an input message may hold: text, the caller's or an earlier answer's.
TEXT_PARTS = frozenset({"input_text", "output_text"})


class Inputs(NamedTuple):
    """What an input is made of: messages (and, sent back by a stateless caller, earlier tool
    calls), the outputs of the caller's calls, and system texts (``system`` and ``developer``
    messages: instructions of this response)."""

    history: list[HistoryItem]
    outputs: list[tuple[str, str]]
    system: list[str]


class CreateResponseRequest(BaseModel):
    """``POST /v1/responses`` (``CreateResponse`` of OpenAI's schema)."""

    model_config = ConfigDict(extra="allow")
    model: str | None = None
    input: str | list[dict[str, Any]] = Field(default="")
    instructions: str | None = Field(None, max_length=MAX_INSTRUCTIONS_CHARS)
    tools: list[dict[str, Any]] | None = Field(None, max_length=MAX_FUNCTION_TOOLS)
    tool_choice: str | dict[str, Any] | None = None
    parallel_tool_calls: bool | None = None
    previous_response_id: str | None = None
    conversation: str | dict[str, Any] | None = None
    store: bool | None = None
    background: bool | None = None
    stream: bool | None = None
    max_output_tokens: int | None = Field(None, ge=16)
    metadata: Metadata | None = None
    text: dict[str, Any] | None = None

    def refuse_unsupported(self) -> None:
        refuse_unknown(self.model_extra or {}, IGNORED)
        if self.stream and self.background:
            raise unsupported(
                "stream", "A background response is polled, not streamed: give one of them."
            )
        if self.store is False and (
            self.background or self.previous_response_id or self.conversation
        ):
            raise unsupported(
                "store",
                "A response with store: false is kept nowhere, so it runs in the request on the "
                "input alone: without background, previous_response_id or conversation.",
            )
        if self.previous_response_id and self.conversation:
            raise ApiError(
                400,
                "Give previous_response_id or conversation, not both.",
                param="previous_response_id",
                code="invalid_value",
            )
        text_format = (self.text or {}).get("format") or {"type": "text"}
        if text_format.get("type") != "text":
            raise unsupported("text.format", "Only the text format is supported.")

    @property
    def conversation_id(self) -> str | None:
        if isinstance(self.conversation, dict):
            return str(self.conversation.get("id") or "") or None
        return self.conversation

    def function_tools(self) -> list[dict[str, Any]]:
        """The caller's tools in Chat Completions' shape (the core's), from Responses' flat
        one (``{"type": "function", "name", "parameters"...}``)."""
        nested = []
        for index, tool in enumerate(self.tools or ()):
            if tool.get("type") != "function":
                raise unsupported(
                    f"tools[{index}].type",
                    f"Tools of type '{tool.get('type')}' are not supported: only function "
                    "tools are (the server's Mojang tools are always offered besides).",
                    code="unsupported_value",
                )
            function = {k: v for k, v in tool.items() if k != "type"}
            nested.append({"type": "function", "function": function})
        return function_tools(nested)

    def tool_choice_option(self) -> str | dict[str, Any] | None:
        """``tool_choice`` in Chat Completions' shape."""
        choice = self.tool_choice
        name = choice.get("name") if isinstance(choice, dict) else None
        check_tool_choice(choice, name if isinstance(name, str) else None)
        if isinstance(choice, dict):
            return {"type": "function", "function": {"name": name}}
        return choice

    def options(self) -> RunOptions:
        """The core's options of the response."""
        return RunOptions(
            tools=self.function_tools(),
            tool_choice=self.tool_choice_option(),
            parallel_tool_calls=self.parallel_tool_calls is not False,
            max_completion_tokens=self.max_output_tokens,
            metadata=dict(self.metadata or {}),
        )

    def inputs(self) -> Inputs:
        """The input, as the core takes it."""
        return parse_items(self.input)


def parse_items(items: str | list[dict[str, Any]]) -> Inputs:
    """An input (or a conversation's items) as the core takes it; a 400 naming the first item
    that cannot be."""
    if isinstance(items, str):
        text = items.strip()
        return Inputs([NewMessage("user", _bounded(text, "input"))] if text else [], [], [])
    if len(items) > MAX_INPUT_ITEMS:
        raise ApiError(
            400,
            f"Invalid 'input': at most {MAX_INPUT_ITEMS} items.",
            param="input",
            code="array_above_max_length",
        )
    parsed = Inputs([], [], [])
    for index, item in enumerate(items):
        _parse_item(item, f"input[{index}]", parsed)
    return parsed


def _parse_item(item: dict[str, Any], param: str, parsed: Inputs) -> None:
    kind = item.get("type", "message")
    if kind == "function_call_output":
        output = _text(item.get("output"), f"{param}.output")
        parsed.outputs.append((_string(item, "call_id", param), output))
    elif kind == "function_call" or (
        kind == "mcp_call" and item.get("server_label") == SERVER_LABEL
    ):
        # The caller's own call (answered by its output item), or the server's with the
        # output it had.
        client = kind == "function_call"
        result = item.get("output")
        if not isinstance(result, str):  # a failed call: its error is what it gave
            result = json.dumps(item.get("error"))
        parsed.history.append(
            EarlierCall(
                id=_string(item, "call_id" if client else "id", param),
                name=_string(item, "name", param),
                arguments=_string(item, "arguments", param),
                client=client,
                output=None if client else result,
            )
        )
    elif kind != "message":
        raise unsupported(
            f"{param}.type",
            f"Input items of type '{kind}' are not supported: send messages, function_call "
            "and function_call_output items, and this server's mcp_call items.",
            code="unsupported_value",
        )
    else:
        role = item.get("role")
        text = _bounded(_text(item.get("content"), f"{param}.content"), f"{param}.content")
        if role in ("system", "developer"):
            parsed.system.append(text)
        elif role in ("user", "assistant"):
            parsed.history.append(NewMessage(role, text))
        else:
            raise ApiError(
                400,
                f"Invalid '{param}.role': user, assistant, system or developer.",
                param=f"{param}.role",
                code="invalid_value",
            )


def _string(item: dict[str, Any], name: str, param: str) -> str:
    value = item.get(name)
    if not isinstance(value, str):
        raise ApiError(
            400,
            f"Missing or invalid '{param}.{name}': a string.",
            param=f"{param}.{name}",
            code="invalid_value",
        )
    return value


def _text(content: Any, param: str) -> str:
    text = content_text(content, param, TEXT_PARTS)
    if text is None:
        raise ApiError(400, f"Invalid '{param}'.", param=param, code="invalid_type")
    return text


def _bounded(text: str, param: str) -> str:
    return bounded(text, param, MAX_MESSAGE_CHARS)


class ConversationRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    items: list[dict[str, Any]] | None = Field(None, max_length=MAX_INPUT_ITEMS)
    metadata: Metadata | None = None
