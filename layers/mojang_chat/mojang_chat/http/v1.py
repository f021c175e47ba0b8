"""The ``/v1`` API: one resolver, each front door a router of its own, and every error in
OpenAI's shape, ``{"error": {"message", "type", "param", "code"}}``.

A new front door is a module with a ``router`` (``JsonRouter``) and one ``include_router`` line
here. The order of the lines is the order of the routes in ``/v1/openapi.json``.

Errors: 400 for a request OpenAI would refuse (invalid JSON or parameters, an unsupported
option, a message while a run is active, tool outputs the run does not wait for, a cancel of a
finished run), 401 without the shared secret (when one is configured), 404 for an unknown
object or URL, 405 for a method the URL does not have, 413 for a body over
``limits.MAX_BODY_BYTES``, 415 for a body not sent as JSON, 429 from API Gateway's throttling
or when the caller is over its budget, 502, 503 and 504 for the model's failures within a
request (``errors.MODEL_ERRORS``), 503 when the service's daily budget is spent or its counters
cannot be read (only what starts model work is refused; reads never are), 500 when the
service is misconfigured or broken.
"""

from __future__ import annotations

import json
from typing import Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.exceptions import NotFoundError
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError

from mojang_chat import container
from mojang_chat.core.observability import logger
from mojang_chat.core.settings import ConfigurationError
from mojang_chat.guard import BudgetExhausted, ClientLimited, CountersUnavailable
from mojang_chat.http import assistants, completions, conversations, models, responses
from mojang_chat.http.errors import (
    MODEL_ERRORS,
    ApiError,
    model_error,
    openai_error_body,
    openai_problem,
    openai_refusal_body,
)
from mojang_chat.http.resolver import JsonApi
from mojang_chat.runs import InvalidRequest, NotFound


@container.per_container
def v1_api() -> JsonApi:
    """The resolver of the /v1 function (built on first use, once the environment is known):
    every front door's routes, and OpenAI's errors for every other path under ``/v1``."""
    app = JsonApi(
        openai_refusal_body,
        title="mojang-chat Assistants API",
        description="OpenAI's Assistants v2 API: assistants, threads, messages, runs (with the "
        "caller's own function tools) and run steps. The deployment's model serves them all.",
        openapi_path="/v1/openapi.json",
        docs_path="/v1/docs",
    )
    app.include_router(assistants.router)
    app.include_router(completions.router)
    app.include_router(models.router)
    app.include_router(responses.router)
    app.include_router(conversations.router)
    _OpenAIErrors(app)
    return app


class _OpenAIErrors:
    """Every error of a /v1 route in OpenAI's shape: the core's, the cost guard's, the
    model's, the resolver's."""

    def __init__(self, app: JsonApi) -> None:
        self.app = app
        handlers: list[tuple[type[Exception] | list[type[Exception]], Any]] = [
            (RequestValidationError, self.invalid_request),
            (ApiError, self.api_error),
            (NotFound, lambda error: self.reply(404, str(error))),
            (InvalidRequest, self.refused),
            (NotFoundError, self.no_route),
            (ClientLimited, self.rate_limited),
            (BudgetExhausted, self.budget_exhausted),
            (CountersUnavailable, self.guard_unavailable),
            (list(MODEL_ERRORS), self.model_failed),
            (ConfigurationError, self.misconfigured),
            (Exception, self.unexpected),
        ]
        for kind, handler in handlers:
            app.exception_handler(kind)(handler)

    def reply(
        self,
        status: int,
        message: str,
        *,
        param: str | None = None,
        code: str | None = None,
        kind: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> Response[str]:
        body = openai_error_body(status, message, param=param, code=code, kind=kind)
        headers = {"X-Request-Id": self.app.request_id, **(headers or {})}
        return Response(status, "application/json", json.dumps(body), headers=headers)

    def invalid_request(self, error: RequestValidationError) -> Response[str]:
        message, param, code = openai_problem(error.errors())
        return self.reply(400, message, param=param, code=code)

    def api_error(self, error: ApiError) -> Response[str]:
        return self.reply(error.status, error.message, param=error.param, code=error.code)

    def refused(self, error: InvalidRequest) -> Response[str]:
        return self.reply(400, str(error), param=error.param, code=error.code)

    def no_route(self, error: NotFoundError) -> Response[str]:
        event = self.app.current_event
        methods = self.app.methods_of(event.path)
        if methods:
            return self.reply(
                405,
                f"Invalid method for URL ({event.http_method} {event.path}): it takes "
                f"{', '.join(methods)}.",
                code="method_not_allowed",
                headers={"Allow": ", ".join(methods)},
            )
        return self.reply(404, f"Invalid URL ({event.http_method} {event.path})")

    def rate_limited(self, error: ClientLimited) -> Response[str]:
        # OpenAI's own 429: type names what ran out ("requests", "tokens").
        return self.reply(
            429,
            str(error),
            code="rate_limit_exceeded",
            kind=error.unit,
            headers={"Retry-After": str(error.retry_after)},
        )

    def budget_exhausted(self, error: BudgetExhausted) -> Response[str]:
        headers = {"Retry-After": str(error.retry_after)}
        return self.reply(503, str(error), code="budget_exhausted", headers=headers)

    def guard_unavailable(self, error: CountersUnavailable) -> Response[str]:
        logger.error("usage counters unavailable", exc_info=error)
        return self.reply(503, str(error), code="guard_unavailable")

    def model_failed(self, error: Exception) -> Response[str]:
        # The model server's failures, named as such (a route that calls it in-request).
        status, code, headers = model_error(error)
        return self.reply(status, str(error), code=code, headers=headers)

    def misconfigured(self, error: ConfigurationError) -> Response[str]:
        logger.error("configuration error", extra={"error": str(error)})
        return self.reply(500, str(error), code="configuration_error")

    def unexpected(self, error: Exception) -> Response[str]:
        logger.exception("unexpected error")
        return self.reply(500, "The server had an error while processing your request.")
