"""The Assistants v2 API as a program written for OpenAI's sees it: the official SDK's
``client.beta.assistants`` / ``threads`` / ``messages`` / ``runs`` / ``steps`` over HTTP to the
local server (the template's ``ANY /v1/{proxy+}`` route, as ``python -m mojang_chat serve``
serves it), the runs workflow really executing in moto, the scripted fake model behind it.

Every response body is checked against OpenAI's schema (the closure in tests/fakes/openai) by a
hook on the SDK's HTTP client, and the test of every endpoint proves that it reached each route.
"""

from __future__ import annotations

import json
import re
import time
import urllib.error
import urllib.request
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from mojang_chat.core import TERMINAL_STATUSES
from mojang_chat.local.server import serving
from mojang_chat.local.standins import MERRYDITH_UUID
from tests.aws import RunsStack, runs_stack, schema_errors
from tests.helpers import TUTORIAL

__all__ = ["runs_stack"]  # the fixture, imported for pytest

DELETED = "deleted"
STEP_LIST = "step list"
_ID = r"[^/]+"
# Each route, by method and path, and the schema of its answer (first match wins).
ROUTES: list[tuple[str, str, str]] = [
    ("POST", "/v1/assistants", "AssistantObject"),
    ("GET", "/v1/assistants", "ListAssistantsResponse"),
    ("GET", f"/v1/assistants/{_ID}", "AssistantObject"),
    ("POST", f"/v1/assistants/{_ID}", "AssistantObject"),
    ("DELETE", f"/v1/assistants/{_ID}", DELETED),
    ("POST", "/v1/threads", "ThreadObject"),
    ("POST", "/v1/threads/runs", "RunObject"),
    ("GET", f"/v1/threads/{_ID}", "ThreadObject"),
    ("POST", f"/v1/threads/{_ID}", "ThreadObject"),
    ("DELETE", f"/v1/threads/{_ID}", DELETED),
    ("POST", f"/v1/threads/{_ID}/messages", "MessageObject"),
    ("GET", f"/v1/threads/{_ID}/messages", "ListMessagesResponse"),
    ("GET", f"/v1/threads/{_ID}/messages/{_ID}", "MessageObject"),
    ("POST", f"/v1/threads/{_ID}/messages/{_ID}", "MessageObject"),
    ("DELETE", f"/v1/threads/{_ID}/messages/{_ID}", DELETED),
    ("POST", f"/v1/threads/{_ID}/runs", "RunObject"),
    ("GET", f"/v1/threads/{_ID}/runs", "ListRunsResponse"),
    ("GET", f"/v1/threads/{_ID}/runs/{_ID}", "RunObject"),
    ("POST", f"/v1/threads/{_ID}/runs/{_ID}", "RunObject"),
    ("POST", f"/v1/threads/{_ID}/runs/{_ID}/cancel", "RunObject"),
    ("POST", f"/v1/threads/{_ID}/runs/{_ID}/submit_tool_outputs", "RunObject"),
    ("GET", f"/v1/threads/{_ID}/runs/{_ID}/steps", STEP_LIST),
    ("GET", f"/v1/threads/{_ID}/runs/{_ID}/steps/{_ID}", "RunStepObject"),
]

WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "The weather in a city.",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}},
            "required": ["city"],
        },
    },
}


def route_of(method: str, path: str) -> tuple[str, str, str] | None:
    return next(
        (r for r in ROUTES if r[0] == method and re.fullmatch(r[1], path) is not None), None
    )


def body_problems(schema: str, body: Any) -> list[str]:
    """Why ``body`` is not what ``schema`` names (empty when it is)."""
    if schema == DELETED:
        ok = set(body) == {"id", "object", "deleted"} and body["deleted"] is True
        return [] if ok else [f"not a deletion: {body}"]
    if schema == STEP_LIST:
        problems = (
            []
            if set(body) == {"object", "data", "first_id", "last_id", "has_more"}
            else [f"not a list: {sorted(body)}"]
        )
        for step in body["data"]:
            problems += schema_errors("RunStepObject", step)
        return problems
    return schema_errors(schema, body)


