"""HTTP plumbing shared by the functions behind the HTTP API: the resolver, CORS, body limits,
request ids, and JSON error responses."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, CORSConfig, Response
from aws_lambda_powertools.utilities.typing import LambdaContext

from mojang_chat.settings import ConfigurationError, get_settings

# Far above any valid request (a 2,000-character message and 20 turns of history), far below
# what it costs to parse: bigger bodies are refused before they are read.
MAX_BODY_BYTES = 64 * 1024

ErrorBody = Callable[[int, str, str, str], Mapping[str, Any]]


class JsonApi(APIGatewayHttpResolver):
    """The Powertools HTTP API resolver, with validation on, CORS for the configured origins,
    and bodies over ``MAX_BODY_BYTES`` refused with 413 before they are parsed."""

    def __init__(self, error_body: ErrorBody, *, title: str, description: str) -> None:
        try:
            origins = get_settings().cors_allowed_origins
        except ConfigurationError:
            origins = ()  # every route reads the settings again and answers with the error
        cors = None
        if origins:
            cors = CORSConfig(
                allow_origin=origins[0],
                extra_origins=list(origins[1:]),
                allow_headers=["OpenAI-Beta", "X-Stainless-Lang"],
                expose_headers=["X-Request-Id", "Retry-After"],
                max_age=600,
            )
        super().__init__(cors=cors, enable_validation=True)
        self.error_body = error_body
        self.enable_swagger(path="/docs", title=title, description=description, version="1.0.0")

        @self.get("/openapi.json", include_in_schema=False)
        def openapi_document() -> Response[str]:
            return Response(200, "application/json", self.get_openapi_json_schema())

    def resolve(self, event: Mapping[str, Any], context: LambdaContext) -> dict[str, Any]:
        """Answer one API Gateway (HTTP API v2) event."""
        if _body_bytes(event) > MAX_BODY_BYTES:
            return self._too_large(event)
        return super().resolve(event, context)

    def error(
        self, status: int, error_type: str, message: str, headers: Mapping[str, str] | None = None
    ) -> Response[str]:
        """An error response in this API's error shape."""
        body = self.error_body(status, error_type, message, self.request_id)
        return Response(status, "application/json", json.dumps(body), headers=dict(headers or {}))

    @property
    def request_id(self) -> str:
        """API Gateway's id of the current request (also in the logs)."""
        return request_id(self.current_event.raw_event, getattr(self, "lambda_context", None))

    def _too_large(self, event: Mapping[str, Any]) -> dict[str, Any]:
        origin = (event.get("headers") or {}).get("origin")
        headers = {"Content-Type": "application/json"}
        if self._cors:
            headers.update(self._cors.to_dict(origin))
        message = f"the request body is larger than {MAX_BODY_BYTES} bytes"
        body = self.error_body(413, "request_too_large", message, request_id(event, None))
        return {"statusCode": 413, "headers": headers, "body": json.dumps(body)}


def request_id(event: Mapping[str, Any], context: LambdaContext | None) -> str:
    """The request id callers see: API Gateway's, else the Lambda invocation's."""
    rid = (event.get("requestContext") or {}).get("requestId")
    if rid:
        return str(rid)
    return str(getattr(context, "aws_request_id", "") or "local")


def _body_bytes(event: Mapping[str, Any]) -> int:
    body = event.get("body") or ""
    size = len(body)
    if event.get("isBase64Encoded"):
        size = size * 3 // 4
    return size
