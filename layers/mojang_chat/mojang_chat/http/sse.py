"""Every event stream of the API, in OpenAI's order and framing: a response's events
(``response.created`` ... ``response.completed``) and a completion's ``chat.completion.chunk``s
(ending in ``data: [DONE]``), made of the finished object.

Made after the object is complete: behind API Gateway's HTTP API a Lambda cannot send its
answer as it is made, so the events arrive in one ``text/event-stream`` body.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from aws_lambda_powertools.event_handler import Response

EVENT_STREAM = "text/event-stream; charset=utf-8"


def reply(
    whole: Mapping[str, Any], events: Sequence[Mapping[str, Any]] | None, request_id: str
) -> Response[str]:
    """The answer of a route that may stream: ``whole`` as JSON, or, when the request asked to
    stream, its ``events`` (a completion's chunks end with ``[DONE]``, a response's events are
    named by their type)."""
    headers = {"X-Request-Id": request_id}
    if events is None:
        return Response(200, "application/json", json.dumps(whole), headers=headers)
    return Response(200, EVENT_STREAM, event_stream(events), headers=headers)


def event_stream(events: Sequence[Mapping[str, Any]]) -> str:
    """Server-sent events: each of a response's named by its type, a completion's chunks as
    bare ``data:`` lines ending with ``data: [DONE]``."""
    chunks = bool(events) and events[0].get("object") == "chat.completion.chunk"
    lines = []
    for event in events:
        data = json.dumps(event, separators=(",", ":"))
        lines.append(f"data: {data}\n\n" if chunks else f"event: {event['type']}\ndata: {data}\n\n")
    return "".join(lines) + ("data: [DONE]\n\n" if chunks else "")


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


def response_events(whole: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The server-sent events of a finished response, in the order of the reference: created,
    in progress, each output item added (a message with its text part and text), done, and
    the response's end."""
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


def completion_chunks(whole: Mapping[str, Any], include_usage: bool) -> list[dict[str, Any]]:
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
