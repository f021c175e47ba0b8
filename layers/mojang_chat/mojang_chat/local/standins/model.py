"""A scripted, OpenAI-compatible model on 127.0.0.1 (``POST /v1/chat/completions``), for the
offline demo, the tests and the benchmarks.

The real openai SDK talks to it over real HTTP (``base_url=server.base_url``): answers, errors
and headers have the shapes OpenAI's reference describes, streamed or not. Each request is
answered by the next step of the script (this module's reply DSL), or, when the script is
empty, by the "brain" at the bottom: deterministic rules, not an LLM, that answer questions
about Minecraft players with the tools the request offers.

    with ModelServer() as model:
        model.script(tool_calls(("get_uuid_from_username", {"username": "merrydith"})),
                     answer_from_tools())
        client = openai.OpenAI(base_url=model.base_url, api_key="any-key", max_retries=0)
        ...

Test controls (tests/fakes) subclass it to check every request against OpenAI's schema
(``check``).
"""

from __future__ import annotations

import contextlib
import json
import math
import re
import secrets
import socket
import time
from collections import deque
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from mojang_chat.http.errors import INVALID_JSON
from mojang_chat.local.standins.httpserver import StandInHandler, StandInServer

FinishReason = Literal["stop", "length", "tool_calls", "content_filter"]
Json = Any


@dataclass(frozen=True)
class Violation:
    """Why the real API would reject a request with 400: what the code under test got wrong."""

    message: str
    param: str | None = None
    code: str | None = None


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


@dataclass(frozen=True)
class Trickle:
    """Answer with `reply` (the brain's answer when None), the body's bytes sent one every
    `byte_interval` seconds: each read gets a byte in time, so no read timeout fires."""

    byte_interval: float
    reply: Reply | None = None


Step = Reply | ErrorReply | RawReply | Hang | Disconnect | Trickle


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


def trickle(byte_interval: float = 0.5, reply: Reply | None = None) -> Trickle:
    """A valid completion, sent one byte every `byte_interval` seconds."""
    return Trickle(byte_interval, reply)


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


class ModelServer(StandInServer):
    """An OpenAI-compatible ``POST /v1/chat/completions`` on 127.0.0.1, answering from a script.

    `api_key` None accepts any non-empty bearer token; `latency` (seconds) is added to every
    chat completion, e.g. for benchmarks. All attributes may be read from any thread.
    """

    thread_name = "stand-in-model"

    def __init__(self, *, api_key: str | None = None, latency: float = 0.0) -> None:
        super().__init__(latency=latency)
        self.api_key = api_key
        self._steps: deque[Step] = deque()
        self._requests: list[RecordedRequest] = []
        self._crashes: list[BaseException] = []

    @property
    def base_url(self) -> str:
        """What the openai SDK takes as ``base_url``."""
        return self.url + "/v1"

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
    def crashes(self) -> list[BaseException]:
        """Bugs of the stand-in itself (answered with 500); should stay empty."""
        with self._lock:
            return list(self._crashes)

    def reset(self) -> None:
        """Forget the script, the recorded requests and the crashes."""
        with self._lock:
            self._steps.clear()
            self._requests.clear()
            self._crashes.clear()

    def check(self, body: Json, raw: bytes) -> Violation | None:
        """Why the real API would reject a chat completion request whose body is ``raw``
        (``body`` parsed, None when it is not JSON), as far as this stand-in needs to answer
        it: a JSON object with a model and messages. None when it can be answered. Test
        controls override this to check the request against OpenAI's whole schema."""
        if not isinstance(body, dict):
            return Violation(INVALID_JSON if raw else "you must provide a model parameter")
        if not isinstance(body.get("model"), str):
            return Violation("you must provide a model parameter", "model")
        messages = body.get("messages")
        if not isinstance(messages, list) or not messages:
            return Violation(
                "Missing required parameter: 'messages'.", "messages", "missing_required_parameter"
            )
        for index, message in enumerate(messages):
            if not isinstance(message, dict) or not isinstance(message.get("role"), str):
                param = f"messages[{index}].role"
                return Violation(
                    f"Missing required parameter: '{param}'.", param, "missing_required_parameter"
                )
        return None

    # used by the handler -------------------------------------------------------------------

    def _record(self, request: RecordedRequest) -> None:
        with self._lock:
            self._requests.append(request)

    def _crash(self, exc: BaseException) -> None:
        with self._lock:
            self._crashes.append(exc)

    def _next_step(self) -> Step | None:
        with self._lock:
            return self._steps.popleft() if self._steps else None


