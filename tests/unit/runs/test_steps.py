"""The workflow's steps with in-memory adapters and a scripted model: the model step's every
outcome, the tool step, the wait step, the fail step, and the races a step can lose."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import pytest

from mojang_chat.chat.loop import Limits, build_messages
from mojang_chat.chat.model import ModelFailed, ModelRateLimited, ModelTurn, ModelUnavailable
from mojang_chat.chat.registry import ToolRegistry
from mojang_chat.chat.types import ToolCall, Usage
from mojang_chat.core.deadline import Deadline, DeadlineExceeded
from mojang_chat.core.settings import ConfigurationError, ModelNotConfigured
from mojang_chat.core.statuses import RunStatus
from mojang_chat.runs import ConversationCore, NewMessage, ThreadLimits
from mojang_chat.runs.errors import NotFound
from mojang_chat.runs.failures import CaughtError
from mojang_chat.runs.records import (
    ASSISTANT_ID,
    MessageRecord,
    RunError,
    RunOptions,
    RunRecord,
    StepRecord,
    ToolCallRecord,
)
from mojang_chat.runs.steps import (
    RunNotWaiting,
    ToolStep,
    WaitStep,
    fail_step,
    model_step,
    tool_step,
    wait_step,
)
from tests.fakes.runs import MemoryRunStore, MemoryWorkflow
from tests.helpers import FakeClock
from tests.unit.runs.helpers import EXPIRES_SECONDS, NOW

LIMITS = Limits(
    max_tool_rounds=2,
    max_total_tokens=10_000,
    tool_output_max_chars=1000,
    max_tool_calls_per_turn=8,
)
CONTEXT_TOKENS = 16_000
QUESTION = "what is bob's id?"
OWN_TOOL = {
    "type": "function",
    "function": {"name": "lookup", "description": "the caller's own", "parameters": {}},
}


class ScriptedModel:
    """Answers each call with the next scripted turn (or raises it); records what it was sent,
    and runs ``during`` inside the call, as another writer would act meanwhile."""

    name = "gpt-test"

    def __init__(self, *turns: ModelTurn | Exception) -> None:
        self.turns = list(turns)
        self.requests: list[list[dict[str, Any]]] = []
        self.tools: list[list[dict[str, Any]]] = []
        self.options: list[Mapping[str, Any] | None] = []
        self.during: Callable[[], None] | None = None

    def complete(
        self,
        messages: Sequence[dict[str, Any]],
        tools: Sequence[dict[str, Any]],
        deadline: Any,
        options: Mapping[str, Any] | None = None,
    ) -> ModelTurn:
        self.requests.append(json.loads(json.dumps(list(messages))))
        self.tools.append(list(tools))
        self.options.append(options)
        if self.during is not None:
            self.during()
        turn = self.turns.pop(0)
        if isinstance(turn, Exception):
            raise turn
        return turn


def asks_for(*names: str, tool: str = "lookup") -> ModelTurn:
    calls = [ToolCall(f"call_{n}", tool, json.dumps({"name": n})) for n in names]
    return ModelTurn(None, calls, "tool_calls", "gpt-test", Usage(10, 5, 15))


def answers(text: str, finish_reason: str = "stop") -> ModelTurn:
    return ModelTurn(text, [], finish_reason, "gpt-test", Usage(20, 7, 27))


def registry() -> ToolRegistry:
    tools = ToolRegistry()

    @tools.tool
    def lookup(name: str) -> dict[str, Any]:
        """Look a player up."""
        return {"name": name, "id": name[::-1]}

    return tools


def service(store: MemoryRunStore, clock: FakeClock) -> ConversationCore:
    return ConversationCore(
        store,
        MemoryWorkflow(),
        model="gpt-test",
        expires_seconds=EXPIRES_SECONDS,
        retention_seconds=86_400,
        limits=ThreadLimits(thread_max_messages=100, tool_output_max_chars=1000),
        clock=clock,
    )


@pytest.fixture
def run(store: MemoryRunStore, clock: FakeClock) -> RunRecord:
    """A queued run of the question, as the service creates it."""
    return service(store, clock).create_thread_and_run(
        [NewMessage("user", QUESTION)], {}, ASSISTANT_ID, RunOptions()
    )


def step(
    store: MemoryRunStore, run: RunRecord, model: ScriptedModel, clock: FakeClock, **limits: int
) -> dict[str, Any]:
    return model_step(
        run.thread_id,
        run.id,
        store=store,
        model=model,
        tools=registry(),
        limits=dataclasses.replace(LIMITS, **limits),
        context_tokens=CONTEXT_TOKENS,
        deadline=Deadline(30),
        clock=clock,
    ).model_dump(mode="json")  # as the workflow's state holds it


def brief(outcome: dict[str, Any]) -> dict[str, Any]:
    """What the workflow's Choice states branch on."""
    return {
        "status": outcome["status"],
        "calls": len(outcome["tool_calls"]),
        "waits": outcome["waits"],
    }


