"""The tool registry: one typed definition gives the strict schema and the validation."""

from __future__ import annotations

import json
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Annotated, Any

import pytest
from pydantic import Field

from mojang_chat.chat import ToolCall, ToolInputError, ToolRegistry
from mojang_chat.core.deadline import Deadline
from mojang_chat.mojang.tools import mojang_tools


class Context:
    def __init__(self) -> None:
        self.seen: list[str] = []


class Boom(Exception):
    """An error whose message is written for the model."""


def make_registry() -> ToolRegistry:
    registry = ToolRegistry(context_type=Context, readable_errors=(Boom,))

    @registry.tool
    def greet(context: Context, name: Annotated[str, Field(max_length=5)], times: int = 1) -> Any:
        """Greet someone."""
        context.seen.append(name)
        return {"greeting": " ".join([f"hi {name}"] * times)}

    @registry.tool
    def explode(kind: str) -> Any:
        """Fail on purpose."""
        if kind == "readable":
            raise Boom("the service is down, try later")
        if kind == "input":
            raise ToolInputError("that is not a kind I know")
        raise KeyError("secret internals")

    return registry


def call(registry: ToolRegistry, name: str, arguments: str, context: object = None) -> Any:
    return registry.run(ToolCall("call_1", name, arguments), context or Context()).output


def test_schema_is_strict_and_leaves_out_the_context() -> None:
    definition = make_registry().definitions[0]
    assert definition["type"] == "function"
    function = definition["function"]
    assert function["name"] == "greet"
    assert function["description"] == "Greet someone."
    assert function["strict"] is True
    parameters = function["parameters"]
    assert parameters["additionalProperties"] is False
    assert set(parameters["properties"]) == {"name", "times"}
    # Strict mode: every property is required; the optional one says so with its default.
    assert sorted(parameters["required"]) == ["name", "times"]
    assert parameters["properties"]["name"]["maxLength"] == 5
    json.dumps(definition)  # plain JSON, as it goes over the wire


def test_valid_call_runs_the_function_with_the_context() -> None:
    context = Context()
    output = call(make_registry(), "greet", '{"name": "ann", "times": 2}', context)
    assert output == {"greeting": "hi ann hi ann"}
    assert context.seen == ["ann"]


@pytest.mark.parametrize(
    ("arguments", "expected"),
    [
        ("{not json", "not valid JSON"),
        ("[1, 2]", "must be a JSON object"),
        ('{"name": "toolongname"}', "name: String should have at most 5 characters"),
        ('{"name": "ann", "shout": true}', "shout: Extra inputs are not permitted"),
        ("{}", "name: Field required"),
        # Pathological arguments: a tool error, never a crash of the request or the step
        ('{"name": ' + "[" * 100_000 + "]" * 100_000 + "}", "nested more than 32 levels deep"),
        ('{"name": ' + "[" * 1000 + "]" * 1000 + "}", "nested more than 32 levels deep"),
        ('{"name": ' + "[" * 40 + "]" * 40 + "}", "nested more than 32 levels deep"),
        ('{"name": "ann", "times": ' + "9" * 5000 + "}", "a number too long to read"),
    ],
)
def test_bad_arguments_become_a_message_for_the_model(arguments: str, expected: str) -> None:
    context = Context()
    output = call(make_registry(), "greet", arguments, context)
    assert expected in output["error"]
    assert context.seen == []  # the function never ran


def test_unknown_tool_names_the_tools_that_exist() -> None:
    output = call(make_registry(), "delete_everything", "{}")
    assert "no tool named 'delete_everything'" in output["error"]
    assert "greet" in output["error"]


@pytest.mark.parametrize(
    ("kind", "expected"),
    [
        ("readable", "the service is down, try later"),
        ("input", "that is not a kind I know"),
        ("bug", "the tool failed unexpectedly (KeyError)"),
    ],
)
def test_tool_exceptions_become_a_message_for_the_model(kind: str, expected: str) -> None:
    output = call(make_registry(), "explode", json.dumps({"kind": kind}))
    assert output == {"error": expected}
    assert "secret internals" not in json.dumps(output)


def test_a_huge_output_is_replaced_by_a_short_error() -> None:
    registry = ToolRegistry()

    @registry.tool
    def flood() -> Any:
        """Return a lot."""
        return {"data": "x" * 10_000}

    result = registry.run(ToolCall("c", "flood", "{}"), None)
    assert len(result.content(8000)) < 200
    assert "too long" in json.loads(result.content(8000))["error"]
    assert json.loads(result.content(20_000)) == {"data": "x" * 10_000}


def test_one_turns_calls_run_concurrently_and_keep_their_order() -> None:
    registry = ToolRegistry()
    barrier = threading.Barrier(3, timeout=5)

    @registry.tool
    def wait_for_others(n: int) -> Any:
        """Block until all three calls are running at once."""
        barrier.wait()
        return {"n": n}

    calls = [ToolCall(f"c{n}", "wait_for_others", json.dumps({"n": n})) for n in range(3)]
    with ThreadPoolExecutor(4) as executor:
        results = registry.run_all(calls, None, Deadline(10), executor)
    assert [r.output for r in results] == [{"n": 0}, {"n": 1}, {"n": 2}]
    assert [r.call.id for r in results] == ["c0", "c1", "c2"]


def test_a_call_still_running_at_the_deadline_is_answered_with_a_timeout() -> None:
    registry = ToolRegistry()
    release = threading.Event()

    @registry.tool
    def slow() -> Any:
        """Never finishes in time."""
        release.wait(5)
        return {"late": True}

    @registry.tool
    def quick() -> Any:
        """Finishes at once."""
        return {"ok": True}

    calls = [ToolCall("a", "quick", "{}"), ToolCall("b", "slow", "{}")]
    with ThreadPoolExecutor(2) as executor:
        results = registry.run_all(calls, None, Deadline(0.2), executor)
        release.set()
    assert results[0].output == {"ok": True}
    assert results[1].output == {"error": "the tool did not finish in time"}


def test_registering_a_name_twice_or_without_docstring_fails() -> None:
    registry = make_registry()

    def greet() -> None:
        """Again."""

    with pytest.raises(ValueError, match="twice"):
        registry.tool(greet)

    def undocumented() -> None:
        pass

    with pytest.raises(ValueError, match="docstring"):
        registry.tool(undocumented)


def test_the_mojang_tools_offer_the_tutorial_tool_and_lookups() -> None:
    names = [d["function"]["name"] for d in mojang_tools.definitions]
    assert names[0] == "get_uuid_from_username"  # the tutorial's name, kept
    assert {"get_uuids_from_usernames", "get_player_profile", "get_username_from_uuid"} <= set(
        names
    )
    username = mojang_tools.definitions[0]["function"]["parameters"]["properties"]["username"]
    assert username["pattern"] == "^[A-Za-z0-9_]{1,25}$"
    for definition in mojang_tools.definitions:
        assert definition["function"]["strict"] is True
        assert "context" not in definition["function"]["parameters"]["properties"]
