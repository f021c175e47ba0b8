"""Runs end to end: functions/run_workflow.asl.json executing in moto, the real run_steps and
runs handlers in-process, the fake model server and fake Mojang behind them. Every scenario is
observed as a client sees it: by polling GET /v1/threads/{thread_id}/runs/{run_id}."""

from __future__ import annotations

import concurrent.futures
import json
import time
from typing import Any

import pytest

from mojang_chat.core.statuses import RunStatus
from mojang_chat.local.standins import MERRYDITH_UUID
from mojang_chat.runs.workflow import STEP_GRACE_SECONDS
from tests.aws import RunsStack, runs_stack, schema_errors
from tests.fakes import model_server as fake_model
from tests.fakes.mojang_server import Fault
from tests.helpers import TUTORIAL, use_settings

__all__ = ["runs_stack"]  # the fixture, imported for pytest

ONE_TOOL_STATES = [
    "Queued",
    "InProgress",
    "AfterModel",
    "RunTools",
    "RunTool",
    "AfterTools",
    "InProgress",
    "AfterModel",
    "Completed",
]
# A run whose tools are all the server's never waits for the caller.
RUN_STATUSES = ["queued", "in_progress", "completed"]
LOOKUP = ("get_uuid_from_username", {"username": "merrydith"})
OWN_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "The caller's own tool.",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
    },
}


def messages(stack: RunsStack, thread_id: str) -> list[dict[str, Any]]:
    status, body = stack.call("GET", f"/v1/threads/{thread_id}/messages", query={"order": "asc"})
    assert status == 200, body
    assert schema_errors("ListMessagesResponse", body) == []
    data: list[dict[str, Any]] = body["data"]
    return data


def steps(stack: RunsStack, run: dict[str, Any]) -> list[dict[str, Any]]:
    path = f"/v1/threads/{run['thread_id']}/runs/{run['id']}/steps"
    status, body = stack.call("GET", path, query={"order": "asc"})
    assert status == 200, body
    data: list[dict[str, Any]] = body["data"]
    for step in data:
        assert schema_errors("RunStepObject", step) == []
    return data


def waiting_run(stack: RunsStack, run: dict[str, Any]) -> dict[str, Any]:
    """Poll ``run`` until it requires action."""
    ends = time.monotonic() + 20
    while run["status"] != "requires_action":
        assert run["status"] in ("queued", "in_progress"), run
        assert time.monotonic() < ends, run
        time.sleep(0.05)
        run = stack.retrieve(run["thread_id"], run["id"])
    return run


def test_a_one_tool_run_shows_every_status_in_order(runs_stack: RunsStack, app_env: Any) -> None:
    # Given a model and a Mojang API with realistic latencies
    model, mojang = app_env
    model.latency = 0.2
    mojang.inject(Fault.hanging(0.3), path_prefix="/minecraft/profile/lookup/name/")
    try:
        # When a client creates the tutorial's run and polls it every 50 ms
        run = runs_stack.create(TUTORIAL)
        seen_runs = [run]
        while run["status"] not in {"completed", "failed", "expired", "incomplete"}:
            time.sleep(0.05)
            run = runs_stack.retrieve(run["thread_id"], run["id"])
            seen_runs.append(run)
    finally:
        model.latency = 0.0
    # Then it saw each status of the lifecycle: the server's tools run while in_progress
    statuses = [r["status"] for r in seen_runs]
    assert [s for i, s in enumerate(statuses) if i == 0 or s != statuses[i - 1]] == RUN_STATUSES
    for polled in seen_runs:
        assert schema_errors("RunObject", polled) == []
        assert polled["required_action"] is None
    # And its steps show the tool call with its output, then the message it created
    tool_step, created = steps(runs_stack, run)
    [call] = tool_step["step_details"]["tool_calls"]
    assert call["function"]["name"] == "get_uuid_from_username"
    assert MERRYDITH_UUID.replace("-", "") in call["function"]["output"].replace("-", "")
    assert tool_step["status"] == "completed"
    assert created["step_details"]["type"] == "message_creation"
    assert all(r["usage"] is None for r in seen_runs[:-1])
    # And the run completed with its usage, the answer in the thread's messages
    assert run["completed_at"] is not None
    assert run["started_at"] is not None
    assert run["expires_at"] is None
    assert run["usage"]["total_tokens"] > 0
    user, answer = messages(runs_stack, run["thread_id"])
    assert user["role"] == "user"
    assert user["content"][0]["text"]["value"] == TUTORIAL
    assert answer["role"] == "assistant"
    assert answer["run_id"] == run["id"]
    assert MERRYDITH_UUID in answer["content"][0]["text"]["value"]
    # And the workflow went through exactly the states of one tool round
    assert runs_stack.wait(run["id"])["status"] == "SUCCEEDED"
    assert runs_stack.states_entered(run["id"]) == ONE_TOOL_STATES
    assert model.schema_errors == []
    assert len(model.requests) == 2


