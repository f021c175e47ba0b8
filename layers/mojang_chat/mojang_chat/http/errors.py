"""The two error shapes of the API, what each error is documented as, the status of each of the
model's failures, and the wording of a request that failed validation.

``POST /chat`` answers ``{"error": {"type", "message"}, "request_id"}``; the OpenAI-compatible
``/v1`` routes answer OpenAI's ``{"error": {"message", "type", "param", "code"}}``. Each shape is
one model here, documented in the OpenAPI documents from the same model.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import BaseModel

from mojang_chat.chat.model import ModelFailed, ModelRateLimited, ModelUnavailable
from mojang_chat.core.deadline import DeadlineExceeded
from mojang_chat.core.settings import ModelNotConfigured
from mojang_chat.http.limits import BODY_TOO_LARGE_DOC, NOT_SENT_AS_JSON_DOC

# OpenAI's words for a body that is not JSON.
INVALID_JSON = (
    "We could not parse the JSON body of your request. (HINT: This likely means you aren't "
    "using your HTTP library correctly. The OpenAI API expects a JSON payload, but what was "
    "sent was not valid JSON.)"
)


class ChatErrorDetail(BaseModel):
    """What went wrong: a stable ``type`` to branch on, and a message for people."""

    type: str
    message: str


class ChatErrorResponse(BaseModel):
    """Every error of ``POST /chat``: what went wrong, and the request id to quote."""

    error: ChatErrorDetail
    request_id: str


class OpenAIErrorDetail(BaseModel):
    """OpenAI's error object: ``type`` is the class of error, ``code`` the specific one."""

    type: str
    message: str
    param: str | None = None
    code: str | None = None


class OpenAIErrorResponse(BaseModel):
    """OpenAI's error body."""

    error: OpenAIErrorDetail


# The model's failures, and the status and code a caller sees for each (the most specific
# class first), on every front door that calls the model within the request.
MODEL_ERRORS: dict[type[Exception], tuple[int, str]] = {
    ModelRateLimited: (503, "model_rate_limited"),
    ModelUnavailable: (503, "model_unavailable"),
    ModelNotConfigured: (503, "model_not_configured"),
    ModelFailed: (502, "model_error"),
    DeadlineExceeded: (504, "deadline_exceeded"),
}


def model_error(error: Exception) -> tuple[int, str, dict[str, str]]:
    """The status, code and headers of one of the model's failures: a throttling model
    server's ``Retry-After`` is passed on, in whole seconds."""
    status, code = next(v for k, v in MODEL_ERRORS.items() if isinstance(error, k))
    headers = {}
    if isinstance(error, ModelRateLimited) and error.retry_after is not None:
        headers["Retry-After"] = str(max(1, round(error.retry_after)))
    return status, code, headers


# What each status of the /v1 routes means.
V1_ERRORS = {
    400: "Invalid JSON or parameters, an unsupported option, a message or run while a run is "
    "active, tool outputs the run does not wait for, or a cancel of a finished run.",
    401: "A shared secret is configured and neither X-Api-Key nor the bearer token matches.",
    404: "No such assistant, thread, message, run, step or URL.",
    405: "The URL does not take this method (the `Allow` header lists those it takes).",
    413: BODY_TOO_LARGE_DOC,
    415: NOT_SENT_AS_JSON_DOC,
    429: "Too many requests: API Gateway's throttling, or, starting model work (a run, tool "
    "outputs), this address is over its runs per minute or its tokens per day (code "
    "`rate_limit_exceeded`, with `Retry-After`).",
    500: "The service is misconfigured or failed.",
    502: "Chat Completions: the model server answered with an error (code `model_error`).",
    504: "Chat Completions: no answer within the request's deadline (code `deadline_exceeded`).",
    503: "Starting model work: the service's model budget for the day is spent (code "
    "`budget_exhausted`, with `Retry-After`), or its usage counters cannot be reached (code "
    "`guard_unavailable`); Chat Completions: the model is unavailable, rate-limited or not "
    "configured (`model_unavailable`, `model_rate_limited`, `model_not_configured`).",
}
# The statuses of a /v1 route that reads, writes, or starts model work (and of one that calls
# the model within the request).
READ = (400, 404)
WRITE = (400, 404, 413, 415)
WORK = (*WRITE, 503)
MODEL_WORK = (*WORK, 502, 504)


