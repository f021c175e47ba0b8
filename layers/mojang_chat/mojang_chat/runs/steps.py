"""The tasks of the runs workflow (functions/run_workflow.asl.json): one model call, one tool
call, and the ending of a failed run. The workflow is the loop; these are the steps of the very
same loop that ``chat.converse`` runs in one request (``Model.complete``, ``ToolRegistry.run``,
``chat.turn_outcome``), with the run record as the state between them.

Every step is safe to run twice (the workflow retries transient Lambda errors): it reads the
record first and does nothing that the record says was done.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping, Sequence
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from mojang_chat import container
from mojang_chat.chat.loop import (
    IncompleteReason,
    Limits,
    calls_to_run,
    final_answer,
    over_budget,
    tool_messages,
    turn_outcome,
)
from mojang_chat.chat.model import (
    MIN_CALL_SECONDS,
    ChatModel,
    ModelFailed,
    ModelRateLimited,
    ModelUnavailable,
)
from mojang_chat.chat.registry import ToolRegistry
from mojang_chat.chat.types import ToolCall
from mojang_chat.core.deadline import Deadline, DeadlineExceeded, LambdaContextLike
from mojang_chat.core.observability import logger
from mojang_chat.core.settings import ConfigurationError, ModelNotConfigured, get_settings
from mojang_chat.core.statuses import RunStatus
from mojang_chat.guard import UNKNOWN_CLIENT, BudgetExhausted, ClientLimited, Guard
from mojang_chat.mojang.client import MojangClient
from mojang_chat.mojang.tools import ToolContext, mojang_tools
from mojang_chat.runs.errors import RunNotFound
from mojang_chat.runs.records import (
    CalledFunction,
    Clock,
    ErrorCode,
    LastError,
    MessageRecord,
    RunRecord,
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


class ModelStep(BaseModel):
    """Call the model once for the run."""

    model_config = ConfigDict(extra="ignore")
    step: Literal["model"]
    run_id: str


class ToolStep(BaseModel):
    """Run one of the tool calls the run waits for."""

    model_config = ConfigDict(extra="ignore")
    step: Literal["tool"]
    run_id: str
    tool_call: ToolCallRecord


class CaughtError(BaseModel):
    """What a ``Catch`` puts at its ResultPath: the error's name and its cause."""

    Error: str
    Cause: str | None = None


class FailStep(BaseModel):
    """End the run ``failed`` with the error the workflow caught."""

    model_config = ConfigDict(extra="ignore")
    step: Literal["fail"]
    run_id: str
    error: CaughtError


StepInput = Annotated[ModelStep | ToolStep | FailStep, Field(discriminator="step")]
_step_input: TypeAdapter[ModelStep | ToolStep | FailStep] = TypeAdapter(StepInput)


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
            step.run_id,
            store=store,
            model=container.model(),
            tools=mojang_tools,
            limits=container.limits(),
            deadline=deadline,
            guard=container.guard(),
        )
    if isinstance(step, ToolStep):
        return tool_step(
            step.run_id,
            step.tool_call,
            store=store,
            mojang=container.mojang(),
            tools=mojang_tools,
            max_chars=settings.tool_output_max_chars,
            deadline=deadline,
        )
    return fail_step(step.run_id, step.error, store=store)


def _outcome(run: RunRecord) -> dict[str, Any]:
    """What the workflow's Choice state reads: the status, and the calls to map over."""
    return {
        "status": run.status.value,
        "tool_calls": [call.model_dump(mode="json") for call in run.tool_calls],
    }


def _load(store: RunStore, run_id: str) -> RunRecord:
    run = store.get_run(run_id, consistent=True)
    if run is None:
        raise RunNotFound("run", run_id)
    return run


def _ended(run: RunRecord, store: RunStore, now: int) -> RunRecord | None:
    """The run, ended if it must end before any more work: it ended already, a client is
    cancelling it, or it has expired. None when the work may go on."""
    if run.status.terminal:
        return run
    if run.status is RunStatus.CANCELLING:
        return transition(store, run.id, lambda r: r.finished(RunStatus.CANCELLED, now))
    if run.expires_at is not None and now >= run.expires_at:
        return transition(store, run.id, lambda r: r.finished(RunStatus.EXPIRED, now))
    return None


