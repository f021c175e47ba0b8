"""The tasks of the runs workflow (functions/run_workflow.asl.json): one model call, one tool
call, the wait for the caller's tool outputs, and the ending of a failed run. The workflow is
the loop; these are the steps of the very same loop that ``chat.converse`` runs in one request
(``Model.complete``, ``ToolRegistry.run``, ``chat.turn_outcome``), with the run record and the
thread's items as the state between them.

Each step takes typed inputs and returns a typed outcome; they become JSON only at the Lambda
boundary (``wiring.run_step``), and an inline run calls them as they are (``runs.runner``).

Every step is safe to run twice (the workflow retries transient Lambda errors): it reads the
record first and does nothing that the record says was done.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from mojang_chat.chat.loop import (
    Limits,
    calls_to_run,
    final_answer,
    offer,
    over_budget,
    turn_outcome,
)
from mojang_chat.chat.model import MIN_CALL_SECONDS, ChatModel, ModelTurn, call_options
from mojang_chat.chat.registry import ToolRegistry
from mojang_chat.chat.types import ToolCall, Usage
from mojang_chat.core.deadline import Deadline, DeadlineExceeded
from mojang_chat.core.observability import logger
from mojang_chat.core.statuses import RunStatus
from mojang_chat.guard import UNKNOWN_CLIENT, Guard
from mojang_chat.mojang.client import MojangClient
from mojang_chat.mojang.tools import ToolContext
from mojang_chat.runs.errors import NotFound
from mojang_chat.runs.failures import CaughtError, Failure
from mojang_chat.runs.prompt import model_messages
from mojang_chat.runs.records import (
    Clock,
    FunctionCallRecord,
    MessageRecord,
    RunRecord,
    StepCall,
    StepRecord,
    ToolCallRecord,
    new_id,
)
from mojang_chat.runs.store import RunStore, transition

# The wait for the caller outlasts the run's expires_at by this much.
_WAIT_MARGIN_SECONDS = 2


class ModelStep(BaseModel):
    """Call the model once for the run."""

    model_config = ConfigDict(extra="ignore")
    step: Literal["model"]
    thread_id: str
    run_id: str


class ToolStep(BaseModel):
    """Run one of the server's tool calls the run's current step holds."""

    model_config = ConfigDict(extra="ignore")
    step: Literal["tool"]
    thread_id: str
    run_id: str
    step_id: str
    tool_call: ToolCallRecord


class WaitStep(BaseModel):
    """The workflow waits for the caller's tool outputs: keep its task token with the run."""

    model_config = ConfigDict(extra="ignore")
    step: Literal["wait"]
    thread_id: str
    run_id: str
    task_token: str


class FailStep(BaseModel):
    """End the run ``failed`` with the error the workflow caught."""

    model_config = ConfigDict(extra="ignore")
    step: Literal["fail"]
    thread_id: str
    run_id: str
    error: CaughtError


class RunNotWaiting(RuntimeError):
    """The run no longer waits for the caller (it was cancelled, or has ended): the workflow
    goes on to the model step, which ends the run as its record says."""


AnyStep = ModelStep | ToolStep | WaitStep | FailStep


StepInput = Annotated[AnyStep, Field(discriminator="step")]
# What a workflow's event is read as: the step it names.
step_input: TypeAdapter[AnyStep] = TypeAdapter(StepInput)


class StepOutcome(BaseModel):
    """What the workflow's Choice states read after a model step: the run's status, the
    server's calls to map over, and whether the caller's calls are to be waited for after
    them (and for how long: until the run expires, and a moment more, so that the model step
    that follows a timeout finds it expired)."""

    status: RunStatus
    step_id: str | None
    tool_calls: list[ToolCallRecord]
    waits: bool
    wait_seconds: int


class ToolOutcome(BaseModel):
    """Whether a tool step ran its call (a run that no longer waits for it is left alone)."""

    tool_call_id: str
    ran: bool


class WaitOutcome(BaseModel):
    status: RunStatus


