"""The Responses front door (``/v1/responses``) and Conversations (``/v1/conversations``), on
the conversation core: a response is a run that ends with the caller's calls; a conversation
is a thread (the same thread the Assistants API shows, by the same id).

- ``POST /v1/responses``: ``input`` (a string, or message and ``function_call_output``
  items), ``instructions``, ``tools`` (function tools: the caller's; when the model calls one
  the response ends with a ``function_call`` item, answered by a ``function_call_output`` in
  the next response), ``tool_choice``, ``parallel_tool_calls``, ``previous_response_id`` or
  ``conversation``, ``max_output_tokens``, ``metadata``, ``background`` (on the workflow:
  poll ``GET``, stop with ``cancel``). The Mojang tools run on the server: each call is an
  ``mcp_call`` item (``server_label: "mojang"``) with its output, which the caller never
  answers.
- ``GET``, ``DELETE /v1/responses/{id}``, ``POST /v1/responses/{id}/cancel``,
  ``GET /v1/responses/{id}/input_items``.
- ``POST /v1/conversations``, ``GET``, ``POST`` (metadata), ``DELETE
  /v1/conversations/{id}``, ``GET /v1/conversations/{id}/items``.

``stream: true`` answers with the reference's server-sent events, in their order, once the
response has ended (API Gateway's HTTP API cannot stream a Lambda's answer as it is made).

A caller that keeps the conversation itself (``store: false``, or no ``previous_response_id``
and no ``conversation``) sends it whole: messages, the ``function_call`` items with their
``function_call_output`` items, and this server's ``mcp_call`` items.

Not supported (400): ``stream`` with ``background``; ``store: false`` with ``background``,
``previous_response_id`` or ``conversation``; image and file input, hosted tools, a
``text.format`` other than text. A ``previous_response_id`` older than the latest of its
conversation branches off it: a new conversation holding what that response saw and made.
"""

from __future__ import annotations

import json
from typing import Any

from aws_lambda_powertools.event_handler import Response
from pydantic import BaseModel, ConfigDict, Field

from mojang_chat import container
from mojang_chat.chat.types import Usage
from mojang_chat.core.deadline import Deadline
from mojang_chat.core.settings import get_settings
from mojang_chat.core.statuses import RunStatus
from mojang_chat.http.assistant_requests import function_tools, page, unsupported
from mojang_chat.http.completions import check_tool_choice, json_or_events
from mojang_chat.http.errors import ApiError, unrecognized
from mojang_chat.http.limits import (
    MAX_FUNCTION_TOOLS,
    MAX_INSTRUCTIONS_CHARS,
    MAX_MESSAGE_CHARS,
    Metadata,
)
from mojang_chat.http.resolver import JsonApi
from mojang_chat.mojang.tools import mojang_tools
from mojang_chat.runs.inline import run_inline
from mojang_chat.runs.records import MessageRecord, RunOptions, RunRecord, StepRecord
from mojang_chat.runs.service import Conversations, EarlierCall, HistoryItem, NewMessage
from mojang_chat.runs.store import Page

