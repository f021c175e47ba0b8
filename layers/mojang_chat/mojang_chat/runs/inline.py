"""A run answered within one request (a response that is not ``background``): the workflow's
own steps, run in this process one after the other, the server's tool calls of a round
concurrently, so that a response has the same records whichever way it ran.

Whatever ends the loop early (the model's errors, the deadline, the cost guard) ends the run
``failed`` first, as the workflow's ``Catch`` would: no run is left open by a request.
"""

from __future__ import annotations

import json
import time
from concurrent.futures import Executor

from mojang_chat.chat.loop import Limits
from mojang_chat.chat.model import ChatModel
from mojang_chat.chat.registry import ToolRegistry
from mojang_chat.core.deadline import Deadline
from mojang_chat.core.statuses import RunStatus
from mojang_chat.guard import Guard
from mojang_chat.mojang.client import MojangClient
from mojang_chat.runs.records import Clock, RunRecord, ToolCallRecord
from mojang_chat.runs.steps import CaughtError, ToolStep, fail_step, model_step, tool_step
from mojang_chat.runs.store import RunStore


def run_inline(
    thread_id: str,
    run_id: str,
    *,
    store: RunStore,
    model: ChatModel,
    tools: ToolRegistry,
    mojang: MojangClient,
    executor: Executor,
    limits: Limits,
    context_tokens: int,
    deadline: Deadline,
    guard: Guard | None = None,
    clock: Clock = time.time,
) -> RunRecord:
    """Run the run to its end in this process; its record as it ended. Raises what failed
    it, once the run is ``failed``."""
    try:
        while True:
            outcome = model_step(
                thread_id,
                run_id,
                store=store,
                model=model,
                tools=tools,
                limits=limits,
                context_tokens=context_tokens,
                deadline=deadline,
                guard=guard,
                clock=clock,
            )
            if RunStatus(outcome["status"]).terminal:
                break
            steps = [
                ToolStep(
                    step="tool",
                    thread_id=thread_id,
                    run_id=run_id,
                    step_id=outcome["step_id"],
                    tool_call=ToolCallRecord.model_validate(call),
                )
                for call in outcome["tool_calls"]
            ]
            list(
                executor.map(
                    lambda step: tool_step(
                        step,
                        store=store,
                        mojang=mojang,
                        tools=tools,
                        max_chars=limits.tool_output_max_chars,
                        deadline=deadline,
                        clock=clock,
                    ),
                    steps,
                )
            )
    except Exception as error:
        cause = json.dumps({"errorMessage": str(error), "errorType": type(error).__name__})
        fail_step(
            thread_id,
            run_id,
            CaughtError(Error=type(error).__name__, Cause=cause),
            store=store,
            clock=clock,
        )
        raise
    ended = store.get_run(thread_id, run_id, consistent=True)
    assert ended is not None
    return ended
