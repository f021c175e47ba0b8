"""The stand-in model (mojang_chat.local.standins.model) and the tests' schema checks on it
(tests/fakes/model_server.py), seen through the real openai SDK over real HTTP on 127.0.0.1."""

from __future__ import annotations

import http.client
import json
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import openai
import pydantic
import pytest

from mojang_chat.local.standins import (
    LISTEN_BACKLOG,
    ModelServer,
    MojangServer,
    StandInServer,
)
from tests.fakes.model_server import (
    HELP,
    SCHEMA_DIR,
    FakeModelServer,
    Step,
    answer,
    answer_from_tools,
    disconnect,
    error,
    hang,
    overloaded,
    rate_limited,
    raw,
    schema_validator,
    server_error,
    tool_calls,
)
from tests.helpers import SHARED_REFERENCE

MODEL = "gpt-4o-mini"
MERRYDITH_ID = "b6a3bc6b5e7a4a3c9f3e2d1c0b9a8f7e"


def _strict(name: str, **properties: Any) -> dict[str, Any]:
    return {
        "type": "function",
        "function": {
            "name": name,
            "description": f"{name} (test tool)",
            "strict": True,
            "parameters": {
                "type": "object",
                "properties": properties,
                "required": list(properties),
                "additionalProperties": False,
            },
        },
    }


UUID_TOOL = _strict("get_uuid_from_username", username={"type": "string"})
BULK_TOOL = _strict(
    "get_uuids_from_usernames", usernames={"type": "array", "items": {"type": "string"}}
)
OWNER_TOOL = _strict("get_username_from_uuid", uuid={"type": "string"})
PROFILE_TOOL = _strict("get_player_profile", uuid={"type": "string"})


class NameHistory(pydantic.BaseModel):
    """A tool schema made by the SDK's own strict generator, optional field included."""

    username: str
    limit: int | None = None


@pytest.fixture(scope="module")
def shared_server() -> Iterator[FakeModelServer]:
    # One server for the module: starting one per test would cost more than the tests.
    with FakeModelServer() as fake:
        yield fake


@pytest.fixture
def server(shared_server: FakeModelServer) -> Iterator[FakeModelServer]:
    shared_server.reset()
    shared_server.latency = 0.0
    yield shared_server
    assert shared_server.crashes == []


@pytest.fixture(scope="module")
def client(shared_server: FakeModelServer) -> Iterator[openai.OpenAI]:
    with openai.OpenAI(base_url=shared_server.base_url, api_key="test-key", max_retries=0) as sdk:
        yield sdk


def _ask(client: openai.OpenAI, messages: list[Any], **kwargs: Any) -> Any:
    return client.chat.completions.create(model=MODEL, messages=messages, **kwargs)


def _follow_up(messages: list[Any], completion: Any, outputs: list[Any]) -> list[Any]:
    """The conversation plus the assistant turn and one tool message per call, in order."""
    message = completion.choices[0].message
    turn: list[Any] = [message.model_dump(exclude_none=True)]
    for call, output in zip(message.tool_calls, outputs, strict=True):
        turn.append({"role": "tool", "tool_call_id": call.id, "content": json.dumps(output)})
    return messages + turn


# --- scripted conversations ------------------------------------------------------------------


def test_scripted_tool_call_round_trip(server: FakeModelServer, client: openai.OpenAI) -> None:
    # Given a script: two parallel tool calls, then the brain's answer from the tool outputs
    server.script(
        tool_calls(
            ("get_uuid_from_username", {"username": "merrydith"}),
            ("NameHistory", {"username": "merrydith", "limit": None}),
        ),
        answer_from_tools(),
    )
    tools = [UUID_TOOL, openai.pydantic_function_tool(NameHistory)]
    messages: list[Any] = [{"role": "user", "content": "what is merrydith's uuid?"}]

    # When the code calls the model, runs the tools and calls it again
    first = _ask(client, messages, tools=tools)
    calls = first.choices[0].message.tool_calls
    outputs = [{"id": MERRYDITH_ID, "name": "merrydith"}, {"error": "no history"}]
    second = _ask(client, _follow_up(messages, first, outputs), tools=tools)

    # Then the SDK sees tool calls with unique ids and JSON arguments, then a final answer
    assert first.choices[0].finish_reason == "tool_calls"
    assert first.choices[0].message.content is None
    assert [c.function.name for c in calls] == ["get_uuid_from_username", "NameHistory"]
    assert json.loads(calls[0].function.arguments) == {"username": "merrydith"}
    assert all(c.id.startswith("call_") for c in calls)
    assert len({c.id for c in calls}) == 2
    assert second.choices[0].finish_reason == "stop"
    assert MERRYDITH_ID in second.choices[0].message.content
    assert "no history" in second.choices[0].message.content
    assert second.model == MODEL
    assert second.id.startswith("chatcmpl-")
    assert second.usage.total_tokens == second.usage.prompt_tokens + second.usage.completion_tokens
    assert server.schema_errors == []
    assert server.remaining == ()


