"""HTTP plumbing shared by the functions behind the HTTP API: the resolver and the routers of
its front doors, CORS, body limits, the optional shared secret, request ids, and JSON error
responses."""

from __future__ import annotations

import base64
import binascii
import hmac
import json
import re
from collections.abc import Callable, Mapping
from contextvars import ContextVar
from functools import cache
from pathlib import Path
from typing import Any, cast

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, CORSConfig, Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestUnsupportedContentType
from aws_lambda_powertools.event_handler.openapi.swagger_ui.html import generate_swagger_html
from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEventV2
from aws_lambda_powertools.utilities.typing import LambdaContext

from mojang_chat import __version__
from mojang_chat.core.observability import logger
from mojang_chat.core.settings import ConfigurationError, get_settings
from mojang_chat.guard import client_key
from mojang_chat.http.limits import (
    BODY_TOO_LARGE,
    JSON_NUMBER_TOO_LONG,
    JSON_TOO_DEEP,
    MAX_BODY_BYTES,
    MAX_JSON_DEPTH,
    MAX_JSON_NUMBER_CHARS,
    MAX_RESPONSE_BYTES,
    RESPONSE_TOO_LARGE,
)

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


# A JSON string (the body is valid JSON when these run), a number too long, anything but a
# bracket, and the innermost (empty) brackets: see parse_json_body.
_JSON_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_LONG_NUMBER = re.compile(f"[-+0-9.eE]{{{MAX_JSON_NUMBER_CHARS + 1},}}")
_NOT_A_BRACKET = re.compile(r"[^\[\]{}]+")
_INNERMOST_PAIRS = re.compile(r"\[\]|\{\}")


class BodyBeyondLimits(json.JSONDecodeError):
    """A request body whose JSON nests too deep or holds too long a number: Powertools answers
    it as invalid JSON (400), and the error's ``msg`` says which limit it broke."""


def parse_json_body(text: str) -> Any:
    """A request body's JSON, within ``MAX_JSON_DEPTH`` and ``MAX_JSON_NUMBER_CHARS``, else
    ``BodyBeyondLimits``: Powertools parses every body with this, so a body it cannot parse
    is always a 400, never a RecursionError or Python's integer-digits ValueError (a 500)."""
    try:
        value = json.loads(text)
    except RecursionError:
        raise BodyBeyondLimits(JSON_TOO_DEEP, text, 0) from None
    except json.JSONDecodeError:
        raise
    except ValueError:  # Python refuses to convert an integer of more than 4,300 digits
        raise BodyBeyondLimits(JSON_NUMBER_TOO_LONG, text, 0) from None
    # Valid JSON: with its strings emptied, what is left is brackets, numbers and literals.
    # The checks run on that text with regular expressions (C speed): a walk of the parsed
    # value, or a parse_int hook, cost ten times the parse on a body of small numbers.
    structure = _JSON_STRING.sub('""', text)
    if _LONG_NUMBER.search(structure):
        raise BodyBeyondLimits(JSON_NUMBER_TOO_LONG, text, 0)
    if _deeper_than(structure, MAX_JSON_DEPTH):
        raise BodyBeyondLimits(JSON_TOO_DEEP, text, 0)
    return value


def _deeper_than(structure: str, levels: int) -> bool:
    """Whether valid JSON, its strings emptied, nests deeper than ``levels``: each pass
    removes the innermost (empty) brackets, so after ``levels`` passes none are left
    unless some nest deeper."""
    brackets = _NOT_A_BRACKET.sub("", structure)
    for _ in range(levels):
        if not brackets:
            return False
        brackets = _INNERMOST_PAIRS.sub("", brackets)
    return bool(brackets)


