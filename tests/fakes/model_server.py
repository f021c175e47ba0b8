"""A scripted, OpenAI-compatible model server on 127.0.0.1 for tests and the local demo.

The real openai SDK talks to it over real HTTP (``base_url=server.base_url``), so the code under
test cannot tell it from the service: every request body is validated against the official
schema (plus the rules the API enforces beyond it), and answers, errors and headers have the
shapes the reference describes.

    with FakeModelServer() as server:
        server.script(tool_calls(("get_uuid_from_username", {"username": "merrydith"})),
                      answer_from_tools())
        client = openai.OpenAI(base_url=server.base_url, api_key="test-key", max_retries=0)
        ...
        assert server.schema_errors == []

When the script is empty, a small deterministic "brain" (bottom of this module) answers
free-form questions about Minecraft players with the tools the request offers.
"""

from __future__ import annotations

import contextlib
import json
import math
import re
import secrets
import socket
import threading
import time
from collections import defaultdict, deque
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from functools import cache
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any, Literal

import jsonschema
from jsonschema.exceptions import ValidationError, best_match

# The official OpenAPI schemas (transitive closures of openai/openai-openapi, each file names its
# commit), kept in the repository so a fresh clone tests and demos with no other checkout.
SCHEMA_DIR = Path(__file__).resolve().parent / "openai"
CHAT_SCHEMA_FILE = SCHEMA_DIR / "chat_completions.closure.json"

FinishReason = Literal["stop", "length", "tool_calls", "content_filter"]
Json = Any

# ---------------------------------------------------------------------------------------------
# The reference schema
# ---------------------------------------------------------------------------------------------


def _nullable_to_anyof(node: Json) -> Json:
    """Rewrite OpenAPI 3.0 ``nullable: true`` as JSON Schema, which jsonschema understands.

    The closure mixes both styles; without this, ``"max_completion_tokens": null`` (which the
    real API accepts) would be reported as a violation.
    """
    if isinstance(node, list):
        return [_nullable_to_anyof(item) for item in node]
    if not isinstance(node, dict):
        return node
    out = {key: _nullable_to_anyof(value) for key, value in node.items()}
    if out.pop("nullable", None) is True:
        return {"anyOf": [out, {"type": "null"}]}
    return out


@cache
def schema_validator(name: str) -> jsonschema.Draft202012Validator:
    """A validator for ``#/components/schemas/<name>`` of chat_completions.closure.json."""
    document = json.loads(CHAT_SCHEMA_FILE.read_text())
    components = _nullable_to_anyof(document["components"])
    # The document itself is the root, so `#/components/schemas/...` refs resolve inside it.
    root = {"$ref": f"#/components/schemas/{name}", "components": components}
    return jsonschema.Draft202012Validator(root)


@dataclass(frozen=True)
class Violation:
    """A request the real API would reject with 400: what the code under test got wrong."""

    message: str
    param: str | None = None
    code: str | None = None


def _param(path: Iterable[str | int]) -> str:
    """A JSON path in OpenAI's notation, e.g. ``messages[1].content``."""
    text = "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in path)
    return text.lstrip(".")


def _most_specific(error: ValidationError) -> ValidationError:
    """Descend through discriminated unions (messages by role, tools by type) to the branch
    the instance meant, so the message names the real problem, not "valid under none of"."""
    while error.validator in ("oneOf", "anyOf") and error.context:
        branches: dict[Any, list[ValidationError]] = defaultdict(list)
        for sub in error.context:
            branches[sub.schema_path[0]].append(sub)
        meant = [
            errors
            for errors in branches.values()
            if not any(
                list(e.relative_path) in (["role"], ["type"]) and e.validator in ("enum", "const")
                for e in errors
            )
        ]
        if len(meant) != 1:
            break
        error = best_match(meant[0]) or error
    return error


def _schema_violation(body: Json) -> Violation | None:
    error = best_match(schema_validator("CreateChatCompletionRequest").iter_errors(body))
    if error is None:
        return None
    error = _most_specific(error)
    if error.validator == "required":
        missing = re.findall(r"'([^']+)' is a required property", error.message)
        param = _param([*error.absolute_path, *missing[:1]])
        return Violation(
            f"Missing required parameter: '{param}'.", param, "missing_required_parameter"
        )
    param = _param(error.absolute_path)
    return Violation(f"Invalid '{param}': {error.message}", param or None, "invalid_value")