def test_raw_string_arguments_reach_the_client_verbatim(
    server: FakeModelServer, client: openai.OpenAI
) -> None:
    server.script(tool_calls(("get_uuid_from_username", '{"username": "merr')))

    completion = _ask(client, [{"role": "user", "content": "hi"}], tools=[UUID_TOOL])

    assert completion.choices[0].message.tool_calls[0].function.arguments == '{"username": "merr'


def test_answer_and_truncation(server: FakeModelServer, client: openai.OpenAI) -> None:
    server.script(answer("Hello there."), answer("word " * 100))
    messages = [{"role": "user", "content": "hi"}]

    plain = _ask(client, messages)
    cut = _ask(client, messages, max_completion_tokens=10)

    assert plain.choices[0].message.content == "Hello there."
    assert plain.choices[0].message.refusal is None
    assert cut.choices[0].finish_reason == "length"
    assert len(cut.choices[0].message.content) == 40


# --- the default brain -----------------------------------------------------------------------


def test_brain_looks_up_a_username_then_answers_with_the_id(
    server: FakeModelServer, client: openai.OpenAI
) -> None:
    messages: list[Any] = [
        {"role": "user", "content": "what is the id of the player username merrydith"}
    ]

    first = _ask(client, messages, tools=[UUID_TOOL, PROFILE_TOOL])
    call = first.choices[0].message.tool_calls[0]
    outputs = [{"id": MERRYDITH_ID, "name": "merrydith"}]
    second = _ask(client, _follow_up(messages, first, outputs), tools=[UUID_TOOL, PROFILE_TOOL])

    assert call.function.name == "get_uuid_from_username"
    assert json.loads(call.function.arguments) == {"username": "merrydith"}
    assert second.choices[0].finish_reason == "stop"
    assert second.choices[0].message.content == f"The UUID of merrydith is {MERRYDITH_ID}."
    assert server.schema_errors == []


@pytest.mark.parametrize(
    ("tools", "expected"),
    [
        pytest.param(
            [UUID_TOOL, BULK_TOOL],
            [("get_uuids_from_usernames", {"usernames": ["Notch", "jeb_", "Dinnerbone"]})],
            id="bulk-tool",
        ),
        pytest.param(
            [UUID_TOOL],
            [("get_uuid_from_username", {"username": n}) for n in ("Notch", "jeb_", "Dinnerbone")],
            id="parallel-calls",
        ),
    ],
)
def test_brain_with_several_names(
    client: openai.OpenAI, tools: list[Any], expected: list[Any]
) -> None:
    question = "What are the UUIDs of Notch, jeb_ and Dinnerbone?"

    completion = _ask(client, [{"role": "user", "content": question}], tools=tools)

    calls = completion.choices[0].message.tool_calls
    assert [(c.function.name, json.loads(c.function.arguments)) for c in calls] == expected