def test_a_run_without_tools_completes(runs_stack: RunsStack, app_env: Any) -> None:
    model, mojang = app_env
    model.script(fake_model.answer("Hello! Ask me about a Minecraft player."))

    run, seen = runs_stack.poll(runs_stack.create("hello"))

    assert run["status"] == "completed"
    assert seen[-1] == "completed"
    assert "requires_action" not in seen
    assert runs_stack.wait(run["id"])["status"] == "SUCCEEDED"
    assert runs_stack.states_entered(run["id"]) == [
        "Queued",
        "InProgress",
        "AfterModel",
        "Completed",
    ]
    assert messages(runs_stack, run["thread_id"])[-1]["content"][0]["text"]["value"].startswith(
        "Hello!"
    )
    assert mojang.requests() == []


def test_a_model_that_keeps_failing_fails_the_run(runs_stack: RunsStack, app_env: Any) -> None:
    # Given a model server that answers 500 to the call and to its retry (MODEL_MAX_RETRIES=1)
    model, _ = app_env
    model.script(fake_model.server_error(), fake_model.server_error())

    run, _ = runs_stack.poll(runs_stack.create(TUTORIAL))

    assert run["status"] == "failed"
    assert run["last_error"] == {
        "code": "server_error",
        # Named by its URL, so that whoever reads it knows which server to look at
        "message": f"the model server at {model.base_url} answered with an error (HTTP 500)",
    }
    assert run["failed_at"] is not None
    assert schema_errors("RunObject", run) == []
    assert len(model.requests) == 2
    execution = runs_stack.wait(run["id"])
    assert execution["status"] == "FAILED"
    assert runs_stack.states_entered(run["id"])[-2:] == ["MarkFailed", "Failed"]
    # No answer is added to the thread
    assert [m["role"] for m in messages(runs_stack, run["thread_id"])] == ["user"]


def test_a_model_that_keeps_rate_limiting_fails_with_rate_limit_exceeded(
    runs_stack: RunsStack, app_env: Any
) -> None:
    # Given a model that rate-limits every call: two per step, the step tried three times
    model, _ = app_env
    model.script(*[fake_model.rate_limited(retry_after=0)] * 6)

    run, _ = runs_stack.poll(runs_stack.create(TUTORIAL))

    assert run["status"] == "failed"
    assert run["last_error"]["code"] == "rate_limit_exceeded"
    assert len(model.requests) == 6
    # (the workflow's Retry re-ran the model step twice: retries enter no state anew)
    assert [i["step"] for i in runs_stack.invocations] == ["model", "model", "model", "fail"]


def test_a_model_step_retried_after_a_tool_round_still_answers_the_tools(
    runs_stack: RunsStack, app_env: Any
) -> None:
    # Given a model that rate-limits the call after the tool round: one step's worth (two
    # calls), so the workflow retries that step
    model, _ = app_env
    lookup = ("get_uuid_from_username", {"username": "merrydith"})
    model.script(
        fake_model.tool_calls(lookup),
        fake_model.rate_limited(retry_after=0),
        fake_model.rate_limited(retry_after=0),
        fake_model.answer_from_tools(),
    )

    run, _ = runs_stack.poll(runs_stack.create(TUTORIAL))

    # Then the retried step sent the tool's output again (the real API 400s without it)
    assert run["status"] == "completed", run
    assert [i["step"] for i in runs_stack.invocations] == ["model", "tool", "model", "model"]
    last = model.requests[-1].body["messages"]
    assert [m["role"] for m in last[-2:]] == ["assistant", "tool"]
    assert model.schema_errors == []
    assert (
        MERRYDITH_UUID in messages(runs_stack, run["thread_id"])[-1]["content"][0]["text"]["value"]
    )


