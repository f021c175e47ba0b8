"""The conversation core: assistants, threads and their items (messages, run steps), runs and
responses, each a part of one service (``ConversationCore``); the records and where they are
stored (``RunStore``, its DynamoDB adapter); the workflow (a Step Functions adapter); and the
steps the workflow runs (``StepRunner``). Adapters come in; nothing here builds a client.
"""

from mojang_chat.runs.base import ThreadLimits
from mojang_chat.runs.dynamodb import DynamoRunStore
from mojang_chat.runs.errors import CannotCancel, InvalidRequest, NotFound, RunConflict
from mojang_chat.runs.paging import Listed, Page
from mojang_chat.runs.records import (
    ASSISTANT_ID,
    AssistantRecord,
    MessageRecord,
    RunError,
    RunOptions,
    RunRecord,
    StepRecord,
    ThreadRecord,
    ToolCallRecord,
)
from mojang_chat.runs.runner import StepRunner
from mojang_chat.runs.service import ConversationCore
from mojang_chat.runs.store import RunStore
from mojang_chat.runs.threads import EarlierCall, HistoryItem, NewMessage
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
    "AssistantRecord",
    "CannotCancel",
    "ConversationCore",
    "DynamoRunStore",
    "EarlierCall",
    "HistoryItem",
    "InvalidRequest",
    "Listed",
    "MessageRecord",
    "NewMessage",
    "NotFound",
    "Page",
    "RunConflict",
    "RunError",
    "RunOptions",
    "RunRecord",
    "RunStore",
    "StepFunctionsWorkflow",
    "StepRecord",
    "StepRunner",
    "ThreadLimits",
    "ThreadRecord",
    "ToolCallRecord",
    "Workflow",
]
