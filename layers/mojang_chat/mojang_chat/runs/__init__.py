"""The conversation core: runs on threads and their records, the store (a DynamoDB adapter),
the workflow (a Step Functions adapter), the service behind the endpoints, and the steps the
workflow runs."""

from mojang_chat.runs.errors import CannotCancel, RunConflict, RunNotFound
from mojang_chat.runs.records import (
    ASSISTANT_ID,
    LastError,
    MessageRecord,
    RunRecord,
    ThreadRecord,
    ToolCallRecord,
)
from mojang_chat.runs.service import Runs
from mojang_chat.runs.steps import run_step
from mojang_chat.runs.store import DynamoRunStore, RunStore
from mojang_chat.runs.workflow import (
    STEP_GRACE_SECONDS,
    WORKFLOW_TIMEOUT_SECONDS,
    StepFunctionsWorkflow,
    Workflow,
)

__all__ = [
    "ASSISTANT_ID",
    "STEP_GRACE_SECONDS",
    "WORKFLOW_TIMEOUT_SECONDS",
    "CannotCancel",
    "DynamoRunStore",
    "LastError",
    "MessageRecord",
    "RunConflict",
    "RunNotFound",
    "RunRecord",
    "RunStore",
    "Runs",
    "StepFunctionsWorkflow",
    "ThreadRecord",
    "ToolCallRecord",
    "Workflow",
    "run_step",
]
