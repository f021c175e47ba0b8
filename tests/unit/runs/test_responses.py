"""Responses in the core, with in-memory adapters and a scripted model: a response continues
its conversation, an older one branches off it, and the caller's calls that ended a response
are answered by the next one, exactly once."""

from __future__ import annotations

import json
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from mojang_chat.chat.loop import Limits
from mojang_chat.chat.model import ModelTurn
from mojang_chat.chat.registry import ToolRegistry
from mojang_chat.chat.types import ToolCall, Usage
from mojang_chat.core.deadline import Deadline
from mojang_chat.core.statuses import RunStatus
from mojang_chat.runs import (
    ConversationCore,
    InvalidRequest,
    MessageRecord,
    NewMessage,
    RunOptions,
    RunRecord,
    StepRecord,
    StepRunner,
    ThreadLimits,
)
from tests.fakes.runs import MemoryRunStore, MemoryWorkflow
from tests.helpers import FakeClock
from tests.unit.runs.helpers import EXPIRES_SECONDS

WEATHER = {"type": "function", "function": {"name": "weather", "parameters": {"type": "object"}}}


class Model:
    """Answers each call with the next turn; keeps the user and tool texts each call saw."""

    name = "gpt-test"

    def __init__(self) -> None:
        self.turns: list[ModelTurn] = []
        self.seen: list[list[str]] = []

    def says(self, *texts: str) -> Model:
        self.turns += [ModelTurn(t, [], "stop", "gpt-test", Usage(5, 2, 7)) for t in texts]
        return self

    def calls(self, name: str) -> Model:
        call = ToolCall(f"call_{len(self.turns)}", name, "{}")
        self.turns.append(ModelTurn(None, [call], "tool_calls", "gpt-test", Usage(5, 2, 7)))
        return self

    def complete(self, messages: Sequence[dict[str, Any]], *_: Any) -> ModelTurn:
        self.seen.append(
            [str(m["content"]) for m in messages if m["role"] in ("user", "tool", "assistant")]
        )
        return self.turns.pop(0)


@pytest.fixture
def core(store: MemoryRunStore, clock: FakeClock) -> ConversationCore:
    return ConversationCore(
        store,
        MemoryWorkflow(),
        model="gpt-test",
        expires_seconds=EXPIRES_SECONDS,
        retention_seconds=86_400,
        limits=ThreadLimits(thread_max_messages=50, tool_output_max_chars=1000),
        clock=clock,
    )


def respond(
    core: ConversationCore,
    model: Model,
    text: str | None = None,
    *,
    previous: RunRecord | None = None,
    outputs: Sequence[tuple[str, str]] = (),
    tools: Sequence[dict[str, Any]] = (),
) -> RunRecord:
    run = core.create_response(
        messages=[NewMessage("user", text)] if text else [],
        outputs=outputs,
        instructions="",
        options=RunOptions(tools=list(tools)),
        previous_response_id=previous.id if previous else None,
    )
    with ThreadPoolExecutor(2) as executor:
        runner = StepRunner(
            store=core.store,
            model=model,
            tools=ToolRegistry(),
            mojang=None,  # type: ignore[arg-type]
            executor=executor,
            limits=Limits(4, 100_000, 1000, 8),
            context_tokens=100_000,
            clock=core._clock,
        )
        return runner.run_inline(run.thread_id, run.id, Deadline(30))


def texts(core: ConversationCore, thread_id: str) -> list[str]:
    return [i.text for i in core.items(thread_id) if isinstance(i, MessageRecord)]


def test_a_response_continues_its_conversation(core: ConversationCore) -> None:
    model = Model().says("a1", "a2")
    first = respond(core, model, "q1")

    second = respond(core, model, "q2", previous=first)

    assert second.thread_id == first.thread_id
    assert second.status is RunStatus.COMPLETED
    assert model.seen[1] == ["q1", "a1", "q2"]
    assert [m.text for m in core.output(second) if isinstance(m, MessageRecord)] == ["a2"]


def test_continuing_an_older_response_branches_and_leaves_the_first_line_alone(
    core: ConversationCore,
) -> None:
    model = Model().says("a1", "a2", "a3")
    first = respond(core, model, "q1")
    respond(core, model, "q2", previous=first)

    branch = respond(core, model, "q3", previous=first)

    assert branch.thread_id != first.thread_id
    assert model.seen[2] == ["q1", "a1", "q3"]
    assert texts(core, branch.thread_id) == ["q1", "a1", "q3", "a3"]
    assert texts(core, first.thread_id) == ["q1", "a1", "q2", "a2"]


def test_a_branch_off_a_response_that_ended_with_the_callers_call_answers_it_again(
    core: ConversationCore,
) -> None:
    model = Model().calls("weather").says("sunny, says the first", "rainy, says the branch")
    asked = respond(core, model, "weather?", tools=[WEATHER])
    [step] = core.output(asked)
    assert isinstance(step, StepRecord)
    [call] = step.calls
    respond(core, model, previous=asked, outputs=[(call.id, "sunny")])

    branch = respond(core, model, previous=asked, outputs=[(call.id, "rainy")])

    assert branch.thread_id != asked.thread_id
    assert model.seen[2][-1] == "rainy"
    assert "sunny" not in model.seen[2]


@pytest.mark.parametrize(
    ("outputs", "message"),
    [
        ([], "No tool output found for function call"),
        ([("call_x", "?")], "No tool call found for function call output with call_id call_x."),
    ],
)
def test_the_next_response_must_answer_each_call_exactly_once(
    core: ConversationCore, outputs: list[tuple[str, str]], message: str
) -> None:
    model = Model().calls("weather")
    asked = respond(core, model, "weather?", tools=[WEATHER])
    before = core.items(asked.thread_id)

    with pytest.raises(InvalidRequest, match=message):
        core.create_response(
            messages=[NewMessage("user", "and?")],
            outputs=outputs,
            instructions="",
            options=RunOptions(tools=[WEATHER]),
            previous_response_id=asked.id,
        )

    assert core.items(asked.thread_id) == before  # nothing written


def test_a_response_ends_with_the_callers_call_unanswered(core: ConversationCore) -> None:
    model = Model().calls("weather")

    asked = respond(core, model, "weather?", tools=[WEATHER])

    [step] = core.output(asked)
    assert asked.status is RunStatus.COMPLETED
    assert isinstance(step, StepRecord)
    assert [(c.name, c.client) for c in step.calls] == [("weather", True)]
    assert json.loads(step.calls[0].arguments) == {}
    assert step.outputs == {}
