"""The Responses API and Conversations through the official SDK against the local server, on
the conversation core: server-run Mojang calls as ``mcp_call`` items, the caller's function
calls ending a response and answered in the next one, background responses polled and
cancelled, and a conversation shared with the Assistants API. Bodies are validated against
OpenAI's schema."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import openai
import pytest
import requests

from mojang_chat.chat.loop import SYSTEM_PROMPT
from mojang_chat.local.server import LocalServer, serving
from mojang_chat.local.standins import MERRYDITH_UUID
from tests.aws import RunsStack, runs_stack, schema_errors
from tests.fakes import model_server as fake_model

__all__ = ["runs_stack"]  # the fixture, imported for pytest

QUESTION = "what is the uuid of the player merrydith?"
LOOKUP = ("get_uuid_from_username", {"username": "merrydith"})
WEATHER: Any = {
    "type": "function",
    "name": "get_weather",
    "description": "The weather in a city (the caller's own tool).",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
}


@pytest.fixture
def server(runs_stack: RunsStack) -> Iterator[LocalServer]:
    with serving(runs_stack.api) as local:
        yield local


@pytest.fixture
def client(server: LocalServer) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{server.url}/v1", api_key="unused", max_retries=0)


def valid(body: dict[str, Any]) -> dict[str, Any]:
    assert schema_errors("Response", body, "responses") == [], body
    return body


def test_a_response_runs_the_mojang_tools_on_the_server(
    app_env: Any, client: openai.OpenAI
) -> None:
    model, mojang = app_env
    model.script(fake_model.tool_calls(LOOKUP), fake_model.answer_from_tools())

    raw = client.responses.with_raw_response.create(
        model="any", input=QUESTION, instructions="Address the user as Johnny."
    )
    response = raw.parse()

    body = valid(json.loads(raw.text))
    assert response.status == "completed"
    assert MERRYDITH_UUID.replace("-", "") in response.output_text.replace("-", "")
    mcp, message = body["output"]
    assert (mcp["type"], mcp["server_label"], mcp["name"]) == (
        "mcp_call",
        "mojang",
        "get_uuid_from_username",
    )
    assert mcp["output"]
    assert message["type"] == "message"
    assert response.usage is not None
    assert response.usage.total_tokens > 0
    assert [r.path for r in mojang.requests()] == ["/minecraft/profile/lookup/name/merrydith"]
    system = [m["content"] for m in model.requests[0].body["messages"] if m["role"] == "system"]
    assert system == [SYSTEM_PROMPT, "Address the user as Johnny."]
    # It is kept: retrieved, and its input listed
    again = client.responses.retrieve(response.id)
    assert again.output_text == response.output_text
    inputs = client.responses.input_items.list(response.id)
    assert [item.type for item in inputs.data] == ["message"]


def test_the_callers_function_call_ends_a_response_and_is_answered_in_the_next(
    app_env: Any, client: openai.OpenAI
) -> None:
    model, _ = app_env
    model.script(
        fake_model.tool_calls(("get_weather", {"city": "Oslo"})),
        fake_model.answer("It is sunny in Oslo."),
    )

    first = client.responses.create(model="m", input="weather in Oslo?", tools=[WEATHER])

    assert first.status == "completed"
    [call] = [item for item in first.output if item.type == "function_call"]
    assert (call.name, json.loads(call.arguments)) == ("get_weather", {"city": "Oslo"})
    second = client.responses.create(
        model="m",
        previous_response_id=first.id,
        input=[{"type": "function_call_output", "call_id": call.call_id, "output": "sunny"}],
        tools=[WEATHER],
    )
    assert second.output_text == "It is sunny in Oslo."
    again = client.responses.retrieve(second.id)
    assert (again.previous_response_id, again.background) == (first.id, False)
    sent = model.requests[1].body["messages"]
    assert sent[-1] == {"role": "tool", "tool_call_id": call.call_id, "content": "sunny"}
    assert model.schema_errors == []
    # A next response that does not answer the call is refused, naming it
    model.script(fake_model.tool_calls(("get_weather", {"city": "Bergen"})))
    third = client.responses.create(model="m", input="and Bergen?", tools=[WEATHER])
    with pytest.raises(openai.BadRequestError) as caught:
        client.responses.create(model="m", previous_response_id=third.id, input="hello?")
    [pending] = [item for item in third.output if item.type == "function_call"]
    assert f"No tool output found for function call {pending.call_id}." in caught.value.message


def test_an_older_response_continued_branches_off_and_the_first_line_stays(
    app_env: Any, client: openai.OpenAI
) -> None:
    model, _ = app_env
    model.script(
        fake_model.tool_calls(("get_weather", {"city": "Oslo"})),
        fake_model.answer("Sunny."),
        fake_model.answer("Rain."),
        fake_model.answer("Still sunny."),
    )
    first = client.responses.create(model="m", input="weather in Oslo?", tools=[WEATHER])
    [call] = [item for item in first.output if item.type == "function_call"]

    def answered(previous: str, output: str) -> Any:
        item: Any = {"type": "function_call_output", "call_id": call.call_id, "output": output}
        return client.responses.create(
            model="m", previous_response_id=previous, input=[item], tools=[WEATHER]
        )

    sunny = answered(first.id, "sunny")
    rainy = answered(first.id, "rain")  # first is no longer the latest: a branch
    later = client.responses.create(model="m", previous_response_id=sunny.id, input="and now?")

    # Each line saw its own output only, and the first line went on unchanged
    tools = [
        [m["content"] for m in r.body["messages"] if m["role"] == "tool"] for r in model.requests
    ]
    assert tools[1:] == [["sunny"], ["rain"], ["sunny"]]
    assert "and now?" in [m["content"] for m in model.requests[3].body["messages"]]
    assert rainy.output_text == "Rain."
    line, branched = (json.loads(r.to_json())["conversation"]["id"] for r in (sunny, rainy))
    assert line != branched
    assert json.loads(later.to_json())["conversation"]["id"] == line
    first_line = client.conversations.items.list(line, order="asc")
    branch = client.conversations.items.list(branched, order="asc")
    assert [i.type for i in branch.data] == [
        "message",
        "function_call",
        "function_call_output",
        "message",
    ]
    assert len(first_line.data) == 6
    # A branch must answer the calls again, like the response it continues
    with pytest.raises(openai.BadRequestError, match="No tool output found for function call"):
        client.responses.create(model="m", previous_response_id=first.id, input="hello?")


def test_a_stateless_caller_sends_the_conversation_whole_and_nothing_is_kept(
    app_env: Any, server: LocalServer, client: openai.OpenAI, runs_stack: RunsStack
) -> None:
    model, mojang = app_env
    model.script(
        fake_model.tool_calls(LOOKUP, ("get_weather", {"city": "Oslo"})),
        fake_model.answer("Sunny, and merrydith it is."),
    )

    raw_first = client.responses.with_raw_response.create(
        model="m", input=QUESTION, tools=[WEATHER], store=False
    )
    first = raw_first.parse()

    # Nothing of it is kept: not the response, not what it made
    assert valid(json.loads(raw_first.text))["store"] is False
    assert [item.type for item in first.output] == ["mcp_call", "function_call"]
    with pytest.raises(openai.NotFoundError):
        client.responses.retrieve(first.id)
    assert runs_stack.dynamodb.scan(TableName=runs_stack.table_name)["Items"] == []
    # The caller sends it all back, with its own call's output, as items of the schema
    mcp, call = (item.model_dump(exclude_none=True) for item in first.output)
    history = [
        {"type": "message", "role": "user", "content": QUESTION},
        mcp,
        call,
        {"type": "function_call_output", "call_id": call["call_id"], "output": "sunny"},
    ]
    for item in history:
        assert schema_errors("InputItem", item, "responses") == [], item
    raw = requests.post(
        f"{server.url}/v1/responses",
        json={"model": "m", "input": history, "tools": [WEATHER], "store": False},
        timeout=30,
    )
    assert raw.status_code == 200, raw.text
    assert valid(raw.json())["output"][-1]["content"][0]["text"] == "Sunny, and merrydith it is."
    # The model read its earlier turn as it was: both calls, each with its output
    *_, question, turn, lookup, weather = model.requests[1].body["messages"]
    assert question == {"role": "user", "content": QUESTION}
    assert [c["function"]["name"] for c in turn["tool_calls"]] == [
        "get_uuid_from_username",
        "get_weather",
    ]
    assert (lookup["content"], weather) == (
        mcp["output"],
        {"role": "tool", "tool_call_id": call["call_id"], "content": "sunny"},
    )
    assert model.schema_errors == []
    assert len(mojang.requests()) == 1  # the earlier lookup is not made again
    assert runs_stack.dynamodb.scan(TableName=runs_stack.table_name)["Items"] == []


def test_a_stored_history_is_listed_as_items_with_the_callers_outputs(
    app_env: Any, client: openai.OpenAI
) -> None:
    model, _ = app_env
    model.script(fake_model.answer("It is sunny in Oslo."))
    call = {
        "type": "function_call",
        "call_id": "call_1",
        "name": "get_weather",
        "arguments": '{"city": "Oslo"}',
    }
    history: Any = [
        {"type": "message", "role": "user", "content": "weather in Oslo?"},
        call,
        {"type": "function_call_output", "call_id": "call_1", "output": "sunny"},
    ]

    response = client.responses.create(model="m", input=history, tools=[WEATHER])
    conversation = client.conversations.create(items=history)

    assert response.output_text == "It is sunny in Oslo."
    raw = client.responses.input_items.with_raw_response.list(response.id, order="asc")
    inputs = json.loads(raw.text)
    assert schema_errors("ResponseItemList", inputs, "responses") == []
    assert [item["type"] for item in inputs["data"]] == [
        "message",
        "function_call",
        "function_call_output",
    ]
    raw_items = client.conversations.items.with_raw_response.list(conversation.id, order="asc")
    listed = json.loads(raw_items.text)
    assert schema_errors("ConversationItemList", listed, "responses") == []
    assert [(i["type"], i.get("call_id")) for i in listed["data"]] == [
        ("message", None),
        ("function_call", "call_1"),
        ("function_call_output", "call_1"),
    ]


@pytest.mark.parametrize(
    ("items", "previous", "message"),
    [
        (
            [{"type": "function_call", "call_id": "c1", "name": "f", "arguments": "{}"}],
            False,
            "No tool output found for function call c1.",
        ),
        (
            [{"type": "function_call_output", "call_id": "c2", "output": "x"}],
            False,
            "No tool call found for function call output with call_id c2.",
        ),
        (
            [
                {"type": "function_call", "call_id": "c3", "name": "f", "arguments": "{}"},
                {"type": "function_call_output", "call_id": "c3", "output": "x"},
            ],
            True,
            "sent back only without previous_response_id",
        ),
        ([{"type": "function_call", "call_id": "c4", "name": "f"}], False, "input[1].arguments"),
    ],
)
def test_a_history_that_does_not_add_up_is_a_400(
    app_env: Any, client: openai.OpenAI, items: Any, previous: bool, message: str
) -> None:
    model, _ = app_env
    model.script(fake_model.answer("Hello."))
    extra: dict[str, Any] = {}
    if previous:
        extra["previous_response_id"] = client.responses.create(model="m", input="hi").id
    asked = len(model.requests)

    with pytest.raises(openai.BadRequestError) as caught:
        client.responses.create(
            model="m", input=[{"role": "user", "content": "q"}, *items], **extra
        )

    assert message in caught.value.message
    assert len(model.requests) == asked


def test_a_background_response_is_polled_and_can_be_cancelled(
    app_env: Any, client: openai.OpenAI, runs_stack: RunsStack
) -> None:
    model, _ = app_env
    model.script(fake_model.tool_calls(LOOKUP), fake_model.answer_from_tools())

    started = client.responses.create(model="m", input=QUESTION, background=True)
    assert started.status in ("queued", "in_progress")
    response = started
    while response.status in ("queued", "in_progress"):
        time.sleep(0.05)
        response = client.responses.retrieve(started.id)
    assert (response.status, response.background) == ("completed", True)
    assert MERRYDITH_UUID.replace("-", "") in response.output_text.replace("-", "")

    # A slow one is cancelled, and ends cancelled
    model.script(fake_model.hang(1.5, fake_model.answer("too late")))
    slow = client.responses.create(model="m", input="hello", background=True)
    cancelled = client.responses.cancel(slow.id)
    while cancelled.status not in ("cancelled", "completed", "failed", "incomplete"):
        time.sleep(0.05)
        cancelled = client.responses.retrieve(slow.id)
    assert cancelled.status == "cancelled"
    runs_stack.wait(slow.id)


def test_a_conversation_is_the_assistants_thread(
    app_env: Any, client: openai.OpenAI, runs_stack: RunsStack
) -> None:
    model, _ = app_env
    model.script(fake_model.answer("Hello, Johnny."))
    conversation = client.conversations.create(
        items=[{"type": "message", "role": "user", "content": "hi, I am Johnny"}],
        metadata={"topic": "greeting"},
    )

    response = client.responses.create(model="m", conversation=conversation.id, input="hello?")

    assert response.output_text == "Hello, Johnny."
    sent = [m["content"] for m in model.requests[0].body["messages"] if m["role"] == "user"]
    assert sent == ["hi, I am Johnny", "hello?"]
    items = client.conversations.items.list(conversation.id, order="asc")
    assert [i.type for i in items.data] == ["message", "message", "message"]
    # The same thread, read through the Assistants API
    status, thread = runs_stack.call("GET", f"/v1/threads/{conversation.id}")
    assert (status, thread["metadata"]) == (200, {"topic": "greeting"})
    retrieved = client.conversations.retrieve(conversation.id)
    assert retrieved.metadata == {"topic": "greeting"}
    # Items are added, read and deleted
    [added] = client.conversations.items.create(
        conversation.id, items=[{"type": "message", "role": "user", "content": "bye"}]
    ).data
    item_id = str(added.id)
    read = client.conversations.items.retrieve(item_id, conversation_id=conversation.id)
    assert read.id == item_id
    client.conversations.items.delete(item_id, conversation_id=conversation.id)
    with pytest.raises(openai.NotFoundError):
        client.conversations.items.retrieve(item_id, conversation_id=conversation.id)
    client.conversations.delete(conversation.id)
    with pytest.raises(openai.NotFoundError):
        client.conversations.retrieve(conversation.id)


def test_a_streamed_response_gives_the_references_events_in_order(
    app_env: Any, server: LocalServer, client: openai.OpenAI
) -> None:
    model, _ = app_env
    model.script(fake_model.tool_calls(LOOKUP), fake_model.answer_from_tools())
    model.script(fake_model.tool_calls(LOOKUP), fake_model.answer_from_tools())

    # The events as sent, each valid, in the reference's order
    reply = requests.post(
        f"{server.url}/v1/responses",
        json={"model": "m", "input": QUESTION, "stream": True},
        timeout=30,
    )
    assert reply.headers["content-type"].startswith("text/event-stream")
    events = [
        json.loads(block.split("\ndata: ", 1)[1]) for block in reply.text.split("\n\n") if block
    ]
    for event in events:
        assert schema_errors("ResponseStreamEvent", event, "responses") == [], event
    kinds = [event["type"] for event in events]
    assert kinds[:2] == ["response.created", "response.in_progress"]
    assert kinds[-1] == "response.completed"
    assert "response.output_text.delta" in kinds
    assert [e["sequence_number"] for e in events] == list(range(len(events)))
    # And the SDK's own stream helper assembles the response from them
    with client.responses.stream(model="m", input=QUESTION) as stream:
        final = stream.get_final_response()
    assert MERRYDITH_UUID.replace("-", "") in final.output_text.replace("-", "")
    assert [item.type for item in final.output] == ["mcp_call", "message"]


@pytest.mark.parametrize(
    ("change", "param"),
    [
        ({"stream": True, "background": True}, "stream"),
        ({"store": False, "background": True}, "store"),
        ({"store": False, "conversation": "thread_y"}, "store"),
        ({"previous_response_id": "resp_x", "conversation": "thread_y"}, "previous_response_id"),
        ({"tools": [{"type": "web_search"}]}, "tools[0].type"),
        (
            {"input": [{"role": "user", "content": [{"type": "input_image", "image_url": "x"}]}]},
            "input[0].content[0].type",
        ),
        ({"text": {"format": {"type": "json_object"}}}, "text.format"),
        ({"frobnicate": 1}, "frobnicate"),
    ],
)
def test_what_cannot_be_honoured_is_a_400(
    app_env: Any, client: openai.OpenAI, change: dict[str, Any], param: str
) -> None:
    model, _ = app_env
    body = {"model": "m", "input": QUESTION, **change}
    with pytest.raises(openai.BadRequestError) as caught:
        client.post("/responses", body=body, cast_to=object)
    assert isinstance(caught.value.body, dict)
    assert caught.value.body.get("param") == param
    assert model.requests == []


def test_a_model_that_fails_ends_the_response_failed_never_open(
    app_env: Any, client: openai.OpenAI, runs_stack: RunsStack
) -> None:
    model, _ = app_env
    model.script(*[fake_model.server_error()] * 8)

    with pytest.raises(openai.APIStatusError) as caught:
        client.responses.create(model="m", input=QUESTION)

    # The failure is named as the model's, and the response it started has ended
    assert caught.value.status_code == 502
    assert isinstance(caught.value.body, dict)
    assert caught.value.body.get("code") == "model_error"
    items = runs_stack.dynamodb.scan(TableName=runs_stack.table_name)["Items"]
    runs = [json.loads(i["body"]["S"]) for i in items if i["sk"]["S"].startswith("run#resp_")]
    assert [run["status"] for run in runs] == ["failed"]
