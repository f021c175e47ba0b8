"""The tasks of the runs workflow (functions/run_workflow.asl.json): one model call, one tool
call, the wait for the caller's tool outputs, and the ending of a failed run. The workflow is
the loop; these are the steps of the very same loop that ``chat.converse`` runs in one request
(``Model.complete``, ``ToolRegistry.run``, ``chat.turn_outcome``), with the run record and the
thread's items as the state between them.

Every step is safe to run twice (the workflow retries transient Lambda errors): it reads the
record first and does nothing that the record says was done.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from mojang_chat import container
from mojang_chat.chat.loop import (
    IncompleteReason,
    Limits,
    calls_to_run,
    final_answer,
    offer,
    over_budget,
    turn_outcome,
)
from mojang_chat.chat.model import (
    MIN_CALL_SECONDS,
    ChatModel,
    ModelFailed,
    ModelRateLimited,
    ModelTurn,
    ModelUnavailable,
    ModelUnreachable,
)
from mojang_chat.chat.registry import ToolRegistry
from mojang_chat.chat.types import ToolCall, Usage
from mojang_chat.core.deadline import Deadline, DeadlineExceeded, LambdaContextLike
from mojang_chat.core.observability import logger
from mojang_chat.core.settings import ConfigurationError, ModelNotConfigured, get_settings
from mojang_chat.core.statuses import RunStatus
from mojang_chat.guard import UNKNOWN_CLIENT, BudgetExhausted, ClientLimited, Guard
from mojang_chat.mojang.client import MojangClient
from mojang_chat.mojang.tools import ToolContext, mojang_tools
from mojang_chat.runs.conversation import conversation as runs_conversation
from mojang_chat.runs.errors import NotFound
from mojang_chat.runs.records import (
    CalledFunction,
    Clock,
    ErrorCode,
    LastError,
    MessageRecord,
    RunRecord,
    StepCall,
    StepRecord,
    ToolCallRecord,
    new_id,
)
from mojang_chat.runs.store import RunStore, transition

# Errors whose messages are written for callers (see ``chat.model.ModelError``); any other error's
# message may carry internals, so the run shows only its name (the name Lambda reports, and the
# workflow's Catch passes on, is the class's).
_READABLE_ERRORS = frozenset(
    error.__name__
    for error in (
        ModelRateLimited,
        ModelUnavailable,
        ModelUnreachable,
        ModelFailed,
        ModelNotConfigured,
        ConfigurationError,
        DeadlineExceeded,
        ClientLimited,
        BudgetExhausted,
    )
)
# What ends a run ``rate_limit_exceeded`` (OpenAI's code) rather than ``server_error``: a model
# that kept throttling, or the cost guard refusing the next model call.
_RATE_LIMIT_ERRORS = frozenset(
    error.__name__ for error in (ModelRateLimited, ClientLimited, BudgetExhausted)
)


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


class CaughtError(BaseModel):
    """What a ``Catch`` puts at its ResultPath: the error's name and its cause."""

    Error: str
    Cause: str | None = None


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
_step_input: TypeAdapter[AnyStep] = TypeAdapter(StepInput)


def run_step(event: Mapping[str, Any], context: LambdaContextLike | None) -> dict[str, Any]:
    """Run the step an event of the workflow names, with this container's clients."""
    step = _step_input.validate_python(event)
    settings = get_settings()
    store = container.run_store()
    deadline = Deadline.for_request(
        context, cap=settings.request_deadline_seconds, margin=settings.deadline_margin_seconds
    )
    if isinstance(step, ModelStep):
        return model_step(
            step.thread_id,
            step.run_id,
            store=store,
            model=container.model(),
            tools=mojang_tools,
            limits=container.limits(),
            context_tokens=settings.max_context_tokens,
            deadline=deadline,
            guard=container.guard(),
        )
    if isinstance(step, ToolStep):
        return tool_step(
            step,
            store=store,
            mojang=container.mojang(),
            tools=mojang_tools,
            max_chars=settings.tool_output_max_chars,
            deadline=deadline,
        )
    if isinstance(step, WaitStep):
        return wait_step(step, store=store)
    return fail_step(step.thread_id, step.run_id, step.error, store=store)