@pytest.mark.parametrize(
    ("question", "tools", "expected"),
    [
        (
            "who owns 069a79f4-44e9-4726-a5be-fca90e38aaf5?",
            [OWNER_TOOL, PROFILE_TOOL],
            "get_username_from_uuid",
        ),
        ("who owns 069a79f4-44e9-4726-a5be-fca90e38aaf5?", [PROFILE_TOOL], "get_player_profile"),
        (
            "what cape has 069a79f4-44e9-4726-a5be-fca90e38aaf5",
            [OWNER_TOOL, PROFILE_TOOL],
            "get_player_profile",
        ),
    ],
)
def test_brain_looks_up_a_uuid(
    client: openai.OpenAI, question: str, tools: list[Any], expected: str
) -> None:
    completion = _ask(client, [{"role": "user", "content": question}], tools=tools)

    call = completion.choices[0].message.tool_calls[0]
    assert call.function.name == expected
    assert json.loads(call.function.arguments) == {"uuid": "069a79f4-44e9-4726-a5be-fca90e38aaf5"}


def test_brain_skin_question_takes_two_rounds(
    server: FakeModelServer, client: openai.OpenAI
) -> None:
    tools = [UUID_TOOL, PROFILE_TOOL]
    messages: list[Any] = [{"role": "user", "content": "does jeb_ use the slim skin model?"}]
    jeb = "853c80ef3c3749fdaa49938b674adae6"

    first = _ask(client, messages, tools=tools)
    messages = _follow_up(messages, first, [{"id": jeb, "name": "jeb_"}])
    second = _ask(client, messages, tools=tools)
    profile = {"id": jeb, "name": "jeb_", "skin": {"model": "slim"}, "cape_url": "http://c"}
    third = _ask(client, _follow_up(messages, second, [profile]), tools=tools)

    assert first.choices[0].message.tool_calls[0].function.name == "get_uuid_from_username"
    call = second.choices[0].message.tool_calls[0]
    assert (call.function.name, json.loads(call.function.arguments)) == (
        "get_player_profile",
        {"uuid": jeb},
    )
    assert third.choices[0].message.content == (
        f"The UUID of jeb_ is {jeb}. jeb_ uses the slim skin model. jeb_ has a cape."
    )
    assert server.schema_errors == []


@pytest.mark.parametrize(
    ("output", "expected"),
    [
        ({"found": False}, "Player merrydith was not found."),
        (None, "Player merrydith was not found."),
        ("error: upstream timed out", "error: upstream timed out"),
        (
            {"error": {"message": "Mojang is down"}},
            "The lookup for merrydith failed: Mojang is down",
        ),
    ],
)
def test_brain_passes_not_found_and_errors_through(
    client: openai.OpenAI, output: Any, expected: str
) -> None:
    messages: list[Any] = [{"role": "user", "content": "uuid of merrydith"}]
    first = _ask(client, messages, tools=[UUID_TOOL])
    message = first.choices[0].message
    content = output if isinstance(output, str) else json.dumps(output)
    tool_message = {"role": "tool", "tool_call_id": message.tool_calls[0].id, "content": content}

    second = _ask(client, [*messages, message.model_dump(exclude_none=True), tool_message])

    assert second.choices[0].message.content == expected


def test_brain_describes_a_bulk_lookup(server: FakeModelServer, client: openai.OpenAI) -> None:
    server.script(
        tool_calls(("get_uuids_from_usernames", {"usernames": ["Notch", "nobody_x", "a b"]})),
        answer_from_tools(),
    )
    messages: list[Any] = [{"role": "user", "content": "uuids of Notch, nobody_x and a b"}]
    first = _ask(client, messages, tools=[BULK_TOOL])
    bulk = {
        "found": [{"id": "069a79f444e94726a5befca90e38aaf5", "name": "Notch"}],
        "not_found": ["nobody_x"],
        "invalid": [{"name": "a b", "error": "not a valid username"}],
        "failed": [],
    }

    second = _ask(client, _follow_up(messages, first, [bulk]), tools=[BULK_TOOL])

    assert second.choices[0].message.content == (
        "The UUID of Notch is 069a79f444e94726a5befca90e38aaf5. Player nobody_x was not found. "
        "The lookup for a b failed: not a valid username"
    )


@pytest.mark.parametrize(
    ("question", "tools"),
    [
        ("What's the weather today?", [UUID_TOOL]),
        ("what is the uuid of merrydith", []),
        ("hello", [UUID_TOOL]),
    ],
)
def test_brain_explains_itself_when_it_recognises_nothing(
    client: openai.OpenAI, question: str, tools: list[Any]
) -> None:
    kwargs = {"tools": tools} if tools else {}

    completion = _ask(client, [{"role": "user", "content": question}], **kwargs)

    assert completion.choices[0].finish_reason == "stop"
    assert completion.choices[0].message.content == HELP