# The label of the server's tools in ``mcp_call`` items.
SERVER_LABEL = "mojang"
# The most input items one request may send.
MAX_INPUT_ITEMS = 100
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
        for name in self.model_extra or {}:
            if name not in IGNORED:
                raise unrecognized(name)
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

    def inputs(self) -> tuple[list[HistoryItem], list[tuple[str, str]], list[str]]:
        """The input as messages (and, sent back by a stateless caller, earlier tool calls),
        the outputs of the caller's calls, and system texts (``system`` and ``developer``
        messages: instructions of this response)."""
        if isinstance(self.input, str):
            text = self.input.strip()
            return ([NewMessage("user", _bounded(text, "input"))] if text else []), [], []
        if len(self.input) > MAX_INPUT_ITEMS:
            raise ApiError(
                400,
                f"Invalid 'input': at most {MAX_INPUT_ITEMS} items.",
                param="input",
                code="array_above_max_length",
            )
        messages: list[HistoryItem] = []
        outputs: list[tuple[str, str]] = []
        system: list[str] = []
        for index, item in enumerate(self.input):
            param = f"input[{index}]"
            kind = item.get("type", "message")
            if kind == "function_call_output":
                output = _text(item.get("output"), f"{param}.output")
                outputs.append((_string(item, "call_id", param), output))
                continue
            if kind == "function_call" or (
                kind == "mcp_call" and item.get("server_label") == SERVER_LABEL
            ):
                # The caller's own call (answered by its output item), or the server's with
                # the output it had.
                client = kind == "function_call"
                result = item.get("output")
                if not isinstance(result, str):  # a failed call: its error is what it gave
                    result = json.dumps(item.get("error"))
                messages.append(
                    EarlierCall(
                        id=_string(item, "call_id" if client else "id", param),
                        name=_string(item, "name", param),
                        arguments=_string(item, "arguments", param),
                        client=client,
                        output=None if client else result,
                    )
                )
                continue
            if kind != "message":
                raise unsupported(
                    f"{param}.type",
                    f"Input items of type '{kind}' are not supported: send messages, "
                    "function_call and function_call_output items, and this server's mcp_call "
                    "items.",
                    code="unsupported_value",
                )
            role = item.get("role")
            text = _bounded(_text(item.get("content"), f"{param}.content"), f"{param}.content")
            if role in ("system", "developer"):
                system.append(text)
            elif role in ("user", "assistant"):
                messages.append(NewMessage(role, text))
            else:
                raise ApiError(
                    400,
                    f"Invalid '{param}.role': user, assistant, system or developer.",
                    param=f"{param}.role",
                    code="invalid_value",
                )
        return messages, outputs, system


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
    if isinstance(content, str):
        return content
    if not isinstance(content, list):
        raise ApiError(400, f"Invalid '{param}'.", param=param, code="invalid_type")
    texts = []
    for index, part in enumerate(content):
        kind = part.get("type") if isinstance(part, dict) else None
        if kind not in ("input_text", "output_text") or not isinstance(part.get("text"), str):
            raise unsupported(
                f"{param}[{index}].type",
                f"Content of type '{kind}' is not supported: this service reads text only.",
                code="unsupported_value",
            )
        texts.append(part["text"])
    return "\n".join(texts)


def _bounded(text: str, param: str) -> str:
    if len(text) > MAX_MESSAGE_CHARS:
        raise ApiError(
            400,
            f"Invalid '{param}': a message's text is at most {MAX_MESSAGE_CHARS} characters; "
            f"this one is {len(text)}.",
            param=param,
            code="string_above_max_length",
        )
    return text


# --- the objects


_STATUSES: dict[RunStatus, str] = {
    RunStatus.QUEUED: "queued",
    RunStatus.IN_PROGRESS: "in_progress",
    RunStatus.REQUIRES_ACTION: "in_progress",
    RunStatus.CANCELLING: "in_progress",
    RunStatus.CANCELLED: "cancelled",
    RunStatus.FAILED: "failed",
    RunStatus.EXPIRED: "failed",
    RunStatus.COMPLETED: "completed",
    RunStatus.INCOMPLETE: "incomplete",
}


def output_items(service: Conversations, run: RunRecord) -> list[dict[str, Any]]:
    """The response's output: each server call an ``mcp_call`` with its output, each of the
    caller's a ``function_call``, then the answer, in the order they were made."""
    listed = service.store.list_steps(run.thread_id, run.id, Page(limit=100, order="asc"))
    items: list[dict[str, Any]] = []
    for step in listed:
        if step.type == "message_creation" and step.message_id is not None:
            message = service.store.get_message(run.thread_id, step.message_id)
            if message is not None:
                items.append(message_item(message))
            continue
        items += call_items(step, outputs=False)
    return items


def call_items(step: StepRecord, *, outputs: bool) -> list[dict[str, Any]]:
    """A tool calls step as items: each server call an ``mcp_call`` with its output; each of
    the caller's a ``function_call``, followed (with ``outputs``) by the caller's
    ``function_call_output`` once it came."""
    items: list[dict[str, Any]] = []
    for call in step.calls:
        output = step.outputs.get(call.id)
        if not call.client:
            items.append(
                {
                    "type": "mcp_call",
                    "id": "mcp_" + call.id.removeprefix("call_"),
                    "server_label": SERVER_LABEL,
                    "name": call.name,
                    "arguments": call.arguments,
                    "output": output,
                    "error": None,
                    "status": "completed" if output is not None else "incomplete",
                }
            )
            continue
        items.append(
            {
                "type": "function_call",
                "id": "fc_" + call.id.removeprefix("call_"),
                "call_id": call.id,
                "name": call.name,
                "arguments": call.arguments,
                "status": "completed",
            }
        )
        if outputs and output is not None:
            items.append(function_call_output(call.id, output))
    return items


def function_call_output(call_id: str, output: str) -> dict[str, Any]:
    return {
        "type": "function_call_output",
        "id": "fco_" + call_id.removeprefix("call_"),
        "call_id": call_id,
        "output": output,
        "status": "completed",
    }