_TOOL_NAME = re.compile(r"^[A-Za-z0-9_-]+$")


def _strict_problem(schema: Json, context: tuple[str, ...]) -> str | None:
    """The first rule of strict mode that `schema` breaks, worded like the real API."""
    if not isinstance(schema, dict):
        return None
    if schema.get("type") == "object" or "properties" in schema:
        if schema.get("additionalProperties") is not False:
            return (
                f"In context={context}, 'additionalProperties' is required to be supplied "
                "and to be false."
            )
        properties = schema.get("properties", {})
        missing = [key for key in properties if key not in schema.get("required", [])]
        if missing:
            return (
                f"In context={context}, 'required' is required to be supplied and to be an "
                f"array including every key in properties. Missing '{missing[0]}'."
            )
        for key, sub in properties.items():
            if problem := _strict_problem(sub, (*context, "properties", key)):
                return problem
    for keyword in ("items", "additionalItems"):
        if problem := _strict_problem(schema.get(keyword), (*context, keyword)):
            return problem
    for keyword in ("anyOf", "allOf", "oneOf", "prefixItems"):
        for index, sub in enumerate(schema.get(keyword, [])):
            if problem := _strict_problem(sub, (*context, keyword, str(index))):
                return problem
    for keyword in ("$defs", "definitions"):
        for key, sub in schema.get(keyword, {}).items():
            if problem := _strict_problem(sub, (*context, keyword, key)):
                return problem
    return None


def _tool_violation(tools: list[Json]) -> Violation | None:
    for index, tool in enumerate(tools):
        if tool.get("type") != "function":
            continue
        function = tool["function"]
        name, param = function["name"], f"tools[{index}].function.name"
        if len(name) > 64:
            return Violation(
                f"Invalid '{param}': string too long. Expected a string with maximum length 64, "
                f"but got a string with length {len(name)} instead.",
                param,
                "string_above_max_length",
            )
        if not _TOOL_NAME.match(name):
            return Violation(
                f"Invalid '{param}': string does not match pattern. Expected a string that "
                "matches the pattern '^[a-zA-Z0-9_-]+$'.",
                param,
                "invalid_value",
            )
        if function.get("strict") is True:
            problem = _strict_problem(function.get("parameters", {}), ())
            if problem:
                return Violation(
                    f"Invalid schema for function '{name}': {problem}",
                    f"tools[{index}].function.parameters",
                    "invalid_function_parameters",
                )
    return None


def _sequence_violation(messages: list[Json]) -> Violation | None:
    """Tool messages must answer the calls of the assistant message before them, and every
    call must be answered before the conversation goes on: the real API 400s otherwise."""
    offered: set[str] = set()
    pending: dict[str, None] = {}
    for index, message in enumerate(messages):
        role, param = message["role"], f"messages.[{index}].role"
        if role == "tool":
            if message["tool_call_id"] not in offered:
                return Violation(
                    "Invalid parameter: messages with role 'tool' must be a response to a "
                    "preceeding message with 'tool_calls'.",
                    param,
                )
            pending.pop(message["tool_call_id"], None)
            continue
        if pending:
            return _unanswered(pending, param)
        calls = (message.get("tool_calls") or []) if role == "assistant" else []
        offered = {call["id"] for call in calls}
        pending = dict.fromkeys(call["id"] for call in calls)
    if pending:
        return _unanswered(pending, f"messages.[{len(messages)}].role")
    return None


def _unanswered(pending: Mapping[str, None], param: str) -> Violation:
    return Violation(
        "An assistant message with 'tool_calls' must be followed by tool messages responding "
        "to each 'tool_call_id'. The following tool_call_ids did not have response messages: "
        + ", ".join(pending),
        param,
    )


def request_violation(body: Json) -> Violation | None:
    """Why the real API would reject this chat completion request, or None if it would not."""
    violation = _schema_violation(body)
    if violation is None:
        violation = _tool_violation(body.get("tools", []))
    if violation is None:
        violation = _sequence_violation(body["messages"])
    return violation


# ---------------------------------------------------------------------------------------------
# Script steps
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Reply:
    """A ``chat.completion``: text, tool calls, or (``from_tools``) the brain's summary."""

    content: str | None = None
    calls: tuple[tuple[str, str], ...] = ()  # (name, arguments as the model wrote them)
    finish_reason: FinishReason = "stop"
    from_tools: bool = False