# --- errors as the SDK sees them -------------------------------------------------------------


@pytest.mark.parametrize(
    ("step", "exception", "status"),
    [
        (rate_limited(retry_after=1), openai.RateLimitError, 429),
        (server_error(), openai.InternalServerError, 500),
        (overloaded(), openai.InternalServerError, 503),
        (error(404, "The model `gpt-9` does not exist"), openai.NotFoundError, 404),
        (raw(502, b"<html>Bad Gateway</html>"), openai.InternalServerError, 502),
    ],
)
def test_errors_map_to_sdk_exceptions(
    server: FakeModelServer,
    client: openai.OpenAI,
    step: Step,
    exception: type[openai.APIStatusError],
    status: int,
) -> None:
    server.script(step)

    with pytest.raises(exception) as caught:
        _ask(client, [{"role": "user", "content": "hi"}])

    assert caught.value.status_code == status
    assert caught.value.request_id is not None
    assert caught.value.request_id.startswith("req_")
    if status != 502:
        body = caught.value.response.json()
        assert schema_validator("ErrorResponse").is_valid(body)


def test_rate_limit_carries_retry_after_and_ratelimit_headers(
    server: FakeModelServer, client: openai.OpenAI
) -> None:
    server.script(rate_limited(retry_after=1))

    with pytest.raises(openai.RateLimitError) as caught:
        _ask(client, [{"role": "user", "content": "hi"}])

    headers = caught.value.response.headers
    assert headers["retry-after"] == "1"
    assert headers["x-ratelimit-remaining-requests"] == "0"
    assert caught.value.code == "rate_limit_exceeded"


def test_sdk_retries_honour_retry_after(server: FakeModelServer) -> None:
    server.script(rate_limited(retry_after=0.2), answer("after the wait"))

    with openai.OpenAI(base_url=server.base_url, api_key="k", max_retries=1) as sdk:
        started = time.monotonic()
        completion = _ask(sdk, [{"role": "user", "content": "hi"}])

    assert completion.choices[0].message.content == "after the wait"
    assert time.monotonic() - started >= 0.2
    assert [r.status for r in server.requests] == [429, 200]


def test_wrong_api_key_is_401() -> None:
    with (
        FakeModelServer(api_key="right-key") as server,
        openai.OpenAI(base_url=server.base_url, api_key="wrong-key", max_retries=0) as sdk,
        pytest.raises(openai.AuthenticationError) as caught,
    ):
        _ask(sdk, [{"role": "user", "content": "hi"}])

    assert caught.value.code == "invalid_api_key"
    assert caught.value.type == "invalid_request_error"


def test_missing_api_key_is_401_with_the_real_body(server: FakeModelServer) -> None:
    request = urllib.request.Request(
        server.base_url + "/chat/completions",
        data=json.dumps({"model": MODEL, "messages": [{"role": "user", "content": "hi"}]}).encode(),
        headers={"Content-Type": "application/json"},
    )

    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(request, timeout=5)

    body = json.loads(caught.value.read())
    caught.value.close()
    assert caught.value.code == 401
    assert body["error"]["type"] == "invalid_request_error"
    assert body["error"]["message"].startswith("You didn't provide an API key.")


def test_hang_longer_than_the_client_timeout_is_a_timeout_and_blocks_nobody(
    server: FakeModelServer, client: openai.OpenAI
) -> None:
    server.script(hang(3))
    messages: list[Any] = [{"role": "user", "content": "hi"}]

    with pytest.raises(openai.APITimeoutError):
        client.with_options(timeout=0.2).chat.completions.create(model=MODEL, messages=messages)
    started = time.monotonic()
    completion = _ask(client, messages)  # served while the hanging handler still sleeps

    # Well under the hang, with room for a loaded machine: not queued behind it.
    assert time.monotonic() - started < 2
    assert completion.choices[0].message.content == HELP