def message_item(message: MessageRecord) -> dict[str, Any]:
    part: dict[str, Any]
    if message.role == "assistant":
        part = {"type": "output_text", "text": message.text, "annotations": [], "logprobs": []}
    else:
        part = {"type": "input_text", "text": message.text}
    return {
        "type": "message",
        "id": message.id,
        "role": message.role,
        "status": "incomplete" if message.status == "incomplete" else "completed",
        "content": [part],
    }


def usage(tokens: Usage) -> dict[str, Any]:
    return {
        "input_tokens": tokens.prompt_tokens,
        "input_tokens_details": {"cached_tokens": 0, "cache_write_tokens": 0},
        "output_tokens": tokens.completion_tokens,
        "output_tokens_details": {"reasoning_tokens": 0},
        "total_tokens": tokens.total_tokens,
    }


def response_object(service: Conversations, run: RunRecord) -> dict[str, Any]:
    """The Response object that shows ``run``."""
    status = _STATUSES[run.status]
    error = None
    if run.status is RunStatus.FAILED and run.last_error is not None:
        error = {"code": run.last_error.code, "message": run.last_error.message}
    elif run.status is RunStatus.EXPIRED:
        error = {"code": "server_error", "message": "the response did not end before it expired"}
    incomplete = {"reason": "max_output_tokens"} if run.status is RunStatus.INCOMPLETE else None
    tool_choice: Any = run.tool_choice or "auto"
    if isinstance(tool_choice, dict):
        tool_choice = {"type": "function", "name": tool_choice["function"]["name"]}
    body = {
        "id": run.id,
        "object": "response",
        "created_at": run.created_at,
        "status": status,
        "background": run.background,
        "error": error,
        "incomplete_details": incomplete,
        "instructions": run.instructions or None,
        "max_output_tokens": run.max_completion_tokens,
        "model": run.model,
        "output": output_items(service, run),
        "parallel_tool_calls": run.parallel_tool_calls,
        "previous_response_id": run.previous_response_id,
        "conversation": {"id": run.thread_id},
        "store": True,
        # The model's defaults: the deployment never changes them.
        "temperature": 1,
        "top_p": 1,
        "text": {"format": {"type": "text"}},
        "tool_choice": tool_choice,
        "tools": [
            {"type": "function", "description": None, "parameters": None, "strict": None}
            | tool["function"]
            for tool in run.tools
        ],
        "truncation": "auto",
        "metadata": run.metadata,
        # What the Open Responses specification requires besides OpenAI's: none of it is
        # chosen here (sampling and caching are the deployment's).
        "completed_at": run.completed_at,
        "presence_penalty": 0,
        "frequency_penalty": 0,
        "top_logprobs": 0,
        "reasoning": None,
        "max_tool_calls": None,
        "service_tier": "default",
        "safety_identifier": None,
        "prompt_cache_key": None,
    }
    if run.status.terminal:  # the schema's usage is an object, or absent until the end
        body["usage"] = usage(run.tokens)
    return body


def conversation_object(service: Conversations, thread_id: str) -> dict[str, Any]:
    thread = service.thread(thread_id)
    return {
        "id": thread.id,
        "object": "conversation",
        "created_at": thread.created_at,
        "metadata": thread.metadata,
    }


def conversation_items(records: list[MessageRecord | StepRecord]) -> list[dict[str, Any]]:
    """A thread's items as a conversation's: messages, and each step's calls."""
    items: list[dict[str, Any]] = []
    for record in records:
        if isinstance(record, MessageRecord):
            items.append(message_item(record))
        elif record.type == "tool_calls":
            items += call_items(record, outputs=True)
    return items


def listing(items: list[dict[str, Any]], has_more: bool) -> dict[str, Any]:
    return {
        "object": "list",
        "data": items,
        "first_id": items[0]["id"] if items else None,
        "last_id": items[-1]["id"] if items else None,
        "has_more": has_more,
    }


