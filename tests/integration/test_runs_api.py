"""The Assistants API as OpenAI's clients see it: the official SDK's beta.threads calls over
HTTP, the runs function's answers to requests it must refuse (400, 404, 405, 415, 429) in
OpenAI's error shape, and the events/ files of its routes and of the workflow's tasks. Every
endpoint through the SDK, with each body checked against OpenAI's schema, is
tests/e2e/test_assistants_sdk.py."""

from __future__ import annotations

import os
import time
import warnings
from typing import Any

import pytest

from mojang_chat.local.server import serving
from mojang_chat.local.standins import MERRYDITH_UUID
from mojang_chat.wiring import run_step
from tests.aws import RunsStack, runs_stack, schema_errors
from tests.helpers import TUTORIAL, LambdaContext, function_handler, load_event, use_settings

__all__ = ["runs_stack"]  # the fixture, imported for pytest

CREATE = "/v1/threads/runs"


def test_the_official_sdk_answers_the_tutorial_question_through_the_workflow(
    runs_stack: RunsStack, app_env: Any
) -> None:
    import openai

    # Given the official SDK pointed at the runs function behind the local HTTP API
    with serving(runs_stack.api) as server, warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # beta.threads is deprecated
        client = openai.OpenAI(base_url=server.url + "/v1", api_key="sk-unused", max_retries=0)
        # When it creates a thread and run, and polls the run every 50 ms
        run = client.beta.threads.create_and_run(
            assistant_id="asst_default",
            thread={"messages": [{"role": "user", "content": TUTORIAL}]},
        )
        seen = [run.status]
        while run.status not in ("completed", "failed", "cancelled", "expired", "incomplete"):
            time.sleep(0.05)
            run = client.beta.threads.runs.retrieve(run.id, thread_id=run.thread_id)
            if run.status != seen[-1]:
                seen.append(run.status)
        messages = client.beta.threads.messages.list(run.thread_id)
        # And cancelling the finished run is refused as OpenAI refuses it
        with pytest.raises(openai.BadRequestError, match="Cannot cancel run"):
            client.beta.threads.runs.cancel(run.id, thread_id=run.thread_id)
        with pytest.raises(openai.NotFoundError):
            client.beta.threads.runs.retrieve("run_" + "x" * 24, thread_id=run.thread_id)

    # Then the run completed and the newest message answers the question
    assert run.status == "completed"
    assert seen[0] == "queued"
    assert seen[-1] == "completed"
    assert run.usage is not None
    assert run.usage.total_tokens > 0
    answer = messages.data[0]
    assert answer.role == "assistant"
    assert answer.run_id == run.id
    assert MERRYDITH_UUID in answer.content[0].text.value  # type: ignore[union-attr]
    assert messages.data[1].role == "user"


def test_the_sdk_can_cancel_a_run(runs_stack: RunsStack, app_env: Any) -> None:
    import openai

    from tests.fakes import model_server as fake_model

    model, _ = app_env
    model.script(fake_model.hang(1.0, fake_model.answer("late")))
    with serving(runs_stack.api) as server, warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        client = openai.OpenAI(base_url=server.url + "/v1", api_key="sk-unused", max_retries=0)
        run = client.beta.threads.create_and_run(
            assistant_id="asst_default",
            thread={"messages": [{"role": "user", "content": TUTORIAL}]},
        )
        cancelled = client.beta.threads.runs.cancel(run.id, thread_id=run.thread_id)
        assert cancelled.status == "cancelling"
        while run.status != "cancelled":
            time.sleep(0.05)
            run = client.beta.threads.runs.retrieve(run.id, thread_id=run.thread_id)
    assert run.cancelled_at is not None


def assert_openai_error(status: int, body: dict[str, Any], expected: int) -> dict[str, Any]:
    assert status == expected, body
    assert schema_errors("ErrorResponse", body) == []
    assert set(body) == {"error"}
    assert set(body["error"]) == {"type", "message", "param", "code"}
    assert "Traceback" not in body["error"]["message"]
    error: dict[str, Any] = body["error"]
    return error


def create_body(**overrides: Any) -> dict[str, Any]:
    body = {
        "assistant_id": "asst_default",
        "thread": {"messages": [{"role": "user", "content": TUTORIAL}]},
    }
    return {**body, **overrides}


