"""Upstreams that cannot stretch a request: a model or a Mojang that sends its answer a byte at
a time ends by the deadline, an answer that is too large or not a completion is a model error,
and the token budget stops a call before it is made. The real handlers and the real openai
SDK, over HTTP to the fakes on 127.0.0.1."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from mojang_chat import container
from mojang_chat.chat.loop import build_messages
from mojang_chat.chat.model import ModelFailed
from mojang_chat.core.deadline import Deadline, DeadlineExceeded
from mojang_chat.http.errors import chat_error_body
from mojang_chat.http.limits import MAX_RESPONSE_BYTES
from mojang_chat.http.resolver import JsonApi
from mojang_chat.mojang.errors import UpstreamError
from tests.fakes import model_server as fake_model
from tests.fakes.mojang_server import Fault
from tests.helpers import LambdaContext, function_handler, load_event, use_settings

chat_handler = function_handler("ChatFunction")
QUESTION = "what is the uuid of the player merrydith?"


def ask(seconds_left: float = 29.0) -> tuple[dict[str, Any], float]:
    """POST /chat with the question, through the handler: (status and body, seconds taken)."""
    event = load_event("chat-tutorial.json")
    event.update(body=json.dumps({"message": QUESTION}), isBase64Encoded=False)
    started = time.monotonic()
    response = chat_handler(event, LambdaContext(seconds_left))
    elapsed = time.monotonic() - started
    return {"http": response["statusCode"], **json.loads(response["body"])}, elapsed


def completion(message: dict[str, Any], **extra: Any) -> fake_model.Step:
    """A completion with exactly this message (and top-level fields), as raw bytes."""
    body = {
        "id": "chatcmpl-raw",
        "object": "chat.completion",
        "created": 0,
        "model": "gpt-4o-mini",
        "choices": [{"index": 0, "message": message, "finish_reason": "stop"}],
        **extra,
    }
    return fake_model.raw(200, json.dumps(body).encode(), "application/json")


def test_a_trickling_model_gets_chat_its_504_by_the_deadline(
    app_env: tuple[Any, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    model, _ = app_env
    # Given a deadline of 3 s (1.5 s of work) and a model sending a byte every 0.5 s
    use_settings(monkeypatch, REQUEST_DEADLINE_SECONDS="3", MODEL_MAX_RETRIES="0")
    model.script(fake_model.trickle(0.5))
    # When the question is asked of a Lambda with plenty of time left
    body, elapsed = ask(29.0)
    # Then the named 504 comes back by the deadline (+ 1 s), not when the answer would be done
    assert body["http"] == 504
    assert body["error"]["type"] == "deadline_exceeded"
    assert elapsed < 1.5 + 1.0, f"took {elapsed:.2f} s"


def test_a_trickling_mojang_try_ends_by_its_timeout_and_the_model_still_answers(
    app_env: tuple[Any, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    model, mojang = app_env
    # Given a Mojang that answers a byte every 0.5 s, 1 s a try, no retry
    use_settings(monkeypatch, MOJANG_TIMEOUT_SECONDS="1", MOJANG_MAX_RETRIES="0")
    mojang.inject(Fault.trickling(0.5), times=5, path_prefix="/minecraft/profile/lookup/name/")
    model.script(
        fake_model.tool_calls(("get_uuid_from_username", {"username": "merrydith"})),
        fake_model.answer_from_tools(),
    )
    # When the question is asked
    body, elapsed = ask()
    # Then the lookup timed out after its second, and the model said so in a 200
    assert body["http"] == 200
    assert "timed out" in body["tool_calls"][0]["output"]["error"]
    # (the whole answer, ~60 bytes, would take 30 s; two model calls share the rest)
    assert elapsed < 1.0 + 2.0, f"took {elapsed:.2f} s"


def test_a_trickling_mojang_ends_a_lookup_by_the_deadline(
    app_env: tuple[Any, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    _, mojang = app_env
    use_settings(monkeypatch, MOJANG_TIMEOUT_SECONDS="30", MOJANG_MAX_RETRIES="2")
    mojang.inject(Fault.trickling(0.5), times=5, path_prefix="/minecraft/profile/lookup/name/")
    # When a lookup has a deadline 1 s away (the per-read timeout of 30 s never fires)
    started = time.monotonic()
    with pytest.raises(UpstreamError, match="timed out"):
        container.mojang().uuid_for_name("merrydith", deadline=Deadline(1.0))
    # Then it ends by the deadline, with no retry that cannot fit
    assert time.monotonic() - started < 1.0 + 1.0
    assert len(mojang.requests("/minecraft/profile/lookup/name/")) == 1


def test_a_prompt_over_the_budget_never_reaches_the_model(
    app_env: tuple[Any, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    model, _ = app_env
    # Given a budget smaller than the first prompt (the system prompt and the tool schemas)
    use_settings(monkeypatch, MAX_TOTAL_TOKENS="100")
    body, _ = ask()
    # Then the answer is incomplete, and the model was never called
    assert body["http"] == 200
    assert body["answer"].endswith("reached its token budget.")
    assert model.requests == []


def complete() -> Any:
    """One call of the configured model adapter, with a deadline of 5 s."""
    return container.model().complete(build_messages(QUESTION), [], Deadline(5.0))


@pytest.mark.parametrize(
    ("reply", "problem"),
    [
        (completion({"role": "assistant", "content": "a" * 20_000_000}), "larger than"),
        (completion({"role": "assistant", "content": "a" * 1500}), "1500 characters long"),
        (fake_model.raw(200, b"<html>Bad gateway</html>"), "could not be read"),
        (
            fake_model.raw(200, b'{"created": ' + b"9" * 5000 + b', "choices": []}'),
            "could not be read",
        ),
        (
            fake_model.raw(200, b'{"choices": ' + b"[" * 2000 + b"]" * 2000 + b"}"),
            "could not be read",
        ),
        (completion({"role": "assistant", "content": 12}), "unexpected shape"),
    ],
    ids=["20 MB", "over MAX_ANSWER_CHARS", "not JSON", "5,000 digits", "nested", "not text"],
)
def test_what_is_not_a_bounded_completion_is_a_model_error(
    app_env: tuple[Any, Any], monkeypatch: pytest.MonkeyPatch, reply: fake_model.Step, problem: str
) -> None:
    model, _ = app_env
    use_settings(monkeypatch, MAX_ANSWER_CHARS="1000")
    model.script(reply)
    with pytest.raises(ModelFailed, match=problem):
        complete()


def test_arguments_that_are_not_a_string_are_kept_with_their_problem(
    app_env: tuple[Any, Any],
) -> None:
    model, _ = app_env
    call = {
        "id": "call_1",
        "type": "function",
        "function": {"name": "get_uuid_from_username", "arguments": {"username": "x"}},
    }
    model.script(completion({"role": "assistant", "content": None, "tool_calls": [call]}))
    turn = complete()
    [parsed] = turn.tool_calls
    assert parsed.arguments == '{"username": "x"}'  # echoed back as the string it should be
    assert parsed.problem == "the arguments must be a string of JSON, not a JSON object"


def test_the_whole_model_call_is_bounded_even_when_each_read_is_not(
    app_env: tuple[Any, Any],
) -> None:
    model, _ = app_env
    model.script(fake_model.trickle(0.5))
    started = time.monotonic()
    with pytest.raises(DeadlineExceeded):
        container.model().complete(build_messages(QUESTION), [], Deadline(1.0))
    assert time.monotonic() - started < 1.0 + 0.5


def test_no_response_is_larger_than_lambda_can_send(app_env: tuple[Any, Any]) -> None:
    # Given a route whose answer adds up past the limit (3 MB of non-ASCII text: 18 MB as JSON)
    app = JsonApi(chat_error_body, title="t", description="d")

    @app.post("/big")
    def big() -> dict[str, str]:
        return {"answer": "é" * 3_000_000}

    @app.post("/small")
    def small() -> dict[str, str]:
        return {"answer": "é" * 1000}

    event = load_event("chat-tutorial.json")
    event.update(body="{}", isBase64Encoded=False)
    context = LambdaContext(29.0)
    # When each is called
    refused = app.resolve({**event, "rawPath": "/big"}, context)  # type: ignore[arg-type]
    answered = app.resolve({**event, "rawPath": "/small"}, context)  # type: ignore[arg-type]
    # Then the big one is a named 502 in the API's error shape; the small one goes through
    assert refused["statusCode"] == 502
    assert json.loads(refused["body"])["error"]["type"] == "response_too_large"
    assert answered["statusCode"] == 200
    assert len(json.dumps(answered)) < MAX_RESPONSE_BYTES