def stream_events(whole: dict[str, Any]) -> list[dict[str, Any]]:
    """The server-sent events of a finished response, in the order of the reference: created,
    in progress, each output item added (a message with its text part and text), done, and
    the response's end. Made after the response ended: behind API Gateway's HTTP API they
    arrive in one body."""
    events: list[dict[str, Any]] = []

    def emit(kind: str, **fields: Any) -> None:
        events.append({"type": kind, "sequence_number": len(events), **fields})

    opening = {k: v for k, v in whole.items() if k != "usage"}
    opening.update(status="in_progress", output=[])
    emit("response.created", response=opening)
    emit("response.in_progress", response=opening)
    for index, item in enumerate(whole["output"]):
        if item["type"] != "message":
            emit("response.output_item.added", output_index=index, item=item)
            if item["type"] == "function_call":
                emit(
                    "response.function_call_arguments.done",
                    item_id=item["id"],
                    name=item["name"],
                    output_index=index,
                    arguments=item["arguments"],
                )
            emit("response.output_item.done", output_index=index, item=item)
            continue
        emit(
            "response.output_item.added",
            output_index=index,
            item={**item, "status": "in_progress", "content": []},
        )
        for content_index, part in enumerate(item["content"]):
            where = {"item_id": item["id"], "output_index": index, "content_index": content_index}
            emit("response.content_part.added", **where, part={**part, "text": ""})
            emit("response.output_text.delta", **where, delta=part["text"], logprobs=[])
            emit("response.output_text.done", **where, text=part["text"], logprobs=[])
            emit("response.content_part.done", **where, part=part)
        emit("response.output_item.done", output_index=index, item=item)
    ending = {"completed": "response.completed", "incomplete": "response.incomplete"}
    emit(ending.get(whole["status"], "response.failed"), response=whole)
    return events


def event_stream(events: list[dict[str, Any]]) -> str:
    """Server-sent events, each named by its type."""
    return "".join(
        f"event: {event['type']}\ndata: {json.dumps(event, separators=(',', ':'))}\n\n"
        for event in events
    )


# --- the routes


class ConversationRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    items: list[dict[str, Any]] | None = Field(None, max_length=MAX_INPUT_ITEMS)
    metadata: Metadata | None = None


