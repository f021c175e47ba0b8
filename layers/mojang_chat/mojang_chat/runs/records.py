"""The conversation core's records: assistants, threads (conversations), their items
(messages and run steps), runs, and the ids they go by.

These are what the store keeps, in the core's own terms; no API's shape lives here (each front
door maps them to its own objects, e.g. ``http/assistants/objects.py`` to the Assistants
API's). Every change to a run is a pure function of its record, written on condition that
nobody wrote in between (``store.transition``). ``RunRecord.finished`` never leaves a
terminal status and turns any ending of a ``cancelling`` run into ``cancelled``, so a late
workflow step can never overwrite a cancel or an end.

A thread is not one record: each message and each run step is an item of its own, so a
conversation grows by items, never past DynamoDB's 400 KB item limit. What the model is sent is
rebuilt from the items (``runs.prompt``).
"""

from __future__ import annotations

import secrets
import string
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any, Literal

from pydantic import BaseModel, Field

from mojang_chat.chat.loop import IncompleteReason
from mojang_chat.chat.types import Usage
from mojang_chat.core.statuses import RunStatus

# The built-in assistant: the server's Mojang tools and nothing of the caller's.
ASSISTANT_ID = "asst_default"

# Ids sort by creation: 11 base62 digits of the creation time in nanoseconds, then random
# letters and digits. Base62 in ASCII order ("0-9A-Za-z"), so string order is time order.
_BASE62 = string.digits + string.ascii_uppercase + string.ascii_lowercase
_TIME_DIGITS = 11
_RANDOM_DIGITS = 13
_ID_LENGTH = _TIME_DIGITS + _RANDOM_DIGITS

IdPrefix = Literal["asst", "thread", "msg", "run", "resp", "step", "call"]
Clock = Callable[[], float]

_last_time = 0
_time_lock = threading.Lock()


def _time_digits() -> str:
    """The creation time, strictly increasing within a process (two items created in the same
    nanosecond still sort in the order they were made)."""
    global _last_time
    with _time_lock:
        _last_time = max(time.time_ns(), _last_time + 1)
        value = _last_time
    digits = []
    for _ in range(_TIME_DIGITS):
        value, digit = divmod(value, 62)
        digits.append(_BASE62[digit])
    return "".join(reversed(digits))


def new_id(prefix: IdPrefix) -> str:
    """A fresh id in OpenAI's style, e.g. ``msg_`` and 24 letters and digits; later ids of the
    same prefix sort after earlier ones."""
    tail = "".join(secrets.choice(_BASE62) for _ in range(_RANDOM_DIGITS))
    return f"{prefix}_{_time_digits()}{tail}"


def is_id(prefix: IdPrefix, value: str) -> bool:
    """True when ``value`` has the shape of an id that ``new_id(prefix)`` makes."""
    head, _, tail = value.partition("_")
    return head == prefix and len(tail) == _ID_LENGTH and set(tail) <= set(_BASE62)


def order_key(item_id: str) -> str:
    """What orders items of different kinds (a message, a step) by creation: the id's tail."""
    return item_id.partition("_")[2]


class FunctionCallRecord(BaseModel):
    """The function a tool call names, with the arguments the model wrote (a JSON string)."""

    name: str
    arguments: str


class ToolCallRecord(BaseModel):
    """A tool call the model asked for, in Chat Completions' shape: the workflow's Map hands
    each server call to a tool step as it is."""

    id: str
    type: Literal["function"] = "function"
    function: FunctionCallRecord


ErrorCode = Literal["server_error", "rate_limit_exceeded", "invalid_prompt"]


class RunError(BaseModel):
    """Why a run failed: a code a client can act on, and a message safe to show."""

    code: ErrorCode
    message: str


class AssistantRecord(BaseModel):
    """A stored assistant: the caller's instructions and function tools. The deployment's
    model serves every assistant; ``model`` is only what the caller asked for."""

    id: str
    created_at: int
    name: str | None = None
    description: str | None = None
    instructions: str | None = None
    tools: list[dict[str, Any]] = Field(default_factory=list)
    metadata: dict[str, str] = Field(default_factory=dict)
    requested_model: str | None = None