def test_hang_then_answers(server: FakeModelServer, client: openai.OpenAI) -> None:
    server.script(hang(0.1, then=answer("late")))

    completion = _ask(client, [{"role": "user", "content": "hi"}])

    assert completion.choices[0].message.content == "late"


def test_stop_interrupts_a_hang() -> None:
    failures: list[Exception] = []

    def call(sdk: openai.OpenAI) -> None:
        try:
            _ask(sdk, [{"role": "user", "content": "hi"}])
        except openai.APIConnectionError as exc:
            failures.append(exc)

    with (
        FakeModelServer() as server,
        openai.OpenAI(base_url=server.base_url, api_key="k", max_retries=0) as sdk,
    ):
        server.script(hang(30))
        caller = threading.Thread(target=call, args=(sdk,))
        caller.start()
        while not server.requests:
            time.sleep(0.01)
        started = time.monotonic()
        server.stop()
        caller.join(timeout=5)

    assert time.monotonic() - started < 2
    assert not caller.is_alive()
    assert len(failures) == 1
    assert server.crashes == []


def test_disconnect_is_a_connection_error(server: FakeModelServer, client: openai.OpenAI) -> None:
    server.script(disconnect())

    with pytest.raises(openai.APIConnectionError) as caught:
        _ask(client, [{"role": "user", "content": "hi"}])

    assert not isinstance(caught.value, openai.APITimeoutError)
    assert server.requests[0].status is None


def test_latency_applies_to_every_call(server: FakeModelServer, client: openai.OpenAI) -> None:
    server.latency = 0.15

    started = time.monotonic()
    _ask(client, [{"role": "user", "content": "hi"}])

    assert time.monotonic() - started >= 0.15


# --- request validation ----------------------------------------------------------------------

NOT_STRICT = _strict(
    "lookup", player={"type": "object", "properties": {"name": {"type": "string"}}}
)
NOT_ALL_REQUIRED = {
    "type": "function",
    "function": {
        "name": "lookup",
        "strict": True,
        "parameters": {
            "type": "object",
            "properties": {"name": {"type": "string"}, "limit": {"type": "integer"}},
            "required": ["name"],
            "additionalProperties": False,
        },
    },
}
CALL = {"id": "call_1", "type": "function", "function": {"name": "lookup", "arguments": "{}"}}


@pytest.mark.parametrize(
    ("messages", "tools", "fragment"),
    [
        pytest.param(
            [
                {"role": "user", "content": "hi"},
                {"role": "tool", "tool_call_id": "call_1", "content": "x"},
            ],
            None,
            "must be a response to a preceeding message with 'tool_calls'",
            id="tool-message-without-call",
        ),
        pytest.param(
            [
                {"role": "user", "content": "hi"},
                {"role": "assistant", "tool_calls": [CALL]},
                {"role": "user", "content": "well?"},
            ],
            None,
            "did not have response messages: call_1",
            id="unanswered-call",
        ),
        pytest.param(
            [{"role": "user", "content": "hi"}],
            [NOT_STRICT],
            "'additionalProperties' is required to be supplied and to be false",
            id="strict-without-additional-properties",
        ),
        pytest.param(
            [{"role": "user", "content": "hi"}],
            [NOT_ALL_REQUIRED],
            "Missing 'limit'",
            id="strict-with-optional-property",
        ),
        pytest.param(
            [{"role": "user", "content": "hi"}],
            [_strict("get uuid", username={"type": "string"})],
            "does not match pattern",
            id="bad-tool-name",
        ),
        pytest.param(
            [{"role": "user", "content": "hi"}, {"role": "tool", "content": "x"}],
            None,
            "Missing required parameter: 'messages[1].tool_call_id'",
            id="schema-violation",
        ),
        pytest.param([], None, "messages", id="no-messages"),
    ],
)
def test_invalid_requests_are_400_and_recorded(
    server: FakeModelServer,
    client: openai.OpenAI,
    messages: list[Any],
    tools: list[Any] | None,
    fragment: str,
) -> None:
    server.script(answer("never sent"))
    kwargs = {"tools": tools} if tools else {}

    with pytest.raises(openai.BadRequestError) as caught:
        _ask(client, messages, **kwargs)

    assert fragment in caught.value.message
    assert caught.value.type == "invalid_request_error"
    assert len(server.schema_errors) == 1
    assert fragment in server.schema_errors[0].message
    assert len(server.remaining) == 1  # a rejected request never reaches "the model"


