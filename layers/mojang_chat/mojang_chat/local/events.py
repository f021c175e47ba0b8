"""API Gateway's HTTP API (payload 2.0) as pure functions: the event a request becomes, the
response a handler's return value becomes, and the context Lambda passes the handler.

No sockets here: ``local.server`` reads requests and writes replies, and tests build events
from a ``Request`` directly.
"""

from __future__ import annotations

import base64
import json
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from mojang_chat.http.errors import chat_error_body, openai_error_body
from mojang_chat.local.aws import ACCOUNT_ID, REGION
from mojang_chat.local.template import Function, Route

# Request bodies API Gateway hands over as text; any other type (none, form data included)
# arrives base64-encoded.
TEXT_TYPES = ("application/json", "application/xml", "application/javascript")
API_ID = "local"


class LambdaContext:
    """What Lambda passes a handler: names, ids, and the time the invocation has left."""

    def __init__(self, function: Function, request_id: str | None = None) -> None:
        self.function_name = function.logical_id
        self.function_version = "$LATEST"
        self.invoked_function_arn = (
            f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:{function.logical_id}"
        )
        self.memory_limit_in_mb = function.memory_mb
        self.aws_request_id = request_id or str(uuid.uuid4())
        self.log_group_name = f"/aws/lambda/{function.logical_id}"
        self.log_stream_name = "local"
        self._ends_at = time.monotonic() + function.timeout

    def get_remaining_time_in_millis(self) -> int:
        """Milliseconds until the function's Timeout, as Lambda reports it."""
        return max(int((self._ends_at - time.monotonic()) * 1000), 0)


@dataclass
class Request:
    """An HTTP request as the server read it."""

    method: str
    target: str  # path and query string, as sent
    headers: list[tuple[str, str]]
    body: bytes = b""
    source_ip: str = "127.0.0.1"
    protocol: str = "HTTP/1.1"


@dataclass
class Reply:
    """An HTTP response to write back."""

    status: int
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""

    def header(self, name: str) -> str | None:
        """The first value of a header (names compared case-insensitively)."""
        return next((v for k, v in self.headers if k.lower() == name.lower()), None)

    def json(self) -> Any:
        """The body, parsed as JSON."""
        return json.loads(self.body)


def json_reply(status: int, body: Any, request_id: str) -> Reply:
    """A JSON response of API Gateway's own (not a function's), e.g. its 404 and 500."""
    data = json.dumps(body).encode()
    headers = [("Content-Type", "application/json"), ("apigw-requestid", request_id)]
    return Reply(status, headers, data)


def error_reply(
    path: str,
    status: int,
    error_type: str,
    message: str,
    request_id: str,
    headers: Mapping[str, str] | None = None,
) -> Reply:
    """An error the server answers before any function runs (no route, a method the path does
    not take, a body it cannot read), in the error shape of the API ``path`` belongs to:
    OpenAI's under ``/v1``, ``/chat``'s elsewhere, so that a client parses every error alike."""
    if path == "/v1" or path.startswith("/v1/"):
        body = openai_error_body(status, message, code=error_type)
    else:
        body = chat_error_body(status, error_type, message, request_id)
    reply = json_reply(status, body, request_id)
    reply.headers.extend((headers or {}).items())
    return reply


def build_event(
    request: Request, route: Route, params: Mapping[str, str], request_id: str
) -> dict[str, Any]:
    """The HTTP API payload 2.0 event API Gateway would send for ``request`` (see events/)."""
    parts = urlsplit(request.target)
    headers: dict[str, str] = {}
    cookies: list[str] = []
    for name, value in request.headers:
        key = name.lower()
        if key == "cookie":
            cookies += [c.strip() for c in value.split(";") if c.strip()]
            continue
        # Repeated headers arrive comma-joined, as API Gateway passes them.
        headers[key] = f"{headers[key]},{value}" if key in headers else value
    now = datetime.now(UTC)
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": route.route_key,
        "rawPath": parts.path or "/",
        "rawQueryString": parts.query,
    }
    if cookies:
        event["cookies"] = cookies
    event["headers"] = headers
    if parts.query:
        query: dict[str, str] = {}
        for key, value in parse_qsl(parts.query, keep_blank_values=True):
            query[key] = f"{query[key]},{value}" if key in query else value
        event["queryStringParameters"] = query
    host = headers.get("host", "localhost")
    event["requestContext"] = {
        "accountId": ACCOUNT_ID,
        "apiId": API_ID,
        "domainName": host,
        "domainPrefix": host.split(".")[0],
        "http": {
            "method": request.method,
            "path": parts.path or "/",
            "protocol": request.protocol,
            "sourceIp": request.source_ip,
            "userAgent": headers.get("user-agent", ""),
        },
        "requestId": request_id,
        "routeKey": route.route_key,
        "stage": "$default",
        "time": now.strftime("%d/%b/%Y:%H:%M:%S +0000"),
        "timeEpoch": int(now.timestamp() * 1000),
    }
    if params:
        event["pathParameters"] = dict(params)
    if request.body:
        text = _as_text(request.body, headers.get("content-type", ""))
        event["body"] = base64.b64encode(request.body).decode() if text is None else text
        event["isBase64Encoded"] = text is None
    else:
        event["isBase64Encoded"] = False
    return event


def _as_text(body: bytes, content_type: str) -> str | None:
    """``body`` as API Gateway passes it as text (text/*, JSON, XML, JavaScript), or None where
    it base64-encodes it (every other type, a missing one, and text that is not UTF-8)."""
    media_type = content_type.split(";", 1)[0].strip().lower()
    if not (media_type.startswith("text/") or media_type in TEXT_TYPES):
        return None
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        return None


def lambda_response(result: Any, request_id: str) -> Reply:
    """The HTTP response API Gateway makes of a handler's return value (payload 2.0)."""
    if not isinstance(result, dict) or "statusCode" not in result:
        # A handler may return just a body: API Gateway answers 200 with it as JSON.
        text = result if isinstance(result, str) else json.dumps(result)
        return Reply(200, [("Content-Type", "application/json")], text.encode())
    headers = [(str(k), str(v)) for k, v in (result.get("headers") or {}).items()]
    for name, values in (result.get("multiValueHeaders") or {}).items():
        headers += [(str(name), str(v)) for v in values]
    headers += [("Set-Cookie", str(cookie)) for cookie in result.get("cookies") or []]
    headers.append(("apigw-requestid", request_id))
    raw = result.get("body") or ""
    body = base64.b64decode(raw) if result.get("isBase64Encoded") else str(raw).encode()
    return Reply(int(result["statusCode"]), headers, body)