@dataclass(frozen=True)
class ErrorReply:
    """An error response with OpenAI's body shape."""

    status: int
    body: Json
    headers: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class RawReply:
    """Exactly these bytes, e.g. an HTML page from a proxy."""

    status: int
    body: bytes
    content_type: str
    headers: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Hang:
    """Wait, then answer with `then` (the brain's answer when None)."""

    seconds: float
    then: Step | None = None


@dataclass(frozen=True)
class Disconnect:
    """Close the connection without answering."""


Step = Reply | ErrorReply | RawReply | Hang | Disconnect


def answer(text: str, *, finish_reason: FinishReason = "stop") -> Reply:
    """The model answers with `text`."""
    return Reply(content=text, finish_reason=finish_reason)


def answer_from_tools() -> Reply:
    """The model answers in plain English from the tool messages of the request."""
    return Reply(from_tools=True)


def tool_calls(*calls: tuple[str, Mapping[str, Any] | str], content: str | None = None) -> Reply:
    """The model calls these tools in one turn. Arguments given as a string are sent verbatim,
    so a test can make the model write invalid JSON or unknown keys."""
    if not calls:
        raise ValueError("tool_calls() needs at least one (name, arguments) pair")
    encoded = tuple(
        (name, args if isinstance(args, str) else json.dumps(args)) for name, args in calls
    )
    return Reply(content=content, calls=encoded, finish_reason="tool_calls")


_ERROR_TYPES = {
    400: "invalid_request_error",
    401: "invalid_request_error",
    403: "invalid_request_error",
    404: "invalid_request_error",
    409: "invalid_request_error",
    422: "invalid_request_error",
    429: "requests",
}


def error(
    status: int,
    message: str = "The server had an error while processing your request. Sorry about that!",
    *,
    type: str | None = None,
    code: str | None = None,
    param: str | None = None,
    headers: Mapping[str, str] | None = None,
) -> ErrorReply:
    """An error with the exact body OpenAI sends: ``{"error": {message, type, param, code}}``."""
    kind = type or _ERROR_TYPES.get(status, "server_error")
    body = {"error": {"message": message, "type": kind, "param": param, "code": code}}
    return ErrorReply(status, body, dict(headers or {}))


def rate_limited(retry_after: float = 1, *, model: str = "gpt-4o-mini") -> ErrorReply:
    """429 as OpenAI sends it: ``Retry-After`` plus the ``x-ratelimit-*`` headers."""
    seconds = f"{retry_after:g}"
    return error(
        429,
        f"Rate limit reached for {model} in organization org-fake on requests per min (RPM): "
        f"Limit 500, Used 500, Requested 1. Please try again in {seconds}s. Visit "
        "https://platform.openai.com/account/rate-limits to learn more.",
        code="rate_limit_exceeded",
        headers={
            "retry-after": seconds,
            "x-ratelimit-limit-requests": "500",
            "x-ratelimit-remaining-requests": "0",
            "x-ratelimit-reset-requests": f"{seconds}s",
            "x-ratelimit-limit-tokens": "200000",
            "x-ratelimit-remaining-tokens": "199000",
            "x-ratelimit-reset-tokens": "300ms",
        },
    )


def server_error() -> ErrorReply:
    """500 with OpenAI's body."""
    return error(500)


def overloaded() -> ErrorReply:
    """503 with OpenAI's body."""
    return error(503, "The server is overloaded or not ready yet.")


def hang(seconds: float, then: Step | None = None) -> Hang:
    """Answer only after `seconds` (other requests are served meanwhile; stop() cuts it short)."""
    return Hang(seconds, then)


def raw(status: int, body: bytes, content_type: str = "text/html; charset=utf-8") -> RawReply:
    """Answer with these exact bytes, e.g. a gateway's HTML error page."""
    return RawReply(status, body, content_type)


def disconnect() -> Disconnect:
    """Close the socket without sending a response."""
    return Disconnect()


# ---------------------------------------------------------------------------------------------
# The server
# ---------------------------------------------------------------------------------------------


@dataclass
class RecordedRequest:
    """One request as the server saw it; `status` is None when no answer was sent."""

    method: str
    path: str
    headers: dict[str, str]  # lower-case names
    body: Json  # parsed JSON, or None when the body was not JSON
    status: int | None = None