@pytest.mark.parametrize(
    ("body", "param", "code"),
    [
        (
            {"thread": {"messages": [{"role": "user", "content": "hi"}]}},
            "assistant_id",
            "missing_required_parameter",
        ),
        (create_body(stream=True), "stream", "unsupported_parameter"),
        (create_body(temperature=0.2), "temperature", "unsupported_parameter"),
        (create_body(top_p=0.5), "top_p", "unsupported_parameter"),
        (create_body(reasoning_effort="high"), "reasoning_effort", "unsupported_parameter"),
        (
            create_body(tool_resources={"file_search": {}}),
            "tool_resources",
            "unsupported_parameter",
        ),
        (
            create_body(response_format={"type": "json_object"}),
            "response_format",
            "unsupported_parameter",
        ),
        (create_body(colour="blue"), "colour", "unknown_parameter"),
        (create_body(max_completion_tokens=10), "max_completion_tokens", "invalid_value"),
        (
            create_body(tools=[{"type": "code_interpreter"}]),
            "tools[0].type",
            "unsupported_value",
        ),
        (
            create_body(tools=[{"type": "function", "function": {"name": "a b"}}]),
            "tools[0].function.name",
            "invalid_value",
        ),
        (
            create_body(tools=[{"type": "function", "function": {"description": "no name"}}]),
            "tools[0].function.name",
            "missing_required_parameter",
        ),
        (
            create_body(tools=[{"type": "function", "function": {"name": "f"}}] * 2),
            "tools[1].function.name",
            "invalid_value",
        ),
        (
            create_body(tool_choice={"type": "file_search"}),
            "tool_choice.type",
            "unsupported_value",
        ),
        (
            create_body(thread={"messages": [{"role": "system", "content": "x"}]}),
            "thread.messages[0].role",
            "invalid_value",
        ),
        (
            create_body(thread={"messages": [{"role": "user", "content": "x" * 2001}]}),
            "thread.messages[0].content",
            "invalid_value",
        ),
        (
            create_body(
                thread={"messages": [{"role": "user", "content": "q", "attachments": [{}]}]}
            ),
            "thread.messages[0].attachments",
            "unsupported_parameter",
        ),
    ],
)
def test_invalid_requests_get_400_in_openais_shape(
    runs_stack: RunsStack, app_env: Any, body: dict[str, Any], param: str | None, code: str
) -> None:
    model, _ = app_env
    error = assert_openai_error(*runs_stack.call("POST", CREATE, body), 400)
    assert error["type"] == "invalid_request_error"
    assert error["code"] == code
    if param is not None:
        assert error["param"] == param
    assert "x" * 50 not in error["message"]  # values are never echoed
    assert model.requests == []


def test_invalid_json_gets_400(runs_stack: RunsStack, app_env: Any) -> None:
    error = assert_openai_error(*runs_stack.call("POST", CREATE, "{not json"), 400)
    assert "could not parse the JSON body" in error["message"]


@pytest.mark.parametrize(
    "body",
    [
        "[" * 100_000 + "]" * 100_000,
        '{"assistant_id": "asst_default", "metadata": ' + "[" * 40 + "]" * 40 + "}",
        '{"assistant_id": "asst_default", "temperature": ' + "9" * 5000 + "}",
    ],
    ids=["100k-deep", "40-deep", "5000-digits"],
)
def test_json_beyond_the_parsers_limits_gets_openais_400(
    runs_stack: RunsStack, app_env: Any, body: str
) -> None:
    model, _ = app_env
    error = assert_openai_error(*runs_stack.call("POST", CREATE, body), 400)
    assert error["type"] == "invalid_request_error"
    assert "could not parse the JSON body" in error["message"]
    assert runs_stack.invocations == []
    assert model.requests == []


def test_an_unknown_assistant_gets_404(runs_stack: RunsStack, app_env: Any) -> None:
    model, _ = app_env
    body = create_body(assistant_id="asst_abc123")
    error = assert_openai_error(*runs_stack.call("POST", CREATE, body), 404)
    assert error["message"] == "No assistant found with id 'asst_abc123'."
    assert model.requests == []


