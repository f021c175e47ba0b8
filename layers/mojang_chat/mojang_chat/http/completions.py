"""The Chat Completions front door (``POST /v1/chat/completions``) and the models list
(``GET /v1/models``, ``GET /v1/models/{model}``), for chat UIs and agent frameworks that speak
Chat Completions.

One request is one conversation, as ``POST /chat``: the Mojang tools run on the server inside
the request (they never show in the answer) and the final answer comes back as one completion.
The caller's own ``tools`` are the caller's: when the model calls one, the completion ends with
those ``tool_calls`` and ``finish_reason: "tool_calls"``, for the caller to run and answer in
its next request. ``stream: true`` gives the same completion as ``chat.completion.chunk``
events ending in ``data: [DONE]``, in one ``text/event-stream`` body (API Gateway's HTTP API
cannot stream a Lambda's answer as it is made).

The deployment's model serves every request (``model`` is accepted and ignored; the completion
names the model used). What cannot be honoured is refused with OpenAI's 400 (``n`` other than
1, ``logprobs``, audio, a ``response_format`` other than text, image or file input); sampling
options are accepted and ignored (``IGNORED``).
"""

from __future__ import annotations

import json
import secrets
import string
import time
from collections.abc import Mapping, Sequence
from typing import Any, Literal

from aws_lambda_powertools.event_handler import Response
from pydantic import BaseModel, ConfigDict, Field

from mojang_chat import container
from mojang_chat.chat.loop import SYSTEM_PROMPT, ChatOutcome, converse
from mojang_chat.core.deadline import Deadline
from mojang_chat.core.settings import get_settings
from mojang_chat.core.statuses import RunStatus
from mojang_chat.http.assistant_requests import function_tools, unsupported
from mojang_chat.http.errors import ApiError, unrecognized
from mojang_chat.http.limits import MAX_FUNCTION_TOOLS, MAX_INSTRUCTIONS_CHARS
from mojang_chat.http.resolver import JsonApi
from mojang_chat.mojang.tools import ToolContext, mojang_tools

# The most messages one request may send (its body is bounded besides), and the longest text
# one of them may hold: a chat UI's system prompt is longer than a widget's question.
MAX_COMPLETION_MESSAGES = 100
MAX_COMPLETION_MESSAGE_CHARS = MAX_INSTRUCTIONS_CHARS
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
_ID_CHARACTERS = string.ascii_letters + string.digits
FinishReason = Literal["stop", "length", "tool_calls"]


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
        for name in self.model_extra or {}:
            if name not in IGNORED:
                raise unrecognized(name)
        check_tool_choice(self.tool_choice, self.tool_choice_name())
        if self.n not in (None, 1):
            raise unsupported("n", "Only n=1 is supported: one choice per request.")
        if self.logprobs or self.top_logprobs:
            raise unsupported("logprobs", "logprobs are not supported.")
        if self.audio is not None or any(m != "text" for m in self.modalities or ()):
            raise unsupported("modalities", "Only text output is supported.")
        if self.response_format not in (None, {"type": "text"}):
            raise unsupported("response_format", "Only the text response format is supported.")

    def options(self) -> dict[str, Any]:
        """The options each model call is made with."""
        return {
            "tool_choice": self.tool_choice,
            "parallel_tool_calls": self.parallel_tool_calls,
            "max_completion_tokens": self.max_completion_tokens or self.max_tokens,
        }


def check_tool_choice(choice: object, named: str | None) -> None:
    """A 400 for a ``tool_choice`` the model would refuse: ``auto``, ``none``, ``required``, or
    a function named by its name."""
    if choice is None or choice in ("auto", "none", "required"):
        return
    if isinstance(choice, dict) and choice.get("type") == "function" and isinstance(named, str):
        return
    raise ApiError(
        400,
        "Invalid 'tool_choice': 'auto', 'none', 'required', or a function named by its name.",
        param="tool_choice",
        code="invalid_value",
    )