class FakeModelServer:
    """An OpenAI-compatible ``POST /v1/chat/completions`` on 127.0.0.1, answering from a script.

    `api_key` None accepts any non-empty bearer token; `latency` (seconds) is added to every
    chat completion, e.g. for benchmarks. All attributes may be read from any thread.
    """

    def __init__(self, *, api_key: str | None = None, latency: float = 0.0) -> None:
        self.api_key = api_key
        self.latency = latency
        self._lock = threading.Lock()
        self._steps: deque[Step] = deque()
        self._requests: list[RecordedRequest] = []
        self._schema_errors: list[Violation] = []
        self._crashes: list[BaseException] = []
        self._stopping = threading.Event()
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._sockets: set[socket.socket] = set()

    # lifecycle -----------------------------------------------------------------------------

    def start(self) -> FakeModelServer:
        """Bind a free port on 127.0.0.1 and serve from a daemon thread."""
        if self._httpd is not None:
            raise RuntimeError("server already started")
        schema_validator("CreateChatCompletionRequest")  # fail here, not inside a request
        self._stopping.clear()
        self._httpd = _HTTPServer(("127.0.0.1", 0), _Handler, self)
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.01},  # how long stop() waits for the loop
            name="fake-model-server",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving, wake hanging handlers and close open keep-alive connections."""
        if self._httpd is None:
            return
        self._stopping.set()
        self._httpd.shutdown()
        self._httpd.server_close()
        with self._lock:
            open_sockets = list(self._sockets)
        for sock in open_sockets:
            # Handler threads blocked reading the next keep-alive request see EOF and end.
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._httpd = None
        self._thread = None

    def __enter__(self) -> FakeModelServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def url(self) -> str:
        """``http://127.0.0.1:<port>``."""
        if self._httpd is None:
            raise RuntimeError("server not started")
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    @property
    def base_url(self) -> str:
        """What the openai SDK takes as ``base_url``."""
        return self.url + "/v1"

    # scripting and introspection -----------------------------------------------------------

    def script(self, *steps: Step) -> None:
        """Queue answers for the next chat completion calls, in order (after any queued)."""
        with self._lock:
            self._steps.extend(steps)

    @property
    def remaining(self) -> tuple[Step, ...]:
        """Scripted steps not consumed yet."""
        with self._lock:
            return tuple(self._steps)

    @property
    def requests(self) -> list[RecordedRequest]:
        """Every request received, oldest first (a copy)."""
        with self._lock:
            return list(self._requests)

    @property
    def schema_errors(self) -> list[Violation]:
        """Requests the real API would have rejected with 400 (a copy)."""
        with self._lock:
            return list(self._schema_errors)

    @property
    def crashes(self) -> list[BaseException]:
        """Bugs of the fake itself (answered with 500); should stay empty."""
        with self._lock:
            return list(self._crashes)

    def reset(self) -> None:
        """Forget the script, the recorded requests and the errors."""
        with self._lock:
            self._steps.clear()
            self._requests.clear()
            self._schema_errors.clear()
            self._crashes.clear()

    # used by the handler -------------------------------------------------------------------

    def _record(self, request: RecordedRequest) -> None:
        with self._lock:
            self._requests.append(request)

    def _violation(self, violation: Violation) -> None:
        with self._lock:
            self._schema_errors.append(violation)

    def _crash(self, exc: BaseException) -> None:
        with self._lock:
            self._crashes.append(exc)

    def _next_step(self) -> Step | None:
        with self._lock:
            return self._steps.popleft() if self._steps else None

    def _track(self, sock: socket.socket, *, add: bool) -> None:
        with self._lock:
            (self._sockets.add if add else self._sockets.discard)(sock)

    def _sleep(self, seconds: float) -> bool:
        """Sleep unless the server stops first; True when it is stopping."""
        return self._stopping.wait(seconds) if seconds > 0 else self._stopping.is_set()


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(
        self, address: tuple[str, int], handler: type[_Handler], fake: FakeModelServer
    ) -> None:
        self.fake = fake
        super().__init__(address, handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that gave up (timeout, disconnect) is routine here, not worth a traceback.
        pass


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: the SDK reuses its connections
    # Headers and body go out in two writes: with Nagle's algorithm on, the body would wait for
    # the client's delayed ACK, adding ~40 ms to every call. A real server sends both at once.
    disable_nagle_algorithm = True
    server_version = "cloudflare"
    sys_version = ""
    timeout = 60  # an idle keep-alive connection does not hold a thread forever
    server: _HTTPServer

    def setup(self) -> None:
        super().setup()
        self.server.fake._track(self.connection, add=True)

    def finish(self) -> None:
        self.server.fake._track(self.connection, add=False)
        with contextlib.suppress(OSError):
            super().finish()

    def log_message(self, format: str, *args: Any) -> None:
        pass  # quiet: pytest output is for the code under test

    def do_GET(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    def do_DELETE(self) -> None:
        self._serve()

    def _serve(self) -> None:
        fake = self.server.fake
        raw_body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        body: Json
        try:
            body = json.loads(raw_body) if raw_body else None
        except ValueError:
            body = None
        recorded = RecordedRequest(
            method=self.command,
            path=self.path,
            headers={name.lower(): value for name, value in self.headers.items()},
            body=body,
        )
        fake._record(recorded)
        try:
            self._chat_completion(fake, recorded, raw_body)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True  # the client left, e.g. after its timeout
        except Exception as exc:
            fake._crash(exc)
            self._reply(recorded, server_error())

    def _chat_completion(
        self, fake: FakeModelServer, recorded: RecordedRequest, raw: bytes
    ) -> None:
        if (self.command, self.path.split("?")[0]) != ("POST", "/v1/chat/completions"):
            message = f"Invalid URL ({self.command} {self.path})"
            self._reply(recorded, error(404, message))
            return
        auth = self._auth_error(recorded.headers.get("authorization", ""), fake.api_key)
        if auth is not None:
            self._reply(recorded, auth)
            return
        violation: Violation | None
        if not isinstance(recorded.body, dict):
            violation = Violation(
                "We could not parse the JSON body of your request. (HINT: This likely means "
                "you aren't using your HTTP library correctly. The OpenAI API expects a JSON "
                "payload, but what was sent was not valid JSON.)"
                if raw
                else "you must provide a model parameter"
            )
        else:
            violation = request_violation(recorded.body)
        if violation is not None:
            fake._violation(violation)
            self._reply(
                recorded, error(400, violation.message, code=violation.code, param=violation.param)
            )
            return
        if fake._sleep(fake.latency):
            self._drop()
            return
        step = fake._next_step()
        while isinstance(step, Hang):
            if fake._sleep(step.seconds):
                self._drop()
                return
            step = step.then
        if step is None or isinstance(step, Reply):
            self._completion(recorded, step or brain(recorded.body))
        elif isinstance(step, Disconnect):
            self._drop()
        else:
            self._reply(recorded, step)

    @staticmethod
    def _auth_error(header: str, expected: str | None) -> ErrorReply | None:
        scheme, _, key = header.partition(" ")
        key = key.strip()
        if scheme.lower() != "bearer" or not key:
            # The real service sends code null here, and "invalid_api_key" for a wrong key.
            return error(
                401,
                "You didn't provide an API key. You need to provide your API key in an "
                "Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).",
            )
        if expected is not None and key != expected:
            return error(
                401,
                f"Incorrect API key provided: {key[:3]}{'*' * 10}{key[-4:]}. You can find your "
                "API key at https://platform.openai.com/account/api-keys.",
                code="invalid_api_key",
            )
        return None

    def _drop(self) -> None:
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)

    def _reply(self, recorded: RecordedRequest, step: ErrorReply | RawReply) -> None:
        if isinstance(step, ErrorReply):
            payload = json.dumps(step.body, indent=2).encode()
            self._send(recorded, step.status, payload, "application/json", step.headers)
        else:
            self._send(recorded, step.status, step.body, step.content_type, step.headers)

    def _completion(self, recorded: RecordedRequest, reply: Reply) -> None:
        body = recorded.body
        if reply.from_tools:
            reply = compose_answer(body["messages"])
        completion = chat_completion(body, reply)
        if body.get("stream"):
            include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
            payload = b"".join(
                f"data: {json.dumps(chunk)}\n\n".encode()
                for chunk in stream_chunks(completion, include_usage=include_usage)
            )
            payload += b"data: [DONE]\n\n"
            self._send(recorded, 200, payload, "text/event-stream; charset=utf-8", {})
        else:
            payload = json.dumps(completion).encode()
            self._send(recorded, 200, payload, "application/json", {})

    def _send(
        self,
        recorded: RecordedRequest,
        status: int,
        payload: bytes,
        content_type: str,
        headers: Mapping[str, str],
    ) -> None:
        # Set before writing: the client may look at `server.requests` as soon as it has read.
        recorded.status = status
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(payload)))
        self.send_header("x-request-id", f"req_{secrets.token_hex(16)}")
        self.send_header("openai-version", "2020-10-01")
        self.send_header("openai-processing-ms", "7")
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(payload)


