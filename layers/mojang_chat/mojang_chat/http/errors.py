"""The two error shapes of the API, and the wording of a request that failed validation.

``POST /chat`` answers ``{"error": {"type", "message"}, "request_id"}``; the OpenAI-compatible
``/v1`` routes answer OpenAI's ``{"error": {"message", "type", "param", "code"}}``. Each shape is
one model here, documented in the OpenAPI documents from the same model.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import BaseModel

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
