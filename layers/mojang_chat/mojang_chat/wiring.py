"""What the entry points run, built from this container's clients (``container.py``) and the
settings: the conversation core, a request's deadline, the tool loop of one request, the
workflow's steps and their Lambda entry point.

The domain packages (``runs``, ``chat``, ``mojang``, ``guard``) take their adapters as
arguments and never import this module; the front doors (``http``) and the handlers do.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from mojang_chat import container
from mojang_chat.chat.loop import ChatOutcome, converse
from mojang_chat.chat.model import CallOptions
from mojang_chat.chat.types import ToolResult
from mojang_chat.core.deadline import Deadline, LambdaContextLike
from mojang_chat.core.settings import get_settings
from mojang_chat.core.statuses import RunStatus
from mojang_chat.mojang.tools import ToolContext, mojang_tools
from mojang_chat.runs.base import ThreadLimits
from mojang_chat.runs.runner import StepRunner
from mojang_chat.runs.service import ConversationCore
from mojang_chat.runs.steps import ModelStep, ToolStep, WaitStep, fail_step, step_input, wait_step


@container.per_container
def conversation_core() -> ConversationCore:
    """The conversation core with this container's clients and settings."""
    settings = get_settings()
    return ConversationCore(
        container.run_store(),
        container.workflow(),
        model=settings.openai_model,
        expires_seconds=settings.run_expires_seconds,
        retention_seconds=settings.runs_retention_days * 86400,
        limits=ThreadLimits(
            thread_max_messages=settings.thread_max_messages,
            tool_output_max_chars=settings.tool_output_max_chars,
        ),
    )


def request_deadline(context: LambdaContextLike | None) -> Deadline:
    """The one deadline of a request (or a workflow step): ``REQUEST_DEADLINE_SECONDS``, or
    the invocation's remaining time if less, less ``DEADLINE_MARGIN_SECONDS``."""
    settings = get_settings()
    return Deadline.for_request(
        context, cap=settings.request_deadline_seconds, margin=settings.deadline_margin_seconds
    )


def answer(
    messages: list[dict[str, Any]],
    deadline: Deadline,
    client: str,
    *,
    client_tools: Sequence[dict[str, Any]] = (),
    options: CallOptions | None = None,
    on_status: Callable[[RunStatus], None] | None = None,
    on_tool_results: Callable[[Sequence[ToolResult]], None] | None = None,
) -> ChatOutcome:
    """The tool loop of one request (``/chat``, Chat Completions) with this container's
    clients, if the cost guard admits ``client`` (``GuardRefused`` before any model call if
    not); every model call is counted against ``client``."""
    guard = container.guard()
    guard.admit(client)
    return converse(
        messages,
        model=guard.metered(container.model(), client),
        tools=mojang_tools,
        context=ToolContext(mojang=container.mojang(), deadline=deadline),
        executor=container.executor(),
        limits=container.limits(),
        deadline=deadline,
        client_tools=client_tools,
        options=options,
        on_status=on_status,
        on_tool_results=on_tool_results,
    )


def step_runner() -> StepRunner:
    """The workflow's steps with this container's clients (an inline response runs them too)."""
    return StepRunner(
        store=container.run_store(),
        model=container.model(),
        tools=mojang_tools,
        mojang=container.mojang(),
        executor=container.executor(),
        limits=container.limits(),
        context_tokens=get_settings().max_context_tokens,
        guard=container.guard(),
    )


def run_step(event: dict[str, Any], context: LambdaContextLike | None) -> dict[str, Any]:
    """The workflow's Lambda task: run the step its event names; the outcome as JSON."""
    step = step_input.validate_python(event)
    runner = step_runner()
    deadline = request_deadline(context)
    if isinstance(step, ModelStep):
        done: Any = runner.model_step(step.thread_id, step.run_id, deadline)
    elif isinstance(step, ToolStep):
        done = runner.tool_step(step, deadline)
    elif isinstance(step, WaitStep):
        done = wait_step(step, store=runner.store)
    else:
        done = fail_step(step.thread_id, step.run_id, step.error.failure(), store=runner.store)
    result: dict[str, Any] = done.model_dump(mode="json")
    return result