# ---------------------------------------------------------------------------------------------
# Response bodies
# ---------------------------------------------------------------------------------------------


def _tokens(value: Json) -> int:
    """About four characters a token, as OpenAI's rule of thumb for English."""
    text = value if isinstance(value, str) else json.dumps(value)
    return max(1, math.ceil(len(text) / 4))


def chat_completion(request: Json, reply: Reply) -> dict[str, Json]:
    """The ``chat.completion`` object answering `request` with `reply`."""
    content, finish_reason = reply.content, reply.finish_reason
    limit = request.get("max_completion_tokens") or request.get("max_tokens")
    if content is not None and limit and _tokens(content) > limit:
        content, finish_reason = content[: limit * 4], "length"
    message: dict[str, Json] = {
        "role": "assistant",
        "content": content,
        "refusal": None,
        "annotations": [],
    }
    if reply.calls:
        message["tool_calls"] = [
            {
                "id": f"call_{secrets.token_urlsafe(18).replace('-', 'x').replace('_', 'y')}",
                "type": "function",
                "function": {"name": name, "arguments": arguments},
            }
            for name, arguments in reply.calls
        ]
    prompt = sum(4 + _tokens(m.get("content") or "") for m in request["messages"])
    prompt += _tokens(request["tools"]) if request.get("tools") else 0
    completion = _tokens(content or "") + sum(_tokens(n + a) for n, a in reply.calls)
    return {
        "id": f"chatcmpl-{secrets.token_urlsafe(21).replace('-', 'x').replace('_', 'y')}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": request["model"],
        "choices": [
            {"index": 0, "message": message, "logprobs": None, "finish_reason": finish_reason}
        ],
        "usage": {
            "prompt_tokens": prompt,
            "completion_tokens": completion,
            "total_tokens": prompt + completion,
            "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
            "completion_tokens_details": {
                "reasoning_tokens": 0,
                "audio_tokens": 0,
                "accepted_prediction_tokens": 0,
                "rejected_prediction_tokens": 0,
            },
        },
        "service_tier": "default",
    }


