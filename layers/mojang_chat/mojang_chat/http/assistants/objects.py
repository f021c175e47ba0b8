"""OpenAI's wire objects of the Assistants API (assistants, threads, messages, runs, run steps,
lists and deletions), and the one mapping from the conversation core's records to them.

The core stores its own records (``runs/records.py``); what OpenAI's schema needs beyond them
(constant fields, ``required_action``'s nesting, a step's status derived from its run, the
schema's coarser incomplete reasons) is made here, so that neither side's shape leaks into the
other. Every object is valid under OpenAI's schema, with no field of our own: the deployment's
model is shown as every object's ``model``, and a call the server ran (a Mojang tool) shows in
its run step with its output already filled, where a call of the caller's own function tools
shows ``output: null`` until the caller submits it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from pydantic import BaseModel, Field

from mojang_chat.chat.loop import IncompleteReason
from mojang_chat.chat.types import Usage
from mojang_chat.core.statuses import RunStatus
from mojang_chat.http.limits import MAX_METADATA_KEYS
from mojang_chat.runs.records import (
    AssistantRecord,
    ErrorCode,
    MessageRecord,
    RunRecord,
    StepRecord,
    ThreadRecord,
)


class FunctionCall(BaseModel):
    """The function a tool call names, with the arguments the model wrote (a JSON string)."""

    name: str
    arguments: str


class RunToolCall(BaseModel):
    """One entry of ``required_action.submit_tool_outputs.tool_calls``."""

    id: str
    type: Literal["function"] = "function"
    function: FunctionCall


class SubmitToolOutputs(BaseModel):
    tool_calls: list[RunToolCall]


class RequiredAction(BaseModel):
    """What a ``requires_action`` run waits for: the outputs of these tool calls."""

    type: Literal["submit_tool_outputs"] = "submit_tool_outputs"
    submit_tool_outputs: SubmitToolOutputs


class LastError(BaseModel):
    """Why a run failed, in the Assistants API's codes."""

    code: ErrorCode
    message: str


class IncompleteDetails(BaseModel):
    """Why a run ended incomplete; the schema knows only the two token limits."""

    reason: Literal["max_completion_tokens", "max_prompt_tokens"]


class TruncationStrategy(BaseModel):
    type: Literal["auto", "last_messages"] = "auto"
    last_messages: int | None = None


class NamedFunction(BaseModel):
    name: str


class NamedToolChoice(BaseModel):
    """``tool_choice`` naming one function."""

    type: Literal["function"] = "function"
    function: NamedFunction


ToolChoice = Literal["none", "auto", "required"] | NamedToolChoice


class RunObject(BaseModel):
    """A run, exactly as OpenAI's Assistants API shows it (``RunObject`` of its schema)."""

    id: str
    object: Literal["thread.run"] = "thread.run"
    created_at: int
    thread_id: str
    assistant_id: str
    status: RunStatus
    required_action: RequiredAction | None = None
    last_error: LastError | None = None
    expires_at: int | None
    started_at: int | None = None
    cancelled_at: int | None = None
    failed_at: int | None = None
    completed_at: int | None = None
    incomplete_details: IncompleteDetails | None = None
    model: str
    instructions: str
    tools: list[dict[str, Any]]
    metadata: dict[str, str] = Field(default_factory=dict)
    # Null until the run ends, as in the Assistants API.
    usage: Usage | None = None
    temperature: float | None = None
    top_p: float | None = None
    max_prompt_tokens: int | None = None
    max_completion_tokens: int | None = None
    truncation_strategy: TruncationStrategy = Field(default_factory=TruncationStrategy)
    tool_choice: ToolChoice = "auto"
    parallel_tool_calls: bool = True
    response_format: Literal["auto"] = "auto"


# Our reasons for ending incomplete, and the closest value the schema allows: a round cap and a
# token budget both bound the prompt that the run's model calls send, again and again.
INCOMPLETE_REASONS: Mapping[
    IncompleteReason, Literal["max_completion_tokens", "max_prompt_tokens"]
] = {
    "max_completion_tokens": "max_completion_tokens",
    "max_total_tokens": "max_prompt_tokens",
    "max_tool_rounds": "max_prompt_tokens",
}
# The metadata key that keeps our precise reason (``incomplete_details`` cannot hold it).
INCOMPLETE_REASON_KEY = "incomplete_reason"


class TextValue(BaseModel):
    value: str
    annotations: list[Any] = Field(default_factory=list)


class TextContent(BaseModel):
    type: Literal["text"] = "text"
    text: TextValue


class MessageIncompleteDetails(BaseModel):
    reason: Literal["content_filter", "max_tokens", "run_cancelled", "run_expired", "run_failed"]


