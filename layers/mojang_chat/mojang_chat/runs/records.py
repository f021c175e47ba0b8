"""The conversation core's records: a run, the thread it runs on, the thread's messages, and
the ids they go by.

These are what the store keeps, in the core's own terms; no API's shape lives here (each front
door maps them to its own objects, e.g. ``http/objects.py`` to the Assistants API's). Every
change to a run is a pure function of its record, written on condition that nobody wrote in
between (``store.transition``). ``RunRecord.finished`` never leaves a terminal status and turns
any ending of a ``cancelling`` run into ``cancelled``, so a late workflow step can never
overwrite a cancel or an end.

The conversation (Chat Completions messages, which grow with every tool output) lives in the
thread's record, not the run's: polling a run reads one small item, and the workflow's state
carries only ids (Step Functions limits it to 256 KB).
"""

from __future__ import annotations

import secrets
import string
from collections.abc import Callable, Sequence
from typing import Any, Literal, get_args

from pydantic import BaseModel, Field, model_validator

from mojang_chat.chat.loop import IncompleteReason
from mojang_chat.chat.types import Usage
from mojang_chat.core.statuses import RunStatus

# The built-in assistant: the only one until assistants can be created.
ASSISTANT_ID = "asst_default"

_ID_CHARACTERS = string.ascii_letters + string.digits
_ID_LENGTH = 24

Clock = Callable[[], float]


def new_id(prefix: Literal["run", "thread", "msg"]) -> str:
    """A fresh id in OpenAI's style, e.g. ``run_`` and 24 random letters and digits."""
    return f"{prefix}_" + "".join(secrets.choice(_ID_CHARACTERS) for _ in range(_ID_LENGTH))


def is_id(prefix: Literal["run", "thread", "msg"], value: str) -> bool:
    """True when ``value`` has the shape of an id that ``new_id(prefix)`` makes."""
    head, _, tail = value.partition("_")
    return head == prefix and len(tail) == _ID_LENGTH and set(tail) <= set(_ID_CHARACTERS)


class CalledFunction(BaseModel):
    """The function a tool call names, with the arguments the model wrote (a JSON string)."""

    name: str
    arguments: str


class ToolCallRecord(BaseModel):
    """A tool call the model asked for, in Chat Completions' shape: the conversation's, and
    the workflow's (its Map hands each one to a tool step as it is)."""

    id: str
    type: Literal["function"] = "function"
    function: CalledFunction


ErrorCode = Literal["server_error", "rate_limit_exceeded", "invalid_prompt"]


class LastError(BaseModel):
    """Why a run failed: a code a client can act on, and a message safe to show."""

    code: ErrorCode
    message: str


