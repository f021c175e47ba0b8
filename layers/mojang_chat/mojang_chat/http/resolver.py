"""HTTP plumbing shared by the functions behind the HTTP API: the resolver, CORS, body limits,
the optional shared secret, request ids, and JSON error responses."""

from __future__ import annotations

import base64
import binascii
import hmac
import json
from collections.abc import Callable, Mapping
from contextvars import ContextVar
from typing import Any, cast

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, CORSConfig, Response
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestUnsupportedContentType
from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEventV2
from aws_lambda_powertools.utilities.typing import LambdaContext

from mojang_chat.core.observability import logger
from mojang_chat.core.settings import ConfigurationError, get_settings
from mojang_chat.http.limits import BODY_TOO_LARGE, MAX_BODY_BYTES

# The header server-to-server callers put the shared secret in (when one is configured).
SHARED_SECRET_HEADER = "x-api-key"  # noqa: S105 (a header name, not a secret)

# What pages on other origins may send and read, and how long a preflight is reused: the
# same in template.yaml's CorsConfiguration (API Gateway answers CORS when deployed; a test
# keeps the two equal).
CORS_ALLOW_HEADERS = ("content-type", "authorization")
CORS_EXPOSE_HEADERS = ("retry-after", "x-request-id")
CORS_MAX_AGE = 600

ErrorBody = Callable[[int, str, str, str], Mapping[str, Any]]

# The event and context of the invocation being answered. Powertools keeps them on its
# BaseRouter class, shared by every resolver of the process: two invocations answered at once
# (the local server runs several, as Lambda runs several containers) read each other's.
_invocation: ContextVar[tuple[APIGatewayProxyEventV2, LambdaContext] | None] = ContextVar(
    "mojang_chat_invocation", default=None
)


class JsonApi(APIGatewayHttpResolver):
    """The Powertools HTTP API resolver, with validation on, CORS for the configured origins,
    bodies over ``MAX_BODY_BYTES`` refused with 413 before they are parsed, and, when a shared
    secret is configured, requests to ``protected`` paths without it refused with 401. The
    current event and Lambda context are the invocation's own, even while another invocation
    is answered at the same time."""

    def __init__(
        self,
        error_body: ErrorBody,
        *,
        title: str,
        description: str,
        protected: tuple[str, ...] = (),
        openapi_path: str = "/openapi.json",
    ) -> None:
        try:
            origins = get_settings().cors_allowed_origins
        except ConfigurationError:
            origins = ()  # every route reads the settings again and answers with the error
        cors = None
        if origins:
            cors = CORSConfig(
                allow_origin=origins[0],
                extra_origins=list(origins[1:]),
                allow_headers=list(CORS_ALLOW_HEADERS),
                expose_headers=list(CORS_EXPOSE_HEADERS),
                max_age=CORS_MAX_AGE,
            )
        super().__init__(cors=cors, enable_validation=True)
        self.error_body = error_body
        self.protected = protected
        self.enable_swagger(path="/docs", title=title, description=description, version="1.0.0")

        @self.get(openapi_path, include_in_schema=False)
        def openapi_document() -> Response[str]:
            return Response(200, "application/json", self.get_openapi_json_schema())

        def unsupported_media_type(error: RequestUnsupportedContentType) -> Response[str]:
            message = "the request body must be JSON, sent with Content-Type: application/json"
            return self.error(415, "unsupported_media_type", message)

        # Registered here, before the APIs' catch-all, which would make it a 500.
        self.exception_handler(RequestUnsupportedContentType)(unsupported_media_type)

    def resolve(self, event: Mapping[str, Any], context: LambdaContext) -> dict[str, Any]:
        """Answer one API Gateway (HTTP API v2) event."""
        event = _with_lowercase_content_type(event)
        if _body_bytes(event) > MAX_BODY_BYTES:
            return self._refuse(event, 413, "request_too_large", BODY_TOO_LARGE)
        if not _text_body(event):
            message = "the request body is not valid JSON (not even UTF-8 text)"
            return self._refuse(event, 400, "invalid_json", message)
        refusal = self._unauthorized(event)
        if refusal is not None:
            return refusal
        proxy_event = cast(APIGatewayProxyEventV2, self._to_proxy_event(dict(event)))
        token = _invocation.set((proxy_event, context))
        try:
            return super().resolve(event, context)
        finally:
            _invocation.reset(token)

    # Read-only: Powertools writes these on its BaseRouter class, never on the instance.
    @property
    def current_event(self) -> APIGatewayProxyEventV2:  # type: ignore[override]
        """The event being answered (this invocation's, never a concurrent one's)."""
        return self._current()[0]

    @property
    def lambda_context(self) -> LambdaContext:  # type: ignore[override]
        """The Lambda context of the invocation being answered."""
        return self._current()[1]

    @staticmethod
    def _current() -> tuple[APIGatewayProxyEventV2, LambdaContext]:
        current = _invocation.get()
        if current is None:
            raise AttributeError("no event is being answered")
        return current

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

    def _unauthorized(self, event: Mapping[str, Any]) -> dict[str, Any] | None:
        """401 for a request to a protected path without the shared secret (when one is
        configured); None to go on. Preflights, docs and the widget stay open."""
        method = ((event.get("requestContext") or {}).get("http") or {}).get("method", "")
        path = _routed_path(event)
        if method == "OPTIONS" or not self.protected or not path.startswith(self.protected):
            return None
        try:
            settings = get_settings()
        except ConfigurationError:
            return None  # the route fails too, with the configuration error naming the setting
        try:
            expected = settings.shared_secret()
        except Exception:
            # Fail closed: without the secret nobody can be told apart from a stranger. The
            # details (which setting, which secret) are for the logs, not for strangers.
            logger.exception("could not read the API's shared secret")
            message = "the API's shared secret could not be read"
            return self._refuse(event, 500, "configuration_error", message)
        if not expected:
            return None
        headers = {str(k).lower(): str(v) for k, v in (event.get("headers") or {}).items()}
        given = [headers.get(SHARED_SECRET_HEADER, "")]
        # The openai SDK sends its api_key as a bearer token: OpenAI(api_key=secret) works too.
        scheme, _, token = headers.get("authorization", "").partition(" ")
        if scheme.lower() == "bearer":
            given.append(token.strip())
        if any(hmac.compare_digest(value.encode(), expected.encode()) for value in given):
            return None
        message = f"missing or wrong {SHARED_SECRET_HEADER} header"
        return self._refuse(event, 401, "invalid_api_key", message)

    def _refuse(
        self, event: Mapping[str, Any], status: int, error_type: str, message: str
    ) -> dict[str, Any]:
        """An error answered before routing, in this API's error shape, with CORS headers."""
        origin = (event.get("headers") or {}).get("origin")
        headers = {"Content-Type": "application/json"}
        if self._cors:
            headers.update(self._cors.to_dict(origin))
        body = self.error_body(status, error_type, message, request_id(event, None))
        return {"statusCode": status, "headers": headers, "body": json.dumps(body)}