def _pieces(text: str, size: int = 12) -> list[str]:
    return [text[i : i + size] for i in range(0, len(text), size)]


def stream_chunks(completion: Json, *, include_usage: bool) -> Iterator[dict[str, Json]]:
    """The ``chat.completion.chunk`` objects that stream `completion`, as OpenAI splits them:
    role first, then text or argument fragments keyed by ``index``, then the finish reason."""
    head = {key: completion[key] for key in ("id", "created", "model", "service_tier")}
    head["object"] = "chat.completion.chunk"
    usage_field = {"usage": None} if include_usage else {}
    choice = completion["choices"][0]
    message = choice["message"]

    def chunk(delta: Json, finish_reason: str | None = None) -> dict[str, Json]:
        choices = [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}]
        return {**head, "choices": choices, **usage_field}

    calls = message.get("tool_calls") or []
    if calls:
        for index, call in enumerate(calls):
            first = {
                "index": index,
                "id": call["id"],
                "type": "function",
                "function": {"name": call["function"]["name"], "arguments": ""},
            }
            delta: Json = {"tool_calls": [first]}
            if index == 0:
                delta = {"role": "assistant", "content": None, "refusal": None, **delta}
            yield chunk(delta)
            for piece in _pieces(call["function"]["arguments"]):
                yield chunk({"tool_calls": [{"index": index, "function": {"arguments": piece}}]})
    else:
        yield chunk({"role": "assistant", "content": "", "refusal": None})
        for piece in _pieces(message["content"] or ""):
            yield chunk({"content": piece})
    yield chunk({}, choice["finish_reason"])
    if include_usage:
        yield {**head, "choices": [], "usage": completion["usage"]}


# ---------------------------------------------------------------------------------------------
# The default brain: deterministic rules, not an LLM. It answers when no step is scripted.
# ---------------------------------------------------------------------------------------------