def test_explicit_nulls_are_accepted(server: FakeModelServer, client: openai.OpenAI) -> None:
    # The schema says `nullable: true` (OpenAPI 3.0) for these; the real API takes null.
    _ask(client, [{"role": "user", "content": "hi"}], max_completion_tokens=None, temperature=None)

    assert server.schema_errors == []


@pytest.mark.parametrize(
    ("body", "param"),
    [
        (b"{not json", None),
        (b"", None),
        (json.dumps({"messages": [{"role": "user", "content": "hi"}]}).encode(), "model"),
        (json.dumps({"model": MODEL, "messages": []}).encode(), "messages"),
        (json.dumps({"model": MODEL, "messages": [{}]}).encode(), "messages[0].role"),
    ],
    ids=["not-json", "empty", "no-model", "no-messages", "no-role"],
)
def test_the_stand_in_alone_refuses_what_it_cannot_answer(body: bytes, param: str | None) -> None:
    # The demo's stand-in checks no schema (jsonschema is a test dependency), yet a request it
    # cannot answer gets OpenAI's 400, not a crash
    with ModelServer() as stand_in:
        connection = http.client.HTTPConnection("127.0.0.1", int(stand_in.url.rsplit(":", 1)[1]))
        headers = {"Authorization": "Bearer k", "Content-Type": "application/json"}
        connection.request("POST", "/v1/chat/completions", body=body, headers=headers)
        response = connection.getresponse()
        error = json.loads(response.read())["error"]
        connection.close()
        assert not hasattr(stand_in, "schema_errors")
        assert stand_in.crashes == []

    assert response.status == 400
    assert error["type"] == "invalid_request_error"
    assert error["param"] == param


def test_the_stand_in_alone_answers_through_the_sdk() -> None:
    with (
        ModelServer() as stand_in,
        openai.OpenAI(base_url=stand_in.base_url, api_key="any", max_retries=0) as sdk,
    ):
        completion = _ask(sdk, [{"role": "user", "content": "hello"}], tools=[UUID_TOOL])

    assert completion.choices[0].message.content == HELP
    assert stand_in.crashes == []


def test_both_stand_ins_share_one_server_base() -> None:
    # One base: a free 127.0.0.1 port, a daemon thread, keep-alive with Nagle off, a backlog
    # deep enough for a burst of parallel tool calls
    assert issubclass(ModelServer, StandInServer)
    assert issubclass(MojangServer, StandInServer)
    assert issubclass(FakeModelServer, ModelServer)
    assert LISTEN_BACKLOG >= 128
    for stand_in in (ModelServer(), MojangServer()):
        assert stand_in.handler.disable_nagle_algorithm is True
        assert stand_in.handler.protocol_version == "HTTP/1.1"
        with stand_in:
            assert stand_in.url.startswith("http://127.0.0.1:")
            with pytest.raises(RuntimeError, match="already running"):
                stand_in.start()
        with pytest.raises(RuntimeError, match="not running"):
            _ = stand_in.url


def test_invalid_json_body_is_400(server: FakeModelServer) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", int(server.url.rsplit(":", 1)[1]))
    connection.request(
        "POST",
        "/v1/chat/completions",
        body=b"{not json",
        headers={"Authorization": "Bearer k", "Content-Type": "application/json"},
    )
    response = connection.getresponse()
    body = json.loads(response.read())
    connection.close()

    assert response.status == 400
    assert "could not parse the JSON body" in body["error"]["message"]
    assert len(server.schema_errors) == 1


# --- wire format -----------------------------------------------------------------------------


