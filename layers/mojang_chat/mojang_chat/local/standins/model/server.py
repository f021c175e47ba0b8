"""The stand-in model's server: an OpenAI-compatible ``POST /v1/chat/completions`` on
127.0.0.1, answering each request with the next step of its script, or its brain's answer;
answers, errors and headers have the shapes OpenAI's reference describes, streamed or not.
"""

from __future__ import annotations

import contextlib
import json
import math
import secrets
import socket
import time
from collections import deque
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from mojang_chat.http.errors import INVALID_JSON
from mojang_chat.local.standins.httpserver import StandInHandler, StandInServer
from mojang_chat.local.standins.model.brain import brain, compose_answer
from mojang_chat.local.standins.model.script import (
    Disconnect,
    ErrorReply,
    Hang,
    Json,
    RawReply,
    Reply,
    Step,
    Trickle,
    error,
    server_error,
)


@dataclass(frozen=True)
class Violation:
    """Why the real API would reject a request with 400: what the code under test got wrong."""

    message: str
    param: str | None = None
    code: str | None = None


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


# --- response bodies


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
