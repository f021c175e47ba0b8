"""Chat Completions and the models list through the official SDK against the local server:
the Mojang tools run on the server inside the request, the caller's own tools end the
completion with ``tool_calls``, streaming gives chunks ending in ``[DONE]``. Every body is
validated against OpenAI's schema; what cannot be honoured is a 400 in OpenAI's shape."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import openai
import pytest
import requests

from mojang_chat.chat.loop import SYSTEM_PROMPT
from mojang_chat.local.server import LocalServer, running
from mojang_chat.local.standins import MERRYDITH_UUID
from tests.aws import schema_errors
from tests.fakes import model_server as fake_model
from tests.helpers import TEMPLATE

QUESTION = "what is the uuid of the player merrydith?"
LOOKUP = ("get_uuid_from_username", {"username": "merrydith"})
WEATHER: Any = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "The weather in a city (the caller's own tool).",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
    },
}


@pytest.fixture
def server(app_env: Any) -> Iterator[LocalServer]:
    with running(TEMPLATE) as local:
        yield local


@pytest.fixture
def client(server: LocalServer) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{server.url}/v1", api_key="unused", max_retries=0)


def post(server: LocalServer, body: dict[str, Any]) -> requests.Response:
    return requests.post(f"{server.url}/v1/chat/completions", json=body, timeout=30)


def test_the_mojang_tools_run_inside_the_request(
    app_env: Any, server: LocalServer, client: openai.OpenAI
) -> None:
    model, mojang = app_env
    model.script(fake_model.tool_calls(LOOKUP), fake_model.answer_from_tools())

    raw = client.chat.completions.with_raw_response.create(
        model="any-model", messages=[{"role": "user", "content": QUESTION}]
    )
    completion = raw.parse()

    # One completion with the answer; the server's lookup never shows in it
    body = json.loads(raw.text)
    assert schema_errors("CreateChatCompletionResponse", body, "chat_completions") == []
    [choice] = completion.choices
    assert choice.finish_reason == "stop"
    assert choice.message.tool_calls is None
    assert MERRYDITH_UUID.replace("-", "") in (choice.message.content or "").replace("-", "")
    assert completion.model == "gpt-4o-mini"  # the deployment's, whatever was asked for
    assert completion.usage is not None
    assert completion.usage.total_tokens > 0
    assert [r.path for r in mojang.requests()] == ["/minecraft/profile/lookup/name/merrydith"]
    # The model read the server's prompt, then the question
    sent = model.requests[0].body["messages"]
    assert sent[0] == {"role": "system", "content": SYSTEM_PROMPT}
    assert sent[-1] == {"role": "user", "content": QUESTION}
    assert model.schema_errors == []


def test_the_callers_own_tool_ends_the_completion_with_its_calls(
    app_env: Any, client: openai.OpenAI
) -> None:
    model, mojang = app_env
    model.script(
        fake_model.tool_calls(("get_weather", {"city": "Oslo"})),
        fake_model.answer("It is sunny in Oslo."),
    )
    messages: list[Any] = [{"role": "user", "content": "weather in Oslo?"}]

    first = client.chat.completions.create(model="m", messages=messages, tools=[WEATHER])

    [choice] = first.choices
    assert choice.finish_reason == "tool_calls"
    assert choice.message.tool_calls is not None
    [call] = choice.message.tool_calls
    assert call.type == "function"
    assert (call.function.name, json.loads(call.function.arguments)) == (
        "get_weather",
        {"city": "Oslo"},
    )
    assert model.requests[0].body["tools"][0] == WEATHER
    # When the caller answers it in the next request, the model reads the output
    messages += [
        choice.message.model_dump(exclude_none=True),
        {"role": "tool", "tool_call_id": call.id, "content": "sunny, 21 C"},
    ]
    second = client.chat.completions.create(model="m", messages=messages, tools=[WEATHER])
    assert second.choices[0].message.content == "It is sunny in Oslo."
    assert model.requests[1].body["messages"][-1] == {
        "role": "tool",
        "tool_call_id": call.id,
        "content": "sunny, 21 C",
    }
    assert mojang.requests() == []
    assert model.schema_errors == []


def test_streaming_gives_the_chunks_then_done(app_env: Any, server: LocalServer) -> None:
    model, _ = app_env
    model.script(fake_model.tool_calls(LOOKUP), fake_model.answer_from_tools())
    body = {
        "model": "m",
        "messages": [{"role": "user", "content": QUESTION}],
        "stream": True,
        "stream_options": {"include_usage": True},
    }

    reply = post(server, body)

    assert reply.status_code == 200
    assert reply.headers["content-type"].startswith("text/event-stream")
    events = [line.removeprefix("data: ") for line in reply.text.split("\n\n") if line]
    assert events[-1] == "[DONE]"
    chunks = [json.loads(event) for event in events[:-1]]
    for chunk in chunks:
        assert schema_errors("CreateChatCompletionStreamResponse", chunk, "chat_completions") == []
    text = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks if c["choices"])
    assert MERRYDITH_UUID.replace("-", "") in text.replace("-", "")
    assert chunks[-2]["choices"][0]["finish_reason"] == "stop"
    assert chunks[-1]["choices"] == []
    assert chunks[-1]["usage"]["total_tokens"] > 0


def test_the_sdks_stream_helper_assembles_the_completion(
    app_env: Any, client: openai.OpenAI
) -> None:
    model, _ = app_env
    model.script(fake_model.tool_calls(("get_weather", {"city": "Oslo"})))

    with client.chat.completions.stream(
        model="m", messages=[{"role": "user", "content": "weather?"}], tools=[WEATHER]
    ) as stream:
        final = stream.get_final_completion()

    [choice] = final.choices
    assert choice.finish_reason == "tool_calls"
    assert choice.message.tool_calls is not None
    assert choice.message.tool_calls[0].function.name == "get_weather"


def test_the_models_list_names_the_deployments_model(client: openai.OpenAI) -> None:
    listed = client.models.with_raw_response.list()
    assert schema_errors("ListModelsResponse", json.loads(listed.text), "models") == []
    assert [m.id for m in listed.parse().data] == ["gpt-4o-mini"]
    assert client.models.retrieve("gpt-4o-mini").id == "gpt-4o-mini"
    with pytest.raises(openai.NotFoundError) as caught:
        client.models.retrieve("gpt-9")
    assert caught.value.code == "model_not_found"


@pytest.mark.parametrize(
    ("change", "param"),
    [
        ({"n": 2}, "n"),
        ({"logprobs": True}, "logprobs"),
        ({"modalities": ["text", "audio"]}, "modalities"),
        ({"response_format": {"type": "json_object"}}, "response_format"),
        ({"frobnicate": 1}, "frobnicate"),
        (
            {
                "messages": [
                    {
                        "role": "user",
                        "content": [{"type": "image_url", "image_url": {"url": "http://x/y.png"}}],
                    }
                ]
            },
            "messages[0].content[0].type",
        ),
        (
            {"messages": [{"role": "tool", "tool_call_id": "call_1", "content": "x"}]},
            "messages[0].tool_call_id",
        ),
        ({"messages": [{"role": "user", "content": "x" * 32_001}]}, "messages[0].content"),
        ({"tools": [{"type": "code_interpreter"}]}, "tools[0].type"),
    ],
)
def test_what_cannot_be_honoured_is_a_400_in_openais_shape(
    app_env: Any, server: LocalServer, change: dict[str, Any], param: str
) -> None:
    model, _ = app_env
    body = {"model": "m", "messages": [{"role": "user", "content": QUESTION}], **change}

    reply = post(server, body)

    assert reply.status_code == 400, reply.text
    assert schema_errors("ErrorResponse", reply.json()) == []
    assert reply.json()["error"]["param"] == param
    assert model.requests == []  # refused before any model call


def test_a_model_that_fails_is_named_as_such(app_env: Any, server: LocalServer) -> None:
    model, _ = app_env
    model.script(*[fake_model.server_error()] * 8)

    reply = post(server, {"model": "m", "messages": [{"role": "user", "content": QUESTION}]})

    assert reply.status_code == 502
    assert reply.json()["error"]["code"] == "model_error"
    assert schema_errors("ErrorResponse", reply.json()) == []
