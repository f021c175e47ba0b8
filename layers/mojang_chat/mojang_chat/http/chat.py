"""``POST /chat``: the request and response contract, the route, and every error's status."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from functools import cache
from importlib import resources
from typing import Any, Literal

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.exceptions import NotFoundError
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError
from pydantic import BaseModel, ConfigDict, Field

from mojang_chat import container
from mojang_chat.chat.loop import ChatOutcome, build_messages
from mojang_chat.chat.types import ToolResult, Usage
from mojang_chat.core.deadline import Deadline
from mojang_chat.core.observability import logger
from mojang_chat.core.settings import ConfigurationError, get_settings
from mojang_chat.core.statuses import TERMINAL_STATUSES, RunStatus
from mojang_chat.guard import BudgetExhausted, ClientLimited, CountersUnavailable, GuardRefused
from mojang_chat.http.errors import (
    MODEL_ERRORS,
    ChatErrorResponse,
    chat_error_body,
    chat_problems,
    documented,
    model_error,
)
from mojang_chat.http.limits import (
    BODY_NOT_JSON_DOC,
    BODY_TOO_LARGE_DOC,
    MAX_HISTORY_TURNS,
    MAX_MESSAGE_CHARS,
    NOT_SENT_AS_JSON_DOC,
    Text,
)
from mojang_chat.http.resolver import BodyBeyondLimits, JsonApi
from mojang_chat.wiring import answer, request_deadline

# Browsers and CDNs may reuse the widget for five minutes, then revalidate with its ETag: a
# redeploy reaches every page within minutes, and an unchanged file costs a 304.
WIDGET_CACHE_CONTROL = "public, max-age=300"


class HistoryTurn(BaseModel):
    """An earlier turn of the conversation, kept by the client (text only)."""

    model_config = ConfigDict(extra="forbid")

    role: Literal["user", "assistant"]
    content: Text


class ChatRequest(BaseModel):
    """A question, with the conversation so far."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"message": "what is the uuid of the player merrydith?", "history": []}]
        },
    )

    message: Text
    history: list[HistoryTurn] = Field(default_factory=list, max_length=MAX_HISTORY_TURNS)


class ToolCallTrace(BaseModel):
    """One tool call the model made, with what the tool answered."""

    id: str
    name: str
    arguments: dict[str, Any] | None
    output: dict[str, Any]


class ChatResponse(BaseModel):
    """The answer, the statuses the request went through, and the tool calls it made."""

    answer: str
    status: Literal["completed", "incomplete"]
    statuses: list[RunStatus]
    tool_calls: list[ToolCallTrace]
    usage: Usage
    model: str
    request_id: str

    @classmethod
    def from_outcome(cls, outcome: ChatOutcome, request_id: str) -> ChatResponse:
        """The response for a finished conversation."""
        return cls(
            answer=outcome.answer,
            status="incomplete" if outcome.status is RunStatus.INCOMPLETE else "completed",
            statuses=outcome.statuses,
            tool_calls=[
                ToolCallTrace(
                    id=r.call.id, name=r.call.name, arguments=r.arguments, output=r.output
                )
                for r in outcome.tool_results
            ],
            usage=outcome.usage,
            model=outcome.model,
            request_id=request_id,
        )


ERRORS = {
    400: BODY_NOT_JSON_DOC,
    401: "A shared secret is configured and the X-Api-Key header is missing or wrong.",
    413: BODY_TOO_LARGE_DOC,
    415: NOT_SENT_AS_JSON_DOC,
    422: "The body is JSON but not a valid request (the message names the field).",
    429: "Too many requests: API Gateway's throttling, or this address is over its questions "
    "per minute or its tokens per day (`rate_limited`, with `Retry-After`).",
    500: "A setting is invalid (the message names it), or a bug (quote the request id).",
    502: "The model server answered with an error.",
    503: "The model is unavailable, rate-limited, or not configured; or the service's model "
    "budget for the day is spent (`budget_exhausted`, with `Retry-After`), or its usage "
    "counters cannot be reached (`guard_unavailable`).",
    504: "No answer within the request's deadline.",
}


# Every failure of /chat besides the model's, and what a caller sees.
ERROR_STATUSES: dict[type[Exception], tuple[int, str]] = {
    ClientLimited: (429, "rate_limited"),
    BudgetExhausted: (503, "budget_exhausted"),
    CountersUnavailable: (503, "guard_unavailable"),
    ConfigurationError: (500, "configuration_error"),
}