class RunRecord(BaseModel):
    """A stored run: what it is, where its lifecycle stands, and what it has used so far."""

    id: str
    thread_id: str
    assistant_id: str
    created_at: int
    status: RunStatus
    model: str
    instructions: str
    tools: list[dict[str, Any]]
    metadata: dict[str, str] = Field(default_factory=dict)
    # Null once the run has ended, unless it ended by expiring: an ended run can expire no more.
    expires_at: int | None
    started_at: int | None = None
    cancelled_at: int | None = None
    failed_at: int | None = None
    completed_at: int | None = None
    # The calls a ``requires_action`` run waits for (none in any other status).
    tool_calls: list[ToolCallRecord] = Field(default_factory=list)
    last_error: LastError | None = None
    incomplete_reason: IncompleteReason | None = None
    rounds: int = 0
    tokens: Usage = Field(default_factory=Usage)
    # Whom the cost guard counts the run's tokens against (``guard.client_key``: an address);
    # never shown to callers. None for a run created before the guard.
    client: str | None = None
    # For optimistic locking: every write is conditional on the version it read.
    version: int = 0
    ttl: int

    @model_validator(mode="before")
    @classmethod
    def _from_wire_shaped_item(cls, data: Any) -> Any:
        """Read a run stored before records and wire objects were apart (kept until such
        items' TTL has passed): its calls were in ``required_action``, its precise incomplete
        reason in the metadata."""
        if not isinstance(data, dict) or "required_action" not in data:
            return data
        data = dict(data)
        action = data.pop("required_action") or {}
        data.setdefault("tool_calls", (action.get("submit_tool_outputs") or {}).get("tool_calls"))
        if data["tool_calls"] is None:
            data["tool_calls"] = []
        details = data.pop("incomplete_details", None)
        if details and data.get("incomplete_reason") is None:
            kept = (data.get("metadata") or {}).get("incomplete_reason")
            if kept not in get_args(IncompleteReason):
                # The schema's two reasons; ours were mapped onto them as prompt or completion.
                prompt = details.get("reason") == "max_prompt_tokens"
                kept = "max_total_tokens" if prompt else "max_completion_tokens"
            data["incomplete_reason"] = kept
        return data

    def started(self, now: int) -> RunRecord | None:
        """The model step begins (from ``queued``, or after the tools ran)."""
        if self.status not in (RunStatus.QUEUED, RunStatus.REQUIRES_ACTION):
            return None
        return self.model_copy(
            update={
                "status": RunStatus.IN_PROGRESS,
                "started_at": self.started_at or now,
                "tool_calls": [],
            }
        )

    def awaiting_tools(self, calls: Sequence[ToolCallRecord], tokens: Usage) -> RunRecord | None:
        """The model asked for tool calls: one more tool round begins."""
        if self.status is not RunStatus.IN_PROGRESS:
            return None
        return self.model_copy(
            update={
                "status": RunStatus.REQUIRES_ACTION,
                "tool_calls": list(calls),
                "rounds": self.rounds + 1,
                "tokens": tokens,
            }
        )

    def cancel_requested(self) -> RunRecord | None:
        """A client asked to cancel: ``cancelling`` until the workflow has stopped."""
        if self.status.terminal or self.status is RunStatus.CANCELLING:
            return None
        return self.model_copy(update={"status": RunStatus.CANCELLING, "tool_calls": []})

    def finished(
        self,
        status: RunStatus,
        now: int,
        *,
        tokens: Usage | None = None,
        last_error: LastError | None = None,
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
            "tool_calls": [],
            "tokens": tokens or self.tokens,
            "expires_at": self.expires_at if status is RunStatus.EXPIRED else None,
        }
        if status is RunStatus.COMPLETED:
            update["completed_at"] = now
        elif status is RunStatus.CANCELLED:
            update["cancelled_at"] = now
        elif status is RunStatus.FAILED:
            update["failed_at"] = now
            update["last_error"] = last_error or LastError(
                code="server_error", message="the run failed"
            )
        elif status is RunStatus.INCOMPLETE:
            update["incomplete_reason"] = incomplete_reason or "max_completion_tokens"
        return self.model_copy(update=update)


class MessageRecord(BaseModel):
    """A stored message of a thread: the client's, or the answer that ended a run."""

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

    @model_validator(mode="before")
    @classmethod
    def _from_wire_shaped_item(cls, data: Any) -> Any:
        """Read a message stored as OpenAI's Message object (before records and wire objects
        were apart; kept until such items' TTL has passed): its text was in content parts."""
        if not isinstance(data, dict) or "text" in data or "content" not in data:
            return data
        data = dict(data)
        parts = data.pop("content") or []
        data["text"] = "\n".join(
            str(part["text"]["value"]) for part in parts if part.get("type") == "text"
        )
        return data


class ThreadRecord(BaseModel):
    """A stored thread: its messages, and the conversation the model sees."""

    id: str
    created_at: int
    run_id: str
    metadata: dict[str, str] = Field(default_factory=dict)
    messages: list[MessageRecord]
    # Chat Completions messages (system prompt, history, question, turns and tool outputs).
    conversation: list[dict[str, Any]]
    # The current tool round's outputs, by tool call id, written concurrently by tool steps.
    tool_outputs: dict[str, str] = Field(default_factory=dict)
    ttl: int
