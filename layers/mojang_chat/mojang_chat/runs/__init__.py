"""The conversation core: assistants, threads and their items (messages, run steps), runs,
the store (a DynamoDB adapter), the workflow (a Step Functions adapter), the service behind
every front door, and the steps the workflow runs.

``run_step`` (the workflow's entry point) is imported on first use (PEP 562): it wires the
container's clients, which the API and the records' readers never need.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mojang_chat.runs.errors import CannotCancel, InvalidRequest, NotFound, RunConflict
from mojang_chat.runs.records import (
    ASSISTANT_ID,
    AssistantRecord,
    LastError,
    MessageRecord,
    RunOptions,
    RunRecord,
    StepRecord,
    ThreadRecord,
    ToolCallRecord,
)
from mojang_chat.runs.service import Conversations, Listed, NewMessage, ThreadLimits
from mojang_chat.runs.store import DynamoRunStore, Page, RunStore
from mojang_chat.runs.workflow import (
    STEP_GRACE_SECONDS,
    WORKFLOW_TIMEOUT_SECONDS,
    StepFunctionsWorkflow,
    Workflow,
)

if TYPE_CHECKING:
    from mojang_chat.runs.steps import run_step

__all__ = [
    "ASSISTANT_ID",
    "STEP_GRACE_SECONDS",
    "WORKFLOW_TIMEOUT_SECONDS",
    "AssistantRecord",
    "CannotCancel",
    "Conversations",
    "DynamoRunStore",
    "InvalidRequest",
    "LastError",
    "Listed",
    "MessageRecord",
    "NewMessage",
    "NotFound",
    "Page",
    "RunConflict",
    "RunOptions",
    "RunRecord",
    "RunStore",
    "StepFunctionsWorkflow",
    "StepRecord",
    "ThreadLimits",
    "ThreadRecord",
    "ToolCallRecord",
    "Workflow",
    "run_step",
]


def __getattr__(name: str) -> Any:
    if name != "run_step":
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from mojang_chat.runs.steps import run_step

    return run_step