def v1_responses(what: str, *statuses: int) -> dict[int, Any]:
    """The OpenAPI ``responses`` of a /v1 route: its 200 (``what``) and its errors, with
    those the resolver may refuse any request with, before the route runs."""
    return {
        200: {"description": what},
        **documented(OpenAIErrorResponse, V1_ERRORS, *sorted({*statuses, 400, 401, 413, 429, 500})),
    }


# The code of a field the API does not know, on every route.
UNKNOWN_PARAMETER = "unknown_parameter"


class ApiError(Exception):
    """A request OpenAI would refuse, with its status, message, ``param`` and ``code``."""

    def __init__(
        self, status: int, message: str, *, param: str | None = None, code: str | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.param = param
        self.code = code


def unsupported(param: str, message: str, code: str = "unsupported_parameter") -> ApiError:
    """A 400 for what this API cannot honour."""
    return ApiError(400, message, param=param, code=code)


def chat_error_body(status: int, error_type: str, message: str, request_id: str) -> dict[str, Any]:
    """The one error shape of ``/chat``."""
    detail = ChatErrorDetail(type=error_type, message=message)
    return ChatErrorResponse(error=detail, request_id=request_id).model_dump()


def openai_error_body(
    status: int,
    message: str,
    *,
    param: str | None = None,
    code: str | None = None,
    kind: str | None = None,
) -> dict[str, Any]:
    """OpenAI's error body: client errors are ``invalid_request_error``, ours ``server_error``,
    unless ``kind`` says otherwise (a rate limit's type is what ran out: ``requests``)."""
    kind = kind or ("invalid_request_error" if status < 500 else "server_error")
    detail = OpenAIErrorDetail(type=kind, message=message, param=param, code=code)
    return OpenAIErrorResponse(error=detail).model_dump()


def openai_refusal_body(
    status: int, error_type: str, message: str, request_id: str
) -> dict[str, Any]:
    """OpenAI's error body for what the resolver refuses before routing (401, 413...), with
    the resolver's error type as ``code``."""
    return openai_error_body(status, message, code=error_type)


def documented(
    shape: type[BaseModel], descriptions: Mapping[int, str], *statuses: int
) -> dict[int, Any]:
    """The OpenAPI ``responses`` entries of ``statuses``, each with its description and the
    error shape's schema (by model: Powertools puts it in the document's components, where
    its ``$ref`` resolve)."""
    schema = {"application/json": {"model": shape}}
    return {status: {"description": descriptions[status], "content": schema} for status in statuses}


def chat_problems(problems: Sequence[Mapping[str, Any]]) -> str:
    """Which fields of a ``/chat`` request were wrong and why, never echoing the values sent."""
    parts = []
    for problem in problems:
        location = [str(part) for part in problem.get("loc", ()) if part != "body"]
        where = ".".join(location) or "body"
        parts.append(f"{where}: {problem.get('msg') or problem.get('type')}")
    return "invalid request: " + "; ".join(parts)


def openai_problem(problems: Sequence[Mapping[str, Any]]) -> tuple[str, str | None, str | None]:
    """OpenAI's wording of a request's first problem: (message, param, code), never echoing
    the values sent."""
    if not problems:
        return "Invalid request.", None, None
    problem = problems[0]
    if problem.get("type") == "json_invalid":
        return INVALID_JSON, None, None
    # Union branches ("constrained-str", "list[TextPart]") are pydantic's, not the client's.
    location = [
        part
        for part in problem.get("loc", ())
        if part != "body" and (isinstance(part, int) or str(part).isidentifier())
    ]
    param = "".join(
        f"[{part}]" if isinstance(part, int) else f".{part}" for part in location
    ).lstrip(".")
    if problem.get("type") == "missing" and not param:
        return "The request needs a JSON body.", None, "missing_required_parameter"
    if problem.get("type") == "missing":
        return (
            f"Missing required parameter: '{param}'.",
            param or None,
            "missing_required_parameter",
        )
    if problem.get("type") == "extra_forbidden":
        return unrecognized(param).message, param or None, UNKNOWN_PARAMETER
    detail = problem.get("msg") or problem.get("type")
    return f"Invalid '{param or 'body'}': {detail}.", param or None, "invalid_value"


def unrecognized(param: str) -> ApiError:
    """The 400 for a field no route of the API knows (OpenAI's words)."""
    return ApiError(
        400,
        f"Unrecognized request argument supplied: {param}",
        param=param,
        code=UNKNOWN_PARAMETER,
    )
