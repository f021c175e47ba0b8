"""The model adapter: one Chat Completions call, with retries that never outlive the deadline.

The openai SDK's own retries are switched off (``max_retries=0`` on the client): they would
sleep for a ``Retry-After`` of up to two minutes, far past API Gateway's 30 s. Here every retry
is taken only if its back-off and a minimal call still fit in the time the request has left.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from mojang_chat.chat.types import ToolCall, Usage
from mojang_chat.core.deadline import Deadline, DeadlineExceeded
from mojang_chat.core.observability import count, logger, tracer

if TYPE_CHECKING:
    from openai import OpenAI
    from openai.types.chat import ChatCompletion

# A call with less time than this left is not worth starting: it would only time out.
MIN_CALL_SECONDS = 1.0
MAX_BACKOFF_SECONDS = 8.0


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

    def complete(
        self,
        messages: Sequence[dict[str, Any]],
        tools: Sequence[dict[str, Any]],
        deadline: Deadline,
    ) -> ModelTurn:
        """One completion of ``messages`` with ``tools``, within ``deadline``."""
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
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._client = client
        self.name = model
        self._max_completion_tokens = max_completion_tokens
        self._max_retries = max_retries
        self._sleep = sleep

    @tracer.capture_method(capture_response=False)
    def complete(
        self,
        messages: Sequence[dict[str, Any]],
        tools: Sequence[dict[str, Any]],
        deadline: Deadline,
    ) -> ModelTurn:
        """One completion; transient failures are retried while the deadline allows."""
        import openai

        attempt = 0
        while True:
            timeout = deadline.check("a model call")
            started = time.monotonic()
            try:
                response = self._create(messages, tools, timeout)
            except (
                openai.RateLimitError,
                openai.InternalServerError,
                openai.APIConnectionError,
            ) as e:
                count("ModelErrors")
                delay = _retry_delay(e, attempt)
                if attempt >= self._max_retries or delay + MIN_CALL_SECONDS > deadline.remaining():
                    raise _translate(e, deadline) from e
                logger.warning(
                    "model call failed, retrying",
                    extra={"error": type(e).__name__, "attempt": attempt + 1, "delay_s": delay},
                )
                self._sleep(delay)
                attempt += 1
                continue
            except openai.APIStatusError as e:
                count("ModelErrors")
                raise _translate(e, deadline) from e
            except openai.OpenAIError as e:  # e.g. a body that is not JSON
                count("ModelErrors")
                raise ModelFailed("the model server sent a response that could not be read") from e
            turn = _turn(response, self.name)
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
        self, messages: Sequence[dict[str, Any]], tools: Sequence[dict[str, Any]], timeout: float
    ) -> ChatCompletion:
        """``POST /chat/completions`` through the client's own request path (auth, timeout,
        errors mapped to ``openai`` exceptions, the response parsed as ``ChatCompletion``).

        Not ``chat.completions.create``: it first walks every message and tool schema through
        the SDK's TypedDict transform (alias renaming, for input written with Python names),
        about 2 ms of CPU per call for bodies that are already plain wire-format JSON, as ours
        are; that was most of a warm request's own time.
        """
        from openai.types.chat import ChatCompletion

        body: dict[str, Any] = {
            "model": self.name,
            "messages": list(messages),
            "max_completion_tokens": self._max_completion_tokens,
        }
        if tools:
            body["tools"] = list(tools)
        return self._client.post(
            "/chat/completions",
            body=body,
            cast_to=ChatCompletion,
            options={"timeout": timeout, "security": {"bearer_auth": True}},
        )


def _turn(response: Any, requested_model: str) -> ModelTurn:
    """The turn a completion holds. The SDK builds responses without validating them, and
    "OpenAI-compatible" servers vary: whatever does not have the expected shape is the model
    server's error (502), never ours."""
    try:
        choice = response.choices[0]
        message = choice.message
        calls = [
            ToolCall(id=call.id, name=call.function.name, arguments=call.function.arguments or "")
            for call in message.tool_calls or ()
            if getattr(call, "type", "function") == "function"
        ]
        usage = response.usage
        return ModelTurn(
            # A refusal is the model's answer too (content is null then): the caller shows it.
            content=message.content or getattr(message, "refusal", None),
            tool_calls=calls,
            finish_reason=choice.finish_reason or "stop",
            model=response.model or requested_model,
            usage=Usage(
                _tokens(usage, "prompt_tokens"),
                _tokens(usage, "completion_tokens"),
                _tokens(usage, "total_tokens"),
            ),
        )
    except (AttributeError, IndexError, KeyError, TypeError) as error:
        raise ModelFailed("the model server sent a completion of an unexpected shape") from error


def _tokens(usage: Any, field: str) -> int:
    # Some servers leave usage out, or send null counts.
    value = getattr(usage, field, None)
    return value if isinstance(value, int) else 0


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


def _translate(error: Exception, deadline: Deadline) -> Exception:
    import openai

    if isinstance(error, openai.APITimeoutError):
        if deadline.remaining() < MIN_CALL_SECONDS:
            return DeadlineExceeded("the model did not answer before the request's deadline")
        return ModelUnavailable("the model server did not answer in time")
    if isinstance(error, openai.APIConnectionError):
        return ModelUnavailable("the model server could not be reached")
    if isinstance(error, openai.RateLimitError):
        return ModelRateLimited("the model server is rate-limiting requests", _retry_after(error))
    if isinstance(error, openai.APIStatusError):
        status = error.status_code
        if status == 503:
            return ModelUnavailable("the model server is overloaded (HTTP 503)")
        if status in (401, 403):
            return ModelFailed(f"the model server refused the API key (HTTP {status})")
        if status == 404:
            return ModelFailed("the model server does not know the configured model (HTTP 404)")
        return ModelFailed(f"the model server answered with an error (HTTP {status})")
    return ModelFailed("the model call failed")