def outcome(run: RunRecord) -> StepOutcome:
    """The outcome that the run, as it now stands, gives the workflow."""
    return StepOutcome(
        status=run.status,
        step_id=run.step_id,
        tool_calls=list(run.server_calls),
        waits=bool(run.client_calls) and run.waits_for_outputs and not run.status.terminal,
        wait_seconds=max(1, (run.expires_at or 0) - int(time.time()) + _WAIT_MARGIN_SECONDS),
    )


def _load(store: RunStore, thread_id: str, run_id: str) -> RunRecord:
    run = store.get_run(thread_id, run_id, consistent=True)
    if run is None:
        raise NotFound("run", run_id)
    return run


def _ended(run: RunRecord, store: RunStore, now: int) -> RunRecord | None:
    """The run, ended if it must end before any more work: it ended already, a client is
    cancelling it, or it has expired. None when the work may go on."""
    if run.status.terminal:
        return run
    change: Callable[[RunRecord], RunRecord | None] | None = None
    if run.status is RunStatus.CANCELLING:
        change = lambda r: r.finished(RunStatus.CANCELLED, now)  # noqa: E731
    elif run.expires_at is not None and now >= run.expires_at:
        change = lambda r: r.finished(RunStatus.EXPIRED, now)  # noqa: E731
    if change is None:
        return None
    return transition(store, run.thread_id, run.id, change)


def offered_tools(run: RunRecord, server: ToolRegistry) -> tuple[list[dict[str, Any]], set[str]]:
    """The tools the model is offered for the run, and the names of the caller's among them
    (its function tools; see ``chat.loop.offer``)."""
    return offer(server, [tool for tool in run.tools if tool.get("type") == "function"])


def model_step(
    thread_id: str,
    run_id: str,
    *,
    store: RunStore,
    model: ChatModel,
    tools: ToolRegistry,
    limits: Limits,
    context_tokens: int,
    deadline: Deadline,
    guard: Guard | None = None,
    clock: Clock = time.time,
) -> StepOutcome:
    """One model call for the run: a tool calls step (the server's calls to run, the
    caller's to wait for), or the run's end (``completed``, ``incomplete``, ``expired``,
    ``cancelled``). Raises the model adapter's errors, and the ``guard``'s refusal of the
    call, which the workflow catches into ``failed``; the call's tokens count against the
    run's client."""
    run = _load(store, thread_id, run_id)
    ended = _ended(run, store, int(clock()))
    if ended is not None:
        return outcome(ended)
    history = store.history(thread_id)
    in_flight = _round_in_flight(run, history, store, int(clock()))
    if in_flight is not None:
        return outcome(in_flight)
    run = transition(store, thread_id, run_id, lambda r: r.started(int(clock())))
    if run.status is not RunStatus.IN_PROGRESS:
        return outcome(_ended(run, store, int(clock())) or run)

    assert run.expires_at is not None  # an open run always has one
    if guard is not None:
        model = guard.metered(model, run.client or UNKNOWN_CLIENT)
    try:
        after, items = _turn(
            run,
            history,
            model=model,
            tools=tools,
            limits=limits,
            context_tokens=context_tokens,
            deadline=deadline.within(run.expires_at - clock()),
            now=lambda: int(clock()),
        )
    except DeadlineExceeded:
        if clock() + MIN_CALL_SECONDS < run.expires_at:
            raise
        now = int(clock())
        return outcome(
            transition(store, thread_id, run_id, lambda r: r.finished(RunStatus.EXPIRED, now))
        )
    if not store.save_turn(after, run.version, items):
        # The run changed while the model answered (a cancel): the answer is dropped.
        logger.info("run changed during the model call", extra={"run_id": run_id})
        latest = _ended(_load(store, thread_id, run_id), store, int(clock()))
        if latest is None:
            raise RuntimeError(f"run {run_id} changed during the model call")
        return outcome(latest)
    return outcome(after)