# The built-in assistant, which exists in every deployment and cannot be changed.
DEFAULT_ASSISTANT = AssistantRecord(
    id=ASSISTANT_ID,
    created_at=0,
    name="Mojang",
    description="Answers questions about Minecraft players with the Mojang API.",
)


class ThreadRecord(BaseModel):
    """A stored thread: its metadata, and which run, if any, last started on it (a thread has
    one active run at most)."""

    id: str
    created_at: int
    metadata: dict[str, str] = Field(default_factory=dict)
    # The newest run started on the thread; whether it is still active is the run's status.
    last_run_id: str | None = None
    # How many messages the thread holds (bounded by ``THREAD_MAX_MESSAGES``).
    message_count: int = 0
    ttl: int


class MessageRecord(BaseModel):
    """A stored message of a thread: the caller's, or the answer that ended a run."""

    id: str
    thread_id: str
    created_at: int
    role: Literal["user", "assistant"]
    text: str
    # An answer is incomplete when a limit ended its run (the run's ``incomplete_reason``).
    status: Literal["completed", "incomplete"] = "completed"
    completed_at: int | None = None
    incomplete_at: int | None = None
    assistant_id: str | None = None
    run_id: str | None = None
    metadata: dict[str, str] = Field(default_factory=dict)
    ttl: int


StepKind = Literal["message_creation", "tool_calls"]


class StepCall(BaseModel):
    """One tool call of a step; ``client`` when the caller runs it (its own function tool)."""

    id: str
    name: str
    arguments: str
    client: bool = False


class StepRecord(BaseModel):
    """A run step: the message a run created, or one model turn's tool calls with their
    outputs (written as each call ends, by the server's tool steps or the caller's submit)."""

    id: str
    run_id: str
    thread_id: str
    assistant_id: str
    created_at: int
    type: StepKind
    message_id: str | None = None
    calls: list[StepCall] = Field(default_factory=list)
    # The outputs so far, by tool call id.
    outputs: dict[str, str] = Field(default_factory=dict)
    # Text the model wrote alongside its tool calls (sent back to it with them).
    text: str | None = None
    usage: Usage | None = None
    completed_at: int | None = None
    ttl: int

    @property
    def answered(self) -> bool:
        """True once every call of the step has its output."""
        return all(call.id in self.outputs for call in self.calls)


class RunChoices(BaseModel):
    """What a caller may choose for one run and the run keeps as chosen."""

    tool_choice: str | dict[str, Any] | None = None
    parallel_tool_calls: bool = True
    max_completion_tokens: int | None = None
    max_prompt_tokens: int | None = None
    # ``truncation_strategy`` of type ``last_messages``: at most this many earlier messages.
    last_messages: int | None = None
    metadata: dict[str, str] = Field(default_factory=dict)


class RunOptions(RunChoices):
    """What a caller chose for one run, beyond its assistant."""

    # Replaces the assistant's instructions when set; ``additional_instructions`` appends.
    instructions: str | None = None
    additional_instructions: str | None = None
    # The caller's function tools; None: the assistant's.
    tools: list[dict[str, Any]] | None = None