def run_tool(
    store: MemoryRunStore, run: RunRecord, step_id: str, call: dict[str, Any]
) -> dict[str, Any]:
    """One tool step of the run, for ``call`` as the workflow's state holds it."""
    event = ToolStep(
        step="tool",
        thread_id=run.thread_id,
        run_id=run.id,
        step_id=step_id,
        tool_call=ToolCallRecord.model_validate(call),
    )
    return tool_step(
        event,
        store=store,
        mojang=None,  # type: ignore[arg-type]
        tools=registry(),
        max_chars=1000,
        deadline=Deadline(30),
    ).model_dump(mode="json")


def run_tools(store: MemoryRunStore, run: RunRecord, outcome: dict[str, Any]) -> None:
    """What the workflow's Map does with a model step's outcome: each call, one tool step."""
    for call in outcome["tool_calls"]:
        ran = run_tool(store, run, outcome["step_id"], call)
        assert ran == {"tool_call_id": call["id"], "ran": True}


def stored(store: MemoryRunStore, run: RunRecord) -> RunRecord:
    record = store.get_run(run.thread_id, run.id)
    assert record is not None
    return record


def messages(store: MemoryRunStore, run: RunRecord) -> list[MessageRecord]:
    return [i for i in store.history(run.thread_id) if isinstance(i, MessageRecord)]


def steps(store: MemoryRunStore, run: RunRecord) -> list[StepRecord]:
    return [i for i in store.history(run.thread_id) if isinstance(i, StepRecord)]


def test_a_model_asking_for_server_tools_makes_a_step_for_the_map(
    store: MemoryRunStore, run: RunRecord, clock: FakeClock
) -> None:
    model = ScriptedModel(asks_for("bob", "alice"))

    outcome = step(store, run, model, clock)

    # Then the workflow's Choice reads the status and maps over the calls, in this shape
    [made] = steps(store, run)
    assert outcome["status"] == "in_progress"
    assert outcome["step_id"] == made.id
    assert outcome["waits"] is False
    assert outcome["tool_calls"] == [
        {
            "id": f"call_{name}",
            "type": "function",
            "function": {"name": "lookup", "arguments": json.dumps({"name": name})},
        }
        for name in ("bob", "alice")
    ]
    record = stored(store, run)
    assert record.status is RunStatus.IN_PROGRESS
    assert (record.started_at, record.rounds, record.tokens) == (NOW, 1, Usage(10, 5, 15))
    assert [call.id for call in record.server_calls] == ["call_bob", "call_alice"]
    assert (made.type, [c.id for c in made.calls], made.outputs) == (
        "tool_calls",
        ["call_bob", "call_alice"],
        {},
    )
    assert [m.role for m in messages(store, run)] == ["user"]
    assert model.requests[0] == build_messages(QUESTION)


