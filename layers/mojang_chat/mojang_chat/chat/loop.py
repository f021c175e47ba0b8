"""The tool loop: model, tools, model ... until the model answers or a limit is reached.

Used by ``POST /chat`` (the whole loop in one request) and, one step at a time, by the Step
Functions workflow (``Model.complete`` and ``ToolRegistry.run`` are its two tasks).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass, field
from typing import Any, Literal

from mojang_chat.chat.model import CallOptions, ChatModel, ModelTurn
from mojang_chat.chat.registry import ToolRegistry
from mojang_chat.chat.types import ToolCall, ToolResult, Usage
from mojang_chat.core.deadline import Deadline
from mojang_chat.core.observability import logger
from mojang_chat.core.statuses import RunStatus

SYSTEM_PROMPT = (
    "You answer questions about Minecraft: Java Edition players with the Mojang API tools you "
    "are given: usernames, UUIDs, skins and capes. Call a tool whenever the answer depends on "
    "Mojang data; never guess a UUID. Look up several players in one call when you can. If a "
    "tool reports an error or that a player does not exist, say so plainly. Answer briefly, "
    "and give UUIDs in full."
)

IncompleteReason = Literal["max_tool_rounds", "max_total_tokens", "max_completion_tokens"]

# OpenAI's rule of thumb for English: about four characters a token. The estimate of a prompt
# is its messages and tool schemas as JSON, in characters, divided by this.
CHARS_PER_TOKEN = 4


@dataclass(frozen=True)
class Limits:
    """How far one conversation may go."""

    max_tool_rounds: int
    max_total_tokens: int
    tool_output_max_chars: int
    max_tool_calls_per_turn: int


@dataclass
class ChatOutcome:
    """The answer, and the trace of how it was reached."""

    answer: str
    status: RunStatus
    statuses: list[RunStatus]
    tool_results: list[ToolResult]
    usage: Usage
    model: str
    incomplete_reason: IncompleteReason | None = None
    messages: list[dict[str, Any]] = field(default_factory=list)
    # The calls of the caller's own tools that ended the conversation (``requires_action``):
    # the caller runs them and sends their outputs back.
    client_calls: list[ToolCall] = field(default_factory=list)


def build_messages(question: str, history: Sequence[tuple[str, str]] = ()) -> list[dict[str, Any]]:
    """The conversation to send: our system prompt, the earlier turns, then the question.

    History turns are ``(role, text)`` with role ``user`` or ``assistant`` only (the API layer
    validates that): a client can never inject system, developer or tool messages.
    """
    messages: list[dict[str, Any]] = [{"role": "system", "content": SYSTEM_PROMPT}]
    messages += [{"role": role, "content": text} for role, text in history]
    messages.append({"role": "user", "content": question})
    return messages


def tool_messages(outputs: Iterable[tuple[str, str]]) -> list[dict[str, Any]]:
    """One ``tool`` message per ``(tool_call_id, content)``, answering the call it names."""
    return [
        {"role": "tool", "tool_call_id": call_id, "content": content}
        for call_id, content in outputs
    ]


def estimate_prompt_tokens(
    messages: Sequence[dict[str, Any]], tools: Sequence[dict[str, Any]]
) -> int:
    """About how many tokens a prompt of ``messages`` and ``tools`` costs, before it is sent:
    its JSON in characters over ``CHARS_PER_TOKEN`` (a tokenizer would be a dependency; a
    budget only needs the order of magnitude)."""
    chars = len(json.dumps(list(messages), ensure_ascii=False)) + len(json.dumps(list(tools)))
    return math.ceil(chars / CHARS_PER_TOKEN)


def over_budget(
    messages: Sequence[dict[str, Any]],
    tools: Sequence[dict[str, Any]],
    usage: Usage,
    limits: Limits,
) -> bool:
    """True when a model call with this prompt would take the conversation past
    ``max_total_tokens`` (``usage`` is what it used so far): the call is not made."""
    return usage.total_tokens + estimate_prompt_tokens(messages, tools) > limits.max_total_tokens


def not_run_message(limit: int) -> str:
    """What the model reads for a call beyond the per-turn cap."""
    return (
        f"not run: at most {limit} tool calls are run per turn, and this one came after them. "
        "Ask for it again in the next turn if it is still needed (bulk tools take many names "
        "in one call)."
    )


def calls_to_run(
    calls: Sequence[ToolCall], limits: Limits
) -> tuple[list[ToolCall], dict[int, ToolResult]]:
    """The calls of one model turn that run, and the answers (by position) to those that do
    not: the calls beyond ``max_tool_calls_per_turn``, and those whose arguments were not a
    JSON string. The protocol needs an answer for every call: each gets one the model reads."""
    cap = limits.max_tool_calls_per_turn
    runnable: list[ToolCall] = []
    answered: dict[int, ToolResult] = {}
    for index, call in enumerate(calls):
        if index >= cap:
            answered[index] = ToolResult(call, None, {"error": not_run_message(cap)})
        elif call.problem is not None:
            answered[index] = ToolResult(call, None, {"error": call.problem})
        else:
            runnable.append(call)
    return runnable, answered


def converse(
    messages: list[dict[str, Any]],
    *,
    model: ChatModel,
    tools: ToolRegistry,
    context: object,
    executor: Executor,
    limits: Limits,
    deadline: Deadline,
    on_status: Callable[[RunStatus], None] | None = None,
    on_tool_results: Callable[[Sequence[ToolResult]], None] | None = None,
    client_tools: Sequence[dict[str, Any]] = (),
    options: CallOptions | None = None,
) -> ChatOutcome:
    """Run the conversation to an answer, going through the Assistants run statuses.

    ``on_status`` hears each status as it is entered, ``on_tool_results`` each turn's tool
    results (a terminal prints the transcript from them). ``client_tools`` are the caller's
    own function tools, offered besides (and over any of the same name) the server's: a turn
    that calls one ends the conversation ``requires_action`` with those calls, for the caller
    to run (the server's calls of that turn are not run: the model asks again once it has the
    caller's outputs). ``options`` go to every model call. Raises the model adapter's errors
    (``ModelError``) and ``DeadlineExceeded``; whatever a tool does wrong goes to the model.
    """
    offered, client_names = offer(tools, client_tools)
    messages, statuses, results = list(messages), list[RunStatus](), list[ToolResult]()
    usage, last_text = Usage(), None

    def enter(status: RunStatus) -> None:
        statuses.append(status)
        if on_status is not None:
            on_status(status)

    def outcome(turn: ModelTurn | None, status: RunStatus, **fields: Any) -> ChatOutcome:
        return ChatOutcome(
            status=status,
            statuses=statuses,
            tool_results=results,
            usage=usage,
            model=turn.model if turn else model.name,
            messages=messages,
            **fields,
        )

    def finish(turn: ModelTurn | None, reason: IncompleteReason | None) -> ChatOutcome:
        status = RunStatus.INCOMPLETE if reason else RunStatus.COMPLETED
        enter(status)
        if reason:
            logger.warning("conversation incomplete", extra={"reason": reason})
        answer = final_answer(turn, last_text, reason, limits)
        return outcome(turn, status, answer=answer, incomplete_reason=reason)

    enter(RunStatus.QUEUED)
    rounds = 0
    while True:
        enter(RunStatus.IN_PROGRESS)
        if over_budget(messages, offered, usage, limits):
            return finish(None, "max_total_tokens")
        turn = model.complete(messages, offered, deadline, options)
        usage += turn.usage
        last_text = turn.content or last_text
        messages.append(turn.as_message())
        status, reason = turn_outcome(turn, rounds=rounds, usage=usage, limits=limits)
        if status is not RunStatus.REQUIRES_ACTION:
            return finish(turn, reason)
        enter(RunStatus.REQUIRES_ACTION)
        theirs = [call for call in turn.tool_calls if call.name in client_names]
        if theirs:
            return outcome(
                turn, RunStatus.REQUIRES_ACTION, answer=turn.content or "", client_calls=theirs
            )
        batch = run_calls(turn.tool_calls, tools, context, executor, limits, deadline)
        results.extend(batch)
        cap = limits.tool_output_max_chars
        messages.extend(tool_messages((r.call.id, r.content(cap)) for r in batch))
        if on_tool_results is not None:
            on_tool_results(batch)
        rounds += 1


def run_calls(
    calls: Sequence[ToolCall],
    tools: ToolRegistry,
    context: object,
    executor: Executor,
    limits: Limits,
    deadline: Deadline,
) -> list[ToolResult]:
    """The results of one turn's tool calls, in the order the model asked: every call is
    answered (those over the per-turn cap, or malformed, without running)."""
    runnable, answered = calls_to_run(calls, limits)
    ran = iter(tools.run_all(runnable, context, deadline, executor) if runnable else [])
    return [answered.get(i) or next(ran) for i in range(len(calls))]


def offer(
    tools: ToolRegistry, client_tools: Sequence[dict[str, Any]]
) -> tuple[list[dict[str, Any]], set[str]]:
    """The tools the model is offered, and the names of the caller's among them: the caller's
    function tools, then the server's, but for any the caller names too (a caller's tool is
    the caller's: the tutorial declares its own ``get_uuid_from_username``)."""
    names = {str(tool["function"]["name"]) for tool in client_tools}
    server = [d for d in tools.definitions if d["function"]["name"] not in names]
    return [*client_tools, *server], names


def turn_outcome(
    turn: ModelTurn, *, rounds: int, usage: Usage, limits: Limits
) -> tuple[RunStatus, IncompleteReason | None]:
    """Where a model turn leads: ``requires_action`` (run its tool calls), ``completed``, or
    ``incomplete`` with the limit that was reached. ``rounds`` is the number of tool rounds
    already run, ``usage`` the tokens used so far, this turn's included.

    The one decision of the tool loop, shared by ``converse`` and the workflow's model step.
    """
    if not turn.tool_calls:
        if turn.finish_reason == "length":
            return RunStatus.INCOMPLETE, "max_completion_tokens"
        return RunStatus.COMPLETED, None
    if rounds >= limits.max_tool_rounds:
        return RunStatus.INCOMPLETE, "max_tool_rounds"
    if usage.total_tokens >= limits.max_total_tokens:
        return RunStatus.INCOMPLETE, "max_total_tokens"
    return RunStatus.REQUIRES_ACTION, None


def final_answer(
    turn: ModelTurn | None,
    last_text: str | None,
    reason: IncompleteReason | None,
    limits: Limits,
) -> str:
    """The answer a finished conversation gives: the last turn's text, else the last text the
    model wrote on the way, else a sentence saying which limit stopped it (``turn`` is None
    when the budget stopped the conversation before a model call)."""
    answer = turn.content if turn is not None and not turn.tool_calls else last_text
    return answer or _unfinished(reason, limits)


def _unfinished(reason: IncompleteReason | None, limits: Limits) -> str:
    if reason == "max_tool_rounds":
        return (
            f"I could not finish: answering needed more than {limits.max_tool_rounds} rounds "
            "of Mojang API lookups. Try asking about fewer players at a time."
        )
    if reason == "max_total_tokens":
        return "I could not finish: the conversation reached its token budget."
    if reason == "max_completion_tokens":
        return "I could not finish the answer: it reached the length limit."
    return "I have no answer to that (the model said nothing)."