class MessageObject(BaseModel):
    """A message of a thread, as OpenAI's Assistants API shows it (``MessageObject``)."""

    id: str
    object: Literal["thread.message"] = "thread.message"
    created_at: int
    thread_id: str
    status: Literal["in_progress", "incomplete", "completed"] = "completed"
    incomplete_details: MessageIncompleteDetails | None = None
    completed_at: int | None = None
    incomplete_at: int | None = None
    role: Literal["user", "assistant"]
    content: list[TextContent]
    assistant_id: str | None = None
    run_id: str | None = None
    attachments: list[Any] | None = Field(default_factory=list)
    metadata: dict[str, str] = Field(default_factory=dict)


class AssistantObject(BaseModel):
    """An assistant (``AssistantObject``); ``model`` is the deployment's, which serves every
    assistant, whatever the caller asked for."""

    id: str
    object: Literal["assistant"] = "assistant"
    created_at: int
    name: str | None
    description: str | None
    model: str
    instructions: str | None
    tools: list[dict[str, Any]]
    metadata: dict[str, str]
    tool_resources: dict[str, Any] | None = None
    temperature: float | None = None
    top_p: float | None = None
    response_format: Literal["auto"] = "auto"


class ThreadObject(BaseModel):
    """A thread (``ThreadObject``)."""

    id: str
    object: Literal["thread"] = "thread"
    created_at: int
    tool_resources: dict[str, Any] | None = None
    metadata: dict[str, str]


class MessageCreation(BaseModel):
    message_id: str


class MessageCreationDetails(BaseModel):
    type: Literal["message_creation"] = "message_creation"
    message_creation: MessageCreation


class StepFunction(BaseModel):
    """A function call of a step: ``output`` is null until the call has one."""

    name: str
    arguments: str
    output: str | None


class StepToolCall(BaseModel):
    id: str
    type: Literal["function"] = "function"
    function: StepFunction


class ToolCallsDetails(BaseModel):
    type: Literal["tool_calls"] = "tool_calls"
    tool_calls: list[StepToolCall]


class StepError(BaseModel):
    """Why a step failed: the schema allows fewer codes for a step than for its run."""

    code: Literal["server_error", "rate_limit_exceeded"]
    message: str


StepStatus = Literal["in_progress", "cancelled", "failed", "completed", "expired"]


class RunStepObject(BaseModel):
    """A run step (``RunStepObject``)."""

    id: str
    object: Literal["thread.run.step"] = "thread.run.step"
    created_at: int
    assistant_id: str
    thread_id: str
    run_id: str
    type: Literal["message_creation", "tool_calls"]
    status: StepStatus
    step_details: MessageCreationDetails | ToolCallsDetails
    last_error: StepError | None
    expired_at: int | None
    cancelled_at: int | None
    failed_at: int | None
    completed_at: int | None
    metadata: dict[str, str] = Field(default_factory=dict)
    usage: Usage | None


class DeletedObject(BaseModel):
    """What a deletion answers: ``assistant.deleted``, ``thread.deleted``,
    ``thread.message.deleted``."""

    id: str
    object: Literal["assistant.deleted", "thread.deleted", "thread.message.deleted"]
    deleted: Literal[True] = True


def assistant_object(assistant: AssistantRecord, model: str) -> AssistantObject:
    """The Assistant object that shows ``assistant``, served by ``model``."""
    return AssistantObject(
        id=assistant.id,
        created_at=assistant.created_at,
        name=assistant.name,
        description=assistant.description,
        model=model,
        instructions=assistant.instructions,
        tools=assistant.tools,
        metadata=assistant.metadata,
    )


def thread_object(thread: ThreadRecord) -> ThreadObject:
    """The Thread object that shows ``thread``."""
    return ThreadObject(id=thread.id, created_at=thread.created_at, metadata=thread.metadata)


def run_object(run: RunRecord) -> RunObject:
    """The Run object that shows ``run``."""
    required_action = None
    if run.status is RunStatus.REQUIRES_ACTION:
        calls = [RunToolCall.model_validate(call.model_dump()) for call in run.client_calls]
        required_action = RequiredAction(submit_tool_outputs=SubmitToolOutputs(tool_calls=calls))
    error = run.last_error
    reason = run.incomplete_reason
    truncation = TruncationStrategy()
    if run.last_messages is not None:
        truncation = TruncationStrategy(type="last_messages", last_messages=run.last_messages)
    tool_choice: ToolChoice = "auto"
    if isinstance(run.tool_choice, dict):
        tool_choice = NamedToolChoice.model_validate(run.tool_choice)
    elif run.tool_choice == "none":
        tool_choice = "none"
    elif run.tool_choice == "required":
        tool_choice = "required"
    return RunObject(
        id=run.id,
        created_at=run.created_at,
        thread_id=run.thread_id,
        assistant_id=run.assistant_id,
        status=run.status,
        required_action=required_action,
        last_error=None if error is None else LastError.model_validate(error.model_dump()),
        expires_at=run.expires_at,
        started_at=run.started_at,
        cancelled_at=run.cancelled_at,
        failed_at=run.failed_at,
        completed_at=run.completed_at,
        incomplete_details=(
            None if reason is None else IncompleteDetails(reason=INCOMPLETE_REASONS[reason])
        ),
        model=run.model,
        instructions=run.instructions,
        tools=run.tools,
        metadata=_metadata(run),
        usage=run.tokens if run.status.terminal else None,
        max_prompt_tokens=run.max_prompt_tokens,
        max_completion_tokens=run.max_completion_tokens,
        truncation_strategy=truncation,
        tool_choice=tool_choice,
        parallel_tool_calls=run.parallel_tool_calls,
    )