class InvocationView:
    """What a route reads of the invocation it answers: the event, the Lambda context, the
    request id, the client and the query. Always this invocation's own, even while another is
    answered at the same time (Powertools keeps the event on its BaseRouter class, shared by
    every resolver of the process)."""

    # Read-only: Powertools writes these on its BaseRouter class, never on the instance.
    @property
    def current_event(self) -> APIGatewayProxyEventV2:
        """The event being answered."""
        return _current()[0]

    @property
    def lambda_context(self) -> LambdaContext:
        """The Lambda context of the invocation being answered."""
        return _current()[1]

    @property
    def request_id(self) -> str:
        """API Gateway's id of the current request (also in the logs)."""
        return request_id(self.current_event.raw_event, getattr(self, "lambda_context", None))

    @property
    def client(self) -> str:
        """Whom the cost guard counts the current request against: the address API Gateway
        saw (``requestContext.http.sourceIp``), never a header, which a caller could write."""
        context = self.current_event.raw_event.get("requestContext") or {}
        return client_key((context.get("http") or {}).get("sourceIp"))

    def query(self) -> dict[str, str]:
        """The current request's query parameters."""
        return dict(self.current_event.query_string_parameters or {})


def _current() -> tuple[APIGatewayProxyEventV2, LambdaContext]:
    current = _invocation.get()
    if current is None:
        raise AttributeError("no event is being answered")
    return current


class JsonRouter(InvocationView, Router):  # type: ignore[misc,override]
    """The routes of one front door, joined to a ``JsonApi`` with ``include_router``."""

    def __init__(self) -> None:
        super().__init__()  # type: ignore[no-untyped-call]