def test_a_tool_round_then_an_answer_completes_the_run(
    store: MemoryRunStore, run: RunRecord, clock: FakeClock
) -> None:
    model = ScriptedModel(asks_for("bob"), answers("bob's id is bob reversed"))

    run_tools(store, run, step(store, run, model, clock))
    [made] = steps(store, run)
    assert made.outputs == {
        "call_bob": json.dumps({"name": "bob", "id": "bob"[::-1]}, separators=(",", ":"))
    }
    clock.now += 3
    outcome = step(store, run, model, clock)

    assert brief(outcome) == {"status": "completed", "calls": 0, "waits": False}
    # The second call was sent the tool's output after the model's call
    assert [m["role"] for m in model.requests[1][-2:]] == ["assistant", "tool"]
    assert model.requests[1][-1]["tool_call_id"] == "call_bob"
    record = stored(store, run)
    assert (record.completed_at, record.tokens) == (NOW + 3, Usage(30, 12, 42))
    answer = messages(store, run)[-1]
    assert (answer.role, answer.text, answer.status) == (
        "assistant",
        "bob's id is bob reversed",
        "completed",
    )
    assert (answer.run_id, answer.assistant_id, answer.completed_at) == (
        run.id,
        run.assistant_id,
        NOW + 3,
    )
    # The run's steps: its tool calls, then the message it created
    created = steps(store, run)[-1]
    assert (created.type, created.message_id, created.usage) == (
        "message_creation",
        answer.id,
        Usage(20, 7, 27),
    )


def test_the_callers_own_tools_are_offered_and_waited_for(
    store: MemoryRunStore, clock: FakeClock
) -> None:
    # Given a run whose caller declares a function named like a server tool
    run = service(store, clock).create_thread_and_run(
        [NewMessage("user", QUESTION)],
        {},
        ASSISTANT_ID,
        RunOptions(tools=[OWN_TOOL], tool_choice="required", parallel_tool_calls=False),
    )
    model = ScriptedModel(asks_for("bob"))

    outcome = step(store, run, model, clock)

    # Then the model was offered the caller's tool, not the server's, with the run's options
    assert model.tools[0] == [OWN_TOOL]
    assert model.options[0] == {
        "tool_choice": "required",
        "parallel_tool_calls": False,
        "max_completion_tokens": None,
    }
    # And the call is the caller's: nothing for the Map, the workflow waits
    assert brief(outcome) == {"status": "in_progress", "calls": 0, "waits": True}
    assert 0 < outcome["wait_seconds"] <= EXPIRES_SECONDS + 2
    record = stored(store, run)
    assert [c.id for c in record.client_calls] == ["call_bob"]
    assert steps(store, run)[0].calls[0].client


def test_the_wait_step_keeps_the_token_and_requires_action(
    store: MemoryRunStore, clock: FakeClock
) -> None:
    run = service(store, clock).create_thread_and_run(
        [NewMessage("user", QUESTION)], {}, ASSISTANT_ID, RunOptions(tools=[OWN_TOOL])
    )
    step(store, run, ScriptedModel(asks_for("bob")), clock)
    wait = WaitStep(step="wait", thread_id=run.thread_id, run_id=run.id, task_token="tok")

    assert wait_step(wait, store=store).model_dump(mode="json") == {"status": "requires_action"}
    # Retried, it is the same
    assert wait_step(wait, store=store).model_dump(mode="json") == {"status": "requires_action"}
    assert (stored(store, run).status, stored(store, run).task_token) == (
        RunStatus.REQUIRES_ACTION,
        "tok",
    )
    # A run that no longer waits tells the workflow so
    cancelling = stored(store, run).cancel_requested()
    assert cancelling is not None
    store.put_run(cancelling)
    with pytest.raises(RunNotWaiting):
        wait_step(wait, store=store)


def test_the_round_cap_ends_the_run_incomplete_with_an_incomplete_answer(
    store: MemoryRunStore, run: RunRecord, clock: FakeClock
) -> None:
    model = ScriptedModel(asks_for("bob"), asks_for("alice"))

    run_tools(store, run, step(store, run, model, clock, max_tool_rounds=1))
    outcome = step(store, run, model, clock, max_tool_rounds=1)

    assert brief(outcome) == {"status": "incomplete", "calls": 0, "waits": False}
    assert stored(store, run).incomplete_reason == "max_tool_rounds"
    answer = messages(store, run)[-1]
    assert (answer.status, answer.incomplete_at, answer.completed_at) == ("incomplete", NOW, None)
    assert "more than 1 rounds" in answer.text