def text_of(content: str | list[dict[str, Any]] | None, param: str) -> str | None:
    """A message's content as text; image, audio and file parts are refused (the service is
    text only)."""
    if content is None or isinstance(content, str):
        text = content
    else:
        texts = []
        for index, part in enumerate(content):
            kind = part.get("type")
            if kind != "text" or not isinstance(part.get("text"), str):
                raise unsupported(
                    f"{param}[{index}].type",
                    f"Content of type '{kind}' is not supported: this service reads text only.",
                    code="unsupported_value",
                )
            texts.append(part["text"])
        text = "\n".join(texts)
    if text is not None and len(text) > MAX_COMPLETION_MESSAGE_CHARS:
        raise ApiError(
            400,
            f"Invalid '{param}': a message's text is at most {MAX_COMPLETION_MESSAGE_CHARS} "
            f"characters; this one is {len(text)}.",
            param=param,
            code="string_above_max_length",
        )
    return text


def conversation(messages: Sequence[ChatMessage]) -> list[dict[str, Any]]:
    """What the model is sent: the server's prompt, then the caller's messages as Chat
    Completions messages. Every tool message must answer a call of the assistant message
    before it, and every such call must be answered before the next message (as OpenAI
    requires; a 400 naming the message otherwise)."""
    sent: list[dict[str, Any]] = [{"role": "system", "content": SYSTEM_PROMPT}]
    pending: set[str] = set()
    for index, message in enumerate(messages):
        param = f"messages[{index}]"
        text = text_of(message.content, f"{param}.content")
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
            raise ApiError(
                400,
                f"Invalid '{param}': the tool calls {sorted(pending)} were not answered by "
                "'tool' messages.",
                param=param,
                code="invalid_value",
            )
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
        raise ApiError(
            400,
            f"The tool calls {sorted(pending)} were not answered by 'tool' messages.",
            param="messages",
            code="invalid_value",
        )
    return sent


def complete(
    request: ChatCompletionRequest, deadline: Deadline, client: str
) -> tuple[ChatOutcome, FinishReason]:
    """Run the tool loop for one request, if the cost guard admits ``client``."""
    request.refuse_unsupported()
    tools = function_tools(request.tools or ())
    messages = conversation(request.messages)
    guard = container.guard()
    guard.admit(client)
    outcome = converse(
        messages,
        model=guard.metered(container.model(), client),
        tools=mojang_tools,
        context=ToolContext(mojang=container.mojang(), deadline=deadline),
        executor=container.executor(),
        limits=container.limits(),
        deadline=deadline,
        client_tools=tools,
        options=request.options(),
    )
    if outcome.status is RunStatus.REQUIRES_ACTION:
        return outcome, "tool_calls"
    if outcome.status is RunStatus.INCOMPLETE:
        return outcome, "length"
    return outcome, "stop"


def completion_id() -> str:
    return "chatcmpl-" + "".join(secrets.choice(_ID_CHARACTERS) for _ in range(24))


def completion(
    outcome: ChatOutcome, finish_reason: FinishReason, model: str, created: int, ident: str
) -> dict[str, Any]:
    """The ``chat.completion`` object of a finished conversation."""
    message: dict[str, Any] = {
        "role": "assistant",
        "content": outcome.answer or None,
        "refusal": None,
        "annotations": [],
    }
    if outcome.client_calls:
        message["tool_calls"] = [
            {
                "id": call.id,
                "type": "function",
                "function": {"name": call.name, "arguments": call.arguments},
            }
            for call in outcome.client_calls
        ]
    return {
        "id": ident,
        "object": "chat.completion",
        "created": created,
        "model": model,
        "choices": [
            {"index": 0, "message": message, "finish_reason": finish_reason, "logprobs": None}
        ],
        "usage": usage(outcome),
    }