class JsonApi(InvocationView, APIGatewayHttpResolver):  # type: ignore[misc,override]
    """The Powertools HTTP API resolver, with validation on, CORS for the configured origins,
    bodies over ``MAX_BODY_BYTES`` refused with 413 before they are parsed (and bodies beyond
    the JSON limits with 400 as they are), and, when a shared secret is configured, every
    request without it refused with 401, but for CORS preflights, the OpenAPI document, the
    docs and the ``open_paths``. The current event and Lambda context are the invocation's own,
    even while another invocation is answered at the same time."""

    def __init__(
        self,
        error_body: ErrorBody,
        *,
        title: str,
        description: str,
        open_paths: tuple[str, ...] = (),
        openapi_path: str = "/openapi.json",
        docs_path: str = "/docs",
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
        super().__init__(cors=cors, enable_validation=True, json_body_deserializer=parse_json_body)
        self.error_body = error_body
        # Closed by default: a path is open only if it is exactly one of these, so a route
        # added later, or a path crafted to route somewhere unexpected, needs the secret.
        self.open_paths = frozenset((*open_paths, openapi_path, docs_path))
        self.configure_openapi(title=title, version=__version__, description=description)

        @self.get(openapi_path, include_in_schema=False)
        def openapi_document() -> Response[str]:
            return Response(200, "application/json", json.dumps(self.openapi_document()))

        @self.get(docs_path, include_in_schema=False)
        def docs() -> Response[str]:
            # The document inline, as Powertools' own Swagger page has it ("</" escaped so that
            # no string in it can close the script), but this API's, cleaned.
            spec = json.dumps(self.openapi_document()).replace("</", "<\\/")
            css, js = _swagger_assets()
            page = generate_swagger_html(spec, js, css, "", None)
            return Response(200, "text/html", page.replace("<title>Swagger UI", f"<title>{title}"))

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
            response = super().resolve(event, context)
        finally:
            _invocation.reset(token)
        if _response_bytes(response) > MAX_RESPONSE_BYTES:
            # The routes bound what they send (the model's answer, tool outputs): this is the
            # last line, for whatever adds up past them.
            logger.error("response too large", extra={"status": response.get("statusCode")})
            return self._refuse(event, 502, "response_too_large", RESPONSE_TOO_LARGE)
        return response

    def openapi_document(self) -> dict[str, Any]:
        """The OpenAPI document of this API, as served: Powertools' with the 422 it adds to
        every route of a validating resolver taken out where this API never answers 422 (it
        maps validation errors to its own statuses, in its own error shape), and the schemas
        only those used dropped, so that every ``$ref`` resolves."""
        document = json.loads(self.get_openapi_json_schema())
        for operations in document.get("paths", {}).values():
            for operation in operations.values():
                responses = operation.get("responses", {})
                if _schema_ref(responses.get("422")) == _POWERTOOLS_422:
                    del responses["422"]
        schemas = document.get("components", {}).get("schemas", {})
        for name in _POWERTOOLS_SCHEMAS:
            schemas.pop(name, None)
        return cast(dict[str, Any], document)

    def methods_of(self, path: str) -> list[str]:
        """The methods of the routes whose path matches ``path`` (none: an unknown URL)."""
        routes = self._static_routes + self._dynamic_routes
        return sorted({route.method for route in routes if route.rule.match(path)})

    def error(
        self, status: int, error_type: str, message: str, headers: Mapping[str, str] | None = None
    ) -> Response[str]:
        """An error response in this API's error shape."""
        body = self.error_body(status, error_type, message, self.request_id)
        return Response(status, "application/json", json.dumps(body), headers=dict(headers or {}))

    def _unauthorized(self, event: Mapping[str, Any]) -> dict[str, Any] | None:
        """401 for a request without the shared secret (when one is configured) to any path
        but an open one; 500 ``configuration_error`` when the secret is misconfigured or
        cannot be read (closed, never open); None to go on."""
        method, path = _route_of(event)
        if method == "OPTIONS" or path in self.open_paths:
            return None  # preflights (Powertools answers them, no route runs), docs, widget
        try:
            expected = get_settings().shared_secret()
        except ConfigurationError as error:
            # Closed: without valid settings (a blank secret among them) nobody can be told
            # apart from a stranger. The message names the setting, never its value.
            logger.error("configuration error", extra={"error": str(error)})
            return self._refuse(event, 500, "configuration_error", str(error))
        except Exception:
            logger.exception("could not read the API's shared secret")
            message = "the API's shared secret could not be read"
            return self._refuse(event, 500, "configuration_error", message)
        if expected is None:
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


# What Powertools documents for a validation error, and the schemas only that uses.
_POWERTOOLS_422 = "#/components/schemas/HTTPValidationError"
_POWERTOOLS_SCHEMAS = ("HTTPValidationError", "ValidationError", "ResponseValidationError")


def _schema_ref(response: Mapping[str, Any] | None) -> str | None:
    """The ``$ref`` of a documented response's JSON schema, if it has one."""
    content = (response or {}).get("content", {}).get("application/json", {})
    return cast(str | None, content.get("schema", {}).get("$ref"))


@cache
def _swagger_assets() -> tuple[str, str]:
    """Swagger UI's stylesheet and script, as Powertools ships them: the docs page needs no
    CDN (and works offline, as the local server does)."""
    import aws_lambda_powertools.event_handler.openapi.swagger_ui as swagger_ui

    folder = Path(swagger_ui.__file__).parent
    css = (folder / "swagger-ui.min.css").read_text(encoding="utf-8")
    js = (folder / "swagger-ui-bundle.min.js").read_text(encoding="utf-8")
    return css, js


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


def _route_of(event: Mapping[str, Any]) -> tuple[str, str]:
    """The method and path the resolver routes ``event`` on, computed by Powertools' own code
    (``APIGatewayProxyEventV2``, as ``APIGatewayHttpResolver`` builds it for routing), so the
    secret's check and the router can never disagree: on a named stage Powertools cuts as
    many characters as ``/<stage>`` has from the raw path, whatever they are."""
    routed = APIGatewayProxyEventV2(dict(event))
    try:
        return routed.http_method.upper(), routed.path
    except (AttributeError, KeyError, TypeError):
        return "", ""  # an event Powertools cannot route: the check applies, then it fails


def _response_bytes(response: Mapping[str, Any]) -> int:
    """The size of ``response`` as Lambda sends it (JSON; escaped, so never smaller than its
    UTF-8), counted only when it could be near the limit: a character of the body is at most
    12 bytes as JSON (a surrogate pair), and the headers are small."""
    body = response.get("body") or ""
    if len(body) * 12 + 65536 <= MAX_RESPONSE_BYTES:
        return len(body)
    return len(json.dumps(response))


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