def test_unknown_ids_and_urls_get_404(runs_stack: RunsStack, app_env: Any) -> None:
    run = runs_stack.create("hello")
    thread_id, run_id = run["thread_id"], run["id"]
    other_thread = "thread_" + "y" * 24
    for method, path, message in [
        (
            "GET",
            f"/v1/threads/{thread_id}/runs/run_{'z' * 24}",
            f"No run found with id 'run_{'z' * 24}'.",
        ),
        ("GET", f"/v1/threads/{thread_id}/runs/nope", "No run found with id 'nope'."),
        (
            "GET",
            f"/v1/threads/{other_thread}/runs/{run_id}",
            f"No thread found with id '{other_thread}'.",
        ),
        (
            "POST",
            f"/v1/threads/{other_thread}/runs/{run_id}/cancel",
            f"No thread found with id '{other_thread}'.",
        ),
        (
            "GET",
            f"/v1/threads/{thread_id}/runs/{run_id}/steps/step_{'z' * 24}",
            f"No step found with id 'step_{'z' * 24}'.",
        ),
        (
            "GET",
            f"/v1/threads/{thread_id}/messages/msg_{'z' * 24}",
            f"No message found with id 'msg_{'z' * 24}'.",
        ),
        ("GET", f"/v1/threads/{run_id}/messages", f"No thread found with id '{run_id}'."),
        ("DELETE", "/v1/assistants/asst_nope", "No assistant found with id 'asst_nope'."),
        ("GET", "/v1/files", "Invalid URL (GET /v1/files)"),
        ("POST", "/v1/threads/a/b/c/d/e/f/g", "Invalid URL (POST /v1/threads/a/b/c/d/e/f/g)"),
    ]:
        error = assert_openai_error(*runs_stack.call(method, path), 404)
        assert error["message"] == message
    runs_stack.poll(run)


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("PUT", "/v1/assistants", "GET, POST"),
        ("PATCH", "/v1/assistants/asst_default", "DELETE, GET, POST"),
        ("GET", "/v1/threads/thread_x/runs/run_x/submit_tool_outputs", "POST"),
        ("DELETE", "/v1/threads/thread_x/runs/run_x", "GET, POST"),
        ("POST", "/v1/threads/thread_x/runs/run_x/steps", "GET"),
    ],
)
def test_a_method_the_url_does_not_take_gets_405(
    runs_stack: RunsStack, app_env: Any, method: str, path: str, allowed: str
) -> None:
    status, headers, body = call_with_headers(runs_stack, method, path)
    error = assert_openai_error(status, body, 405)
    assert error["type"] == "invalid_request_error"
    assert error["code"] == "method_not_allowed"
    assert headers["Allow"] == allowed


def call_with_headers(
    stack: RunsStack, method: str, path: str
) -> tuple[int, dict[str, str], dict[str, Any]]:
    from mojang_chat.local.events import Request, build_event, lambda_response
    from mojang_chat.local.template import Route

    request = Request(method, path, [("Content-Type", "application/json")], b"")
    event = build_event(request, Route(method, "$default", "V1Function"), {}, "req-1")
    reply = lambda_response(stack.api.invoke_function("V1Function", event), "req-1")
    return reply.status, dict(reply.headers), reply.json()


WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
    },
}


def waiting_run(stack: RunsStack, model: Any, **body: Any) -> dict[str, Any]:
    """A run of an assistant with the caller's weather tool, once it requires action."""
    from tests.fakes import model_server as fake_model

    status, assistant = stack.call("POST", "/v1/assistants", {"model": "x", "tools": [WEATHER]})
    assert status == 200, assistant
    model.script(
        fake_model.tool_calls(("get_weather", {"city": "Oslo"})), fake_model.answer("Rainy.")
    )
    run = stack.create("Weather in Oslo?", assistant_id=assistant["id"], **body)
    ends = time.monotonic() + 30
    while run["status"] in ("queued", "in_progress"):
        assert time.monotonic() < ends
        time.sleep(0.05)
        run = stack.retrieve(run["thread_id"], run["id"])
    assert run["status"] == "requires_action", run
    return run