def model_step(
    run_id: str,
    *,
    store: RunStore,
    model: ChatModel,
    tools: ToolRegistry,
    limits: Limits,
    deadline: Deadline,
    guard: Guard | None = None,
    clock: Clock = time.time,
) -> dict[str, Any]:
    """One model call for the run: ``requires_action`` with the tool calls to run, or the
    run's end (``completed``, ``incomplete``, ``expired``, ``cancelled``). Raises the model
    adapter's errors, and the ``guard``'s refusal of the call, which the workflow catches
    into ``failed``; the call's tokens count against the run's client."""
    run = _load(store, run_id)
    ended = _ended(run, store, int(clock()))
    if ended is not None:
        return _outcome(ended)
    thread = store.get_thread(run.thread_id, consistent=True)
    if thread is None:
        raise RunNotFound("thread", run.thread_id)
    conversation = list(thread.conversation)
    # The calls the model made last turn, from the saved conversation itself rather than from
    # the run's tool_calls: a retried step finds the run in_progress already, and its
    # outputs stay in the thread until the next turn is saved.
    pending = _unanswered_calls(conversation)
    if pending:
        if any(call_id not in thread.tool_outputs for call_id in pending):
            # The tools of this round have yet to run (a retried step): nothing to do yet.
            return _outcome(run)
        conversation += tool_messages((i, thread.tool_outputs[i]) for i in pending)
    run = transition(store, run_id, lambda r: r.started(int(clock())))
    if run.status is not RunStatus.IN_PROGRESS:
        return _outcome(_ended(run, store, int(clock())) or run)

    assert run.expires_at is not None  # an open run always has one
    deadline = deadline.within(run.expires_at - clock())
    if guard is not None:
        model = guard.metered(model, run.client or UNKNOWN_CLIENT)
    last_text = _last_text_since_question(conversation)
    messages = list(thread.messages)
    tool_outputs: dict[str, str] = {}
    if over_budget(conversation, tools.definitions, run.tokens, limits):
        # The call would take the run past its token budget: it is not made.
        now = int(clock())
        reason: IncompleteReason | None = "max_total_tokens"
        after = run.finished(RunStatus.INCOMPLETE, now, incomplete_reason=reason)
        answer = final_answer(None, last_text, reason, limits)
        messages.append(_answer(answer, run, now, complete=False))
    else:
        try:
            turn = model.complete(conversation, tools.definitions, deadline)
        except DeadlineExceeded:
            if clock() + MIN_CALL_SECONDS >= run.expires_at:
                now = int(clock())
                return _outcome(
                    transition(store, run_id, lambda r: r.finished(RunStatus.EXPIRED, now))
                )
            raise
        conversation.append(turn.as_message())
        tokens = run.tokens + turn.usage
        status, reason = turn_outcome(turn, rounds=run.rounds, usage=tokens, limits=limits)
        now = int(clock())
        if status is RunStatus.REQUIRES_ACTION:
            # Only the calls that run go to the workflow's Map; the others (over the per-turn
            # cap, malformed) are answered now, in the thread, for the next model step.
            runnable, answered = calls_to_run(turn.tool_calls, limits)
            max_chars = limits.tool_output_max_chars
            tool_outputs = {r.call.id: r.content(max_chars) for r in answered.values()}
            calls = [
                ToolCallRecord(id=c.id, function=CalledFunction(name=c.name, arguments=c.arguments))
                for c in runnable
            ]
            after = run.awaiting_tools(calls, tokens)
        else:
            after = run.finished(status, now, tokens=tokens, incomplete_reason=reason)
            answer = final_answer(turn, last_text, reason, limits)
            messages.append(_answer(answer, run, now, complete=status is RunStatus.COMPLETED))
    assert after is not None  # the run is in_progress
    saved = thread.model_copy(
        update={"conversation": conversation, "tool_outputs": tool_outputs, "messages": messages}
    )
    if not store.save_turn(after, run.version, saved):
        # The run changed while the model answered (a cancel): the answer is dropped.
        logger.info("run changed during the model call", extra={"run_id": run_id})
        latest = _ended(_load(store, run_id), store, int(clock()))
        if latest is None:
            raise RuntimeError(f"run {run_id} changed during the model call")
        return _outcome(latest)
    return _outcome(after)


def _unanswered_calls(conversation: Sequence[Mapping[str, Any]]) -> list[str]:
    """The ids of the tool calls of the conversation's last message, when it is the model's
    turn asking for tools (none otherwise)."""
    if not conversation or conversation[-1].get("role") != "assistant":
        return []
    return [call["id"] for call in conversation[-1].get("tool_calls") or ()]


def _last_text_since_question(conversation: Sequence[Mapping[str, Any]]) -> str | None:
    """The last text the model wrote for the current question: the answer of an incomplete
    run (never an earlier answer that the client sent back as history)."""
    for message in reversed(conversation):
        if message["role"] == "user":
            return None
        if message["role"] == "assistant" and message.get("content"):
            return str(message["content"])
    return None


def _answer(text: str, run: RunRecord, now: int, *, complete: bool) -> MessageRecord:
    """The assistant's message that ends a run."""
    return MessageRecord(
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
    )


def tool_step(
    run_id: str,
    call: ToolCallRecord,
    *,
    store: RunStore,
    mojang: MojangClient,
    tools: ToolRegistry,
    max_chars: int,
    deadline: Deadline,
    clock: Clock = time.time,
) -> dict[str, Any]:
    """Run one tool call of the run and record its output for the next model step. A run that
    no longer waits for this call (cancelled, expired) is left alone."""
    run = _load(store, run_id)
    if run.status is not RunStatus.REQUIRES_ACTION or call.id not in {c.id for c in run.tool_calls}:
        return {"tool_call_id": call.id, "ran": False}
    assert run.expires_at is not None
    deadline = deadline.within(run.expires_at - clock())
    result = tools.run(
        ToolCall(id=call.id, name=call.function.name, arguments=call.function.arguments),
        ToolContext(mojang=mojang, deadline=deadline),
    )
    store.save_tool_output(run.thread_id, call.id, result.content(max_chars))
    return {"tool_call_id": call.id, "ran": True}


def fail_step(
    run_id: str, error: CaughtError, *, store: RunStore, clock: Clock = time.time
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
        store, run_id, lambda r: r.finished(RunStatus.FAILED, now, last_error=last_error)
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