def _outcome(run: RunRecord) -> dict[str, Any]:
    """What the workflow's Choice states read: the status, the server's calls to map over, and
    whether the caller's calls are to be waited for after them."""
    return {
        "status": run.status.value,
        "step_id": run.step_id,
        "tool_calls": [call.model_dump(mode="json") for call in run.server_calls],
        "waits": bool(run.client_calls) and run.waits_for_outputs and not run.status.terminal,
        # How long the wait for the caller may last: until the run expires (and a moment
        # more, so that the model step that follows a timeout finds it expired).
        "wait_seconds": max(1, (run.expires_at or 0) - int(time.time()) + _WAIT_MARGIN_SECONDS),
    }


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
) -> dict[str, Any]:
    """One model call for the run: a tool calls step (the server's calls to run, the
    caller's to wait for), or the run's end (``completed``, ``incomplete``, ``expired``,
    ``cancelled``). Raises the model adapter's errors, and the ``guard``'s refusal of the
    call, which the workflow catches into ``failed``; the call's tokens count against the
    run's client."""
    run = _load(store, thread_id, run_id)
    ended = _ended(run, store, int(clock()))
    if ended is not None:
        return _outcome(ended)
    history = store.history(thread_id)
    if run.step_id is not None and run.status is RunStatus.IN_PROGRESS:
        current = next((i for i in history if i.id == run.step_id), None)
        if isinstance(current, StepRecord) and not current.answered:
            theirs = {call.id for call in run.client_calls}
            left = {call.id for call in current.calls if call.id not in current.outputs}
            if left <= theirs and not run.waits_for_outputs:
                # A response ends with the caller's calls, for its next response to answer.
                now = int(clock())
                done = transition(
                    store, thread_id, run_id, lambda r: r.finished(RunStatus.COMPLETED, now)
                )
                return _outcome(done)
            # The tools of this round have yet to run (a retried step): nothing to do yet.
            return _outcome(run)
    run = transition(store, thread_id, run_id, lambda r: r.started(int(clock())))
    if run.status is not RunStatus.IN_PROGRESS:
        return _outcome(_ended(run, store, int(clock())) or run)

    assert run.expires_at is not None  # an open run always has one
    deadline = deadline.within(run.expires_at - clock())
    if guard is not None:
        model = guard.metered(model, run.client or UNKNOWN_CLIENT)
    definitions, client_names = offered_tools(run, tools)
    conversation = runs_conversation(run, history, context_tokens=context_tokens)
    last_text = _last_text_since_question(conversation)
    items: list[MessageRecord | StepRecord] = []
    budget = limits
    if run.max_prompt_tokens is not None:
        budget = replace(
            limits, max_total_tokens=min(limits.max_total_tokens, run.max_prompt_tokens)
        )
    if over_budget(conversation, definitions, run.tokens, budget):
        # The call would take the run past its token budget: it is not made.
        now = int(clock())
        reason: IncompleteReason | None = "max_total_tokens"
        after = run.finished(RunStatus.INCOMPLETE, now, incomplete_reason=reason)
        answer = final_answer(None, last_text, reason, limits)
        items += _answer(answer, run, now, complete=False, usage=None)
    else:
        options = {
            "tool_choice": run.tool_choice,
            "parallel_tool_calls": None if run.parallel_tool_calls else False,
            "max_completion_tokens": run.max_completion_tokens,
        }
        try:
            turn = model.complete(conversation, definitions, deadline, options)
        except DeadlineExceeded:
            if clock() + MIN_CALL_SECONDS >= run.expires_at:
                now = int(clock())
                expired = transition(
                    store, thread_id, run_id, lambda r: r.finished(RunStatus.EXPIRED, now)
                )
                return _outcome(expired)
            raise
        tokens = run.tokens + turn.usage
        status, reason = turn_outcome(turn, rounds=run.rounds, usage=tokens, limits=budget)
        now = int(clock())
        if status is RunStatus.REQUIRES_ACTION:
            step, server, client = _tool_calls_step(run, turn, client_names, limits, now)
            after = run.calling_tools(step.id, server, client, tokens)
            items.append(step)
        else:
            after = run.finished(status, now, tokens=tokens, incomplete_reason=reason)
            answer = final_answer(turn, last_text, reason, limits)
            complete = status is RunStatus.COMPLETED
            items += _answer(answer, run, now, complete=complete, usage=turn.usage)
    assert after is not None  # the run is in_progress
    if not store.save_turn(after, run.version, items):
        # The run changed while the model answered (a cancel): the answer is dropped.
        logger.info("run changed during the model call", extra={"run_id": run_id})
        latest = _ended(_load(store, thread_id, run_id), store, int(clock()))
        if latest is None:
            raise RuntimeError(f"run {run_id} changed during the model call")
        return _outcome(latest)
    return _outcome(after)


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
            id=call.id, function=CalledFunction(name=call.name, arguments=call.arguments)
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
) -> dict[str, Any]:
    """Run one of the server's tool calls of the run and record its output on the step. A run
    that no longer waits for this call (cancelled, expired) is left alone."""
    run = _load(store, step.thread_id, step.run_id)
    call = step.tool_call
    if (
        run.status is not RunStatus.IN_PROGRESS
        or run.step_id != step.step_id
        or call.id not in {c.id for c in run.server_calls}
    ):
        return {"tool_call_id": call.id, "ran": False}
    assert run.expires_at is not None
    deadline = deadline.within(run.expires_at - clock())
    result = tools.run(
        ToolCall(id=call.id, name=call.function.name, arguments=call.function.arguments),
        ToolContext(mojang=mojang, deadline=deadline),
    )
    store.save_outputs(run.thread_id, run.id, step.step_id, {call.id: result.content(max_chars)})
    return {"tool_call_id": call.id, "ran": True}