@dataclass
class Recorder:
    """Every answer the SDK got: (method, path, status, body), and the routes they hit."""

    answers: list[tuple[str, str, int, Any]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    hit: set[tuple[str, str]] = field(default_factory=set)

    def __call__(self, response: Any) -> None:
        response.read()
        method, path = response.request.method, response.request.url.path
        body = json.loads(response.content)
        self.answers.append((method, path, response.status_code, body))
        route = route_of(method, path)
        if response.status_code >= 400:
            found = schema_errors("ErrorResponse", body)
            if set(body.get("error", {})) != {"message", "type", "param", "code"}:
                found.append(f"not OpenAI's error shape: {body}")
        elif route is None:
            found = [f"no route for {method} {path}"]
        else:
            self.hit.add(route[:2])
            found = body_problems(route[2], body)
        self.problems += [f"{method} {path} {response.status_code}: {p}" for p in found]


@pytest.fixture
def sdk(runs_stack: RunsStack, app_env: Any) -> Iterator[tuple[Any, Recorder, str]]:
    """The official SDK against the local server, every answer recorded and checked."""
    import httpx2
    import openai

    recorder = Recorder()
    with serving(runs_stack.api) as server, warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # client.beta is deprecated
        http = httpx2.Client(event_hooks={"response": [recorder]}, timeout=30)
        client = openai.OpenAI(
            base_url=server.url + "/v1", api_key="sk-unused", max_retries=0, http_client=http
        )
        yield client, recorder, server.url
        http.close()
    assert recorder.problems == []


def poll(
    client: Any, run: Any, until: Callable[[Any], bool], timeout: float = 30
) -> tuple[Any, list[str]]:
    """Retrieve the run every 50 ms until ``until(run)``: the run and the statuses seen."""
    seen = [run.status]
    ends = time.monotonic() + timeout
    while not until(run):
        assert time.monotonic() < ends, f"run still {run.status}: {seen}"
        time.sleep(0.05)
        run = client.beta.threads.runs.retrieve(run.id, thread_id=run.thread_id)
        if run.status != seen[-1]:
            seen.append(run.status)
    return run, seen


def ended(run: Any) -> bool:
    return run.status in TERMINAL_STATUSES


def waiting(run: Any) -> bool:
    return run.status == "requires_action" or ended(run)


def raw(url: str, method: str, body: Any = None) -> tuple[int, dict[str, str], Any]:
    """A request outside the SDK: (status, headers, parsed body)."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method)
    request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request) as response:
            return response.status, dict(response.headers), json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), json.loads(error.read())


def test_every_endpoint_through_the_official_sdk(
    sdk: tuple[Any, Recorder, str], app_env: Any
) -> None:
    import openai

    from tests.fakes import model_server as fake_model

    client, recorder, _url = sdk
    model, _ = app_env
    beta = client.beta

    # Given an assistant with the caller's own function tool (whatever model it names)
    assistant = beta.assistants.create(
        model="gpt-5-pro", name="Weather", instructions="Be brief.", tools=[WEATHER]
    )
    assert assistant.model == "gpt-4o-mini"  # the deployment's model serves every assistant
    assert assistant.tools[0].function.name == "get_weather"
    assistant = beta.assistants.update(assistant.id, description="Says the weather.")
    assert beta.assistants.retrieve(assistant.id).description == "Says the weather."
    assert [a.id for a in beta.assistants.list(limit=10, order="asc")] == [assistant.id]
    assert beta.assistants.retrieve("asst_default").name == "Mojang"

    # And a thread with a message, another added, one deleted and one given metadata
    thread = beta.threads.create(
        messages=[{"role": "user", "content": "hello"}], metadata={"page": "faq"}
    )
    assert beta.threads.update(thread.id, metadata={"page": "help"}).metadata == {"page": "help"}
    assert beta.threads.retrieve(thread.id).metadata == {"page": "help"}
    extra = beta.threads.messages.create(thread.id, role="user", content="never mind")
    deleted = beta.threads.messages.delete(extra.id, thread_id=thread.id)
    assert deleted.deleted
    question = beta.threads.messages.create(
        thread.id, role="user", content=[{"type": "text", "text": "Weather in Paris?"}]
    )
    question = beta.threads.messages.update(question.id, thread_id=thread.id, metadata={"k": "v"})
    assert beta.threads.messages.retrieve(question.id, thread_id=thread.id).metadata == {"k": "v"}
    listed = beta.threads.messages.list(thread.id, order="asc")
    assert [m.id for m in listed.data][-1] == question.id
    assert len(listed.data) == 2

    # When a run's model calls the caller's tool, then answers from its output
    model.script(
        fake_model.tool_calls(("get_weather", {"city": "Paris"})),
        fake_model.answer("Sunny in Paris."),
    )
    run = beta.threads.runs.create(thread.id, assistant_id=assistant.id, metadata={"try": "1"})
    assert run.model == "gpt-4o-mini"
    assert run.instructions == "Be brief."
    run, seen = poll(client, run, waiting)

    # Then polling observes requires_action, naming the call the caller must answer
    assert run.status == "requires_action", seen
    assert seen[0] == "queued"
    assert run.required_action is not None
    calls = run.required_action.submit_tool_outputs.tool_calls
    assert [(c.function.name, json.loads(c.function.arguments)) for c in calls] == [
        ("get_weather", {"city": "Paris"})
    ]
    call_id = calls[0].id
    # And its step waits for the output
    steps = beta.threads.runs.steps.list(run.id, thread_id=thread.id)
    assert [(s.type, s.status) for s in steps.data] == [("tool_calls", "in_progress")]
    assert steps.data[0].step_details.tool_calls[0].function.output is None

    # And while the run is active, the thread takes no message and no other run
    with pytest.raises(openai.BadRequestError, match="while a run"):
        beta.threads.messages.create(thread.id, role="user", content="hurry")
    with pytest.raises(openai.BadRequestError, match="already has an active run"):
        beta.threads.runs.create(thread.id, assistant_id=assistant.id)

    # And outputs the run does not wait for are refused, naming what is wrong
    submit = beta.threads.runs.submit_tool_outputs
    for outputs, param in [
        ([{"tool_call_id": "call_nope", "output": "x"}], "tool_outputs[0].tool_call_id"),
        ([], "tool_outputs"),
        (
            [{"tool_call_id": call_id, "output": "a"}, {"tool_call_id": call_id, "output": "b"}],
            "tool_outputs[1].tool_call_id",
        ),
        ([{"tool_call_id": call_id, "output": "x" * 8001}], "tool_outputs[0].output"),
    ]:
        with pytest.raises(openai.BadRequestError) as refused:
            submit(run.id, thread_id=thread.id, tool_outputs=outputs)
        assert refused.value.param == param
    assert "TOOL_OUTPUT_MAX_CHARS" in str(refused.value)
    assert "8000" in str(refused.value)

    # When the caller submits the output
    run = submit(
        run.id, thread_id=thread.id, tool_outputs=[{"tool_call_id": call_id, "output": "sunny"}]
    )
    assert run.status == "queued"
    run, seen = poll(client, run, ended)

    # Then the run completes with the model's answer, and no more outputs are taken
    assert run.status == "completed", (seen, run.last_error)
    assert run.usage is not None
    with pytest.raises(openai.BadRequestError, match="do not accept tool outputs"):
        submit(run.id, thread_id=thread.id, tool_outputs=[{"tool_call_id": call_id, "output": "x"}])
    answer = beta.threads.messages.list(thread.id, run_id=run.id).data
    assert [m.content[0].text.value for m in answer] == ["Sunny in Paris."]
    # The tool's output reached the model with its call
    sent = model.requests[-1].body["messages"]
    assert sent[-1] == {"role": "tool", "tool_call_id": call_id, "content": "sunny"}

    # And its steps: the tool call with its output, then the message it created
    steps = beta.threads.runs.steps.list(run.id, thread_id=thread.id, order="asc")
    assert [(s.type, s.status) for s in steps.data] == [
        ("tool_calls", "completed"),
        ("message_creation", "completed"),
    ]
    assert steps.data[0].step_details.tool_calls[0].function.output == "sunny"
    assert steps.data[1].step_details.message_creation.message_id == answer[0].id
    one = beta.threads.runs.steps.retrieve(steps.data[1].id, thread_id=thread.id, run_id=run.id)
    assert one.id == steps.data[1].id

    # And the run can be listed, read and given metadata, but not cancelled any more
    assert [r.id for r in beta.threads.runs.list(thread.id)] == [run.id]
    run = beta.threads.runs.update(run.id, thread_id=thread.id, metadata={"try": "2"})
    assert run.metadata == {"try": "2"}
    with pytest.raises(openai.BadRequestError, match="Cannot cancel run"):
        beta.threads.runs.cancel(run.id, thread_id=thread.id)

    # When a new thread is created and run by the built-in assistant (server tools only)
    served = beta.threads.create_and_run(
        assistant_id="asst_default",
        thread={"messages": [{"role": "user", "content": TUTORIAL}]},
    )
    served, seen = poll(client, served, ended)
    assert served.status == "completed", seen
    assert "requires_action" not in seen  # the server's calls are no action of the caller's
    # Then the server's call shows in its step with the output already filled
    steps = beta.threads.runs.steps.list(served.id, thread_id=served.thread_id, order="asc")
    tool_step = steps.data[0]
    assert tool_step.type == "tool_calls"
    assert tool_step.status == "completed"
    server_call = tool_step.step_details.tool_calls[0]
    assert server_call.function.name == "get_uuid_from_username"
    assert MERRYDITH_UUID.replace("-", "") in (server_call.function.output or "").replace("-", "")

    # When a waiting run is cancelled, its step ends cancelled
    model.script(fake_model.tool_calls(("get_weather", {"city": "Oslo"})))
    run = beta.threads.runs.create(thread.id, assistant_id=assistant.id)
    run, _ = poll(client, run, waiting)
    assert run.status == "requires_action"
    cancelled = beta.threads.runs.cancel(run.id, thread_id=thread.id)
    assert cancelled.status in ("cancelling", "cancelled")
    run, _ = poll(client, cancelled, ended)
    assert run.status == "cancelled"
    steps = beta.threads.runs.steps.list(run.id, thread_id=thread.id)
    assert [s.status for s in steps.data] == ["cancelled"]
    assert steps.data[0].cancelled_at is not None

    # And threads and assistants are deleted, then unknown
    assert beta.threads.delete(served.thread_id).deleted
    with pytest.raises(openai.NotFoundError, match="No thread found"):
        beta.threads.retrieve(served.thread_id)
    assert beta.assistants.delete(assistant.id).deleted
    with pytest.raises(openai.NotFoundError, match="No assistant found"):
        beta.assistants.retrieve(assistant.id)

    # Every route answered, in OpenAI's schema (checked by the fixture at the end)
    assert recorder.hit == {route[:2] for route in ROUTES}


def test_what_cannot_be_honoured_is_refused_in_openais_shape(
    sdk: tuple[Any, Recorder, str], app_env: Any
) -> None:
    import openai

    client, _, url = sdk
    model, _ = app_env
    beta = client.beta

    # Tools that run on OpenAI's servers
    for kind in ("code_interpreter", "file_search"):
        with pytest.raises(openai.BadRequestError, match=kind) as refused:
            beta.assistants.create(model="gpt-4o", tools=[{"type": kind}])
        assert refused.value.param == "tools[0].type"
    # A function without a valid name, or whose parameters are no object schema
    for function, param in [
        ({"name": "has space"}, "tools[0].function.name"),
        ({"name": "f", "parameters": {"type": "string"}}, "tools[0].function.parameters"),
    ]:
        with pytest.raises(openai.BadRequestError) as refused:
            beta.assistants.create(
                model="gpt-4o", tools=[{"type": "function", "function": function}]
            )
        assert refused.value.param == param
    # The built-in assistant cannot be changed
    with pytest.raises(openai.BadRequestError, match="cannot be modified"):
        beta.assistants.update("asst_default", name="Mine")
    with pytest.raises(openai.BadRequestError, match="cannot be deleted"):
        beta.assistants.delete("asst_default")
    # Options the run cannot honour, refused before any model work
    thread = beta.threads.create()
    refusals: list[tuple[dict[str, Any], str]] = [
        ({"temperature": 0.2}, "temperature"),
        ({"response_format": {"type": "json_object"}}, "response_format"),
        (
            {"tool_choice": {"type": "function", "function": {"name": "nope"}}},
            "tool_choice.function.name",
        ),
        ({"truncation_strategy": {"type": "last_messages"}}, "truncation_strategy.last_messages"),
    ]
    for options, param in refusals:
        with pytest.raises(openai.BadRequestError) as refused:
            beta.threads.runs.create(thread.id, assistant_id="asst_default", **options)
        assert refused.value.param == param
        assert refused.value.code in (
            "unsupported_parameter",
            "invalid_value",
            "missing_required_parameter",
        )
    # A message over the limit names it
    with pytest.raises(openai.BadRequestError, match="2000"):
        beta.threads.messages.create(thread.id, role="user", content="x" * 2001)
    assert model.requests == []

    # Unknown ids
    calls: list[Callable[[], Any]] = [
        lambda: beta.assistants.retrieve("asst_" + "x" * 24),
        lambda: beta.threads.retrieve("thread_" + "x" * 24),
        lambda: beta.threads.messages.retrieve("msg_" + "x" * 24, thread_id=thread.id),
        lambda: beta.threads.runs.retrieve("run_" + "x" * 24, thread_id=thread.id),
        lambda: beta.threads.runs.steps.list("run_nope", thread_id=thread.id),
        lambda: beta.threads.runs.create("thread_nope", assistant_id="asst_default"),
    ]
    for call in calls:
        with pytest.raises(openai.NotFoundError, match=r"No .* found with id"):
            call()

    # An unknown URL, and a method the URL does not take, in OpenAI's shape
    status, _, body = raw(url + "/v1/vector_stores", "GET")
    assert status == 404
    assert body["error"]["message"] == "Invalid URL (GET /v1/vector_stores)"
    assert schema_errors("ErrorResponse", body) == []
    status, headers, body = raw(url + f"/v1/threads/{thread.id}/runs/run_x/cancel", "GET")
    assert status == 405
    assert headers["Allow"] == "POST"
    assert body["error"]["type"] == "invalid_request_error"
    assert set(body["error"]) == {"message", "type", "param", "code"}
    assert schema_errors("ErrorResponse", body) == []