def add_routes(app: JsonApi, service: Any, responses: dict[int, Any]) -> None:
    """The Responses and Conversations routes, on the ``/v1`` resolver; ``service`` makes
    this container's ``Conversations``."""

    def create(request: CreateResponseRequest) -> dict[str, Any]:
        request.refuse_unsupported()
        core: Conversations = service()
        messages, outputs, system = request.inputs()
        instructions = "\n\n".join(t for t in (request.instructions, *system) if t)
        options = RunOptions(
            tools=request.function_tools(),
            tool_choice=request.tool_choice_option(),
            parallel_tool_calls=request.parallel_tool_calls is not False,
            max_completion_tokens=request.max_output_tokens,
            metadata=dict(request.metadata or {}),
        )
        container.guard().admit(app.client)
        run = core.create_response(
            messages=messages,
            outputs=outputs,
            instructions=instructions,
            options=options,
            previous_response_id=request.previous_response_id,
            conversation_id=request.conversation_id,
            client=app.client,
            background=bool(request.background),
        )
        if not request.background:
            settings = get_settings()
            deadline = Deadline.for_request(
                app.lambda_context,
                cap=settings.request_deadline_seconds,
                margin=settings.deadline_margin_seconds,
            )
            run = run_inline(
                run.thread_id,
                run.id,
                store=core.store,
                model=container.model(),
                tools=mojang_tools,
                mojang=container.mojang(),
                executor=container.executor(),
                limits=container.limits(),
                context_tokens=settings.max_context_tokens,
                deadline=deadline,
                guard=container.guard(),
            )
        body = response_object(core, run)
        if request.store is False:
            core.delete_thread(run.thread_id)  # with the response: neither can be read again
            body["store"] = False
        return body

    @app.post(
        "/v1/responses",
        summary="Create a response",
        responses={**responses, 200: json_or_events("The response, or its events.")},
    )
    def create_response(request: CreateResponseRequest) -> Response[str]:
        whole = create(request)
        headers = {"X-Request-Id": app.request_id}
        if not request.stream:
            return Response(200, "application/json", json.dumps(whole), headers=headers)
        body = event_stream(stream_events(whole))
        return Response(200, "text/event-stream; charset=utf-8", body, headers=headers)

    @app.get("/v1/responses/<response_id>", summary="Retrieve a response", responses=responses)
    def retrieve_response(response_id: str) -> dict[str, Any]:
        core: Conversations = service()
        return response_object(core, core.response(response_id))

    @app.post(
        "/v1/responses/<response_id>/cancel", summary="Cancel a response", responses=responses
    )
    def cancel_response(response_id: str) -> dict[str, Any]:
        core: Conversations = service()
        run = core.response(response_id)
        if not run.status.terminal:
            run = core.cancel(run.thread_id, run.id)
        return response_object(core, run)

    @app.delete("/v1/responses/<response_id>", summary="Delete a response", responses=responses)
    def delete_response(response_id: str) -> dict[str, Any]:
        service().delete_response(response_id)
        return {"id": response_id, "object": "response", "deleted": True}

    @app.get(
        "/v1/responses/<response_id>/input_items",
        summary="List a response's input items",
        responses=responses,
    )
    def input_items(response_id: str) -> dict[str, Any]:
        core: Conversations = service()
        run = core.response(response_id)
        wanted = set(run.inputs)
        found: list[dict[str, Any]] = []
        for record in core.items(run.thread_id):
            if isinstance(record, MessageRecord) and record.id in wanted:
                found.append(message_item(record))
            elif isinstance(record, StepRecord) and record.id in wanted:
                found += call_items(record, outputs=True)  # a history sent whole
            elif isinstance(record, StepRecord):
                found += [
                    function_call_output(call.id, record.outputs[call.id])
                    for call in record.calls
                    if call.id in wanted and call.id in record.outputs
                ]
        query = app.current_event.query_string_parameters or {}
        if query.get("order", "desc") == "desc":
            found.reverse()
        limit = page(query).limit
        return listing(found[:limit], len(found) > limit)

    @app.post("/v1/conversations", summary="Create a conversation", responses=responses)
    def create_conversation(request: ConversationRequest) -> dict[str, Any]:
        core: Conversations = service()
        draft = CreateResponseRequest(input=request.items or [])
        messages, outputs, system = draft.inputs()
        if system:
            raise unsupported(
                "items",
                "A conversation holds no system or developer messages: give "
                "instructions with each response.",
            )
        metadata = dict(request.metadata or {})
        thread, _ = core.create_thread(messages, metadata, outputs=outputs)
        return conversation_object(core, thread.id)

    @app.get(
        "/v1/conversations/<conversation_id>",
        summary="Retrieve a conversation",
        responses=dict(responses),
    )
    def retrieve_conversation(conversation_id: str) -> dict[str, Any]:
        return conversation_object(service(), conversation_id)

    @app.post(
        "/v1/conversations/<conversation_id>",
        summary="Update a conversation's metadata",
        responses=dict(responses),
    )
    def update_conversation(conversation_id: str, request: ConversationRequest) -> dict[str, Any]:
        core: Conversations = service()
        core.modify_thread(conversation_id, dict(request.metadata or {}))
        return conversation_object(core, conversation_id)

    @app.delete(
        "/v1/conversations/<conversation_id>",
        summary="Delete a conversation",
        responses=dict(responses),
    )
    def delete_conversation(conversation_id: str) -> dict[str, Any]:
        service().delete_thread(conversation_id)
        return {"id": conversation_id, "object": "conversation.deleted", "deleted": True}

    @app.post(
        "/v1/conversations/<conversation_id>/items",
        summary="Add items to a conversation",
        responses=dict(responses),
    )
    def create_items(conversation_id: str, request: ConversationRequest) -> dict[str, Any]:
        core: Conversations = service()
        items, outputs, system = CreateResponseRequest(input=request.items or []).inputs()
        messages = [item for item in items if isinstance(item, NewMessage)]
        if outputs or system or not messages or len(messages) < len(items):
            raise unsupported("items", "Add user and assistant messages (at least one).")
        added = [core.add_message(conversation_id, message) for message in messages]
        return listing([message_item(m) for m in added], False)

    @app.get(
        "/v1/conversations/<conversation_id>/items/<item_id>",
        summary="Retrieve a conversation's item",
        responses=dict(responses),
    )
    def retrieve_item(conversation_id: str, item_id: str) -> dict[str, Any]:
        return message_item(service().message(conversation_id, item_id))

    @app.delete(
        "/v1/conversations/<conversation_id>/items/<item_id>",
        summary="Delete a conversation's item",
        responses=dict(responses),
    )
    def delete_item(conversation_id: str, item_id: str) -> dict[str, Any]:
        core: Conversations = service()
        core.delete_message(conversation_id, item_id)
        return conversation_object(core, conversation_id)

    @app.get(
        "/v1/conversations/<conversation_id>/items",
        summary="List a conversation's items",
        responses=dict(responses),
    )
    def list_items(conversation_id: str) -> dict[str, Any]:
        core: Conversations = service()
        items = conversation_items(core.items(conversation_id))
        query = app.current_event.query_string_parameters or {}
        if query.get("order", "desc") == "desc":
            items.reverse()
        ids = [item["id"] for item in items]
        after = query.get("after")
        if after in ids:
            items = items[ids.index(after) + 1 :]
        limit = page(query).limit
        return listing(items[:limit], len(items) > limit)
