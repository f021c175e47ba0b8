"""The model adapter: one Chat Completions call, with retries that never outlive the deadline.

The openai SDK's own retries are switched off (``max_retries=0`` on the client): they would
sleep for a ``Retry-After`` of up to two minutes, far past API Gateway's 30 s. Here every retry
is taken only if its back-off and a minimal call still fit in the time the request has left.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import TYPE_CHECKING, Any, Protocol, TypedDict
from urllib.parse import urlsplit, urlunsplit

from mojang_chat.chat.types import ToolCall, Usage
from mojang_chat.core.deadline import Deadline, DeadlineExceeded, call_by
from mojang_chat.core.observability import count, logger, tracer

if TYPE_CHECKING:
    from openai import OpenAI

# A call with less time than this left is not worth starting: it would only time out.
MIN_CALL_SECONDS = 1.0
MAX_BACKOFF_SECONDS = 8.0
# A completion's JSON around the model's own text: ids, usage, roles, tool call ids and names.
COMPLETION_ENVELOPE_BYTES = 64 * 1024


class CallOptions(TypedDict):
    """What a caller chose for the model calls of one conversation (a run, a response, a
    completion request); None leaves the model's default."""

    tool_choice: str | dict[str, Any] | None
    parallel_tool_calls: bool | None
    max_completion_tokens: int | None


def call_options(
    tool_choice: str | dict[str, Any] | None = None,
    parallel_tool_calls: bool | None = None,
    max_completion_tokens: int | None = None,
) -> CallOptions:
    """The options of a model call. Parallel tool calls are the model's default: only turning
    them off is sent."""
    return {
        "tool_choice": tool_choice,
        "parallel_tool_calls": False if parallel_tool_calls is False else None,
        "max_completion_tokens": max_completion_tokens,
    }


class ModelError(Exception):
    """The model could not give an answer. The message is safe to show to callers: it never
    repeats the upstream body, which can echo a (masked) API key."""