def _round_in_flight(
    run: RunRecord, history: Sequence[MessageRecord | StepRecord], store: RunStore, now: int
) -> RunRecord | None:
    """The run, when its tool round is still open (a retried step finds the tools yet to run:
    nothing to do yet), or ended when only the caller's calls are left and the run does not
    wait for them (a response ends with them, for its next response to answer). None when
    the model is to be called."""
    if run.step_id is None or run.status is not RunStatus.IN_PROGRESS:
        return None
    current = next((i for i in history if i.id == run.step_id), None)
    if not isinstance(current, StepRecord) or current.answered:
        return None
    theirs = {call.id for call in run.client_calls}
    left = {call.id for call in current.calls if call.id not in current.outputs}
    if left <= theirs and not run.waits_for_outputs:
        return transition(
            store, run.thread_id, run.id, lambda r: r.finished(RunStatus.COMPLETED, now)
        )
    return run


def _turn(
    run: RunRecord,
    history: Sequence[MessageRecord | StepRecord],
    *,
    model: ChatModel,
    tools: ToolRegistry,
    limits: Limits,
    context_tokens: int,
    deadline: Deadline,
    now: Callable[[], int],
) -> tuple[RunRecord, list[MessageRecord | StepRecord]]:
    """The run after one model call (or after the call it may not make: one that would take
    it past its token budget), and the items the call made."""
    definitions, client_names = offered_tools(run, tools)
    messages = model_messages(run, history, context_tokens=context_tokens)
    last_text = _last_text_since_question(messages)
    budget = limits
    if run.max_prompt_tokens is not None:
        budget = replace(
            limits, max_total_tokens=min(limits.max_total_tokens, run.max_prompt_tokens)
        )
    after: RunRecord | None
    if over_budget(messages, definitions, run.tokens, budget):
        answer = final_answer(None, last_text, "max_total_tokens", limits)
        at = now()
        after = run.finished(RunStatus.INCOMPLETE, at, incomplete_reason="max_total_tokens")
        items = _answer(answer, run, at, complete=False, usage=None)
    else:
        options = call_options(run.tool_choice, run.parallel_tool_calls, run.max_completion_tokens)
        turn = model.complete(messages, definitions, deadline, options)
        tokens = run.tokens + turn.usage
        status, reason = turn_outcome(turn, rounds=run.rounds, usage=tokens, limits=budget)
        at = now()
        if status is RunStatus.REQUIRES_ACTION:
            step, server, client = _tool_calls_step(run, turn, client_names, limits, at)
            after = run.calling_tools(step.id, server, client, tokens)
            items = [step]
        else:
            after = run.finished(status, at, tokens=tokens, incomplete_reason=reason)
            answer = final_answer(turn, last_text, reason, limits)
            complete = status is RunStatus.COMPLETED
            items = _answer(answer, run, at, complete=complete, usage=turn.usage)
    assert after is not None  # the run is in_progress
    return after, items


def _tool_calls_step(
    run: RunRecord, turn: ModelTurn, client_names: set[str], limits: Limits, now: int
) -> tuple[StepRecord, list[ToolCallRecord], list[ToolCallRecord]]:
    """The step of one turn's tool calls, with the outputs of those answered at once (over
    the per-turn cap, malformed), and the calls the server runs and the caller must answer."""
    runnable, answered = calls_to_run(turn.tool_calls, limits)
    max_chars = limits.tool_output_max_chars
    server: list[ToolCallRecord] = []
    client: list[ToolCallRecord] = []
    for call in runnable:
        record = ToolCallRecord(
            id=call.id, function=FunctionCallRecord(name=call.name, arguments=call.arguments)
        )
        (client if call.name in client_names else server).append(record)
    client_ids = {call.id for call in client}
    step = _step(
        run,
        now,
        type="tool_calls",
        calls=[
            StepCall(id=c.id, name=c.name, arguments=c.arguments, client=c.id in client_ids)
            for c in turn.tool_calls
        ],
        outputs={r.call.id: r.content(max_chars) for r in answered.values()},
        text=turn.content,
        usage=turn.usage,
    )
    return step, server, client


