"""The request bodies and query parameters of the Assistants front door, and what their
schema cannot say: the checks that refuse what this API cannot honour, each naming its
``param``, and the conversion to the core's inputs (``NewMessage``, ``RunOptions``).

What is accepted and what is refused (400 ``unsupported_parameter`` or
``unsupported_value``):

- ``model`` is accepted whatever it says and ignored: the deployment's model serves every
  assistant and run, and the objects say so.
- ``tools``: function tools only (``code_interpreter`` and ``file_search`` are refused by
  ``tools[i].type``), at most ``MAX_FUNCTION_TOOLS``; names as OpenAI's, parameters a JSON
  Schema object. The server's Mojang tools are always offered besides; a caller's tool of the
  same name replaces the server's.
- ``temperature`` and ``top_p``: only null or 1 (the model's default, which is what is used);
  ``response_format``: only ``auto`` or ``{"type": "text"}``; ``stream``: only false;
  ``reasoning_effort``, ``tool_resources`` and message ``attachments``: only empty.
- ``tool_choice``: ``none``, ``auto``, ``required`` or a named function that the run offers.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from mojang_chat.http.errors import ApiError, unsupported
from mojang_chat.http.limits import (
    MAX_DESCRIPTION_CHARS,
    MAX_FUNCTION_TOOLS,
    MAX_MESSAGE_CHARS,
    MAX_NAME_CHARS,
    MAX_REQUEST_MESSAGES,
    MAX_TOOL_OUTPUTS,
    MESSAGE_TOO_LONG,
    Instructions,
    Metadata,
    Text,
)
from mojang_chat.http.openai_requests import function_tools
from mojang_chat.runs import NewMessage, RunOptions

_FORBID = ConfigDict(extra="forbid")


class TextPart(BaseModel):
    """A text content part of a message (image parts are refused: the model reads text)."""

    model_config = _FORBID
    type: Literal["text"]
    text: Text


class NewMessageRequest(BaseModel):
    """A message to add to a thread (``CreateMessageRequest``, text only)."""

    model_config = _FORBID
    role: Literal["user", "assistant"]
    content: Text | Annotated[list[TextPart], Field(min_length=1, max_length=10)]
    attachments: list[Any] | None = None
    metadata: Metadata | None = None

    @property
    def text(self) -> str:
        if isinstance(self.content, str):
            return self.content
        return "\n".join(part.text for part in self.content)

    @model_validator(mode="after")
    def _bounded(self) -> NewMessageRequest:
        # The same bound whether the text comes in one piece or in parts.
        if len(self.text) > MAX_MESSAGE_CHARS:
            raise ValueError(MESSAGE_TOO_LONG)
        return self

    def new_message(self, param: str) -> NewMessage:
        """The core's message; ``param`` names this message in the request."""
        if self.attachments:
            raise unsupported(f"{param}.attachments", "Attachments are not supported.")
        return NewMessage(role=self.role, text=self.text, metadata=dict(self.metadata or {}))


Messages = Annotated[list[NewMessageRequest], Field(max_length=MAX_REQUEST_MESSAGES)]


def new_messages(messages: Sequence[NewMessageRequest] | None, param: str) -> list[NewMessage]:
    return [m.new_message(f"{param}[{i}]") for i, m in enumerate(messages or ())]


ToolList = Annotated[list[dict[str, Any]], Field(max_length=MAX_FUNCTION_TOOLS)]
Name = Annotated[str, StringConstraints(max_length=MAX_NAME_CHARS)]
Description = Annotated[str, StringConstraints(max_length=MAX_DESCRIPTION_CHARS)]
ResponseFormat = Literal["auto"] | dict[str, Any]