def test_starting_model_work_is_guarded_and_nothing_else_is(
    runs_stack: RunsStack, app_env: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a per-client limit on the requests that start model work
    use_settings(monkeypatch, CLIENT_REQUESTS_PER_MINUTE="100")
    model, _ = app_env
    # When a run is created (1) and waits for the caller's tool, which is polled and listed
    run = waiting_run(runs_stack, model)
    thread_id, run_id = run["thread_id"], run["id"]
    for _ in range(5):
        runs_stack.retrieve(thread_id, run_id)
        assert runs_stack.call("GET", f"/v1/threads/{thread_id}/runs/{run_id}/steps")[0] == 200
        assert runs_stack.call("GET", f"/v1/threads/{thread_id}/messages")[0] == 200
        assert runs_stack.call("POST", "/v1/threads", {})[0] == 200
    # And the caller submits its output (2)
    call_id = run["required_action"]["submit_tool_outputs"]["tool_calls"][0]["id"]
    submit = f"/v1/threads/{thread_id}/runs/{run_id}/submit_tool_outputs"
    outputs = {"tool_outputs": [{"tool_call_id": call_id, "output": "rain"}]}
    status, resumed = runs_stack.call("POST", submit, outputs)
    assert status == 200, resumed
    final, seen = runs_stack.poll(resumed)
    assert final["status"] == "completed", seen
    # Then the two requests that started model work were counted, and nothing else
    # (summed over the minutes the test spanned)
    items = runs_stack.dynamodb.scan(TableName=os.environ["USAGE_TABLE_NAME"])["Items"]
    counted = [int(i["n"]["N"]) for i in items if i["id"]["S"].startswith("client-requests#")]
    assert sum(counted) == 2


def test_a_run_takes_its_options_and_shows_them(runs_stack: RunsStack, app_env: Any) -> None:
    model, _ = app_env
    status, thread = runs_stack.call("POST", "/v1/threads", {"metadata": {"a": "b"}})
    assert status == 200, thread
    body = {
        "assistant_id": "asst_default",
        "model": "gpt-5-pro",
        "instructions": "Answer in French.",
        "additional_instructions": "Be brief.",
        "additional_messages": [{"role": "user", "content": TUTORIAL}],
        "tools": [WEATHER],
        "tool_choice": {"type": "function", "function": {"name": "get_uuid_from_username"}},
        "parallel_tool_calls": False,
        "max_prompt_tokens": 5000,
        "max_completion_tokens": 300,
        "truncation_strategy": {"type": "last_messages", "last_messages": 4},
        "temperature": 1,
        "response_format": {"type": "text"},
        "metadata": {"k": "v"},
    }
    status, run = runs_stack.call("POST", f"/v1/threads/{thread['id']}/runs", body)
    assert status == 200, run
    assert schema_errors("RunObject", run) == []
    assert run["model"] == "gpt-4o-mini"  # the deployment's
    assert run["instructions"] == "Answer in French.\n\nBe brief."
    assert run["tools"] == [WEATHER]
    assert run["tool_choice"] == body["tool_choice"]
    assert run["parallel_tool_calls"] is False
    assert (run["max_prompt_tokens"], run["max_completion_tokens"]) == (5000, 300)
    assert run["truncation_strategy"] == body["truncation_strategy"]
    assert run["metadata"] == {"k": "v"}
    final, _ = runs_stack.poll(run)
    # And the model was asked with them: the caller's tool offered besides the server's
    sent = model.requests[0].body
    assert sent["tool_choice"] == body["tool_choice"]
    assert sent["parallel_tool_calls"] is False
    assert "get_weather" in [t["function"]["name"] for t in sent["tools"]]
    assert {"role": "system", "content": "Answer in French.\n\nBe brief."} in sent["messages"]
    assert final["status"] == "completed", final


def test_outputs_over_the_limit_name_it(runs_stack: RunsStack, app_env: Any) -> None:
    model, _ = app_env
    run = waiting_run(runs_stack, model)
    call_id = run["required_action"]["submit_tool_outputs"]["tool_calls"][0]["id"]
    path = f"/v1/threads/{run['thread_id']}/runs/{run['id']}/submit_tool_outputs"
    for outputs, param in [
        ([{"tool_call_id": call_id, "output": "x" * 8001}], "tool_outputs[0].output"),
        ([{"output": "x"}], "tool_outputs[0].tool_call_id"),
    ]:
        error = assert_openai_error(*runs_stack.call("POST", path, {"tool_outputs": outputs}), 400)
        assert error["param"] == param
    assert "8000" in error["message"] or "tool_call_id" in error["message"]
    status, body = runs_stack.call("POST", path, {"tool_outputs": [], "stream": True})
    assert assert_openai_error(status, body, 400)["param"] == "stream"
    # The run still waits; cancelling it ends it
    status, cancelled = runs_stack.call(
        "POST", f"/v1/threads/{run['thread_id']}/runs/{run['id']}/cancel"
    )
    assert status == 200, cancelled
    final, _ = runs_stack.poll(cancelled)
    assert final["status"] == "cancelled"


def test_messages_are_paged_as_openai_pages_them(runs_stack: RunsStack, app_env: Any) -> None:
    run, _ = runs_stack.poll(runs_stack.create(TUTORIAL))
    path = f"/v1/threads/{run['thread_id']}/messages"

    status, newest = runs_stack.call("GET", path, query={"limit": "1"})
    assert status == 200
    assert [m["role"] for m in newest["data"]] == ["assistant"]
    assert newest["has_more"] is True
    status, rest = runs_stack.call("GET", path, query={"after": newest["last_id"]})
    assert [m["role"] for m in rest["data"]] == ["user"]
    assert rest["has_more"] is False
    status, by_run = runs_stack.call("GET", path, query={"run_id": run["id"]})
    assert [m["role"] for m in by_run["data"]] == ["assistant"]
    assert_openai_error(*runs_stack.call("GET", path, query={"limit": "0"}), 400)
    assert_openai_error(*runs_stack.call("GET", path, query={"order": "up"}), 400)


def test_history_in_the_thread_reaches_the_model(runs_stack: RunsStack, app_env: Any) -> None:
    model, _ = app_env
    thread = {
        "messages": [
            {"role": "user", "content": TUTORIAL},
            {"role": "assistant", "content": f"It is {MERRYDITH_UUID}."},
            {"role": "user", "content": [{"type": "text", "text": "and does she use slim?"}]},
        ],
        "metadata": {"page": "faq"},
    }
    run, _ = runs_stack.poll(runs_stack.create(TUTORIAL, thread=thread, metadata={"a": "b"}))
    sent = model.requests[0].body["messages"]
    assert [m["role"] for m in sent] == ["system", "user", "assistant", "user"]
    assert sent[-1]["content"] == "and does she use slim?"
    assert run["metadata"] == {"a": "b"}


# --- events/ -----------------------------------------------------------------------------------


def test_the_create_event_starts_a_run(runs_stack: RunsStack, app_env: Any) -> None:
    status, run = runs_stack.send(load_event("runs-create.json"))
    assert status == 200, run
    assert schema_errors("RunObject", run) == []
    assert run["status"] == "queued"
    runs_stack.poll(run)


def test_the_assistant_event_creates_an_assistant(runs_stack: RunsStack, app_env: Any) -> None:
    status, assistant = runs_stack.send(load_event("assistants-create.json"))
    assert status == 200, assistant
    assert schema_errors("AssistantObject", assistant) == []
    assert assistant["tools"][0]["function"]["name"] == "get_weather"


@pytest.mark.parametrize(
    "name",
    [
        "runs-retrieve.json",
        "runs-cancel.json",
        "runs-messages.json",
        "runs-steps.json",
        "runs-submit-tool-outputs.json",
    ],
)
def test_the_id_events_reach_their_routes(runs_stack: RunsStack, app_env: Any, name: str) -> None:
    # Their ids are placeholders: each route answers that it does not know them
    error = assert_openai_error(*runs_stack.send(load_event(name)), 404)
    assert error["message"].startswith("No ")


def test_the_step_events_drive_a_run_by_hand(runs_stack: RunsStack, app_env: Any) -> None:
    # Given a run created without its workflow (the events are what the workflow sends)
    from mojang_chat import container

    store = container.run_store()
    run = runs_stack.create(TUTORIAL)
    runs_stack.wait(run["id"])
    steps = function_handler("RunStepsFunction")
    expected: dict[str, dict[str, Any]] = {
        "run-step-model.json": {"status": "completed", "tool_calls": []},
        "run-step-tool.json": {"tool_call_id": "call_abc123", "ran": False},
        "run-step-fail.json": {"status": "completed", "tool_calls": []},
    }
    for name, outcome in expected.items():
        event = {**load_event(name), "run_id": run["id"], "thread_id": run["thread_id"]}
        # Then each event is a valid input, and on a finished run changes nothing
        answer = steps(event, LambdaContext(60))
        assert {key: answer[key] for key in outcome} == outcome
        stored = store.get_run(run["thread_id"], run["id"], consistent=True)
        assert stored is not None
        assert stored.status == "completed"
    with pytest.raises(LookupError, match="No run found"):
        run_step(load_event("run-step-model.json"), None)


def test_a_body_not_sent_as_json_gets_415_in_openais_shape(
    runs_stack: RunsStack, app_env: Any
) -> None:
    event = load_event("runs-create.json")
    event["headers"] = {**event["headers"], "content-type": "text/plain"}
    error = assert_openai_error(*runs_stack.send(event), 415)
    assert error["type"] == "invalid_request_error"


def test_text_in_parts_has_the_same_bound_as_text_in_one_piece(
    runs_stack: RunsStack, app_env: Any
) -> None:
    parts = [{"type": "text", "text": "x" * 2000}] * 2
    body = create_body()
    body["thread"]["messages"][-1]["content"] = parts
    status, answer = runs_stack.call("POST", "/v1/threads/runs", body)
    error = assert_openai_error(status, answer, 400)
    assert "at most 2000 characters" in error["message"]


def test_no_body_at_all_is_a_clear_400(runs_stack: RunsStack, app_env: Any) -> None:
    error = assert_openai_error(*runs_stack.call("POST", "/v1/threads/runs"), 400)
    assert error["message"] == "The request needs a JSON body."
