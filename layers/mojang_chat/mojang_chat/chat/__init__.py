"""The tool loop: the model adapter (Chat Completions), the tool registry (typed functions as
strict schemas), and the loop that runs them until the model answers or a limit is reached."""

from mojang_chat.chat.loop import (
    SYSTEM_PROMPT,
    ChatOutcome,
    IncompleteReason,
    Limits,
    build_messages,
    converse,
    final_answer,
    tool_messages,
    turn_outcome,
)
from mojang_chat.chat.model import (
    ChatModel,
    Model,
    ModelError,
    ModelFailed,
    ModelRateLimited,
    ModelTurn,
    ModelUnavailable,
)
from mojang_chat.chat.registry import Tool, ToolInputError, ToolRegistry, new_executor
from mojang_chat.chat.types import ToolCall, ToolResult, Usage

__all__ = [
    "SYSTEM_PROMPT",
    "ChatModel",
    "ChatOutcome",
    "IncompleteReason",
    "Limits",
    "Model",
    "ModelError",
    "ModelFailed",
    "ModelRateLimited",
    "ModelTurn",
    "ModelUnavailable",
    "Tool",
    "ToolCall",
    "ToolInputError",
    "ToolRegistry",
    "ToolResult",
    "Usage",
    "build_messages",
    "converse",
    "final_answer",
    "new_executor",
    "tool_messages",
    "turn_outcome",
]