def test_an_incomplete_run_never_answers_with_an_answer_from_the_history(
    runs_stack: RunsStack, app_env: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a thread that starts with an earlier question and its answer, one tool round
    # allowed, and a model that keeps asking for tools without a word
    use_settings(monkeypatch, MAX_TOOL_ROUNDS="1")
    model, _ = app_env
    lookup = ("get_uuid_from_username", {"username": "merrydith"})
    model.script(fake_model.tool_calls(lookup), fake_model.tool_calls(lookup))
    history = [
        {"role": "user", "content": "who is Notch?"},
        {"role": "assistant", "content": "AN EARLIER ANSWER"},
        {"role": "user", "content": TUTORIAL},
    ]
    status, created = runs_stack.call(
        "POST",
        "/v1/threads/runs",
        {"assistant_id": "asst_default", "thread": {"messages": history}},
    )
    assert status == 200, created

    run, _ = runs_stack.poll(created)

    # Then the run explains the limit instead of repeating the earlier answer
    assert run["status"] == "incomplete"
    answer = messages(runs_stack, run["thread_id"])[-1]["content"][0]["text"]["value"]
    assert "AN EARLIER ANSWER" not in answer
    assert "more than 1 rounds" in answer


def test_the_round_cap_ends_the_run_incomplete(
    runs_stack: RunsStack, app_env: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given one tool round allowed, and a model that asks for a second
    use_settings(monkeypatch, MAX_TOOL_ROUNDS="1")
    model, _ = app_env
    lookup = ("get_uuid_from_username", {"username": "merrydith"})
    model.script(fake_model.tool_calls(lookup), fake_model.tool_calls(lookup))

    run, _ = runs_stack.poll(runs_stack.create(TUTORIAL))

    # Then the run is incomplete; the schema has no "round cap" reason: the closest is kept,
    # and the precise one is in the metadata
    assert run["status"] == "incomplete"
    assert run["incomplete_details"] == {"reason": "max_prompt_tokens"}
    assert run["metadata"] == {"incomplete_reason": "max_tool_rounds"}
    assert run["last_error"] is None
    assert schema_errors("RunObject", run) == []
    answer = messages(runs_stack, run["thread_id"])[-1]
    assert answer["status"] == "incomplete"
    assert "more than 1 rounds" in answer["content"][0]["text"]["value"]
    assert runs_stack.states_entered(run["id"])[-1] == "Incomplete"


def test_a_run_past_its_expiry_ends_expired(
    runs_stack: RunsStack, app_env: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given runs that expire after 2 s, and a model that takes 4 s
    use_settings(monkeypatch, RUN_EXPIRES_SECONDS="2")
    model, _ = app_env
    model.script(fake_model.hang(4, fake_model.answer("too late")))

    run, _ = runs_stack.poll(runs_stack.create(TUTORIAL))

    assert run["status"] == "expired"
    assert run["expires_at"] is not None
    assert run["expires_at"] <= time.time() + 1
    assert schema_errors("RunObject", run) == []
    runs_stack.wait(run["id"])  # the record ends before the execution's last state
    assert runs_stack.states_entered(run["id"])[-1] == "Expired"
    assert [m["role"] for m in messages(runs_stack, run["thread_id"])] == ["user"]


def test_a_run_cancelled_during_a_model_call_ends_cancelled(
    runs_stack: RunsStack, app_env: Any
) -> None:
    # Given a run whose model call takes 1.5 s
    model, _ = app_env
    model.script(fake_model.hang(1.5, fake_model.answer("an answer nobody wants")))
    run = runs_stack.create(TUTORIAL)
    while run["status"] != "in_progress":
        time.sleep(0.02)
        run = runs_stack.retrieve(run["thread_id"], run["id"])
    path = f"/v1/threads/{run['thread_id']}/runs/{run['id']}/cancel"

    # When the client cancels it during that call
    status, cancelling = runs_stack.call("POST", path)

    # Then the answer is `cancelling`, then `cancelled` once the execution stopped (AWS stops it
    # at once; moto only once the running task returns, so the polls see `cancelling` a while)
    assert status == 200, cancelling
    assert cancelling["status"] == "cancelling"
    assert schema_errors("RunObject", cancelling) == []
    run, seen = runs_stack.poll(cancelling)
    assert seen == ["cancelling", "cancelled"]
    assert run["cancelled_at"] is not None
    assert run["usage"] is not None
    assert runs_stack.wait(run["id"])["status"] == "ABORTED"
    # And the model's late answer never landed
    assert len(model.requests) == 1
    assert runs_stack.retrieve(run["thread_id"], run["id"])["status"] == "cancelled"
    assert [m["role"] for m in messages(runs_stack, run["thread_id"])] == ["user"]
    # And cancelling again is no error
    status, again = runs_stack.call("POST", path)
    assert (status, again["status"]) == (200, "cancelled")


def test_cancelling_a_finished_run_is_refused(runs_stack: RunsStack, app_env: Any) -> None:
    run, _ = runs_stack.poll(runs_stack.create(TUTORIAL))

    status, body = runs_stack.call(
        "POST", f"/v1/threads/{run['thread_id']}/runs/{run['id']}/cancel"
    )

    assert status == 400
    assert schema_errors("ErrorResponse", body) == []
    assert body["error"]["type"] == "invalid_request_error"
    assert body["error"]["message"] == "Cannot cancel run with status 'completed'."


def test_many_clients_polling_one_run_all_see_it_complete(
    runs_stack: RunsStack, app_env: Any
) -> None:
    model, mojang = app_env
    model.latency = 0.1
    mojang.inject(Fault.hanging(0.2), path_prefix="/minecraft/profile/lookup/name/")
    try:
        run = runs_stack.create(TUTORIAL)
        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            results = list(pool.map(lambda _: runs_stack.poll(run), range(8)))
    finally:
        model.latency = 0.0
    for final, seen in results:
        assert final["status"] == "completed"
        # Each client saw the statuses in lifecycle order (one polling late may skip some)
        assert is_subsequence(seen, RUN_STATUSES), seen
    assert len(model.requests) == 2  # polling never re-runs anything


def is_subsequence(items: list[str], sequence: list[str]) -> bool:
    rest = iter(sequence)
    return all(item in rest for item in items)


def test_a_run_whose_execution_was_stopped_outside_is_reconciled(
    runs_stack: RunsStack, app_env: Any
) -> None:
    # Given a run whose execution is stopped by someone else (the console, say) mid-call, so
    # that no Catch ever ends the run (the failing model call ends with the execution)
    model, _ = app_env
    model.script(fake_model.hang(0.5, fake_model.server_error()), fake_model.server_error())
    run = runs_stack.create(TUTORIAL)
    while run["status"] != "in_progress":
        time.sleep(0.02)
        run = runs_stack.retrieve(run["thread_id"], run["id"])
    runs_stack.sfn.stop_execution(executionArn=runs_stack.execution_arn(run["id"]))
    # AWS says ABORTED; moto notices the stop only when the task returns, and as its error
    # skips the Catch, says FAILED: either way, an execution that ended leaving the run open
    ended = runs_stack.wait(run["id"])["status"]
    assert ended in {"ABORTED", "FAILED"}
    # While the run may still be within its time, reads leave it to the workflow
    assert runs_stack.retrieve(run["thread_id"], run["id"])["status"] == "in_progress"
    # When the record is older than any live workflow could leave it open
    past = int(time.time()) - STEP_GRACE_SECONDS - 1
    key = {"pk": {"S": run["thread_id"]}, "sk": {"S": f"run#{run['id']}"}}
    item = runs_stack.dynamodb.get_item(TableName=runs_stack.table_name, Key=key)["Item"]
    body = {**json.loads(item["body"]["S"]), "expires_at": past}
    runs_stack.dynamodb.update_item(
        TableName=runs_stack.table_name,
        Key=key,
        UpdateExpression="SET body = :body",
        ExpressionAttributeValues={":body": {"S": json.dumps(body)}},
    )
    # Then the next read ends it from the execution's status
    run = runs_stack.retrieve(run["thread_id"], run["id"])
    assert run["status"] == RunStatus.FAILED
    reason = {"ABORTED": "was stopped", "FAILED": "failed"}[ended]
    assert run["last_error"] == {"code": "server_error", "message": f"the run's workflow {reason}"}
    assert schema_errors("RunObject", run) == []
    assert "MarkFailed" not in runs_stack.states_entered(run["id"])


def test_the_callers_tool_waits_in_requires_action_until_its_outputs_come(
    runs_stack: RunsStack, app_env: Any
) -> None:
    # Given a model that calls a server tool and the caller's own in one turn, then answers
    model, mojang = app_env
    model.script(
        fake_model.tool_calls(LOOKUP, ("get_weather", {"city": "Oslo"})),
        fake_model.answer_from_tools(),
    )
    created = runs_stack.create(TUTORIAL, tools=[OWN_TOOL])

    # When the run is polled: it waits for the caller's call only (the server's ran)
    run = waiting_run(runs_stack, created)
    assert schema_errors("RunObject", run) == []
    [call] = run["required_action"]["submit_tool_outputs"]["tool_calls"]
    assert (call["function"]["name"], json.loads(call["function"]["arguments"])) == (
        "get_weather",
        {"city": "Oslo"},
    )
    assert [r.path for r in mojang.requests()] == ["/minecraft/profile/lookup/name/merrydith"]
    # And it keeps waiting: nothing runs while the caller has not answered
    time.sleep(1.0)
    assert runs_stack.retrieve(run["thread_id"], run["id"])["status"] == "requires_action"
    assert len(model.requests) == 1

    # When the caller submits its output
    path = f"/v1/threads/{run['thread_id']}/runs/{run['id']}/submit_tool_outputs"
    status, resumed = runs_stack.call(
        "POST", path, {"tool_outputs": [{"tool_call_id": call["id"], "output": "sunny, 21 C"}]}
    )

    # Then the run goes on and completes, the model sent both outputs
    assert status == 200, resumed
    assert resumed["status"] == "queued"
    final, _ = runs_stack.poll(resumed)
    assert final["status"] == "completed"
    outputs = [m["content"] for m in model.requests[1].body["messages"] if m["role"] == "tool"]
    assert "sunny, 21 C" in outputs
    assert any("merrydith" in o.lower() for o in outputs)
    assert model.schema_errors == []
    # And the workflow waited on its task token in between
    assert runs_stack.wait(run["id"])["status"] == "SUCCEEDED"
    states = runs_stack.states_entered(run["id"])
    assert states[:7] == [
        "Queued",
        "InProgress",
        "AfterModel",
        "RunTools",
        "RunTool",
        "AfterTools",
        "RequiresAction",
    ]
    assert states[-3:] == ["InProgress", "AfterModel", "Completed"]
    # And the steps show both calls with their outputs, the caller's too
    [tool_step, _] = steps(runs_stack, final)
    outputs_by_name = {
        c["function"]["name"]: c["function"]["output"]
        for c in tool_step["step_details"]["tool_calls"]
    }
    assert outputs_by_name["get_weather"] == "sunny, 21 C"
    assert outputs_by_name["get_uuid_from_username"]


def test_cancelling_a_run_that_waits_for_the_caller_ends_it_cancelled(
    runs_stack: RunsStack, app_env: Any
) -> None:
    model, _ = app_env
    model.script(fake_model.tool_calls(("get_weather", {"city": "Oslo"})))
    run = waiting_run(runs_stack, runs_stack.create(TUTORIAL, tools=[OWN_TOOL]))

    status, cancelling = runs_stack.call(
        "POST", f"/v1/threads/{run['thread_id']}/runs/{run['id']}/cancel"
    )

    assert (status, cancelling["status"]) == (200, "cancelling")
    final, _ = runs_stack.poll(cancelling)
    assert final["status"] == "cancelled"
    assert runs_stack.wait(run["id"])["status"] == "SUCCEEDED"
    assert runs_stack.states_entered(run["id"])[-1] == "Cancelled"
    assert len(model.requests) == 1


def test_a_run_whose_caller_never_answers_expires(
    runs_stack: RunsStack, app_env: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given runs that expire after 5 s (time to reach requires_action on a loaded machine),
    # and a caller that never submits its outputs
    use_settings(monkeypatch, RUN_EXPIRES_SECONDS="5")
    model, _ = app_env
    model.script(fake_model.tool_calls(("get_weather", {"city": "Oslo"})))
    run = waiting_run(runs_stack, runs_stack.create(TUTORIAL, tools=[OWN_TOOL]))

    final, seen = runs_stack.poll(run)

    # Then it ends expired, and so does its execution (the wait released, not left to hang)
    assert seen[-1] == "expired"
    assert final["expires_at"] is not None
    assert runs_stack.wait(run["id"])["status"] == "SUCCEEDED"
    assert runs_stack.states_entered(run["id"])[-1] == "Expired"
    path = f"/v1/threads/{run['thread_id']}/runs/{run['id']}/submit_tool_outputs"
    call = run["required_action"]["submit_tool_outputs"]["tool_calls"][0]
    status, body = runs_stack.call(
        "POST", path, {"tool_outputs": [{"tool_call_id": call["id"], "output": "late"}]}
    )
    assert status == 400
    assert "do not accept tool outputs" in body["error"]["message"]


def test_six_rounds_of_twenty_bulk_lookups_complete_with_the_answer(
    runs_stack: RunsStack, app_env: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a model that asks for 20 bulk lookups of 10 names, six rounds running (what once
    # passed DynamoDB's 400 KB item limit and lost the answer)
    use_settings(
        monkeypatch,
        MAX_TOOL_CALLS_PER_TURN="20",
        MAX_TOOL_ROUNDS="6",
        MAX_TOTAL_TOKENS="10000000",
        MAX_CONTEXT_TOKENS="1000000",
        CLIENT_TOKENS_PER_DAY="0",
        TOKENS_PER_DAY="0",
    )
    model, _ = app_env
    rounds = [
        fake_model.tool_calls(
            *[
                ("get_uuids_from_usernames", {"usernames": [f"r{r}c{c}n{n}" for n in range(10)]})
                for c in range(20)
            ]
        )
        for r in range(6)
    ]
    model.script(*rounds, fake_model.answer("All 1,200 names were looked up."))

    run, _ = runs_stack.poll(runs_stack.create(TUTORIAL), timeout=180)

    # Then it completed with its answer, every output stored
    assert run["status"] == "completed", run
    answer = messages(runs_stack, run["thread_id"])[-1]["content"][0]["text"]["value"]
    assert answer == "All 1,200 names were looked up."
    tool_steps = [s for s in steps(runs_stack, run) if s["type"] == "tool_calls"]
    assert len(tool_steps) == 6
    assert all(len(s["step_details"]["tool_calls"]) == 20 for s in tool_steps)
    last = model.requests[-1].body["messages"]
    assert sum(m["role"] == "tool" for m in last) == 120
    assert model.schema_errors == []


def test_a_500_kb_conversation_runs_with_its_newest_part_sent(
    runs_stack: RunsStack, app_env: Any
) -> None:
    # Given a thread of 260 messages of 2,000 characters (520 KB: one item each)
    model, _ = app_env
    model.script(fake_model.answer("Still here."))
    status, thread = runs_stack.call("POST", "/v1/threads", {})
    assert status == 200, thread
    for i in range(260):
        role = "user" if i % 2 == 0 else "assistant"
        text = f"{i:03d} " + "x" * 1996
        status, body = runs_stack.call(
            "POST", f"/v1/threads/{thread['id']}/messages", {"role": role, "content": text}
        )
        assert status == 200, body
    runs_stack.call(
        "POST", f"/v1/threads/{thread['id']}/messages", {"role": "user", "content": TUTORIAL}
    )

    # When a run answers on it
    status, created = runs_stack.call(
        "POST", f"/v1/threads/{thread['id']}/runs", {"assistant_id": "asst_default"}
    )
    assert status == 200, created
    run, _ = runs_stack.poll(created)

    # Then it completed, the model sent the newest messages that fit its context, in order
    assert run["status"] == "completed", run
    sent = model.requests[0].body["messages"]
    assert sent[-1] == {"role": "user", "content": TUTORIAL}
    kept = [m["content"][:3] for m in sent if m["role"] != "system"][:-1]
    assert kept == sorted(kept)
    assert kept[-1] == "259"
    assert 10 < len(kept) < 260
    assert len(json.dumps(sent)) <= 16_000 * 4
    # And nothing was lost: the thread still holds every message
    status, page = runs_stack.call(
        "GET", f"/v1/threads/{thread['id']}/messages", query={"limit": "100", "order": "asc"}
    )
    assert status == 200
    assert page["has_more"] is True
    assert page["data"][0]["content"][0]["text"]["value"].startswith("000 ")