class ModelRateLimited(ModelError):
    """The model server throttled us (HTTP 429) and retrying did not fit in the deadline."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class ModelUnavailable(ModelError):
    """The model server could not be reached, was overloaded (503), or is not configured."""


class ModelUnreachable(ModelUnavailable):
    """Nothing answered at the model server's URL (no connection). Its own class, so that
    the runs workflow, which retries ``ModelUnavailable`` by name after the adapter's own
    retries, does not retry it: a server that refuses connections through those is down or
    misconfigured, and a run then fails as fast as ``/chat`` answers 503."""


class ModelFailed(ModelError):
    """The model server answered with an error or with something that is not a completion."""


@dataclass(frozen=True)
class ModelTurn:
    """What one model call gave: text, tool calls, or both."""

    content: str | None
    tool_calls: list[ToolCall]
    finish_reason: str
    model: str
    usage: Usage = field(default_factory=Usage)

    def as_message(self) -> dict[str, Any]:
        """The assistant message to send back with the next request."""
        message: dict[str, Any] = {"role": "assistant", "content": self.content}
        if self.tool_calls:
            message["tool_calls"] = [
                {
                    "id": call.id,
                    "type": "function",
                    "function": {"name": call.name, "arguments": call.arguments},
                }
                for call in self.tool_calls
            ]
        return message


class ChatModel(Protocol):
    """What the tool loop calls: ``Model``, or a wrapper of it (the cost guard's)."""

    # The configured model's name (what an answer reports when no call was made).
    name: str

    def complete(
        self,
        messages: Sequence[dict[str, Any]],
        tools: Sequence[dict[str, Any]],
        deadline: Deadline,
        options: CallOptions | None = None,
    ) -> ModelTurn:
        """One completion of ``messages`` with ``tools``, within ``deadline``; ``options``
        are a run's ``tool_choice``, ``parallel_tool_calls`` and ``max_completion_tokens``."""
        ...


class Model:
    """Chat Completions through the openai SDK, for one configured model."""

    def __init__(
        self,
        client: OpenAI,
        *,
        model: str,
        max_completion_tokens: int,
        max_retries: int,
        max_answer_chars: int,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._client = client
        self.name = model
        self._max_completion_tokens = max_completion_tokens
        self._max_retries = max_retries
        self._max_answer_chars = max_answer_chars
        self._sleep = sleep

    @property
    def server(self) -> str:
        """Where the model is asked, for errors that name it: the client's base URL without
        its query or any credentials in it (scheme, host, port and path only)."""
        url = urlsplit(str(self._client.base_url))
        host = url.hostname or ""
        if ":" in host:
            host = f"[{host}]"
        port = f":{url.port}" if url.port else ""
        return urlunsplit((url.scheme, host + port, url.path.rstrip("/"), "", ""))

    @property
    def max_response_bytes(self) -> int:
        """The most bytes read from the model server for one completion: an answer of
        ``max_answer_chars`` characters, each as long as JSON can spell one (a ``\\uXXXX``
        surrogate pair, 12 bytes), plus the completion's envelope."""
        return self._max_answer_chars * 12 + COMPLETION_ENVELOPE_BYTES

    @tracer.capture_method(capture_response=False)
    def complete(
        self,
        messages: Sequence[dict[str, Any]],
        tools: Sequence[dict[str, Any]],
        deadline: Deadline,
        options: CallOptions | None = None,
    ) -> ModelTurn:
        """One completion; transient failures are retried while the deadline allows. The
        whole call, however slowly the server sends its bytes, ends by the deadline."""
        import openai

        attempt = 0
        while True:
            timeout = deadline.check("a model call")
            started = time.monotonic()
            try:
                call = partial(
                    self._create, messages, tools, timeout, deadline, options or call_options()
                )
                data = call_by(deadline, "the model call", call)
            except DeadlineExceeded:
                count("ModelErrors")
                raise DeadlineExceeded(
                    "the model did not answer before the request's deadline"
                ) from None
            except (
                openai.RateLimitError,
                openai.InternalServerError,
                openai.APIConnectionError,
            ) as e:
                count("ModelErrors")
                delay = _retry_delay(e, attempt)
                if attempt >= self._max_retries or delay + MIN_CALL_SECONDS > deadline.remaining():
                    raise _translate(e, deadline, self.server) from e
                logger.warning(
                    "model call failed, retrying",
                    extra={"error": type(e).__name__, "attempt": attempt + 1, "delay_s": delay},
                )
                self._sleep(delay)
                attempt += 1
                continue
            except openai.APIStatusError as e:
                count("ModelErrors")
                raise _translate(e, deadline, self.server) from e
            except ModelFailed:
                count("ModelErrors")
                raise
            except openai.OpenAIError as e:
                count("ModelErrors")
                raise ModelFailed("the model server sent a response that could not be read") from e
            turn = _turn(data, self.name)
            self._check_size(turn)
            count("ModelCalls")
            count("PromptTokens", turn.usage.prompt_tokens)
            count("CompletionTokens", turn.usage.completion_tokens)
            logger.info(
                "model call",
                extra={
                    "model": turn.model,
                    "finish_reason": turn.finish_reason,
                    "tool_calls": [call.name for call in turn.tool_calls],
                    "prompt_tokens": turn.usage.prompt_tokens,
                    "completion_tokens": turn.usage.completion_tokens,
                    "latency_ms": round((time.monotonic() - started) * 1000),
                },
            )
            return turn

    def _create(
        self,
        messages: Sequence[dict[str, Any]],
        tools: Sequence[dict[str, Any]],
        timeout: float,
        deadline: Deadline,
        options: CallOptions,
    ) -> Any:
        """``POST /chat/completions`` through the client's own request path (auth, timeout,
        errors mapped to ``openai`` exceptions), the body read by us: at most
        ``max_response_bytes`` of it, and not past the deadline. The completion as JSON.

        Not ``chat.completions.create``: it first walks every message and tool schema through
        the SDK's TypedDict transform (alias renaming, for input written with Python names),
        about 2 ms of CPU per call for bodies that are already plain wire-format JSON, as ours
        are; that was most of a warm request's own time. And the SDK would read any body whole,
        20 MB or a byte every second alike.
        """
        import httpx2
        from openai._constants import RAW_RESPONSE_HEADER

        body: dict[str, Any] = {
            "model": self.name,
            "messages": list(messages),
            "max_completion_tokens": self._max_completion_tokens,
        }
        if tools:
            body["tools"] = list(tools)
            for name in ("tool_choice", "parallel_tool_calls"):
                if options.get(name) is not None:
                    body[name] = options[name]
        # A caller may ask for fewer completion tokens than the deployment allows, never more.
        asked = options.get("max_completion_tokens")
        if asked is not None:
            body["max_completion_tokens"] = min(int(asked), self._max_completion_tokens)
        response = self._client.post(
            "/chat/completions",
            body=body,
            cast_to=httpx2.Response,
            options={
                "timeout": timeout,
                "security": {"bearer_auth": True},
                # The SDK's own switch (as in with_streaming_response): the body is not read.
                "headers": {RAW_RESPONSE_HEADER: "stream"},
            },
        )
        try:
            raw = _read_bounded(response, self.max_response_bytes, deadline)
        finally:
            response.close()
        try:
            return json.loads(raw)
        except (ValueError, RecursionError) as error:
            # Not JSON, not UTF-8, a number of more than 4,300 digits, nesting past Python's
            # recursion limit: none of them is a completion.
            raise ModelFailed("the model server sent a response that could not be read") from error

    def _check_size(self, turn: ModelTurn) -> None:
        size = len(turn.content or "") + sum(len(call.arguments) for call in turn.tool_calls)
        if size > self._max_answer_chars:
            raise ModelFailed(
                f"the model's answer was {size} characters long, over the limit of "
                f"{self._max_answer_chars}"
            )


def _read_bounded(response: Any, max_bytes: int, deadline: Deadline) -> bytes:
    """The body of ``response`` (an httpx response, not read yet), read as it arrives: each
    read returns what the socket has, so a server sending a byte at a time is noticed at the
    deadline, not when some buffer fills."""
    declared = response.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > max_bytes:
        raise ModelFailed(_too_large(max_bytes))
    chunks: list[bytes] = []
    size = 0
    for chunk in response.iter_bytes():
        size += len(chunk)
        if size > max_bytes:
            raise ModelFailed(_too_large(max_bytes))
        if deadline.expired():
            # The caller has answered already (call_by); this thread only stops reading.
            raise DeadlineExceeded("the model's answer did not arrive before the deadline")
        chunks.append(chunk)
    return b"".join(chunks)


def _too_large(max_bytes: int) -> str:
    return f"the model server's answer was larger than {max_bytes} bytes"


def _turn(data: Any, requested_model: str) -> ModelTurn:
    """The turn a completion (parsed JSON) holds. "OpenAI-compatible" servers vary: whatever
    does not have the expected shape is the model server's error (502), never ours."""
    try:
        choice = data["choices"][0]
        message = choice["message"]
        calls = [
            _tool_call(call)
            for call in message.get("tool_calls") or ()
            if call.get("type", "function") == "function"
        ]
        usage = data.get("usage") or {}
        # A refusal is the model's answer too (content is null then): the caller shows it.
        content = message.get("content") or message.get("refusal")
        model = data.get("model") or requested_model
        finish_reason = choice.get("finish_reason") or "stop"
        if not all(isinstance(v, str | None) for v in (content, model, finish_reason)):
            raise TypeError("a text field is not a string")
        return ModelTurn(
            content=content,
            tool_calls=calls,
            finish_reason=str(finish_reason),
            model=str(model),
            usage=Usage(
                _tokens(usage, "prompt_tokens"),
                _tokens(usage, "completion_tokens"),
                _tokens(usage, "total_tokens"),
            ),
        )
    except (AttributeError, IndexError, KeyError, TypeError) as error:
        raise ModelFailed("the model server sent a completion of an unexpected shape") from error


def _tool_call(call: Any) -> ToolCall:
    """One tool call of a completion. Arguments that are not a JSON string (an object, a
    number) break the protocol: the call is kept, so that it can be answered, with its
    arguments as JSON text and the problem for the model to read."""
    function = call["function"]
    call_id, name = call["id"], function["name"]
    if not isinstance(call_id, str) or not isinstance(name, str):
        raise TypeError("a tool call's id and name must be strings")
    arguments = function.get("arguments")
    if arguments is None or isinstance(arguments, str):
        return ToolCall(id=call_id, name=name, arguments=arguments or "")
    kind = type(arguments).__name__
    return ToolCall(
        id=call_id,
        name=name,
        arguments=json.dumps(arguments),
        problem=f"the arguments must be a string of JSON, not a JSON {_JSON_KINDS.get(kind, kind)}",
    )


_JSON_KINDS = {
    "dict": "object",
    "list": "array",
    "int": "number",
    "float": "number",
    "bool": "boolean",
}


def _tokens(usage: Any, field: str) -> int:
    # Some servers leave usage out, or send null counts.
    value = usage.get(field) if isinstance(usage, dict) else None
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _retry_delay(error: Exception, attempt: int) -> float:
    """Seconds to wait before the next attempt: the server's Retry-After when it sent one,
    exponential back-off with jitter otherwise."""
    retry_after = _retry_after(error)
    if retry_after is not None:
        return retry_after
    return min(0.5 * 2.0**attempt + random.uniform(0, 0.25), MAX_BACKOFF_SECONDS)


def _retry_after(error: Exception) -> float | None:
    response = getattr(error, "response", None)
    if response is None:
        return None
    headers = response.headers
    for name, scale in (("retry-after-ms", 0.001), ("retry-after", 1.0)):
        value = headers.get(name)
        if value is None:
            continue
        try:
            seconds: float = float(value) * scale
            return max(seconds, 0.0)
        except ValueError:
            continue  # an HTTP date: fall back to our own back-off
    return None


def _translate(error: Exception, deadline: Deadline, server: str) -> Exception:
    """The package's error for an openai SDK error, naming the ``server`` it came from."""
    import openai

    if isinstance(error, openai.APITimeoutError):
        if deadline.remaining() < MIN_CALL_SECONDS:
            return DeadlineExceeded("the model did not answer before the request's deadline")
        return ModelUnavailable(f"the model server at {server} did not answer in time")
    if isinstance(error, openai.APIConnectionError):
        return ModelUnreachable(f"the model server at {server} could not be reached")
    if isinstance(error, openai.RateLimitError):
        return ModelRateLimited(
            f"the model server at {server} is rate-limiting requests", _retry_after(error)
        )
    if isinstance(error, openai.APIStatusError):
        status = error.status_code
        if status == 503:
            return ModelUnavailable(f"the model server at {server} is overloaded (HTTP 503)")
        if status in (401, 403):
            return ModelFailed(f"the model server at {server} refused the API key (HTTP {status})")
        if status == 404:
            return ModelFailed(
                f"the model server at {server} does not know the configured model (HTTP 404)"
            )
        return ModelFailed(f"the model server at {server} answered with an error (HTTP {status})")
    return ModelFailed("the model call failed")