class RunRecord(RunChoices):
    """A stored run: what it is, where its lifecycle stands, and what it has used so far."""

    id: str
    thread_id: str
    assistant_id: str
    created_at: int
    status: RunStatus
    model: str
    # The instructions the run gives the model after the server's own prompt.
    instructions: str
    # The caller's function tools (the server's Mojang tools are always offered besides).
    tools: list[dict[str, Any]] = Field(default_factory=list)
    # Null once the run has ended, unless it ended by expiring: an ended run can expire no more.
    expires_at: int | None
    started_at: int | None = None
    cancelled_at: int | None = None
    failed_at: int | None = None
    completed_at: int | None = None
    # The tool calls step of the current round, its calls that the server runs (the
    # workflow's Map) and those the caller must answer (``requires_action``).
    step_id: str | None = None
    server_calls: list[ToolCallRecord] = Field(default_factory=list)
    client_calls: list[ToolCallRecord] = Field(default_factory=list)
    # The ids of what the run's request brought (messages; tool call ids whose outputs it
    # gave): a response's ``input_items``.
    inputs: list[str] = Field(default_factory=list)
    # A response's: the response it continued, and whether it ran on the workflow (its
    # ``background``), as every read of it shows them.
    previous_response_id: str | None = None
    background: bool = False
    # What the caller's calls do to the run: an Assistants run waits for their outputs
    # (``requires_action``); a response ends with them, to be answered in the next response.
    waits_for_outputs: bool = True
    # The workflow's task token while it waits for the caller's outputs; never shown.
    task_token: str | None = None
    last_error: RunError | None = None
    incomplete_reason: IncompleteReason | None = None
    rounds: int = 0
    tokens: Usage = Field(default_factory=Usage)
    # Whom the cost guard counts the run's tokens against (``guard.client_key``: an address);
    # never shown to callers.
    client: str | None = None
    # For optimistic locking: every write is conditional on the version it read.
    version: int = 0
    ttl: int

    def started(self, now: int) -> RunRecord | None:
        """The model step begins (from ``queued``, or after the tools ran)."""
        if self.status not in (RunStatus.QUEUED, RunStatus.IN_PROGRESS):
            return None
        return self.model_copy(
            update={
                "status": RunStatus.IN_PROGRESS,
                "started_at": self.started_at or now,
                "server_calls": [],
                "client_calls": [],
            }
        )

    def calling_tools(
        self,
        step_id: str,
        server_calls: Sequence[ToolCallRecord],
        client_calls: Sequence[ToolCallRecord],
        tokens: Usage,
    ) -> RunRecord | None:
        """The model asked for tool calls: one more tool round begins (still ``in_progress``:
        the server's calls run first; the caller's, if any, are waited for next)."""
        if self.status is not RunStatus.IN_PROGRESS:
            return None
        return self.model_copy(
            update={
                "step_id": step_id,
                "server_calls": list(server_calls),
                "client_calls": list(client_calls),
                "rounds": self.rounds + 1,
                "tokens": tokens,
            }
        )

    def waiting(self, task_token: str) -> RunRecord | None:
        """The workflow waits for the caller's outputs: ``requires_action``."""
        if self.status is not RunStatus.IN_PROGRESS or not self.client_calls:
            return None
        return self.model_copy(
            update={"status": RunStatus.REQUIRES_ACTION, "task_token": task_token}
        )

    def resumed(self) -> RunRecord | None:
        """The caller submitted its outputs: ``queued`` until the next model step."""
        if self.status is not RunStatus.REQUIRES_ACTION:
            return None
        return self.model_copy(
            update={"status": RunStatus.QUEUED, "client_calls": [], "task_token": None}
        )

    def cancel_requested(self) -> RunRecord | None:
        """A client asked to cancel: ``cancelling`` until the workflow has stopped."""
        if self.status.terminal or self.status is RunStatus.CANCELLING:
            return None
        return self.model_copy(
            update={"status": RunStatus.CANCELLING, "client_calls": [], "task_token": None}
        )

    def finished(
        self,
        status: RunStatus,
        now: int,
        *,
        tokens: Usage | None = None,
        last_error: RunError | None = None,
        incomplete_reason: IncompleteReason | None = None,
    ) -> RunRecord | None:
        """The run ends with ``status``; None when it has ended already. Whatever ends a run
        that a client is cancelling ends it ``cancelled``."""
        if self.status.terminal:
            return None
        if not status.terminal:
            raise ValueError(f"{status} is not a terminal status")
        if self.status is RunStatus.CANCELLING:
            status = RunStatus.CANCELLED
        update: dict[str, Any] = {
            "status": status,
            "server_calls": [],
            "client_calls": [],
            "task_token": None,
            "tokens": tokens or self.tokens,
            "expires_at": self.expires_at if status is RunStatus.EXPIRED else None,
        }
        if status is RunStatus.COMPLETED:
            update["completed_at"] = now
        elif status is RunStatus.CANCELLED:
            update["cancelled_at"] = now
        elif status is RunStatus.FAILED:
            update["failed_at"] = now
            update["last_error"] = last_error or RunError(
                code="server_error", message="the run failed"
            )
        elif status is RunStatus.INCOMPLETE:
            update["incomplete_reason"] = incomplete_reason or "max_completion_tokens"
        return self.model_copy(update=update)
