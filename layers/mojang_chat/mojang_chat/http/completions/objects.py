"""The ``chat.completion`` object (OpenAI's ``CreateChatCompletionResponse``), made of the tool
loop's outcome: the answer, or the caller's tool calls that ended the conversation."""

from __future__ import annotations

import secrets
import string
from typing import Any, Literal

from pydantic import BaseModel, Field

from mojang_chat.chat.loop import ChatOutcome
from mojang_chat.core.statuses import RunStatus

_ID_CHARACTERS = string.ascii_letters + string.digits
FinishReason = Literal["stop", "length", "tool_calls"]


class CompletionFunction(BaseModel):
    name: str
    arguments: str


class CompletionToolCall(BaseModel):
    id: str
    type: Literal["function"] = "function"
    function: CompletionFunction


class CompletionMessage(BaseModel):
    role: Literal["assistant"] = "assistant"
    content: str | None
    refusal: None = None
    annotations: list[Any] = Field(default_factory=list)
    # Absent (not null) when the model called no tool of the caller's.
    tool_calls: list[CompletionToolCall] | None = None


class Choice(BaseModel):
    index: int = 0
    message: CompletionMessage
    finish_reason: FinishReason
    logprobs: None = None


class CompletionUsage(BaseModel):
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int


class ChatCompletion(BaseModel):
    id: str
    object: Literal["chat.completion"] = "chat.completion"
    created: int
    model: str
    choices: list[Choice]
    usage: CompletionUsage

    def wire(self) -> dict[str, Any]:
        """The object as JSON, without the fields that are absent (not null) in OpenAI's."""
        body = self.model_dump(mode="json")
        for choice in body["choices"]:
            if choice["message"]["tool_calls"] is None:
                del choice["message"]["tool_calls"]
        return body


def finish_reason(outcome: ChatOutcome) -> FinishReason:
    """Why the completion ended: the caller's tool calls, a limit, or the answer."""
    if outcome.status is RunStatus.REQUIRES_ACTION:
        return "tool_calls"
    if outcome.status is RunStatus.INCOMPLETE:
        return "length"
    return "stop"


def completion_id() -> str:
    return "chatcmpl-" + "".join(secrets.choice(_ID_CHARACTERS) for _ in range(24))


def completion(outcome: ChatOutcome, model: str, created: int, ident: str) -> ChatCompletion:
    """The ``chat.completion`` object of a finished conversation."""
    calls = [
        CompletionToolCall(
            id=call.id, function=CompletionFunction(name=call.name, arguments=call.arguments)
        )
        for call in outcome.client_calls
    ]
    message = CompletionMessage(content=outcome.answer or None, tool_calls=calls or None)
    usage = outcome.usage
    return ChatCompletion(
        id=ident,
        created=created,
        model=model,
        choices=[Choice(message=message, finish_reason=finish_reason(outcome))],
        usage=CompletionUsage(
            prompt_tokens=usage.prompt_tokens,
            completion_tokens=usage.completion_tokens,
            total_tokens=usage.total_tokens,
        ),
    )
