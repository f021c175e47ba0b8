"""The runs endpoints, on OpenAI's Assistants paths and in its shapes, so that the official SDK's
``client.beta.threads`` calls work with ``base_url`` pointed at this API:

- ``POST /v1/threads/runs``: create a thread from ``thread.messages`` and a run on it;
- ``GET /v1/threads/{thread_id}/runs/{run_id}``: the run (one ``GetItem``);
- ``POST /v1/threads/{thread_id}/runs/{run_id}/cancel``: ``cancelling``, then ``cancelled``;
- ``GET /v1/threads/{thread_id}/messages``: the question(s) and, once the run ended, the answer.

Errors have OpenAI's shape, ``{"error": {"type", "message", "param", "code"}}``, and status:
400 for a request OpenAI would refuse (invalid JSON or parameters, an unsupported option, a
cancel of a finished run), 401 without the shared secret (when one is configured), 404 for an
unknown assistant, thread, run or URL, 413 for a body over ``limits.MAX_BODY_BYTES``, 415 for a
body not sent as JSON, 429 from API Gateway's throttling or when the caller's address is over its
budget, 503 when the service's daily budget is spent (creating a run only: reads are never
refused), 500 when the service is misconfigured or broken.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Annotated, Any, Literal

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.exceptions import NotFoundError
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError
from pydantic import BaseModel, ConfigDict, Field, model_validator

from mojang_chat import container
from mojang_chat.chat.loop import SYSTEM_PROMPT, build_messages
from mojang_chat.core.observability import logger
from mojang_chat.core.settings import ConfigurationError, get_settings
from mojang_chat.guard import BudgetExhausted, ClientLimited, CountersUnavailable
from mojang_chat.http.errors import (
    ApiError,
    OpenAIErrorResponse,
    documented,
    openai_error_body,
    openai_problem,
    openai_refusal_body,
)
from mojang_chat.http.limits import (
    BODY_TOO_LARGE_DOC,
    MAX_HISTORY_TURNS,
    MAX_MESSAGE_CHARS,
    MESSAGE_TOO_LONG,
    NOT_SENT_AS_JSON_DOC,
    Metadata,
    Text,
)
from mojang_chat.http.objects import MessageObject, RunObject, message_object, run_object
from mojang_chat.http.resolver import JsonApi
from mojang_chat.mojang.tools import mojang_tools
from mojang_chat.runs.errors import CannotCancel, RunNotFound
from mojang_chat.runs.records import ASSISTANT_ID
from mojang_chat.runs.service import Runs


class TextPart(BaseModel):
    """A text content part of a message."""

    model_config = ConfigDict(extra="forbid")
    type: Literal["text"]
    text: Text


class ThreadMessage(BaseModel):
    """A message to start the thread with (text only)."""

    model_config = ConfigDict(extra="forbid")
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
    def _bounded(self) -> ThreadMessage:
        # The same bound as /chat's messages, whether the text comes in one piece or in parts.
        if len(self.text) > MAX_MESSAGE_CHARS:
            raise ValueError(MESSAGE_TOO_LONG)
        return self


class NewThread(BaseModel):
    """The thread to create: its messages, the question last."""

    model_config = ConfigDict(extra="forbid")
    messages: list[ThreadMessage] = Field(min_length=1, max_length=MAX_HISTORY_TURNS + 1)
    tool_resources: dict[str, Any] | None = None
    metadata: Metadata | None = None


class CreateThreadAndRunRequest(BaseModel):
    """``POST /v1/threads/runs`` (``CreateThreadAndRunRequest`` of OpenAI's schema)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "assistant_id": ASSISTANT_ID,
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

    assistant_id: str
    thread: NewThread
    model: str | None = None
    metadata: Metadata | None = None
    stream: bool | None = None
    parallel_tool_calls: bool | None = None
    tool_choice: str | dict[str, Any] | None = None
    response_format: str | dict[str, Any] | None = None
    # Accepted by OpenAI, not (yet) by this assistant: anything but null is refused with 400.
    instructions: str | None = None
    tools: list[Any] | None = None
    tool_resources: dict[str, Any] | None = None
    temperature: float | None = None
    top_p: float | None = None
    max_prompt_tokens: int | None = None
    max_completion_tokens: int | None = None
    truncation_strategy: dict[str, Any] | None = None

    def unsupported(self, configured_model: str) -> str | None:
        """The first parameter this API cannot honour, or None."""
        for name in (
            "instructions",
            "tools",
            "tool_resources",
            "temperature",
            "top_p",
            "max_prompt_tokens",
            "max_completion_tokens",
            "truncation_strategy",
        ):
            if getattr(self, name) is not None:
                return name
        if self.thread.tool_resources is not None:
            return "thread.tool_resources"
        for index, message in enumerate(self.thread.messages):
            if message.attachments:
                return f"thread.messages[{index}].attachments"
        checks = {
            "model": self.model in (None, configured_model),
            "stream": not self.stream,
            "parallel_tool_calls": self.parallel_tool_calls in (None, True),
            "tool_choice": self.tool_choice in (None, "auto"),
            "response_format": self.response_format in (None, "auto"),
        }
        return next((name for name, ok in checks.items() if not ok), None)


class ListMessagesResponse(BaseModel):
    """A page of a thread's messages (``ListMessagesResponse``)."""

    object: Literal["list"] = "list"
    data: list[MessageObject]
    first_id: str | None
    last_id: str | None
    has_more: bool


ERRORS = {
    400: "Invalid JSON or parameters, an unsupported option, or a cancel of a finished run.",
    401: "A shared secret is configured and neither X-Api-Key nor the bearer token matches.",
    404: "No such assistant, thread, run or URL.",
    413: BODY_TOO_LARGE_DOC,
    415: NOT_SENT_AS_JSON_DOC,
    429: "Too many requests: API Gateway's throttling, or, creating a run, this address is over "
    "its runs per minute or its tokens per day (code `rate_limit_exceeded`, with `Retry-After`).",
    500: "The service is misconfigured or failed.",
    503: "Creating a run: the service's model budget for the day is spent (code "
    "`budget_exhausted`, with `Retry-After`), or its usage counters cannot be reached (code "
    "`guard_unavailable`).",
}


@container.per_container
def runs_service() -> Runs:
    """The runs service with this container's clients and settings."""
    settings = get_settings()
    return Runs(
        container.run_store(),
        container.workflow(),
        model=settings.openai_model,
        instructions=SYSTEM_PROMPT,
        tools=mojang_tools.definitions,
        expires_seconds=settings.run_expires_seconds,
        retention_seconds=settings.runs_retention_days * 86400,
    )


def create_thread_and_run(request: CreateThreadAndRunRequest, client: str) -> RunObject:
    """Validate what the schema cannot say, ask the cost guard to admit ``client``, then
    create the thread and start its run."""
    if request.assistant_id != ASSISTANT_ID:
        raise ApiError(404, f"No assistant found with id '{request.assistant_id}'.")
    unsupported = request.unsupported(get_settings().openai_model)
    if unsupported is not None:
        raise ApiError(
            400,
            f"Unsupported parameter: '{unsupported}' is not supported by this assistant.",
            param=unsupported,
            code="unsupported_parameter",
        )
    messages = request.thread.messages
    if messages[-1].role != "user":
        raise ApiError(
            400,
            "The last message of the thread must be the user's question.",
            param=f"thread.messages[{len(messages) - 1}].role",
            code="invalid_value",
        )
    conversation = build_messages(messages[-1].text, [(m.role, m.text) for m in messages[:-1]])
    container.guard().admit(client)
    run = runs_service().create_thread_and_run(
        [(m.role, m.text, m.metadata or {}) for m in messages],
        conversation,
        thread_metadata=request.thread.metadata or {},
        run_metadata=request.metadata or {},
        client=client,
    )
    return run_object(run)


def list_messages(thread_id: str, query: Mapping[str, str]) -> ListMessagesResponse:
    """A page of the thread's messages, with OpenAI's ``limit``, ``order``, ``after``,
    ``before`` and ``run_id`` parameters (newest first by default)."""
    messages = runs_service().messages(thread_id)
    order = query.get("order", "desc")
    if order not in ("asc", "desc"):
        raise ApiError(400, f"Invalid 'order': {order!r} is not 'asc' or 'desc'.", param="order")
    try:
        limit = int(query.get("limit", "20"))
    except ValueError:
        limit = 0
    if not 1 <= limit <= 100:
        raise ApiError(400, "Invalid 'limit': an integer from 1 to 100.", param="limit")
    if "run_id" in query:
        messages = [m for m in messages if m.run_id == query["run_id"]]
    if order == "desc":
        messages = messages[::-1]
    ids = [m.id for m in messages]
    if "after" in query and query["after"] in ids:
        messages = messages[ids.index(query["after"]) + 1 :]
    if "before" in query and query["before"] in ids:
        messages = messages[: [m.id for m in messages].index(query["before"])]
    page = messages[:limit]
    return ListMessagesResponse(
        data=[message_object(message) for message in page],
        first_id=page[0].id if page else None,
        last_id=page[-1].id if page else None,
        has_more=len(messages) > limit,
    )


@container.per_container
def runs_api() -> JsonApi:
    """The resolver of the runs function (built on first use, once the environment is known)."""
    app = JsonApi(
        openai_refusal_body,
        title="mojang-chat runs",
        description="OpenAI Assistants-style runs: create, poll, cancel, read the answer.",
        openapi_path="/v1/openapi.json",
    )
    responses: dict[int, Any] = {
        200: {"description": "The run."},
        **documented(OpenAIErrorResponse, ERRORS, *ERRORS),
    }

    @app.post("/v1/threads/runs", summary="Create a thread and run it", responses=responses)
    def create(request: CreateThreadAndRunRequest) -> RunObject:
        return create_thread_and_run(request, app.client)

    @app.get("/v1/threads/<thread_id>/runs/<run_id>", summary="Retrieve a run", responses=responses)
    def retrieve(thread_id: str, run_id: str) -> RunObject:
        return run_object(runs_service().get(thread_id, run_id))

    @app.post(
        "/v1/threads/<thread_id>/runs/<run_id>/cancel",
        summary="Cancel a run",
        responses=responses,
    )
    def cancel(thread_id: str, run_id: str) -> RunObject:
        return run_object(runs_service().cancel(thread_id, run_id))

    @app.get(
        "/v1/threads/<thread_id>/messages",
        summary="List a thread's messages",
        responses={
            200: {"description": "The messages."},
            **documented(OpenAIErrorResponse, ERRORS, *ERRORS),
        },
    )
    def messages(thread_id: str) -> ListMessagesResponse:
        query = app.current_event.query_string_parameters or {}
        return list_messages(thread_id, query)

    def openai_error(
        status: int,
        message: str,
        *,
        param: str | None = None,
        code: str | None = None,
        kind: str | None = None,
        retry_after: int | None = None,
    ) -> Response[str]:
        body = openai_error_body(status, message, param=param, code=code, kind=kind)
        headers = {"X-Request-Id": app.request_id}
        if retry_after is not None:
            headers["Retry-After"] = str(retry_after)
        return Response(status, "application/json", json.dumps(body), headers=headers)

    def invalid_request(error: RequestValidationError) -> Response[str]:
        message, param, code = openai_problem(error.errors())
        return openai_error(400, message, param=param, code=code)

    def api_error(error: ApiError) -> Response[str]:
        return openai_error(error.status, error.message, param=error.param, code=error.code)

    def not_found(error: RunNotFound) -> Response[str]:
        return openai_error(404, str(error))

    def cannot_cancel(error: CannotCancel) -> Response[str]:
        return openai_error(400, str(error))

    def no_route(error: NotFoundError) -> Response[str]:
        event = app.current_event
        return openai_error(404, f"Invalid URL ({event.http_method} {event.path})")

    def rate_limited(error: ClientLimited) -> Response[str]:
        # OpenAI's own 429: type names what ran out ("requests", "tokens").
        return openai_error(
            429,
            str(error),
            code="rate_limit_exceeded",
            kind=error.unit,
            retry_after=error.retry_after,
        )

    def budget_exhausted(error: BudgetExhausted) -> Response[str]:
        return openai_error(503, str(error), code="budget_exhausted", retry_after=error.retry_after)

    def guard_unavailable(error: CountersUnavailable) -> Response[str]:
        logger.error("usage counters unavailable", exc_info=error)
        return openai_error(503, str(error), code="guard_unavailable")

    def misconfigured(error: ConfigurationError) -> Response[str]:
        logger.error("configuration error", extra={"error": str(error)})
        return openai_error(500, str(error), code="configuration_error")

    def unexpected(error: Exception) -> Response[str]:
        logger.exception("unexpected error")
        return openai_error(500, "The server had an error while processing your request.")

    app.exception_handler(RequestValidationError)(invalid_request)
    app.exception_handler(ApiError)(api_error)
    app.exception_handler(RunNotFound)(not_found)
    app.exception_handler(CannotCancel)(cannot_cancel)
    app.exception_handler(NotFoundError)(no_route)
    app.exception_handler(ClientLimited)(rate_limited)
    app.exception_handler(BudgetExhausted)(budget_exhausted)
    app.exception_handler(CountersUnavailable)(guard_unavailable)
    app.exception_handler(ConfigurationError)(misconfigured)
    app.exception_handler(Exception)(unexpected)
    return app