HELP = (
    "I can answer questions about Minecraft players: ask me for the UUID of a username, "
    "the name behind a UUID, or a player's skin and cape."
)
_UUID = re.compile(r"\b[0-9a-fA-F]{8}(?:-?[0-9a-fA-F]{4}){3}-?[0-9a-fA-F]{12}\b")
_NAME = re.compile(r"^[A-Za-z0-9_]{3,16}$")
_SKIN = re.compile(r"\b(skins?|capes?|slim|classic|alex|steve|textures?)\b", re.IGNORECASE)
# Without one of these the question is not about players ("what's the weather?"): no lookup.
_TOPIC = re.compile(r"\b(uuids?|ids?|players?|users?|usernames?|names?|who|minecraft)\b", re.I)
_MARKERS = {"player", "players", "username", "usernames", "user", "users", "named", "called"}
# Words of a question that are never player names (unless right after a marker).
_COMMON_WORDS = (
    "a about account accounts alex all an and any are arm arms both can cape capes classic do "
    "does for from get given has have he hello her hey hi his how i id ids is it its look me "
    "minecraft model my name names of on or owns please profile same she show skin skins slim "
    "steve tell texture textures thanks that the their them these they this those to up use "
    "uses uuid uuids wear wears what whats which who whose wide with you your"
)
_COMMON = _MARKERS | set(_COMMON_WORDS.split())


def _text(content: Json) -> str:
    if isinstance(content, list):
        return " ".join(part.get("text", "") for part in content if isinstance(part, dict))
    return content or ""


def _player_names(question: str) -> list[str]:
    """Name-shaped words that are not ordinary English, plus any word right after "player"."""
    words = re.findall(r"[A-Za-z0-9_]+", _UUID.sub(" ", question))
    names: list[str] = []
    for before, word in zip(["", *words], words, strict=False):
        after_marker = before.lower() in _MARKERS and word.lower() not in _MARKERS
        if _NAME.match(word) and (word.lower() not in _COMMON or after_marker):
            names.append(word)
    return list(dict.fromkeys(names))


def _is_array(schema: Json) -> bool:
    kinds = schema.get("type")
    return (
        kinds == "array"
        or (isinstance(kinds, list) and "array" in kinds)
        or any(_is_array(sub) for sub in schema.get("anyOf", []))
    )


def _tool(
    tools: Mapping[str, Json], name_part: str, param_part: str, *, array: bool = False
) -> tuple[str, str] | None:
    """The first offered tool whose name contains `name_part` and whose first parameter's name
    contains `param_part` (an array or not): (tool, parameter). Offline-UUID tools compute
    rather than look up, so they never count."""
    for name, function in tools.items():
        properties = (function.get("parameters") or {}).get("properties") or {}
        param, schema = next(iter(properties.items()), ("", {}))
        if (
            name_part in name.lower()
            and "offline" not in name.lower()
            and param_part in param.lower()
            and _is_array(schema) == array
        ):
            return name, param
    return None


def _calls(tool: tuple[str, str], values: Iterable[Json]) -> Reply:
    return tool_calls(*((tool[0], {tool[1]: value}) for value in values))


def brain(request: Json) -> Reply:
    """What the fake model says to `request` when nothing is scripted."""
    tools = {t["function"]["name"]: t["function"] for t in request.get("tools", [])}
    if request.get("tool_choice") == "none":
        tools = {}
    messages = request["messages"]
    question = next((_text(m["content"]) for m in messages[::-1] if m["role"] == "user"), "")
    profile = _tool(tools, "profile", "uuid")
    if messages[-1]["role"] == "tool":
        called = {c["function"]["name"] for m in messages for c in m.get("tool_calls") or []}
        ids = [found for _, _, output in _tool_outputs(messages) for found in _ids(output)]
        # Skins take a second round: the UUID first, then the profile that holds the textures.
        if _SKIN.search(question) and profile and profile[0] not in called and ids:
            return _calls(profile, dict.fromkeys(ids))
        return compose_answer(messages)
    if messages[-1]["role"] != "user":
        return answer(HELP)
    uuids = _UUID.findall(question)
    names = _player_names(question) if _TOPIC.search(question) or _SKIN.search(question) else []
    # "Who owns <uuid>?" wants a name; a skin question about a UUID wants the profile.
    by_uuid = (None if _SKIN.search(question) else _tool(tools, "name", "uuid")) or profile
    bulk = _tool(tools, "uuid", "name", array=True)
    single = _tool(tools, "uuid", "name")
    if uuids and by_uuid:
        return _calls(by_uuid, uuids)
    if len(names) > 1 and bulk:
        return _calls(bulk, [names])
    if names and single:
        return _calls(single, names)
    return answer(HELP)