def test_responses_validate_against_the_reference_schema(
    server: FakeModelServer, client: openai.OpenAI
) -> None:
    server.script(tool_calls(("get_uuid_from_username", {"username": "merrydith"})), answer("ok"))
    validator = schema_validator("CreateChatCompletionResponse")
    messages: list[Any] = [{"role": "user", "content": "hi"}]
    tools: list[Any] = [UUID_TOOL]

    for _ in range(2):
        response = client.chat.completions.with_raw_response.create(
            model=MODEL, messages=messages, tools=tools
        )
        payload = json.loads(response.text)
        assert list(validator.iter_errors(payload)) == []
        assert payload["object"] == "chat.completion"
        assert response.headers["x-request-id"].startswith("req_")
        assert response.headers["content-type"] == "application/json"


def test_streaming_sends_valid_chunks_with_tool_call_fragments(
    server: FakeModelServer, client: openai.OpenAI
) -> None:
    server.script(tool_calls(("get_uuid_from_username", {"username": "merrydith"})))
    validator = schema_validator("CreateChatCompletionStreamResponse")
    messages: list[Any] = [{"role": "user", "content": "hi"}]
    tools: list[Any] = [UUID_TOOL]

    response = client.chat.completions.with_raw_response.create(
        model=MODEL,
        messages=messages,
        tools=tools,
        stream=True,
        stream_options={"include_usage": True},
    )
    text = response.http_response.read().decode()
    lines = [line for line in text.splitlines() if line]
    chunks = [json.loads(line.removeprefix("data: ")) for line in lines[:-1]]

    assert response.headers["content-type"].startswith("text/event-stream")
    assert lines[-1] == "data: [DONE]"
    assert all(list(validator.iter_errors(chunk)) == [] for chunk in chunks)
    assert chunks[-2]["choices"][0]["finish_reason"] == "tool_calls"
    assert chunks[-1]["choices"] == []
    assert chunks[-1]["usage"]["total_tokens"] > 0
    arguments = "".join(
        call["function"].get("arguments", "")
        for chunk in chunks
        for choice in chunk["choices"]
        for call in choice["delta"].get("tool_calls", [])
    )
    assert json.loads(arguments) == {"username": "merrydith"}


def test_streamed_text_through_the_sdk(server: FakeModelServer, client: openai.OpenAI) -> None:
    server.script(answer("The UUID of merrydith is unknown to me."))

    stream = _ask(client, [{"role": "user", "content": "hi"}], stream=True)
    text = "".join(chunk.choices[0].delta.content or "" for chunk in stream if chunk.choices)

    assert text == "The UUID of merrydith is unknown to me."


def test_requests_are_recorded_with_headers_and_reset_clears_them(
    server: FakeModelServer, client: openai.OpenAI
) -> None:
    server.script(answer("one"), answer("two"))
    _ask(client, [{"role": "user", "content": "hi"}])

    recorded = server.requests[0]
    assert recorded.method == "POST"
    assert recorded.path == "/v1/chat/completions"
    assert recorded.headers["authorization"] == "Bearer test-key"
    assert recorded.body["messages"] == [{"role": "user", "content": "hi"}]
    assert recorded.status == 200

    server.reset()
    assert (server.requests, server.schema_errors, server.remaining) == ([], [], ())


def test_keep_alive_and_unknown_paths(server: FakeModelServer) -> None:
    # One connection, several requests: the SDK reuses connections, so must the fake.
    connection = http.client.HTTPConnection("127.0.0.1", int(server.url.rsplit(":", 1)[1]))
    statuses = []
    for path in ("/v1/models", "/v1/chat/completions"):
        connection.request("GET", path, headers={"Authorization": "Bearer k"})
        response = connection.getresponse()
        body = json.loads(response.read())
        statuses.append(response.status)
    connection.close()

    assert statuses == [404, 404]
    assert body["error"]["message"] == "Invalid URL (GET /v1/chat/completions)"


@pytest.mark.parametrize("name", ["chat_completions", "assistants_runs", "errors"])
def test_the_schemas_are_the_official_ones(name: str) -> None:
    # The copies the fakes validate against are the project's reference, byte for byte.
    reference = SHARED_REFERENCE / "openai" / f"{name}.closure.json"
    if not reference.exists():
        pytest.skip("no ../shared/reference beside the checkout to compare with")
    assert (SCHEMA_DIR / f"{name}.closure.json").read_bytes() == reference.read_bytes()
