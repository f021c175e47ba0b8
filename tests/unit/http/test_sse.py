"""The event streams, made of finished objects without a server: a response's events in the
reference's order with their sequence numbers, a completion's chunks with their tool call
indices, and the framing of each."""

from __future__ import annotations

import json
from typing import Any

from mojang_chat.http.sse import completion_chunks, event_stream, response_events

MESSAGE = {
    "type": "message",
    "id": "msg_1",
    "role": "assistant",
    "status": "completed",
    "content": [{"type": "output_text", "text": "Hello.", "annotations": [], "logprobs": []}],
}
MCP_CALL = {"type": "mcp_call", "id": "mcp_1", "name": "lookup", "arguments": "{}", "output": "x"}
FUNCTION_CALL = {
    "type": "function_call",
    "id": "fc_1",
    "call_id": "call_1",
    "name": "weather",
    "arguments": '{"city": "Oslo"}',
    "status": "completed",
}


def response(status: str, *output: dict[str, Any]) -> dict[str, Any]:
    return {"id": "resp_1", "status": status, "output": list(output), "usage": {"total_tokens": 3}}


def test_a_response_streams_created_then_each_item_then_its_end() -> None:
    events = response_events(response("completed", MCP_CALL, FUNCTION_CALL, MESSAGE))

    assert [e["type"] for e in events] == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.output_item.done",
        "response.output_item.added",
        "response.function_call_arguments.done",
        "response.output_item.done",
        "response.output_item.added",
        "response.content_part.added",
        "response.output_text.delta",
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.completed",
    ]
    assert [e["sequence_number"] for e in events] == list(range(len(events)))
    opening = events[0]["response"]
    assert (opening["status"], opening["output"], "usage" in opening) == ("in_progress", [], False)
    assert events[-1]["response"]["usage"] == {"total_tokens": 3}
    assert events[5]["arguments"] == '{"city": "Oslo"}'
    assert events[7]["item"]["content"] == []
    assert events[7]["item"]["status"] == "in_progress"
    assert events[9]["delta"] == "Hello."
    assert [e.get("output_index") for e in events[2:13]] == [0, 0, 1, 1, 1, 2, 2, 2, 2, 2, 2]


def test_a_response_ends_with_the_event_of_its_status() -> None:
    assert response_events(response("incomplete"))[-1]["type"] == "response.incomplete"
    assert response_events(response("failed"))[-1]["type"] == "response.failed"
    assert response_events(response("cancelled"))[-1]["type"] == "response.failed"


def completion(content: str | None, calls: list[dict[str, Any]]) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": content}
    if calls:
        message["tool_calls"] = calls
    return {
        "id": "chatcmpl-1",
        "created": 7,
        "model": "m",
        "choices": [{"index": 0, "message": message, "finish_reason": "tool_calls"}],
        "usage": {"total_tokens": 9},
    }


def test_a_completion_streams_its_role_text_calls_by_index_and_finish() -> None:
    calls = [
        {"id": "c1", "type": "function", "function": {"name": "a", "arguments": "{}"}},
        {"id": "c2", "type": "function", "function": {"name": "b", "arguments": "{}"}},
    ]

    chunks = completion_chunks(completion("Looking.", calls), include_usage=False)

    deltas = [chunk["choices"][0]["delta"] for chunk in chunks]
    assert deltas[0] == {"role": "assistant", "content": "", "refusal": None}
    assert deltas[1] == {"content": "Looking."}
    assert [d["tool_calls"][0]["index"] for d in deltas[2:4]] == [0, 1]
    assert deltas[2]["tool_calls"][0]["id"] == "c1"
    assert deltas[4] == {}
    assert chunks[4]["choices"][0]["finish_reason"] == "tool_calls"
    assert {chunk["object"] for chunk in chunks} == {"chat.completion.chunk"}
    assert all("usage" not in chunk for chunk in chunks)


def test_a_completion_asked_for_its_usage_ends_with_a_chunk_of_no_choices() -> None:
    chunks = completion_chunks(completion("Hi.", []), include_usage=True)

    assert all(chunk["usage"] is None for chunk in chunks[:-1])
    assert (chunks[-1]["choices"], chunks[-1]["usage"]) == ([], {"total_tokens": 9})


def test_response_events_are_named_and_chunks_end_with_done() -> None:
    named = event_stream(response_events(response("completed")))
    bare = event_stream(completion_chunks(completion("Hi.", []), include_usage=False))

    first, *_ = named.split("\n\n")
    assert first.startswith("event: response.created\ndata: {")
    assert json.loads(first.split("data: ", 1)[1])["type"] == "response.created"
    assert not bare.startswith("event:")
    assert bare.endswith("data: [DONE]\n\n")
    assert "[DONE]" not in named
