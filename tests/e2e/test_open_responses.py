"""The Open Responses specification's scenarios (../shared/reference/openresponses/, read at
run time): each final body valid against its ``ResponseResource``, as its compliance suite
checks them; image input is refused with a clear 400, the service reading text only."""

from __future__ import annotations

import functools
import json
from collections.abc import Iterator
from typing import Any

import jsonschema
import pytest
import requests

from mojang_chat.local.server import LocalServer, serving
from tests.aws import RunsStack, runs_stack
from tests.fakes import model_server as fake_model
from tests.helpers import SHARED_REFERENCE

__all__ = ["runs_stack"]  # the fixture, imported for pytest

SPEC = SHARED_REFERENCE / "openresponses" / "openapi.json"
pytestmark = pytest.mark.skipif(not SPEC.exists(), reason=f"no {SPEC} (../shared absent)")
WEATHER = {
    "type": "function",
    "name": "get_weather",
    "description": "The weather in a city.",
    "parameters": {"type": "object", "properties": {"location": {"type": "string"}}},
}


@functools.cache
def resource_errors(body: str) -> list[str]:
    spec = json.loads(SPEC.read_text(encoding="utf-8"))
    root = {"$ref": "#/components/schemas/ResponseResource", "components": spec["components"]}
    validator = jsonschema.Draft202012Validator(root)
    return [
        f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(json.loads(body))
    ]


@pytest.fixture
def server(runs_stack: RunsStack) -> Iterator[LocalServer]:
    with serving(runs_stack.api) as local:
        yield local


SCENARIOS: dict[str, tuple[Any, dict[str, Any]]] = {
    "basic-response": ([{"role": "user", "content": "Say hello in exactly 3 words."}], {}),
    "system-prompt": (
        [
            {"role": "system", "content": "You are a pirate. Always respond in pirate speak."},
            {"role": "user", "content": "Say hello."},
        ],
        {},
    ),
    "multi-turn": (
        [
            {"role": "user", "content": "My name is Alice."},
            {"role": "assistant", "content": "Hello Alice! Nice to meet you."},
            {"role": "user", "content": "What is my name?"},
        ],
        {},
    ),
    "tool-calling": (
        [{"role": "user", "content": "What's the weather like in San Francisco?"}],
        {"tools": [WEATHER]},
    ),
}


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_each_scenario_ends_completed_with_a_valid_resource(
    app_env: Any, server: LocalServer, scenario: str
) -> None:
    model, _ = app_env
    if scenario == "tool-calling":
        model.script(fake_model.tool_calls(("get_weather", {"location": "San Francisco"})))
    else:
        model.script(fake_model.answer("Ahoy there, matey!"))
    items, extra = SCENARIOS[scenario]

    reply = requests.post(
        f"{server.url}/v1/responses",
        json={"model": "any", "input": items, **extra},
        timeout=30,
    )

    assert reply.status_code == 200, reply.text
    assert resource_errors(reply.text) == []
    body = reply.json()
    assert body["status"] == "completed"
    assert body["output"]
    if scenario == "tool-calling":
        assert [item["type"] for item in body["output"]] == ["function_call"]


def test_the_streamed_responses_last_event_holds_a_valid_resource(
    app_env: Any, server: LocalServer
) -> None:
    model, _ = app_env
    model.script(fake_model.answer("Ahoy!"))

    reply = requests.post(
        f"{server.url}/v1/responses",
        json={"model": "any", "input": "Say hello.", "stream": True},
        timeout=30,
    )

    events = [json.loads(b.split("\ndata: ", 1)[1]) for b in reply.text.split("\n\n") if b]
    assert events[-1]["type"] == "response.completed"
    assert resource_errors(json.dumps(events[-1]["response"])) == []


def test_image_input_is_refused_clearly(app_env: Any, server: LocalServer) -> None:
    image = {"type": "input_image", "image_url": "data:image/png;base64,iVBORw0KGgo="}
    reply = requests.post(
        f"{server.url}/v1/responses",
        json={"model": "any", "input": [{"role": "user", "content": [image]}]},
        timeout=30,
    )

    assert reply.status_code == 400
    error = reply.json()["error"]
    assert error["param"] == "input[0].content[0].type"
    assert "text only" in error["message"]