class ModelOptions(BaseModel):
    """What assistants and runs share of the model's options: only what can be honoured."""

    model_config = _FORBID
    temperature: float | None = Field(None, ge=0, le=2)
    top_p: float | None = Field(None, ge=0, le=1)
    response_format: ResponseFormat | None = None
    reasoning_effort: str | None = None
    tool_resources: dict[str, Any] | None = None

    def refuse_unsupported(self) -> None:
        """A 400 for the first option that cannot be honoured."""
        for name in ("temperature", "top_p"):
            if getattr(self, name) not in (None, 1):
                raise unsupported(
                    name,
                    f"Unsupported parameter: '{name}' can only be 1 (the model's default) here.",
                )
        if self.response_format not in (None, "auto", {"type": "text"}):
            raise unsupported(
                "response_format",
                "Unsupported parameter: 'response_format' can only be 'auto' or text here.",
            )
        if self.reasoning_effort is not None:
            raise unsupported("reasoning_effort", "Unsupported parameter: 'reasoning_effort'.")
        if self.tool_resources:
            raise unsupported(
                "tool_resources",
                "Unsupported parameter: 'tool_resources' (no file tools are offered).",
            )


class CreateAssistantRequest(ModelOptions):
    """``POST /v1/assistants`` (``CreateAssistantRequest``)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "model": "gpt-4o-mini",
                    "name": "Minecraft helper",
                    "instructions": "Answer briefly.",
                    "tools": [
                        {
                            "type": "function",
                            "function": {
                                "name": "get_weather",
                                "parameters": {"type": "object", "properties": {}},
                            },
                        }
                    ],
                }
            ]
        },
    )
    model: Annotated[str, StringConstraints(max_length=256)]
    name: Name | None = None
    description: Description | None = None
    instructions: Instructions | None = None
    tools: ToolList | None = None
    metadata: Metadata | None = None

    def fields(self) -> dict[str, Any]:
        """The core's fields of the new assistant."""
        self.refuse_unsupported()
        return {
            "name": self.name,
            "description": self.description,
            "instructions": self.instructions,
            "tools": function_tools(self.tools or []),
            "metadata": dict(self.metadata or {}),
            "requested_model": self.model,
        }


class ModifyAssistantRequest(ModelOptions):
    """``POST /v1/assistants/{assistant_id}``: the fields sent replace the assistant's."""

    model: Annotated[str, StringConstraints(max_length=256)] | None = None
    name: Name | None = None
    description: Description | None = None
    instructions: Instructions | None = None
    tools: ToolList | None = None
    metadata: Metadata | None = None

    def changes(self) -> dict[str, Any]:
        """The core's fields that change."""
        self.refuse_unsupported()
        sent = self.model_fields_set
        changes: dict[str, Any] = {
            name: getattr(self, name)
            for name in ("name", "description", "instructions")
            if name in sent
        }
        if "tools" in sent:
            changes["tools"] = function_tools(self.tools or [])
        if "metadata" in sent:
            changes["metadata"] = dict(self.metadata or {})
        if "model" in sent:
            changes["requested_model"] = self.model
        return changes


class CreateThreadRequest(BaseModel):
    """``POST /v1/threads`` (``CreateThreadRequest``)."""

    model_config = _FORBID
    messages: Messages | None = None
    tool_resources: dict[str, Any] | None = None
    metadata: Metadata | None = None

    def refuse_unsupported(self, prefix: str = "") -> None:
        if self.tool_resources:
            raise unsupported(
                f"{prefix}tool_resources",
                "Unsupported parameter: 'tool_resources' (no file tools are offered).",
            )


class ModifyThreadRequest(BaseModel):
    """``POST /v1/threads/{thread_id}``: its metadata."""

    model_config = _FORBID
    tool_resources: dict[str, Any] | None = None
    metadata: Metadata | None = None


class MetadataRequest(BaseModel):
    """``POST`` of a message or a run: its metadata."""

    model_config = _FORBID
    metadata: Metadata | None = None


class TruncationRequest(BaseModel):
    model_config = _FORBID
    type: Literal["auto", "last_messages"]
    last_messages: int | None = Field(None, ge=1)


class NamedFunctionRequest(BaseModel):
    model_config = _FORBID
    name: str


class NamedToolChoiceRequest(BaseModel):
    model_config = _FORBID
    type: Literal["function", "code_interpreter", "file_search"]
    function: NamedFunctionRequest | None = None