def usage(outcome: ChatOutcome) -> dict[str, int]:
    return {
        "prompt_tokens": outcome.usage.prompt_tokens,
        "completion_tokens": outcome.usage.completion_tokens,
        "total_tokens": outcome.usage.total_tokens,
    }


def chunks(whole: Mapping[str, Any], include_usage: bool) -> list[dict[str, Any]]:
    """The completion as ``chat.completion.chunk`` objects, in the order OpenAI sends them:
    the role, the text, the tool calls (each whole, at its index), the finish reason, then the
    usage when asked for (a chunk with no choices)."""
    [choice] = whole["choices"]
    message = choice["message"]

    def chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
        return {
            "id": whole["id"],
            "object": "chat.completion.chunk",
            "created": whole["created"],
            "model": whole["model"],
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}],
        }

    found = [chunk({"role": "assistant", "content": "", "refusal": None})]
    if message["content"]:
        found.append(chunk({"content": message["content"]}))
    for index, call in enumerate(message.get("tool_calls") or ()):
        found.append(chunk({"tool_calls": [{"index": index, **call}]}))
    found.append(chunk({}, choice["finish_reason"]))
    if include_usage:
        for item in found:
            item["usage"] = None
        found.append({**chunk({}), "choices": [], "usage": whole["usage"]})
    return found


def event_stream(events: Sequence[Mapping[str, Any]]) -> str:
    """Server-sent events: one ``data:`` line per event, then ``data: [DONE]``."""
    lines = [f"data: {json.dumps(event, separators=(',', ':'))}\n\n" for event in events]
    return "".join(lines) + "data: [DONE]\n\n"


class ModelObject(BaseModel):
    id: str
    object: Literal["model"] = "model"
    created: int = 0
    owned_by: str = "mojang-chat"


class ModelList(BaseModel):
    object: Literal["list"] = "list"
    data: list[ModelObject]


def json_or_events(description: str) -> Any:
    """The OpenAPI entry of a 200 that is a JSON object, or server-sent events when the
    request asked to stream."""
    return {
        "description": description,
        "content": {
            "application/json": {"schema": {"type": "object"}},
            "text/event-stream": {"schema": {"type": "string"}},
        },
    }


def add_routes(app: JsonApi, responses: Mapping[int, Any]) -> None:
    """The Chat Completions and models routes, on the ``/v1`` resolver."""

    @app.post(
        "/v1/chat/completions",
        summary="Create a chat completion (the Mojang tools run on the server)",
        responses={**responses, 200: json_or_events("The completion, or its chunks.")},
    )
    def create_completion(request: ChatCompletionRequest) -> Response[str]:
        settings = get_settings()
        deadline = Deadline.for_request(
            app.lambda_context,
            cap=settings.request_deadline_seconds,
            margin=settings.deadline_margin_seconds,
        )
        outcome, finish_reason = complete(request, deadline, app.client)
        whole = completion(
            outcome, finish_reason, settings.openai_model, int(time.time()), completion_id()
        )
        headers = {"X-Request-Id": app.request_id}
        if not request.stream:
            return Response(200, "application/json", json.dumps(whole), headers=headers)
        include = bool(request.stream_options and request.stream_options.include_usage)
        body = event_stream(chunks(whole, include))
        return Response(200, "text/event-stream; charset=utf-8", body, headers=headers)

    @app.get(
        "/v1/models", summary="List the models (the deployment's one)", responses=dict(responses)
    )
    def list_models() -> ModelList:
        return ModelList(data=[ModelObject(id=get_settings().openai_model)])

    @app.get("/v1/models/<model>", summary="Retrieve a model", responses=dict(responses))
    def retrieve_model(model: str) -> ModelObject:
        if model != get_settings().openai_model:
            raise ApiError(
                404,
                f"The model '{model}' does not exist: this API serves "
                f"'{get_settings().openai_model}'.",
                param="model",
                code="model_not_found",
            )
        return ModelObject(id=model)
