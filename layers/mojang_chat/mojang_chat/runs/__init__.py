"""The conversation core: runs on threads, their records and store (DynamoDB), the workflow
adapter (Step Functions), the service behind the endpoints, and the steps the workflow runs."""

from mojang_chat.runs.service import (
    ASSISTANT_ID,
    STEP_GRACE_SECONDS,
    WORKFLOW_TIMEOUT_SECONDS,
    CannotCancel,
    MessageObject,
    RunNotFound,
    RunObject,
    RunRecord,
    Runs,
    RunStore,
    ThreadRecord,
)
from mojang_chat.runs.steps import run_step

__all__ = [
    "ASSISTANT_ID",
    "STEP_GRACE_SECONDS",
    "WORKFLOW_TIMEOUT_SECONDS",
    "CannotCancel",
    "MessageObject",
    "RunNotFound",
    "RunObject",
    "RunRecord",
    "RunStore",
    "Runs",
    "ThreadRecord",
    "run_step",
]
