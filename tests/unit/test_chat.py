"""The tool loop, with a scripted stand-in for the model adapter (no HTTP at all)."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from mojang_chat.chat import (
    Limits,
    ModelTurn,
    ModelUnavailable,
    ToolCall,
    ToolRegistry,
    Usage,
    build_messages,
    converse,
)
from mojang_chat.chat.loop import estimate_prompt_tokens, not_run_message
from mojang_chat.core import Deadline, RunStatus

LIMITS = Limits(
    max_tool_rounds=3,
    max_total_tokens=10_000,
    tool_output_max_chars=1000,
    max_tool_calls_per_turn=8,
)


class ScriptedModel:
    """Answers each call with the next scripted turn; records what it was sent."""

    name = "scripted"

    def __init__(self, *turns: ModelTurn | Exception) -> None:
        self.turns = list(turns)
        self.requests: list[list[dict[str, Any]]] = []

    def complete(
        self,
        messages: Sequence[dict[str, Any]],
        tools: Sequence[dict[str, Any]],
        deadline: Any,
        options: Mapping[str, Any] | None = None,
    ) -> ModelTurn:
        self.requests.append(json.loads(json.dumps(list(messages))))
        turn = self.turns.pop(0)
        if isinstance(turn, Exception):
            raise turn
        return turn


def calls(*pairs: tuple[str, dict[str, Any]]) -> ModelTurn:
    return ModelTurn(
        content=None,
        tool_calls=[
            ToolCall(f"call_{i}", name, json.dumps(args)) for i, (name, args) in enumerate(pairs)
        ],
        finish_reason="tool_calls",
        model="scripted",
        usage=Usage(10, 5, 15),
    )


def text(answer: str, finish_reason: str = "stop") -> ModelTurn:
    return ModelTurn(answer, [], finish_reason, "scripted", Usage(20, 7, 27))


def lookup_registry() -> ToolRegistry:
    registry = ToolRegistry()

    @registry.tool
    def lookup(name: str) -> dict[str, Any]:
        """Look a name up."""
        return {"name": name, "id": name[::-1]}

    return registry


def run(model: ScriptedModel, limits: Limits = LIMITS, **kwargs: Any) -> Any:
    with ThreadPoolExecutor(4) as executor:
        return converse(
            build_messages("who is bob?"),
            model=model,
            tools=lookup_registry(),
            context=None,
            executor=executor,
            limits=limits,
            deadline=Deadline(10),
            **kwargs,
        )


def test_tool_round_then_answer_goes_through_the_five_statuses() -> None:
    model = ScriptedModel(calls(("lookup", {"name": "bob"})), text("bob's id is bob reversed"))
    heard: list[RunStatus] = []
    outcome = run(model, on_status=heard.append)

    assert outcome.answer == "bob's id is bob reversed"
    assert outcome.status is RunStatus.COMPLETED
    assert outcome.statuses == [
        "queued",
        "in_progress",
        "requires_action",
        "in_progress",
        "completed",
    ]
    assert heard == outcome.statuses
    assert [r.output for r in outcome.tool_results] == [{"name": "bob", "id": "bob"[::-1]}]
    assert outcome.usage == Usage(30, 12, 42)  # summed over both calls
    # The second request carries the assistant's call and the tool's answer to it.
    second = model.requests[1]
    assert second[-2]["tool_calls"][0]["id"] == "call_0"
    assert second[-1] == {
        "role": "tool",
        "tool_call_id": "call_0",
        "content": '{"name":"bob","id":"bob"}',
    }


def test_an_answer_without_tools_skips_requires_action() -> None:
    outcome = run(ScriptedModel(text("hello")))
    assert outcome.statuses == ["queued", "in_progress", "completed"]
    assert outcome.tool_results == []


def test_the_round_cap_gives_incomplete_with_the_best_answer_so_far() -> None:
    looping = [calls(("lookup", {"name": f"n{i}"})) for i in range(4)]
    looping[1] = ModelTurn("still looking...", looping[1].tool_calls, "tool_calls", "scripted")
    model = ScriptedModel(*looping)
    outcome = run(model)

    assert outcome.status is RunStatus.INCOMPLETE
    assert outcome.incomplete_reason == "max_tool_rounds"
    assert outcome.answer == "still looking..."
    assert len(outcome.tool_results) == LIMITS.max_tool_rounds
    assert len(model.requests) == LIMITS.max_tool_rounds + 1
    assert outcome.statuses[-1] == "incomplete"


def test_the_round_cap_without_any_text_explains_itself() -> None:
    model = ScriptedModel(*[calls(("lookup", {"name": "x"})) for _ in range(4)])
    outcome = run(model)
    assert "more than 3 rounds" in outcome.answer


def budget(tokens: int) -> Limits:
    return dataclasses.replace(LIMITS, max_tool_rounds=5, max_total_tokens=tokens)


FIRST_PROMPT = estimate_prompt_tokens(build_messages("who is bob?"), lookup_registry().definitions)


def test_the_token_budget_stops_the_loop_after_a_call() -> None:
    # Given a first call that fits, and an answer that uses the whole budget
    expensive = dataclasses.replace(calls(("lookup", {"name": "x"})), usage=Usage(900, 100, 1000))
    model = ScriptedModel(expensive, calls(("lookup", {"name": "y"})))
    # When the conversation runs
    outcome = run(model, budget(FIRST_PROMPT + 500))
    # Then it stops after that call, incomplete
    assert outcome.incomplete_reason == "max_total_tokens"
    assert len(model.requests) == 1


def test_a_call_whose_prompt_would_exceed_the_budget_is_not_made() -> None:
    # Given a budget smaller than the estimate of the first prompt
    model = ScriptedModel(text("never sent"))
    # When the conversation runs
    outcome = run(model, budget(FIRST_PROMPT - 1))
    # Then the model is not called, and the answer says why
    assert model.requests == []
    assert outcome.status is RunStatus.INCOMPLETE
    assert outcome.incomplete_reason == "max_total_tokens"
    assert outcome.answer == "I could not finish: the conversation reached its token budget."
    assert outcome.model == "scripted"
    assert outcome.statuses == ["queued", "in_progress", "incomplete"]


def test_the_budget_counts_the_next_prompt_before_sending_it() -> None:
    # Given a budget the first prompt fits in, with room for less than the tool round adds
    model = ScriptedModel(calls(("lookup", {"name": "x"})), text("never sent"))
    # When the conversation runs
    outcome = run(model, budget(FIRST_PROMPT + 20))
    # Then the second call, whose prompt holds the tool round, is not made
    assert len(model.requests) == 1
    assert outcome.incomplete_reason == "max_total_tokens"


def test_the_prompt_estimate_is_a_quarter_of_its_json_characters() -> None:
    messages = [{"role": "user", "content": "x" * 4000}]
    chars = len(json.dumps(messages)) + len(json.dumps([]))
    assert estimate_prompt_tokens(messages, []) == -(-chars // 4)
    # Non-ASCII text counts by characters, not by escaped bytes
    assert estimate_prompt_tokens([{"role": "user", "content": "é" * 4000}], []) == -(-chars // 4)


def test_calls_beyond_the_per_turn_cap_are_answered_not_run() -> None:
    # Given a model that asks for 50 lookups in one turn, and a cap of 8
    many = calls(*[("lookup", {"name": f"p{n}"}) for n in range(50)])
    model = ScriptedModel(many, text("done"))
    # When the conversation runs
    outcome = run(model, dataclasses.replace(LIMITS, max_tool_calls_per_turn=8))
    # Then 8 calls ran and every one of the 50 was answered, in order
    assert outcome.status is RunStatus.COMPLETED
    tool_messages = [m for m in model.requests[1] if m["role"] == "tool"]
    assert [m["tool_call_id"] for m in tool_messages] == [f"call_{n}" for n in range(50)]
    ran = [m for m in tool_messages if '"id"' in m["content"]]
    assert [m["tool_call_id"] for m in ran] == [f"call_{n}" for n in range(8)]
    skipped = tool_messages[8:]
    assert all(json.loads(m["content"]) == {"error": not_run_message(8)} for m in skipped)
    assert len(skipped) == 42
    assert "at most 8 tool calls" in not_run_message(8)
    assert len(outcome.tool_results) == 50


def test_a_call_with_arguments_that_are_not_a_string_is_answered_not_run() -> None:
    # Given a call the model adapter found malformed, beside a good one
    bad = ToolCall("c1", "lookup", '{"name": "x"}', problem="the arguments must be a string")
    good = ToolCall("c2", "lookup", '{"name": "y"}')
    model = ScriptedModel(ModelTurn(None, [bad, good], "tool_calls", "scripted"), text("ok"))
    # When the conversation runs
    run(model)
    # Then the model reads the problem for the first, the output for the second
    first, second = [m for m in model.requests[1] if m["role"] == "tool"]
    assert json.loads(first["content"]) == {"error": "the arguments must be a string"}
    assert json.loads(second["content"]) == {"name": "y", "id": "y"}


def test_an_answer_cut_by_the_length_limit_is_incomplete() -> None:
    outcome = run(ScriptedModel(text("The UUID of bob is 12", finish_reason="length")))
    assert outcome.status is RunStatus.INCOMPLETE
    assert outcome.incomplete_reason == "max_completion_tokens"
    assert outcome.answer == "The UUID of bob is 12"


def test_bad_tool_calls_go_back_to_the_model_and_the_loop_goes_on() -> None:
    broken = ModelTurn(
        None,
        [ToolCall("c1", "lookup", "{oops"), ToolCall("c2", "nope", "{}")],
        "tool_calls",
        "scripted",
    )
    model = ScriptedModel(broken, text("sorry, I could not look that up"))
    outcome = run(model)
    assert outcome.status is RunStatus.COMPLETED
    tool_messages = [m for m in model.requests[1] if m["role"] == "tool"]
    assert [m["tool_call_id"] for m in tool_messages] == ["c1", "c2"]
    assert "not valid JSON" in tool_messages[0]["content"]
    assert "no tool named 'nope'" in tool_messages[1]["content"]


def test_model_errors_propagate_for_the_api_to_map() -> None:
    with pytest.raises(ModelUnavailable):
        run(ScriptedModel(ModelUnavailable("down")))


def test_history_can_only_hold_user_and_assistant_text() -> None:
    messages = build_messages("and now?", [("user", "hi"), ("assistant", "hello")])
    assert [m["role"] for m in messages] == ["system", "user", "assistant", "user"]
    assert messages[-1]["content"] == "and now?"


def test_an_empty_answer_says_so_without_blaming_a_limit() -> None:
    outcome = run(ScriptedModel(ModelTurn(None, [], "stop", "scripted")))
    assert outcome.status is RunStatus.COMPLETED
    assert "length limit" not in outcome.answer
    assert outcome.answer == "I have no answer to that (the model said nothing)."