def _metadata(run: RunRecord) -> dict[str, str]:
    """The run's metadata, and our precise reason for ending incomplete where a key is left."""
    reason = run.incomplete_reason
    if reason is None:
        return run.metadata
    if len(run.metadata) < MAX_METADATA_KEYS or INCOMPLETE_REASON_KEY in run.metadata:
        return {**run.metadata, INCOMPLETE_REASON_KEY: reason}
    return run.metadata


def message_object(message: MessageRecord) -> MessageObject:
    """The Message object that shows ``message``; the core ends a message incomplete only when
    a limit ended its run, which the schema calls ``max_tokens``."""
    incomplete = message.status == "incomplete"
    return MessageObject(
        id=message.id,
        created_at=message.created_at,
        thread_id=message.thread_id,
        status=message.status,
        incomplete_details=MessageIncompleteDetails(reason="max_tokens") if incomplete else None,
        completed_at=message.completed_at,
        incomplete_at=message.incomplete_at,
        role=message.role,
        content=[TextContent(text=TextValue(value=message.text))],
        assistant_id=message.assistant_id,
        run_id=message.run_id,
        metadata=message.metadata,
    )


# How a step left unanswered ends, by how its run ended: a run that completed (or ended
# incomplete) with a call still unanswered went on without it, which the schema can only call
# ``cancelled``.
_UNANSWERED: Mapping[RunStatus, StepStatus] = {
    RunStatus.CANCELLED: "cancelled",
    RunStatus.FAILED: "failed",
    RunStatus.EXPIRED: "expired",
    RunStatus.COMPLETED: "cancelled",
    RunStatus.INCOMPLETE: "cancelled",
}


def step_status(step: StepRecord, run: RunRecord) -> StepStatus:
    """A step's status: ``completed`` once it has every output (a message creation always
    has), else its run's: ``in_progress`` while the run is open, then how the run ended."""
    if step.type == "message_creation" or step.answered:
        return "completed"
    return _UNANSWERED.get(run.status, "in_progress")


def _ended_at(run: RunRecord, step: StepRecord) -> int:
    """When the run that left ``step`` unanswered ended (a run ended incomplete keeps no time
    of its own: the step's time stands in)."""
    return run.cancelled_at or run.completed_at or run.failed_at or step.created_at


def step_object(step: StepRecord, run: RunRecord) -> RunStepObject:
    """The Run step object that shows ``step`` of ``run``. The server's calls and the
    caller's are alike: each shows its output once there is one."""
    details: MessageCreationDetails | ToolCallsDetails
    if step.type == "message_creation":
        details = MessageCreationDetails(
            message_creation=MessageCreation(message_id=step.message_id or "")
        )
    else:
        details = ToolCallsDetails(
            tool_calls=[
                StepToolCall(
                    id=call.id,
                    function=StepFunction(
                        name=call.name, arguments=call.arguments, output=step.outputs.get(call.id)
                    ),
                )
                for call in step.calls
            ]
        )
    status = step_status(step, run)
    error = None
    if status == "failed" and run.last_error is not None:
        code = run.last_error.code
        error = StepError(
            code="rate_limit_exceeded" if code == "rate_limit_exceeded" else "server_error",
            message=run.last_error.message,
        )
    completed_at = None
    if status == "completed":
        # A tool calls step keeps no time of its last output: its own time stands in.
        completed_at = step.completed_at or step.created_at
    return RunStepObject(
        id=step.id,
        created_at=step.created_at,
        assistant_id=step.assistant_id,
        thread_id=step.thread_id,
        run_id=step.run_id,
        type=step.type,
        status=status,
        step_details=details,
        last_error=error,
        expired_at=run.expires_at if status == "expired" else None,
        cancelled_at=_ended_at(run, step) if status == "cancelled" else None,
        failed_at=run.failed_at if status == "failed" else None,
        completed_at=completed_at,
        usage=None if status == "in_progress" else step.usage,
    )
