"""What the model is sent for a run: the server's prompt, the run's instructions, then the
thread's items as Chat Completions messages, oldest first, as many as the context allows.

A thread is stored as items (messages, and steps holding the model's tool calls with their
outputs); this rebuilds the conversation from them, so the model sees earlier lookups too. The
oldest items are left out first when they would not fit in ``context_tokens`` (as OpenAI's
``truncation_strategy`` ``auto`` does); the current run's items and the question always go.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from mojang_chat.chat.loop import SYSTEM_PROMPT, estimate_prompt_tokens, tool_messages
from mojang_chat.runs.records import MessageRecord, RunRecord, StepRecord, order_key

Item = MessageRecord | StepRecord


def system_messages(run: RunRecord) -> list[dict[str, Any]]:
    """The system messages: the server's prompt, then the run's instructions."""
    messages: list[dict[str, Any]] = [{"role": "system", "content": SYSTEM_PROMPT}]
    if run.instructions:
        messages.append({"role": "system", "content": run.instructions})
    return messages


def item_messages(item: Item) -> list[dict[str, Any]]:
    """An item as the messages the model reads: a message as itself; a tool calls step as
    the model's turn that asked for them and one ``tool`` message per output. A step some of
    whose calls never got an output (its run ended first) and a message creation step (its
    message is an item of its own) are nothing."""
    if isinstance(item, MessageRecord):
        return [{"role": item.role, "content": item.text}]
    if item.type != "tool_calls" or not item.calls or not item.answered:
        return []
    turn = {
        "role": "assistant",
        "content": item.text,
        "tool_calls": [
            {
                "id": call.id,
                "type": "function",
                "function": {"name": call.name, "arguments": call.arguments},
            }
            for call in item.calls
        ],
    }
    return [turn, *tool_messages((call.id, item.outputs[call.id]) for call in item.calls)]


def model_messages(
    run: RunRecord,
    history: Sequence[Item],
    *,
    context_tokens: int,
) -> list[dict[str, Any]]:
    """The messages of one model call of ``run`` (``history``: the thread's items, oldest
    first). Items created for the run, and the last message before it, are always sent; the
    earlier ones, newest first, while they fit in ``context_tokens`` and, when the run says
    so, in its ``last_messages``."""
    start = order_key(run.id)
    earlier = [item for item in history if order_key(item.id) < start]
    current = [item for item in history if order_key(item.id) >= start]
    # The question (the newest message before the run) goes with the run's own items.
    while earlier:
        last = earlier[-1]
        if not isinstance(last, MessageRecord):
            break
        current.insert(0, earlier.pop())
        if last.role == "user":
            break
    system = system_messages(run)
    kept = [m for item in current for m in item_messages(item)]
    budget = context_tokens - estimate_prompt_tokens(system + kept, ())
    messages_left = run.last_messages
    older: list[list[dict[str, Any]]] = []
    for item in reversed(earlier):
        if messages_left is not None and isinstance(item, MessageRecord):
            if messages_left <= 0:
                break
            messages_left -= 1
        messages = item_messages(item)
        if not messages:
            continue
        cost = estimate_prompt_tokens(messages, ())
        if cost > budget:
            break
        budget -= cost
        older.append(messages)
    return system + [m for messages in reversed(older) for m in messages] + kept
