"""What the model is sent for a run: rebuilt from the thread's items, the newest kept when the
history is longer than the context allows."""

from __future__ import annotations

from typing import Literal

from mojang_chat.chat.loop import SYSTEM_PROMPT, estimate_prompt_tokens
from mojang_chat.core.statuses import RunStatus
from mojang_chat.runs.prompt import model_messages
from mojang_chat.runs.records import (
    MessageRecord,
    RunRecord,
    StepCall,
    StepRecord,
    new_id,
)

THREAD = "thread_" + "t" * 24


def message(role: Literal["user", "assistant"], text: str) -> MessageRecord:
    return MessageRecord(
        id=new_id("msg"), thread_id=THREAD, created_at=1, role=role, text=text, ttl=9
    )


def tool_step(run: RunRecord, outputs: dict[str, str], text: str | None = None) -> StepRecord:
    return StepRecord(
        id=new_id("step"),
        run_id=run.id,
        thread_id=THREAD,
        assistant_id="asst_default",
        created_at=1,
        type="tool_calls",
        calls=[StepCall(id="call_1", name="lookup", arguments='{"name":"bob"}')],
        outputs=outputs,
        text=text,
        ttl=9,
    )


def a_run(instructions: str = "", last_messages: int | None = None) -> RunRecord:
    return RunRecord(
        id=new_id("run"),
        thread_id=THREAD,
        assistant_id="asst_default",
        created_at=1,
        status=RunStatus.IN_PROGRESS,
        model="gpt-test",
        instructions=instructions,
        last_messages=last_messages,
        expires_at=600,
        ttl=9,
    )


def test_the_servers_prompt_then_the_runs_instructions_then_the_items() -> None:
    question = message("user", "who is bob?")
    run = a_run("Address the user as Johnny Appleseed.")
    step = tool_step(run, {"call_1": '{"id":"b0b"}'}, text="Looking.")

    sent = model_messages(run, [question, step], context_tokens=10_000)

    assert sent == [
        {"role": "system", "content": SYSTEM_PROMPT},
        {"role": "system", "content": "Address the user as Johnny Appleseed."},
        {"role": "user", "content": "who is bob?"},
        {
            "role": "assistant",
            "content": "Looking.",
            "tool_calls": [
                {
                    "id": "call_1",
                    "type": "function",
                    "function": {"name": "lookup", "arguments": '{"name":"bob"}'},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "call_1", "content": '{"id":"b0b"}'},
    ]


def test_earlier_runs_lookups_are_sent_but_never_an_unanswered_call() -> None:
    earlier = a_run()
    answered = tool_step(earlier, {"call_1": "{}"})
    cut_short = tool_step(earlier, {})  # its run was cancelled before the output came
    history: list[MessageRecord | StepRecord] = [
        message("user", "who?"),
        answered,
        cut_short,
        message("user", "and bob?"),
    ]

    sent = model_messages(a_run(), history, context_tokens=10_000)

    assert [m["role"] for m in sent] == ["system", "user", "assistant", "tool", "user"]


def test_the_oldest_items_are_left_out_when_the_history_is_too_long() -> None:
    history = [
        message("user" if i % 2 == 0 else "assistant", f"{i:03d} " + "x" * 396) for i in range(40)
    ]
    history.append(message("user", "the question"))
    budget = 2_000

    sent = model_messages(a_run(), history, context_tokens=budget)

    # The newest that fit, then the question; never more than the budget
    assert sent[-1] == {"role": "user", "content": "the question"}
    kept = [m["content"][:3] for m in sent[1:-1]]
    assert kept == sorted(kept)
    assert kept[-1] == "039"
    assert 0 < len(kept) < 40
    assert estimate_prompt_tokens(sent, ()) <= budget


def test_the_run_and_its_question_are_sent_whatever_the_budget() -> None:
    old = message("user", "old")
    run_question = message("user", "q" * 8_000)
    run = a_run()
    step = tool_step(run, {"call_1": "y" * 8_000})

    sent = model_messages(run, [old, run_question, step], context_tokens=1_000)

    assert [m["role"] for m in sent] == ["system", "user", "assistant", "tool"]


def test_last_messages_bounds_the_earlier_messages_sent() -> None:
    history = [message("user", str(i)) for i in range(6)]

    sent = model_messages(a_run(last_messages=2), history, context_tokens=10_000)

    assert [m["content"] for m in sent[1:]] == ["3", "4", "5"]