def test_an_answer_cut_at_the_length_limit_is_incomplete(
    store: MemoryRunStore, run: RunRecord, clock: FakeClock
) -> None:
    model = ScriptedModel(answers("bob's id is", finish_reason="length"))

    assert step(store, run, model, clock)["status"] == "incomplete"
    assert stored(store, run).incomplete_reason == "max_completion_tokens"
    assert messages(store, run)[-1].text == "bob's id is"


def test_a_cancelling_run_ends_cancelled_without_a_model_call(
    store: MemoryRunStore, run: RunRecord, clock: FakeClock
) -> None:
    cancelling = run.cancel_requested()
    assert cancelling is not None
    store.put_run(cancelling)
    model = ScriptedModel()

    assert step(store, run, model, clock)["status"] == "cancelled"
    assert model.requests == []


def test_an_expired_run_ends_expired_without_a_model_call(
    store: MemoryRunStore, run: RunRecord, clock: FakeClock
) -> None:
    clock.now = NOW + EXPIRES_SECONDS
    model = ScriptedModel()

    assert step(store, run, model, clock)["status"] == "expired"
    assert model.requests == []
    assert stored(store, run).expires_at == NOW + EXPIRES_SECONDS


def test_an_ended_run_is_left_as_it_is(
    store: MemoryRunStore, run: RunRecord, clock: FakeClock
) -> None:
    ended = run.finished(RunStatus.COMPLETED, NOW)
    assert ended is not None
    store.put_run(ended)

    assert step(store, run, ScriptedModel(), clock)["status"] == "completed"
    assert stored(store, run) == ended


def test_a_retried_model_step_waits_for_the_tools_of_its_round(
    store: MemoryRunStore, run: RunRecord, clock: FakeClock
) -> None:
    # Given a tool round whose tools have not run yet
    model = ScriptedModel(asks_for("bob"))
    first = step(store, run, model, clock)

    # When the model step runs again (a retry), it calls nothing and says the same
    assert step(store, run, model, clock) == first
    assert len(model.requests) == 1


def test_a_model_call_that_runs_out_of_the_runs_time_expires_it(
    store: MemoryRunStore, run: RunRecord, clock: FakeClock
) -> None:
    def late() -> None:
        clock.now = NOW + EXPIRES_SECONDS - 0.5

    model = ScriptedModel(DeadlineExceeded("no time left for a model call"))
    model.during = late

    assert step(store, run, model, clock)["status"] == "expired"


def test_a_model_call_that_runs_out_of_the_steps_time_fails_the_step(
    store: MemoryRunStore, run: RunRecord, clock: FakeClock
) -> None:
    model = ScriptedModel(DeadlineExceeded("no time left for a model call"))
    with pytest.raises(DeadlineExceeded):
        step(store, run, model, clock)
    assert stored(store, run).status is RunStatus.IN_PROGRESS


def test_the_model_adapters_errors_reach_the_workflow(
    store: MemoryRunStore, run: RunRecord, clock: FakeClock
) -> None:
    with pytest.raises(ModelRateLimited):
        step(store, run, ScriptedModel(ModelRateLimited("slow down")), clock)


def test_a_cancel_during_the_model_call_drops_the_answer(
    store: MemoryRunStore, run: RunRecord, clock: FakeClock
) -> None:
    def cancel() -> None:
        current = stored(store, run)
        cancelling = current.cancel_requested()
        assert cancelling is not None
        assert store.replace_run(cancelling, current.version)

    model = ScriptedModel(answers("an answer nobody wants"))
    model.during = cancel

    assert step(store, run, model, clock)["status"] == "cancelled"
    assert stored(store, run).status is RunStatus.CANCELLED
    assert [m.role for m in messages(store, run)] == ["user"]
    assert steps(store, run) == []


