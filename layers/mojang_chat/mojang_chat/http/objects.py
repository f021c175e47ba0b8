"""OpenAI's wire objects of the Assistants API (the Run and Message objects), and the one
mapping from the conversation core's records to them.

The core stores its own records (``runs/records.py``); what OpenAI's schema needs beyond them
(constant fields, ``required_action``'s nesting, the schema's coarser incomplete reasons) is
made here, so that neither side's shape leaks into the other.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from pydantic import BaseModel, Field

from mojang_chat.chat.loop import IncompleteReason
from mojang_chat.chat.types import Usage
from mojang_chat.core.statuses import RunStatus
from mojang_chat.http.limits import MAX_METADATA_KEYS
from mojang_chat.runs.records import ErrorCode, MessageRecord, RunRecord


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
    tool_choice: Literal["auto"] = "auto"
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


def run_object(run: RunRecord) -> RunObject:
    """The Run object that shows ``run``."""
    required_action = None
    if run.status is RunStatus.REQUIRES_ACTION:
        calls = [RunToolCall.model_validate(call.model_dump()) for call in run.tool_calls]
        required_action = RequiredAction(submit_tool_outputs=SubmitToolOutputs(tool_calls=calls))
    error = run.last_error
    reason = run.incomplete_reason
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