class RunRequest(ModelOptions):
    """What both ways of creating a run take (``CreateRunRequest``,
    ``CreateThreadAndRunRequest``)."""

    assistant_id: str
    model: str | None = None
    instructions: Instructions | None = None
    tools: ToolList | None = None
    metadata: Metadata | None = None
    stream: bool | None = None
    max_prompt_tokens: int | None = Field(None, ge=256)
    max_completion_tokens: int | None = Field(None, ge=256)
    truncation_strategy: TruncationRequest | None = None
    tool_choice: Literal["none", "auto", "required"] | NamedToolChoiceRequest | None = None
    parallel_tool_calls: bool | None = None

    def options(
        self,
        assistant_tools: Sequence[Mapping[str, Any]],
        server_tools: Sequence[str],
        additional_instructions: str | None = None,
    ) -> RunOptions:
        """The core's options of the run; a 400 for what cannot be honoured. A named
        ``tool_choice`` must name a tool the run offers: its own, else the assistant's, or
        one of the server's."""
        self.refuse_unsupported()
        if self.stream:
            raise unsupported("stream", "Unsupported parameter: 'stream' (poll the run instead).")
        tools = None if self.tools is None else function_tools(self.tools)
        offered = {
            str(tool["function"]["name"])
            for tool in (assistant_tools if tools is None else tools)
            if tool.get("type") == "function"
        } | set(server_tools)
        tool_choice: str | dict[str, Any] | None = None
        if isinstance(self.tool_choice, NamedToolChoiceRequest):
            if self.tool_choice.type != "function":
                raise unsupported(
                    "tool_choice.type",
                    f"Tools of type '{self.tool_choice.type}' are not supported.",
                    code="unsupported_value",
                )
            if self.tool_choice.function is None:
                raise ApiError(
                    400,
                    "Missing required parameter: 'tool_choice.function'.",
                    param="tool_choice.function",
                    code="missing_required_parameter",
                )
            if self.tool_choice.function.name not in offered:
                raise ApiError(
                    400,
                    f"Invalid 'tool_choice.function.name': no tool named "
                    f"'{self.tool_choice.function.name}' is offered to the run.",
                    param="tool_choice.function.name",
                    code="invalid_value",
                )
            tool_choice = self.tool_choice.model_dump(exclude_none=True)
        elif self.tool_choice is not None:
            tool_choice = self.tool_choice
        last_messages = None
        strategy = self.truncation_strategy
        if strategy is not None and strategy.type == "last_messages":
            if strategy.last_messages is None:
                raise ApiError(
                    400,
                    "Missing required parameter: 'truncation_strategy.last_messages'.",
                    param="truncation_strategy.last_messages",
                    code="missing_required_parameter",
                )
            last_messages = strategy.last_messages
        return RunOptions(
            instructions=self.instructions,
            additional_instructions=additional_instructions,
            tools=tools,
            tool_choice=tool_choice,
            parallel_tool_calls=self.parallel_tool_calls is not False,
            max_completion_tokens=self.max_completion_tokens,
            max_prompt_tokens=self.max_prompt_tokens,
            last_messages=last_messages,
            metadata=dict(self.metadata or {}),
        )


class CreateRunRequest(RunRequest):
    """``POST /v1/threads/{thread_id}/runs`` (``CreateRunRequest``)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"assistant_id": "asst_default"}]},
    )
    additional_instructions: Instructions | None = None
    additional_messages: Messages | None = None


class CreateThreadAndRunRequest(RunRequest):
    """``POST /v1/threads/runs`` (``CreateThreadAndRunRequest``)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "assistant_id": "asst_default",
                    "thread": {
                        "messages": [
                            {
                                "role": "user",
                                "content": "what is the id of the player username merrydith",
                            }
                        ]
                    },
                }
            ]
        },
    )
    thread: CreateThreadRequest | None = None


class ToolOutput(BaseModel):
    """One output the caller submits (its length is the core's to check:
    ``TOOL_OUTPUT_MAX_CHARS``)."""

    model_config = _FORBID
    tool_call_id: str
    output: str


class SubmitToolOutputsRequest(BaseModel):
    """``POST /v1/threads/{thread_id}/runs/{run_id}/submit_tool_outputs``."""

    model_config = _FORBID
    tool_outputs: Annotated[list[ToolOutput], Field(max_length=MAX_TOOL_OUTPUTS)]
    stream: bool | None = None

    def outputs(self) -> list[tuple[str, str]]:
        if self.stream:
            raise unsupported("stream", "Unsupported parameter: 'stream' (poll the run instead).")
        return [(output.tool_call_id, output.output) for output in self.tool_outputs]