def test_a_run_changed_otherwise_during_the_model_call_fails_the_step(
    store: MemoryRunStore, run: RunRecord, clock: FakeClock
) -> None:
    def other_writer() -> None:
        store.conflicts = 1

    model = ScriptedModel(answers("an answer"))
    model.during = other_writer

    with pytest.raises(RuntimeError, match="changed during the model call"):
        step(store, run, model, clock)
    assert [m.role for m in messages(store, run)] == ["user"]


def test_a_step_for_an_unknown_run_is_not_found(
    store: MemoryRunStore, run: RunRecord, clock: FakeClock
) -> None:
    with pytest.raises(NotFound, match="No run found"):
        model_step(
            run.thread_id,
            "run_" + "x" * 24,
            store=store,
            model=ScriptedModel(),
            tools=registry(),
            limits=LIMITS,
            context_tokens=CONTEXT_TOKENS,
            deadline=Deadline(30),
            clock=clock,
        )


def test_a_tool_step_the_run_no_longer_waits_for_does_nothing(
    store: MemoryRunStore, run: RunRecord, clock: FakeClock
) -> None:
    # Given a run waiting for one call
    outcome = step(store, run, ScriptedModel(asks_for("bob")), clock)
    [call] = outcome["tool_calls"]
    other = {**call, "id": "call_other"}

    def tool(call: dict[str, Any]) -> dict[str, Any]:
        return run_tool(store, run, outcome["step_id"], call)

    # Then a call it does not wait for is not run
    assert tool(other) == {"tool_call_id": "call_other", "ran": False}
    # Nor its own call once the run no longer waits (cancelled, say)
    cancelling = stored(store, run).cancel_requested()
    assert cancelling is not None
    store.put_run(cancelling)
    assert tool(call) == {"tool_call_id": "call_bob", "ran": False}
    assert steps(store, run)[0].outputs == {}


def cause(message: str) -> str:
    """A Lambda error's cause, as a Catch passes it on."""
    return json.dumps({"errorMessage": message, "errorType": "X", "stackTrace": []})


@pytest.mark.parametrize(
    "error",
    [
        ModelRateLimited,
        ModelUnavailable,
        ModelFailed,
        ModelNotConfigured,
        ConfigurationError,
        DeadlineExceeded,
    ],
)
def test_the_fail_step_shows_the_message_of_an_error_written_for_callers(
    store: MemoryRunStore, run: RunRecord, clock: FakeClock, error: type[Exception]
) -> None:
    caught = CaughtError(Error=error.__name__, Cause=cause("the model is down"))

    outcome = fail_step(
        run.thread_id, run.id, caught.failure(), store=store, clock=clock
    ).model_dump(mode="json")

    assert brief(outcome) == {"status": "failed", "calls": 0, "waits": False}
    code = "rate_limit_exceeded" if error is ModelRateLimited else "server_error"
    record = stored(store, run)
    assert record.last_error == RunError(code=code, message="the model is down")
    assert record.failed_at == NOW


@pytest.mark.parametrize(
    "caught",
    [
        CaughtError(Error="KeyError", Cause=cause("'secret internals'")),
        CaughtError(Error="ModelFailed", Cause="not JSON"),
        CaughtError(Error="ModelFailed", Cause=None),
        CaughtError(Error="States.Timeout", Cause=None),
    ],
)
def test_the_fail_step_shows_only_the_name_of_any_other_error(
    store: MemoryRunStore, run: RunRecord, clock: FakeClock, caught: CaughtError
) -> None:
    fail_step(run.thread_id, run.id, caught.failure(), store=store, clock=clock)

    assert stored(store, run).last_error == RunError(
        code="server_error", message=f"the run failed ({caught.Error})"
    )