class _Handler(StandInHandler[ModelServer]):
    server_version = "cloudflare"
    sys_version = ""

    def do_GET(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    def do_DELETE(self) -> None:
        self._serve()

    def _serve(self) -> None:
        standin = self.standin
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
        standin._record(recorded)
        try:
            self._chat_completion(standin, recorded, raw_body)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True  # the client left, e.g. after its timeout
        except Exception as exc:
            standin._crash(exc)
            self._reply(recorded, server_error())

    def _chat_completion(self, standin: ModelServer, recorded: RecordedRequest, raw: bytes) -> None:
        if (self.command, self.path.split("?")[0]) != ("POST", "/v1/chat/completions"):
            message = f"Invalid URL ({self.command} {self.path})"
            self._reply(recorded, error(404, message))
            return
        auth = self._auth_error(recorded.headers.get("authorization", ""), standin.api_key)
        if auth is not None:
            self._reply(recorded, auth)
            return
        violation = standin.check(recorded.body, raw)
        if violation is not None:
            self._reply(
                recorded, error(400, violation.message, code=violation.code, param=violation.param)
            )
            return
        if standin.wait(standin.latency):
            self._drop()
            return
        step = standin._next_step()
        while isinstance(step, Hang):
            if standin.wait(step.seconds):
                self._drop()
                return
            step = step.then
        if step is None or isinstance(step, Reply):
            self._completion(recorded, step or brain(recorded.body))
        elif isinstance(step, Trickle):
            reply = step.reply or brain(recorded.body)
            self._completion(recorded, reply, byte_interval=step.byte_interval)
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

    def _completion(
        self, recorded: RecordedRequest, reply: Reply, *, byte_interval: float = 0.0
    ) -> None:
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
            self._send(recorded, 200, payload, "application/json", {}, byte_interval)

    def _send(
        self,
        recorded: RecordedRequest,
        status: int,
        payload: bytes,
        content_type: str,
        headers: Mapping[str, str],
        byte_interval: float = 0.0,
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
        if byte_interval <= 0:
            self.wfile.write(payload)
            return
        self.wfile.flush()
        for index in range(len(payload)):
            if self.standin.wait(byte_interval):
                self._drop()
                return
            self.wfile.write(payload[index : index + 1])
            self.wfile.flush()


# Set here: the handler is typed by the stand-in it serves, so it comes after it.
ModelServer.handler = _Handler


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
# The brain: deterministic rules, not an LLM. It answers when no step is scripted.
# ---------------------------------------------------------------------------------------------

HELP = (
    "I can answer questions about Minecraft players: ask me for the UUID of a username, "
    "the name behind a UUID, or a player's skin and cape."
)
# A question about players that names none: said plainly, then what can be asked.
NO_PLAYER = "I found no player name or UUID in your question, so I cannot look anything up. " + HELP
_UUID = re.compile(r"\b[0-9a-fA-F]{8}(?:-?[0-9a-fA-F]{4}){3}-?[0-9a-fA-F]{12}\b")
_NAME = re.compile(r"^[A-Za-z0-9_]{3,16}$")
_SKIN = re.compile(r"\b(skins?|capes?|slim|classic|alex|steve|textures?)\b", re.IGNORECASE)
# Offline-mode (cracked server) UUIDs are computed from a name, never looked up at Mojang.
_OFFLINE = re.compile(r"\b(offline|cracked)\b", re.IGNORECASE)
# Without one of these the question is not about players ("what's the weather?"): no lookup.
_TOPIC = re.compile(r"\b(uuids?|ids?|players?|users?|usernames?|names?|who|minecraft)\b", re.I)
_MARKERS = {"player", "players", "username", "usernames", "user", "users", "named", "called"}
# Words of a question that are never player names (unless right after a marker).
_COMMON_WORDS = (
    "a about account accounts alex all an and any are arm arms both can cape capes classic "
    "cracked do does for from get given has have he hello her hey hi his how i id ids is it its "
    "look me minecraft mode model my name names of offline on online or owns please profile "
    "same server she show skin skins slim steve tell texture textures thanks that the their "
    "them these they this those to up use uses uuid uuids wear wears what whats which who "
    "whose wide with you your"
)
_COMMON = _MARKERS | set(_COMMON_WORDS.split())


def brain(request: Json) -> Reply:
    """What the stand-in model says to ``request`` (a chat completion request body) when
    nothing is scripted: the tool calls that answer the last question or, once the tools have
    answered, a plain-English answer from their outputs."""
    tools = _offered_tools(request)
    messages = request["messages"]
    question = next(
        (_text(m.get("content")) for m in reversed(messages) if m["role"] == "user"), ""
    )
    if messages[-1]["role"] == "tool":
        return _after_tools(question, tools, messages)
    if messages[-1]["role"] != "user":
        return answer(HELP)
    return _first_calls(question, tools)


def _offered_tools(request: Json) -> dict[str, Json]:
    """The function tools the model may call, by name (none when tool_choice is "none")."""
    if request.get("tool_choice") == "none":
        return {}
    return {
        tool["function"]["name"]: tool["function"]
        for tool in request.get("tools") or []
        if tool.get("type") == "function"
    }


def _first_calls(question: str, tools: Mapping[str, Json]) -> Reply:
    """The tool calls that start answering ``question``; a plain answer when none fits."""
    skin = _SKIN.search(question) is not None
    offline = _OFFLINE.search(question) is not None
    if not (skin or offline or _TOPIC.search(question)):
        return answer(HELP)
    uuids = _UUID.findall(question)
    names = _player_names(question)
    if not uuids and not names:
        return answer(NO_PLAYER)
    if offline and names:
        # Only the offline tool answers this: a Mojang lookup would give another UUID.
        computed = _tool(tools, "offline", "name", offline=True)
        return _calls(computed, names) if computed else answer(HELP)
    profile = _tool(tools, "profile", "uuid")
    # "Who owns <uuid>?" wants a name; a skin question about a UUID wants the profile.
    by_uuid = (None if skin else _tool(tools, "name", "uuid")) or profile
    bulk = _tool(tools, "uuid", "name", array=True)
    single = _tool(tools, "uuid", "name")
    if uuids and by_uuid:
        return _calls(by_uuid, uuids)
    if len(names) > 1 and bulk:
        return _calls(bulk, [names])
    if names and single:
        return _calls(single, names)
    return answer(HELP)


def _after_tools(question: str, tools: Mapping[str, Json], messages: list[Json]) -> Reply:
    """The next step once the tools have answered: the answer, except that skins take a second
    round (the UUID first, then the profile that holds the textures)."""
    outputs = list(_tool_outputs(messages))
    called = {name for name, _, _ in outputs}
    ids = [found for _, _, output in outputs for found in _ids(output)]
    profile = _tool(tools, "profile", "uuid")
    if _SKIN.search(question) and profile and profile[0] not in called and ids:
        return _calls(profile, dict.fromkeys(ids))
    return compose_answer(messages)


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
    tools: Mapping[str, Json],
    name_part: str,
    param_part: str,
    *,
    array: bool = False,
    offline: bool = False,
) -> tuple[str, str] | None:
    """The first offered tool whose name contains `name_part` and whose first parameter's name
    contains `param_part` (an array or not): (tool, parameter). Offline-UUID tools compute
    rather than look up: they are found with `offline` only, and then they alone are."""
    for name, function in tools.items():
        properties = (function.get("parameters") or {}).get("properties") or {}
        param, schema = next(iter(properties.items()), ("", {}))
        if (
            name_part in name.lower()
            and ("offline" in name.lower()) == offline
            and param_part in param.lower()
            and _is_array(schema) == array
        ):
            return name, param
    return None


def _calls(tool: tuple[str, str], values: Iterable[Json]) -> Reply:
    return tool_calls(*((tool[0], {tool[1]: value}) for value in values))


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
        for text in (_text(message.get("content")), function["arguments"]):
            try:
                outputs.append(json.loads(text))
            except (ValueError, RecursionError):
                # The model wrote invalid JSON (or JSON nested too deep to read), or the tool
                # plain text.
                outputs.append(text)
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


def _plain(uuid: str) -> str:
    return uuid.replace("-", "").lower()


def _describe(output: Json, asked: str, stated: set[str]) -> list[str]:
    """Plain sentences about one tool output; `asked` is what the model asked the tool for,
    `stated` the UUIDs already named in the answer (updated)."""
    if isinstance(output, list):
        return [s for item in output for s in _describe(item, asked, stated)] or [
            f"Player {asked} was not found."
        ]
    if isinstance(output, str):
        return [output]  # an error string from the tool loop reaches the user as is
    by_uuid = _UUID.fullmatch(asked) is not None
    if not isinstance(output, dict) or output.get("found") is False:
        return [f"No player has the UUID {asked}." if by_uuid else f"Player {asked} was not found."]
    if "error" in output:
        problem = output["error"]
        detail = problem.get("message", problem) if isinstance(problem, dict) else problem
        return [f"The lookup for {output.get('name', asked)} failed: {detail}"]
    if isinstance(output.get("found"), list):  # a bulk lookup: found, not_found, invalid, failed
        sentences = [s for player in output["found"] for s in _describe(player, asked, stated)]
        sentences += [f"Player {name} was not found." for name in output.get("not_found", [])]
        problems = [*output.get("invalid", []), *output.get("failed", [])]
        return sentences + [s for problem in problems for s in _describe(problem, asked, stated)]
    if "offline_uuid" in output:
        name = output.get("username", asked)
        offline = output.get("dashed_offline_uuid") or output["offline_uuid"]
        return [
            f"The offline-mode UUID of {name} is {offline}. An offline-mode server computes it "
            "from the name; it is not the UUID of a Mojang account."
        ]
    uuid = output.get("id") or output.get("uuid")
    name = output.get("name") or output.get("username") or asked
    if not uuid:
        pairs = [(k, v) for k, v in output.items() if isinstance(v, str) and _UUID.fullmatch(v)]
        return [f"The UUID of {k} is {v}." for k, v in pairs] or [json.dumps(output)]
    if by_uuid and _plain(asked) == _plain(uuid):
        # Looked up by UUID: the news is the name (unless an earlier lookup gave the UUID).
        sentences = [] if _plain(uuid) in stated else [f"The player with UUID {asked} is {name}."]
    else:
        sentences = [f"The UUID of {name} is {uuid}."]
    stated.add(_plain(uuid))
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
    stated: set[str] = set()
    for _, arguments, output in _tool_outputs(messages):
        values = list(arguments.values()) if isinstance(arguments, dict) else []
        asked = ", ".join(map(str, values[0])) if values and isinstance(values[0], list) else ""
        asked = asked or (str(values[0]) if values else "that player")
        sentences += _describe(output, asked, stated)
    return answer(" ".join(dict.fromkeys(sentences)) or HELP)
