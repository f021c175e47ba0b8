"""OpenAI's wire objects of the Responses API and Conversations (a response, its items, a
conversation, their lists and deletions), and the one mapping from the core's records to them.

A response is a run of the core; a conversation is a thread (the one the Assistants API shows,
by the same id). A tool calls step becomes items: each server call an ``mcp_call`` (``server_label:
"mojang"``) with its output, which the caller never answers; each of the caller's a
``function_call``, followed in a conversation's items by the caller's ``function_call_output``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

from pydantic import BaseModel, Field

from mojang_chat.chat.types import Usage
from mojang_chat.core.statuses import RunStatus
from mojang_chat.http.responses.requests import SERVER_LABEL
from mojang_chat.runs import MessageRecord, RunRecord, StepRecord, ThreadRecord

ItemStatus = Literal["in_progress", "completed", "incomplete"]


class OutputText(BaseModel):
    type: Literal["output_text"] = "output_text"
    text: str
    annotations: list[Any] = Field(default_factory=list)
    logprobs: list[Any] = Field(default_factory=list)


class InputText(BaseModel):
    type: Literal["input_text"] = "input_text"
    text: str


class MessageItem(BaseModel):
    type: Literal["message"] = "message"
    id: str
    role: Literal["user", "assistant"]
    status: ItemStatus
    content: list[OutputText | InputText]


class McpCallItem(BaseModel):
    """A call of the server's Mojang tools, with its output."""

    type: Literal["mcp_call"] = "mcp_call"
    id: str
    server_label: str = SERVER_LABEL
    name: str
    arguments: str
    output: str | None
    error: str | None = None
    status: ItemStatus


class FunctionCallItem(BaseModel):
    """A call of the caller's own function tools, for the caller to answer."""

    type: Literal["function_call"] = "function_call"
    id: str
    call_id: str
    name: str
    arguments: str
    status: ItemStatus = "completed"


class FunctionCallOutputItem(BaseModel):
    type: Literal["function_call_output"] = "function_call_output"
    id: str
    call_id: str
    output: str
    status: ItemStatus = "completed"


Item = MessageItem | McpCallItem | FunctionCallItem | FunctionCallOutputItem


class ResponseError(BaseModel):
    code: str
    message: str


class IncompleteDetails(BaseModel):
    reason: Literal["max_output_tokens"] = "max_output_tokens"


class ConversationRef(BaseModel):
    id: str


class TextFormat(BaseModel):
    type: Literal["text"] = "text"


class TextConfig(BaseModel):
    format: TextFormat = Field(default_factory=TextFormat)


class FunctionTool(BaseModel):
    """A function tool of the caller's, in Responses' flat shape."""

    type: Literal["function"] = "function"
    name: str
    description: str | None = None
    parameters: dict[str, Any] | None = None
    strict: bool | None = None


class InputTokensDetails(BaseModel):
    cached_tokens: int = 0
    cache_write_tokens: int = 0


class OutputTokensDetails(BaseModel):
    reasoning_tokens: int = 0


class ResponseUsage(BaseModel):
    input_tokens: int
    input_tokens_details: InputTokensDetails = Field(default_factory=InputTokensDetails)
    output_tokens: int
    output_tokens_details: OutputTokensDetails = Field(default_factory=OutputTokensDetails)
    total_tokens: int

    @classmethod
    def of(cls, tokens: Usage) -> ResponseUsage:
        return cls(
            input_tokens=tokens.prompt_tokens,
            output_tokens=tokens.completion_tokens,
            total_tokens=tokens.total_tokens,
        )


class ResponseObject(BaseModel):
    """A response (``Response`` of OpenAI's schema, with what the Open Responses
    specification requires besides; none of that is chosen here: sampling and caching are the
    deployment's)."""

    id: str
    object: Literal["response"] = "response"
    created_at: int
    status: Literal["queued", "in_progress", "completed", "incomplete", "failed", "cancelled"]
    background: bool
    error: ResponseError | None
    incomplete_details: IncompleteDetails | None
    instructions: str | None
    max_output_tokens: int | None
    model: str
    output: list[Item]
    parallel_tool_calls: bool
    previous_response_id: str | None
    conversation: ConversationRef
    store: bool = True
    # The model's defaults: the deployment never changes them.
    temperature: float = 1
    top_p: float = 1
    text: TextConfig = Field(default_factory=TextConfig)
    tool_choice: Any
    tools: list[FunctionTool]
    truncation: Literal["auto"] = "auto"
    metadata: dict[str, str]
    completed_at: int | None
    presence_penalty: float = 0
    frequency_penalty: float = 0
    top_logprobs: int = 0
    reasoning: None = None
    max_tool_calls: None = None
    service_tier: Literal["default"] = "default"
    safety_identifier: None = None
    prompt_cache_key: None = None
    # Absent until the response ends (the schema's usage is an object, or absent).
    usage: ResponseUsage | None = None

    def wire(self) -> dict[str, Any]:
        body = self.model_dump(mode="json")
        if body["usage"] is None:
            del body["usage"]
        return body


class ConversationObject(BaseModel):
    id: str
    object: Literal["conversation"] = "conversation"
    created_at: int
    metadata: dict[str, str]