def _step(run: RunRecord, now: int, **details: Any) -> StepRecord:
    """A new step of the run, made ``now``."""
    return StepRecord(
        id=new_id("step"),
        run_id=run.id,
        thread_id=run.thread_id,
        assistant_id=run.assistant_id,
        created_at=now,
        ttl=run.ttl,
        **details,
    )


def _last_text_since_question(conversation: Sequence[Mapping[str, Any]]) -> str | None:
    """The last text the model wrote for the current question: the answer of an incomplete
    run (never an earlier answer that the client sent back as history)."""
    for message in reversed(conversation):
        if message["role"] == "user":
            return None
        if message["role"] == "assistant" and message.get("content"):
            return str(message["content"])
    return None


def _answer(
    text: str, run: RunRecord, now: int, *, complete: bool, usage: Usage | None
) -> list[MessageRecord | StepRecord]:
    """The assistant's message that ends a run, and the message creation step that made it."""
    message = MessageRecord(
        id=new_id("msg"),
        thread_id=run.thread_id,
        created_at=now,
        role="assistant",
        text=text,
        status="completed" if complete else "incomplete",
        completed_at=now if complete else None,
        incomplete_at=None if complete else now,
        assistant_id=run.assistant_id,
        run_id=run.id,
        ttl=run.ttl,
    )
    step = _step(
        run, now, type="message_creation", message_id=message.id, usage=usage, completed_at=now
    )
    return [message, step]


def tool_step(
    step: ToolStep,
    *,
    store: RunStore,
    mojang: MojangClient,
    tools: ToolRegistry,
    max_chars: int,
    deadline: Deadline,
    clock: Clock = time.time,
) -> ToolOutcome:
    """Run one of the server's tool calls of the run and record its output on the step. A run
    that no longer waits for this call (cancelled, expired) is left alone."""
    run = _load(store, step.thread_id, step.run_id)
    call = step.tool_call
    if (
        run.status is not RunStatus.IN_PROGRESS
        or run.step_id != step.step_id
        or call.id not in {c.id for c in run.server_calls}
    ):
        return ToolOutcome(tool_call_id=call.id, ran=False)
    assert run.expires_at is not None
    deadline = deadline.within(run.expires_at - clock())
    result = tools.run(
        ToolCall(id=call.id, name=call.function.name, arguments=call.function.arguments),
        ToolContext(mojang=mojang, deadline=deadline),
    )
    store.save_outputs(run.thread_id, run.id, step.step_id, {call.id: result.content(max_chars)})
    return ToolOutcome(tool_call_id=call.id, ran=True)


def wait_step(step: WaitStep, *, store: RunStore) -> WaitOutcome:
    """Keep the workflow's task token with the run, which now ``requires_action``; the
    caller's ``submit_tool_outputs`` resumes the workflow with it. A run that no longer waits
    raises ``RunNotWaiting`` (the workflow then lets the model step end it)."""
    run = transition(store, step.thread_id, step.run_id, lambda r: r.waiting(step.task_token))
    if run.status is not RunStatus.REQUIRES_ACTION or run.task_token != step.task_token:
        raise RunNotWaiting(f"run {run.id} is {run.status.value}")
    return WaitOutcome(status=run.status)


def fail_step(
    thread_id: str,
    run_id: str,
    failure: Failure,
    *,
    store: RunStore,
    clock: Clock = time.time,
) -> StepOutcome:
    """End the run ``failed`` with the ``last_error`` of ``failure``: a model that kept
    rate-limiting, or the cost guard, is ``rate_limit_exceeded``, anything else
    ``server_error``."""
    last_error = failure.last_error()
    # Why, for whoever reads the log: where the task failed (its stack trace's frames, never
    # the message, which may quote an upstream), and what the caller is told.
    why = {"error": failure.name, "failed_at": failure.frames, "last_error": last_error.message}
    logger.warning("run failed", extra={"run_id": run_id, **why})
    now = int(clock())
    run = transition(
        store,
        thread_id,
        run_id,
        lambda r: r.finished(RunStatus.FAILED, now, last_error=last_error),
    )
    return outcome(run)