def request_id(event: Mapping[str, Any], context: LambdaContext | None) -> str:
    """The request id callers see: API Gateway's, else the Lambda invocation's."""
    rid = (event.get("requestContext") or {}).get("requestId")
    if rid:
        return str(rid)
    return str(getattr(context, "aws_request_id", "") or "local")


def _with_lowercase_content_type(event: Mapping[str, Any]) -> Mapping[str, Any]:
    """The event with its Content-Type in lower case: media types are case-insensitive
    (``APPLICATION/JSON`` is JSON), Powertools' check is not."""
    headers = event.get("headers") or {}
    value = headers.get("content-type")
    if not value or value == value.lower():
        return event
    return {**event, "headers": {**headers, "content-type": value.lower()}}


def _routed_path(event: Mapping[str, Any]) -> str:
    """The path the resolver routes on: the raw path without a named stage's prefix
    (``/prod/chat`` on stage ``prod`` is ``/chat``), by the rule Powertools applies."""
    path = str(event.get("rawPath") or "/")
    stage = str((event.get("requestContext") or {}).get("stage") or "")
    if stage and stage != "$default" and path.startswith(f"/{stage}"):
        return path[len(stage) + 1 :] or "/"
    return path


def _text_body(event: Mapping[str, Any]) -> bool:
    """False when a base64-encoded body is not UTF-8 text (Powertools would fail with a
    UnicodeDecodeError, a 500, while parsing it)."""
    body = event.get("body")
    if not body or not event.get("isBase64Encoded"):
        return True
    try:
        base64.b64decode(body, validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return False
    return True


def _body_bytes(event: Mapping[str, Any]) -> int:
    body = str(event.get("body") or "")
    if event.get("isBase64Encoded"):
        return len(body) * 3 // 4
    # Characters can be up to 4 bytes: count bytes only when the characters alone could pass.
    return len(body) if len(body) * 4 <= MAX_BODY_BYTES else len(body.encode())