def test_the_fail_step_ends_a_cancelling_run_cancelled(
    store: MemoryRunStore, run: RunRecord, clock: FakeClock
) -> None:
    cancelling = run.cancel_requested()
    assert cancelling is not None
    store.put_run(cancelling)

    failed = CaughtError(Error="ModelFailed")
    outcome = fail_step(
        run.thread_id, run.id, failed.failure(), store=store, clock=clock
    ).model_dump(mode="json")

    assert outcome["status"] == "cancelled"


def test_the_map_gets_no_more_calls_than_the_per_turn_cap(
    store: MemoryRunStore, run: RunRecord, clock: FakeClock
) -> None:
    # Given a model that asks for 50 lookups in one turn, and a cap of 8
    names = [f"p{n}" for n in range(50)]
    model = ScriptedModel(asks_for(*names), answers("eight found"))

    # When the model step runs
    outcome = step(store, run, model, clock, max_tool_calls_per_turn=8)

    # Then the workflow's Map gets the first 8, and the other 42 are answered already
    assert [call["id"] for call in outcome["tool_calls"]] == [f"call_{n}" for n in names[:8]]
    [made] = steps(store, run)
    assert set(made.outputs) == {f"call_{n}" for n in names[8:]}
    assert all("not run: at most 8 tool calls" in v for v in made.outputs.values())
    # And once the 8 have run, the model reads an answer to every one of the 50 calls
    run_tools(store, run, outcome)
    assert step(store, run, model, clock)["status"] == "completed"
    answered = [m["tool_call_id"] for m in model.requests[1] if m["role"] == "tool"]
    assert answered == [f"call_{n}" for n in names]


def test_a_malformed_call_is_answered_in_the_step_not_mapped(
    store: MemoryRunStore, run: RunRecord, clock: FakeClock
) -> None:
    bad = ToolCall("call_bad", "lookup", '{"name": "x"}', problem="the arguments must be a string")
    model = ScriptedModel(ModelTurn(None, [bad], "tool_calls", "gpt-test", Usage(10, 5, 15)))

    outcome = step(store, run, model, clock)

    assert outcome["tool_calls"] == []
    assert json.loads(steps(store, run)[0].outputs["call_bad"]) == {
        "error": "the arguments must be a string"
    }


def test_a_call_whose_prompt_would_exceed_the_budget_is_not_made(
    store: MemoryRunStore, run: RunRecord, clock: FakeClock
) -> None:
    # Given a budget smaller than the estimate of the run's first prompt
    model = ScriptedModel(answers("never sent"))

    # When the model step runs
    outcome = step(store, run, model, clock, max_total_tokens=100)

    # Then the model is not called and the run ends incomplete, saying why
    assert model.requests == []
    assert outcome["status"] == "incomplete"
    assert stored(store, run).incomplete_reason == "max_total_tokens"
    assert messages(store, run)[-1].text == (
        "I could not finish: the conversation reached its token budget."
    )


def test_the_fail_step_logs_where_the_task_failed_and_what_the_caller_is_told(
    store: MemoryRunStore,
    run: RunRecord,
    clock: FakeClock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # Given a task that failed with an error whose message quotes internals
    trace = [
        '  File "/var/task/app.py", line 20, in lambda_handler\n    return run_step(event)\n',
        '  File "/opt/python/mojang_chat/runs/steps.py", line 9, in run_step\n    x["k"]\n',
    ]
    body = {"errorMessage": "'secret internals'", "errorType": "KeyError", "stackTrace": trace}
    caught = CaughtError(Error="KeyError", Cause=json.dumps(body))

    fail_step(run.thread_id, run.id, caught.failure(), store=store, clock=clock)

    # Then the log says where it failed and what the caller was told, never the message
    (record,) = [r for r in caplog.records if r.getMessage() == "run failed"]
    assert record.__dict__["run_id"] == run.id
    assert record.__dict__["error"] == "KeyError"
    assert record.__dict__["failed_at"] == [
        'File "/var/task/app.py", line 20, in lambda_handler',
        'File "/opt/python/mojang_chat/runs/steps.py", line 9, in run_step',
    ]
    assert record.__dict__["last_error"] == "the run failed (KeyError)"
    assert "secret internals" not in str(record.__dict__)