def answer_question(
    request: ChatRequest,
    deadline: Deadline,
    *,
    client: str,
    on_status: Callable[[RunStatus], None] | None = None,
    on_tool_results: Callable[[Sequence[ToolResult]], None] | None = None,
) -> ChatOutcome:
    """Run the tool loop for one ``/chat`` request with this container's clients, if the
    cost guard admits ``client`` (raises ``GuardRefused`` before any model call if not); the
    callbacks let a terminal print the transcript as it happens."""
    if get_settings().log_message_contents:
        logger.info("question", extra={"question": request.message})
    messages = build_messages(request.message, [(t.role, t.content) for t in request.history])
    return answer(
        messages,
        deadline,
        client,
        on_status=on_status,
        on_tool_results=on_tool_results,
    )


@container.per_container
def chat_api() -> JsonApi:
    """The resolver of the chat function: ``POST /chat``, its OpenAPI document and docs
    (built on first use, once the environment is known)."""
    app = JsonApi(
        chat_error_body,
        title="mojang-chat",
        description="Ask about Minecraft players in plain English.",
        open_paths=("/widget.js",),
    )

    @app.post(
        "/chat",
        summary="Answer a question about Minecraft players",
        responses={
            200: {"description": "The answer."},
            **documented(ChatErrorResponse, ERRORS, *ERRORS),
        },
    )
    def chat(request: ChatRequest) -> ChatResponse:
        deadline = request_deadline(app.lambda_context)
        outcome = answer_question(request, deadline, client=app.client)
        return ChatResponse.from_outcome(outcome, app.request_id)

    @app.get("/widget.js", include_in_schema=False)
    def widget() -> Response[str]:
        script, etag = widget_script()
        headers = {"Cache-Control": WIDGET_CACHE_CONTROL, "ETag": etag}
        if etag in (app.current_event.headers.get("if-none-match") or ""):
            return Response(304, None, "", headers=headers)
        return Response(200, "application/javascript; charset=utf-8", script, headers=headers)

    def invalid_request(error: RequestValidationError) -> Response[str]:
        problems = error.errors()
        if any(p.get("type") == "json_invalid" for p in problems):
            beyond = error.__cause__  # Powertools raises from the parser's error
            message = beyond.msg if isinstance(beyond, BodyBeyondLimits) else "not valid JSON"
            return app.error(400, "invalid_json", f"the request body is {message}")
        return app.error(422, "invalid_request", chat_problems(problems))

    def known_error(error: Exception) -> Response[str]:
        if isinstance(error, tuple(MODEL_ERRORS)):
            status, error_type, headers = model_error(error)
            return app.error(status, error_type, str(error), headers)
        status, error_type = next(v for k, v in ERROR_STATUSES.items() if isinstance(error, k))
        headers = {}
        if isinstance(error, GuardRefused):
            headers["Retry-After"] = str(error.retry_after)
        if status == 500:
            logger.error("configuration error", extra={"error": str(error)})
        if isinstance(error, CountersUnavailable):
            logger.error("usage counters unavailable", exc_info=error)
        return app.error(status, error_type, str(error), headers)

    # Deployed, the HTTP API's $default route brings every path no other route takes here, so
    # that an unknown one is answered in this shape, not API Gateway's bare "Not Found".
    def not_found(error: NotFoundError) -> Response[str]:
        event = app.current_event
        methods = app.methods_of(event.path)
        if methods:
            allowed = ", ".join(methods)
            message = f"{event.http_method} {event.path} is not allowed: it takes {allowed}"
            return app.error(405, "method_not_allowed", message, {"Allow": allowed})
        return app.error(404, "not_found", f"no route {event.http_method} {event.path}")

    def unexpected(error: Exception) -> Response[str]:
        logger.exception("unexpected error")
        return app.error(500, "internal_error", "an unexpected error occurred")

    app.exception_handler(RequestValidationError)(invalid_request)
    app.exception_handler([*ERROR_STATUSES, *MODEL_ERRORS])(known_error)
    app.exception_handler(NotFoundError)(not_found)
    app.exception_handler(Exception)(unexpected)
    return app


def widget_constants() -> dict[str, Any]:
    """The facts the widget needs from the server, by the placeholder names in widget.js."""
    return {
        "MAX_HISTORY_TURNS": MAX_HISTORY_TURNS,
        "MAX_MESSAGE_CHARS": MAX_MESSAGE_CHARS,
        "TERMINAL_STATUSES": sorted(status.value for status in TERMINAL_STATUSES),
    }


@cache
def widget_script() -> tuple[str, str]:
    """The chat widget (web/widget.js, shipped in the layer) and its ETag."""
    script = resources.files("mojang_chat").joinpath("web", "widget.js").read_text("utf-8")
    for name, value in widget_constants().items():
        script = script.replace(f"__{name}__", json.dumps(value))
    digest = hashlib.sha256(script.encode()).hexdigest()[:32]
    return script, f'"{digest}"'