def wait_step(step: WaitStep, *, store: RunStore) -> dict[str, Any]:
    """Keep the workflow's task token with the run, which now ``requires_action``; the
    caller's ``submit_tool_outputs`` resumes the workflow with it. A run that no longer waits
    raises ``RunNotWaiting`` (the workflow then lets the model step end it)."""
    run = transition(store, step.thread_id, step.run_id, lambda r: r.waiting(step.task_token))
    if run.status is not RunStatus.REQUIRES_ACTION or run.task_token != step.task_token:
        raise RunNotWaiting(f"run {run.id} is {run.status.value}")
    return {"status": run.status.value}


def fail_step(
    thread_id: str,
    run_id: str,
    error: CaughtError,
    *,
    store: RunStore,
    clock: Clock = time.time,
) -> dict[str, Any]:
    """End the run ``failed`` with ``last_error`` from the caught error: a model that kept
    rate-limiting, or the cost guard, is ``rate_limit_exceeded``, anything else
    ``server_error``."""
    code: ErrorCode = "rate_limit_exceeded" if error.Error in _RATE_LIMIT_ERRORS else "server_error"
    last_error = LastError(code=code, message=_message(error))
    # Why, for whoever reads the log: where the task failed (its stack trace's frames, never
    # the message, which may quote an upstream), and what the caller is told.
    why = {"error": error.Error, "failed_at": _frames(error), "last_error": last_error.message}
    logger.warning("run failed", extra={"run_id": run_id, **why})
    now = int(clock())
    run = transition(
        store,
        thread_id,
        run_id,
        lambda r: r.finished(RunStatus.FAILED, now, last_error=last_error),
    )
    return _outcome(run)


def _frames(error: CaughtError) -> list[str]:
    """The ``File ..., line ..., in ...`` lines of a failed task's stack trace (Lambda's error
    cause), innermost last; none for an error of the workflow's own (a timeout)."""
    try:
        cause = json.loads(error.Cause or "")
    except ValueError:
        return []
    trace = cause.get("stackTrace") if isinstance(cause, dict) else None
    if not isinstance(trace, list):
        return []
    return [str(frame).strip().splitlines()[0] for frame in trace if str(frame).strip()]


def _message(error: CaughtError) -> str:
    if error.Error in _READABLE_ERRORS and error.Cause:
        try:
            cause = json.loads(error.Cause)
        except ValueError:
            cause = None
        if isinstance(cause, dict) and isinstance(cause.get("errorMessage"), str):
            return str(cause["errorMessage"])
    return f"the run failed ({error.Error})"