def _tool_outputs(messages: list[Json]) -> Iterator[tuple[str, Json, Json]]:
    """(tool name, arguments, parsed output) for each tool message since the last user turn."""
    start = max((i for i, m in enumerate(messages) if m["role"] == "user"), default=0)
    asked = {
        call["id"]: call["function"]
        for message in messages[start:]
        for call in message.get("tool_calls") or []
    }
    for message in messages[start:]:
        if message["role"] != "tool":
            continue
        function = asked.get(message["tool_call_id"], {"name": "tool", "arguments": "{}"})
        outputs = []
        for text in (_text(message["content"]), function["arguments"]):
            try:
                outputs.append(json.loads(text))
            except ValueError:
                outputs.append(text)  # the model wrote invalid JSON, or the tool plain text
        yield function["name"], outputs[1], outputs[0]


def _ids(output: Json) -> list[str]:
    """The player UUIDs in a tool output (one player, a list, or a bulk lookup)."""
    if isinstance(output, list):
        return [found for item in output for found in _ids(item)]
    if not isinstance(output, dict):
        return []
    if isinstance(output.get("id") or output.get("uuid"), str):
        return [output.get("id") or output["uuid"]]
    return [found for value in output.values() if isinstance(value, list) for found in _ids(value)]


def _describe(output: Json, asked: str) -> list[str]:
    """Plain sentences about one tool output; `asked` is what the model asked the tool for."""
    if isinstance(output, list):
        return [s for item in output for s in _describe(item, asked)] or [
            f"Player {asked} was not found."
        ]
    if isinstance(output, str):
        return [output]  # an error string from the tool loop reaches the user as is
    if not isinstance(output, dict) or output.get("found") is False:
        return [f"Player {asked} was not found."]
    if "error" in output:
        problem = output["error"]
        detail = problem.get("message", problem) if isinstance(problem, dict) else problem
        return [f"The lookup for {output.get('name', asked)} failed: {detail}"]
    if isinstance(output.get("found"), list):  # a bulk lookup: found, not_found, invalid, failed
        sentences = [s for player in output["found"] for s in _describe(player, asked)]
        sentences += [f"Player {name} was not found." for name in output.get("not_found", [])]
        problems = [*output.get("invalid", []), *output.get("failed", [])]
        return sentences + [s for problem in problems for s in _describe(problem, asked)]
    if "offline_uuid" in output:
        return [
            f"The offline-mode UUID of {output.get('username', asked)} is {output['offline_uuid']}."
        ]
    uuid = output.get("id") or output.get("uuid")
    name = output.get("name") or output.get("username") or asked
    if not uuid:
        pairs = [(k, v) for k, v in output.items() if isinstance(v, str) and _UUID.fullmatch(v)]
        return [f"The UUID of {k} is {v}." for k, v in pairs] or [json.dumps(output)]
    sentences = [f"The UUID of {name} is {uuid}."]
    skin = output["skin"] if isinstance(output.get("skin"), dict) else output
    model = skin.get("skin_model") or skin.get("model") or skin.get("variant")
    if model is None and isinstance(skin.get("slim"), bool):
        model = "slim" if skin["slim"] else "classic"
    if model:
        sentences.append(f"{name} uses the {str(model).lower()} skin model.")
    cape = next((key for key in ("cape_url", "cape", "has_cape") if key in output), None)
    if cape:
        sentences.append(f"{name} has {'a' if output[cape] else 'no'} cape.")
    return sentences


def compose_answer(messages: list[Json]) -> Reply:
    """A plain-English answer built from the tool outputs since the last user message."""
    sentences: list[str] = []
    for _, arguments, output in _tool_outputs(messages):
        values = list(arguments.values()) if isinstance(arguments, dict) else []
        asked = ", ".join(map(str, values[0])) if values and isinstance(values[0], list) else ""
        asked = asked or (str(values[0]) if values else "that player")
        sentences += _describe(output, asked)
    return answer(" ".join(dict.fromkeys(sentences)) or HELP)
