"""The workflow's steps bound to what they run with: one at a time (the workflow's Lambda
tasks, ``wiring.run_step``), or all in a row within one request (a response that is not
``background``: the server's tool calls of a round concurrently), so that a response has the
same records whichever way it ran.

Whatever ends the loop early (the model's errors, the deadline, the cost guard) ends the run
``failed`` first, as the workflow's ``Catch`` would: no run is left open by a request.
"""

from __future__ import annotations

import time
from concurrent.futures import Executor
from dataclasses import dataclass

from mojang_chat.chat.loop import Limits
from mojang_chat.chat.model import ChatModel
from mojang_chat.chat.registry import ToolRegistry
from mojang_chat.core.deadline import Deadline
from mojang_chat.guard import Guard
from mojang_chat.mojang.client import MojangClient
from mojang_chat.runs.failures import Failure
from mojang_chat.runs.records import Clock, RunRecord
from mojang_chat.runs.steps import (
    StepOutcome,
    ToolOutcome,
    ToolStep,
    fail_step,
    model_step,
    tool_step,
)
from mojang_chat.runs.store import RunStore


@dataclass(frozen=True)
class StepRunner:
    """What the workflow's steps run with: the store, the model (metered by the cost guard),
    the server's tools and the Mojang adapter they call, and the bounds of a run."""

    store: RunStore
    model: ChatModel
    tools: ToolRegistry
    mojang: MojangClient
    executor: Executor
    limits: Limits
    context_tokens: int
    guard: Guard | None = None
    clock: Clock = time.time

    def run_inline(self, thread_id: str, run_id: str, deadline: Deadline) -> RunRecord:
        """Run the run to its end in this process; its record as it ended. Raises what
        failed it, once the run is ``failed``."""
        try:
            self._loop(thread_id, run_id, deadline)
        except Exception as error:
            fail_step(thread_id, run_id, Failure.of(error), store=self.store, clock=self.clock)
            raise
        ended = self.store.get_run(thread_id, run_id, consistent=True)
        assert ended is not None
        return ended

    def model_step(self, thread_id: str, run_id: str, deadline: Deadline) -> StepOutcome:
        return model_step(
            thread_id,
            run_id,
            store=self.store,
            model=self.model,
            tools=self.tools,
            limits=self.limits,
            context_tokens=self.context_tokens,
            deadline=deadline,
            guard=self.guard,
            clock=self.clock,
        )

    def tool_step(self, step: ToolStep, deadline: Deadline) -> ToolOutcome:
        return tool_step(
            step,
            store=self.store,
            mojang=self.mojang,
            tools=self.tools,
            max_chars=self.limits.tool_output_max_chars,
            deadline=deadline,
            clock=self.clock,
        )

    def _loop(self, thread_id: str, run_id: str, deadline: Deadline) -> None:
        while True:
            outcome = self.model_step(thread_id, run_id, deadline)
            if outcome.status.terminal or outcome.step_id is None:
                return
            step_id = outcome.step_id
            steps = [
                ToolStep(
                    step="tool", thread_id=thread_id, run_id=run_id, step_id=step_id, tool_call=call
                )
                for call in outcome.tool_calls
            ]
            list(self.executor.map(lambda step: self.tool_step(step, deadline), steps))