class ResponseDeleted(BaseModel):
    id: str
    object: Literal["response"] = "response"
    deleted: Literal[True] = True


class ConversationDeleted(BaseModel):
    id: str
    object: Literal["conversation.deleted"] = "conversation.deleted"
    deleted: Literal[True] = True


# --- the mapping from the core's records

_STATUSES: dict[RunStatus, Any] = {
    RunStatus.QUEUED: "queued",
    RunStatus.IN_PROGRESS: "in_progress",
    RunStatus.REQUIRES_ACTION: "in_progress",
    RunStatus.CANCELLING: "in_progress",
    RunStatus.CANCELLED: "cancelled",
    RunStatus.FAILED: "failed",
    RunStatus.EXPIRED: "failed",
    RunStatus.COMPLETED: "completed",
    RunStatus.INCOMPLETE: "incomplete",
}


def message_item(message: MessageRecord) -> MessageItem:
    part = (
        OutputText(text=message.text)
        if message.role == "assistant"
        else InputText(text=message.text)
    )
    return MessageItem(
        id=message.id,
        role=message.role,
        status="incomplete" if message.status == "incomplete" else "completed",
        content=[part],
    )


def function_call_output(call_id: str, output: str) -> FunctionCallOutputItem:
    return FunctionCallOutputItem(
        id="fco_" + call_id.removeprefix("call_"), call_id=call_id, output=output
    )


def call_items(step: StepRecord, *, outputs: bool) -> list[Item]:
    """A tool calls step as items: each server call an ``mcp_call`` with its output; each of
    the caller's a ``function_call``, followed (with ``outputs``) by the caller's
    ``function_call_output`` once it came."""
    items: list[Item] = []
    for call in step.calls:
        output = step.outputs.get(call.id)
        if not call.client:
            items.append(
                McpCallItem(
                    id="mcp_" + call.id.removeprefix("call_"),
                    name=call.name,
                    arguments=call.arguments,
                    output=output,
                    status="completed" if output is not None else "incomplete",
                )
            )
            continue
        items.append(
            FunctionCallItem(
                id="fc_" + call.id.removeprefix("call_"),
                call_id=call.id,
                name=call.name,
                arguments=call.arguments,
            )
        )
        if outputs and output is not None:
            items.append(function_call_output(call.id, output))
    return items


def items_of(records: Sequence[MessageRecord | StepRecord], *, outputs: bool) -> list[Item]:
    """Records as items: messages, and each tool calls step's calls."""
    items: list[Item] = []
    for record in records:
        if isinstance(record, MessageRecord):
            items.append(message_item(record))
        elif record.type == "tool_calls":
            items += call_items(record, outputs=outputs)
    return items


def inputs_of(run: RunRecord, records: Sequence[MessageRecord | StepRecord]) -> list[Item]:
    """What a response's request brought, oldest first: its messages, the calls of a history
    sent whole, and the outputs of the caller's calls it answered (``run.inputs``)."""
    wanted = set(run.inputs)
    found: list[Item] = []
    for record in records:
        if isinstance(record, MessageRecord) and record.id in wanted:
            found.append(message_item(record))
        elif isinstance(record, StepRecord) and record.id in wanted:
            found += call_items(record, outputs=True)  # a history sent whole
        elif isinstance(record, StepRecord):
            found += [
                function_call_output(call.id, record.outputs[call.id])
                for call in record.calls
                if call.id in wanted and call.id in record.outputs
            ]
    return found


def response_object(run: RunRecord, output: Sequence[MessageRecord | StepRecord]) -> ResponseObject:
    """The Response object that shows ``run``, whose ``output`` (the core's) it holds."""
    error = None
    if run.status is RunStatus.FAILED and run.last_error is not None:
        error = ResponseError(code=run.last_error.code, message=run.last_error.message)
    elif run.status is RunStatus.EXPIRED:
        error = ResponseError(
            code="server_error", message="the response did not end before it expired"
        )
    tool_choice: Any = run.tool_choice or "auto"
    if isinstance(tool_choice, dict):
        tool_choice = {"type": "function", "name": tool_choice["function"]["name"]}
    return ResponseObject(
        id=run.id,
        created_at=run.created_at,
        status=_STATUSES[run.status],
        background=run.background,
        error=error,
        incomplete_details=IncompleteDetails() if run.status is RunStatus.INCOMPLETE else None,
        instructions=run.instructions or None,
        max_output_tokens=run.max_completion_tokens,
        model=run.model,
        output=items_of(output, outputs=False),
        parallel_tool_calls=run.parallel_tool_calls,
        previous_response_id=run.previous_response_id,
        conversation=ConversationRef(id=run.thread_id),
        tool_choice=tool_choice,
        tools=[FunctionTool.model_validate(tool["function"]) for tool in run.tools],
        metadata=run.metadata,
        completed_at=run.completed_at,
        usage=ResponseUsage.of(run.tokens) if run.status.terminal else None,
    )


def conversation_object(thread: ThreadRecord) -> ConversationObject:
    return ConversationObject(id=thread.id, created_at=thread.created_at, metadata=thread.metadata)
