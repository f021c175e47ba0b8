"""The optional shared secret for server-to-server callers: ``X-Api-Key`` (or, on /v1, the
openai SDK's bearer token), compared in constant time, read from Secrets Manager when deployed.
Preflights, the OpenAPI documents, the docs and the widget stay open."""

from __future__ import annotations

import base64
import hmac
import json
from typing import Any

import boto3
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from moto import mock_aws

from mojang_chat.core.settings import BLANK_SECRET
from mojang_chat.http import chat as chat_module
from tests.aws import RunsStack, runs_stack
from tests.helpers import (
    SECRET_KEY,
    TUTORIAL,
    LambdaContext,
    function_handler,
    load_event,
    log_text,
    use_settings,
)

__all__ = ["runs_stack"]  # the fixture, imported for pytest

SHARED = "shared-3f9a1c0e7b2d4e68a1f0"
chat_handler = function_handler("ChatFunction")


def chat(
    method: str = "POST", path: str = "/chat", headers: dict[str, str] | None = None
) -> tuple[int, dict[str, str], str]:
    event = load_event("chat-tutorial.json")
    event["rawPath"] = event["requestContext"]["http"]["path"] = path
    event["requestContext"]["http"]["method"] = method
    event["headers"] = {**event["headers"], **(headers or {})}
    if method != "POST":
        event.pop("body", None)
        event["isBase64Encoded"] = False
    response = chat_handler(event, LambdaContext())
    body = response.get("body") or ""
    if response.get("isBase64Encoded"):
        body = base64.b64decode(body).decode()
    return response["statusCode"], response.get("headers") or {}, body


@pytest.mark.parametrize(
    "headers",
    [{}, {"x-api-key": "wrong"}, {"x-api-key": SHARED[:-1]}, {"x-api-key": SHARED + " "}],
    ids=["missing", "wrong", "prefix", "padded"],
)
def test_chat_without_the_secret_gets_401_in_its_error_shape(
    app_env: Any, monkeypatch: pytest.MonkeyPatch, headers: dict[str, str]
) -> None:
    model, mojang = app_env
    use_settings(monkeypatch, API_SHARED_SECRET=SHARED)
    status, response_headers, raw = chat(headers=headers)
    body = json.loads(raw)
    assert status == 401
    assert set(body) == {"error", "request_id"}
    assert body["error"]["type"] == "invalid_api_key"
    assert SHARED not in raw
    # CORS headers still, so a page can read why
    assert response_headers["Access-Control-Allow-Origin"] == "http://localhost:3000"
    assert model.requests == []
    assert mojang.requests() == []


def staged(stage: str | None, raw_path: str, headers: dict[str, str] | None = None) -> Any:
    """The tutorial question as an event on ``stage`` with ``raw_path``."""
    event = load_event("chat-tutorial.json")
    event["requestContext"]["stage"] = stage
    event["rawPath"] = event["requestContext"]["http"]["path"] = raw_path
    event["headers"] = {**event["headers"], **(headers or {})}
    return event


# (stage, rawPath, whether Powertools routes it to POST /chat). On a named stage Powertools
# cuts len("/<stage>") characters off the raw path, whatever they are.
CRAFTED = [
    ("$default", "/chat", True),
    ("prod", "/prod/chat", True),  # a named stage: the raw path carries its name
    ("c", "/x/chat", True),  # a one-letter stage cuts any two characters
    ("chat", "/prod/chat", True),  # a stage named like the route
    ("chat", "/chat/chat", True),
    ("chat", "/chat", False),  # routed as "", no route
    ("v1", "/v1/chat", True),
    ("$default", "/chat/", False),
    ("$default", "//chat", False),
    ("prod", "/prod//chat", False),
    ("$default", "/%63hat", False),
    ("$default", "/CHAT", False),
    ("prod", "/chat", False),  # routed as "t"
]


@pytest.mark.parametrize(("stage", "raw_path", "routed"), CRAFTED)
def test_no_crafted_stage_or_path_reaches_chat_without_the_secret(
    app_env: Any, monkeypatch: pytest.MonkeyPatch, stage: str, raw_path: str, routed: bool
) -> None:
    model, mojang = app_env
    use_settings(monkeypatch, API_SHARED_SECRET=SHARED)
    response = chat_handler(staged(stage, raw_path), LambdaContext())
    assert response["statusCode"] == 401, response
    assert model.requests == []
    assert mojang.requests() == []
    # With the secret, the same event reaches /chat exactly when Powertools routes it there:
    # the 401 above was the check's, not a missing route's
    response = chat_handler(staged(stage, raw_path, {"x-api-key": SHARED}), LambdaContext())
    assert response["statusCode"] == (200 if routed else 404), response
    assert bool(model.requests) == routed


def test_an_event_without_a_stage_is_refused(app_env: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    model, _ = app_env
    use_settings(monkeypatch, API_SHARED_SECRET=SHARED)
    event = staged("$default", "/chat")
    del event["requestContext"]["stage"]
    assert chat_handler(event, LambdaContext())["statusCode"] == 401
    assert model.requests == []


@settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    stage=st.one_of(st.none(), st.text("$/cahtdefulv1%x", max_size=9)),
    raw_path=st.text("/cahtdv1%3x.jsonw", max_size=16),
    method=st.sampled_from(["POST", "GET", "OPTIONS", "post", "options"]),
)
def test_no_event_reaches_a_protected_route_without_the_secret(
    app_env: Any, monkeypatch: pytest.MonkeyPatch, stage: str | None, raw_path: str, method: str
) -> None:
    # Whatever the stage, path and method, a route other than the open ones never runs
    ran: list[str] = []
    monkeypatch.setattr(chat_module, "answer_question", lambda *a, **k: ran.append("chat"))
    use_settings(monkeypatch, API_SHARED_SECRET=SHARED)
    event = staged(stage, raw_path)
    event["requestContext"]["http"]["method"] = method
    chat_handler(event, LambdaContext())
    assert ran == []


def test_chat_with_the_secret_is_answered(app_env: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    use_settings(monkeypatch, API_SHARED_SECRET=SHARED)
    status, _, raw = chat(headers={"X-Api-Key": SHARED})
    assert status == 200, raw


@pytest.mark.parametrize(
    ("method", "path"),
    [("OPTIONS", "/chat"), ("GET", "/openapi.json"), ("GET", "/docs"), ("GET", "/widget.js")],
)
def test_preflights_documents_and_the_widget_stay_open(
    app_env: Any, monkeypatch: pytest.MonkeyPatch, method: str, path: str
) -> None:
    use_settings(monkeypatch, API_SHARED_SECRET=SHARED)
    headers = {"access-control-request-method": "POST"} if method == "OPTIONS" else {}
    status, _, _ = chat(method, path, headers)
    assert status < 300


def test_the_comparison_is_constant_time(app_env: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    compared: list[tuple[bytes, bytes]] = []
    real = hmac.compare_digest

    def spy(a: bytes, b: bytes) -> bool:
        compared.append((a, b))
        return real(a, b)

    monkeypatch.setattr(hmac, "compare_digest", spy)
    use_settings(monkeypatch, API_SHARED_SECRET=SHARED)
    assert chat(headers={"x-api-key": "guess"})[0] == 401
    assert compared == [(b"guess", SHARED.encode())]


def test_no_secret_configured_leaves_the_api_open(app_env: Any) -> None:
    assert chat()[0] == 200


def test_the_secret_is_read_from_secrets_manager(
    app_env: Any, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    with mock_aws():
        boto3.client("secretsmanager").create_secret(
            Name="mojang-chat/api-shared-secret", SecretString=SHARED
        )
        use_settings(monkeypatch, API_SHARED_SECRET_SECRET="mojang-chat/api-shared-secret")
        assert chat()[0] == 401
        assert chat(headers={"x-api-key": SHARED})[0] == 200
    assert SHARED not in log_text(caplog)


@pytest.mark.parametrize("value", [" ", "\t\n", SHARED + "\n", " " + SHARED])
def test_a_blank_or_padded_secret_fails_closed(
    app_env: Any, monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    model, _ = app_env
    use_settings(monkeypatch, API_SHARED_SECRET=value)
    for headers in ({}, {"x-api-key": value}, {"x-api-key": value.strip()}):
        status, _, raw = chat(headers=headers)
        assert status == 500
        error = json.loads(raw)["error"]
        assert error == {
            "type": "configuration_error",
            "message": f"invalid configuration: API_SHARED_SECRET: Value error, {BLANK_SECRET}",
        }
    assert model.requests == []
    # The documents stay open, so a misconfigured API can still say what it is
    assert chat("GET", "/openapi.json")[0] == 200


@pytest.mark.parametrize("stored", ["", "   ", SHARED + "\n"])
def test_a_blank_stored_secret_fails_closed(
    app_env: Any, monkeypatch: pytest.MonkeyPatch, stored: str
) -> None:
    model, _ = app_env
    with mock_aws():
        client = boto3.client("secretsmanager")
        if stored:
            client.create_secret(Name="mojang-chat/blank", SecretString=stored)
        else:  # Secrets Manager stores no empty string: a secret without a value is "empty"
            client.create_secret(Name="mojang-chat/blank")
        use_settings(monkeypatch, API_SHARED_SECRET_SECRET="mojang-chat/blank")
        status, _, raw = chat(headers={"x-api-key": stored})
    assert status == 500
    error = json.loads(raw)["error"]
    assert error["type"] == "configuration_error"
    assert "API_SHARED_SECRET_SECRET" in error["message"]
    assert "mojang-chat/blank" not in raw
    assert model.requests == []


def test_an_empty_variable_leaves_the_secret_unset(
    app_env: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The template's convention for an unset parameter; only whitespace is refused
    use_settings(monkeypatch, API_SHARED_SECRET="", API_SHARED_SECRET_SECRET="")
    assert chat()[0] == 200


def test_an_unreadable_secret_fails_closed(app_env: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    with mock_aws():  # no such secret
        use_settings(monkeypatch, API_SHARED_SECRET_SECRET="mojang-chat/missing")
        status, _, raw = chat(headers={"x-api-key": SHARED})
    assert status == 500
    assert json.loads(raw)["error"]["type"] == "configuration_error"


def test_runs_without_the_secret_get_openais_401(
    runs_stack: RunsStack, app_env: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    use_settings(monkeypatch, API_SHARED_SECRET=SHARED)
    body = {
        "assistant_id": "asst_default",
        "thread": {"messages": [{"role": "user", "content": TUTORIAL}]},
    }
    status, error = runs_stack.call("POST", "/v1/threads/runs", body)
    assert status == 401
    assert error == {
        "error": {
            "type": "invalid_request_error",
            "message": "missing or wrong x-api-key header",
            "param": None,
            "code": "invalid_api_key",
        }
    }
    status, _ = runs_stack.call("GET", "/v1/threads/thread_x/runs/run_x")
    assert status == 401
    # The document stays open
    status, document = runs_stack.call("GET", "/v1/openapi.json")
    assert status == 200
    assert "/v1/threads/runs" in document["paths"]


@pytest.mark.parametrize(
    ("stage", "raw_path"),
    [
        ("v", "/x/v1/threads/runs"),
        ("threads", "/prod/v1/threads/runs"),
        ("$default", "//v1/threads/runs"),
    ],
)
def test_no_crafted_stage_reaches_the_runs_routes_without_the_secret(
    runs_stack: RunsStack, app_env: Any, monkeypatch: pytest.MonkeyPatch, stage: str, raw_path: str
) -> None:
    model, _ = app_env
    use_settings(monkeypatch, API_SHARED_SECRET=SHARED)
    event = load_event("runs-create.json")
    event["requestContext"]["stage"] = stage
    event["rawPath"] = event["requestContext"]["http"]["path"] = raw_path
    status, error = runs_stack.send(event)
    assert status == 401, error
    assert error["error"]["code"] == "invalid_api_key"
    assert runs_stack.invocations == []
    assert model.requests == []


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # beta.threads: OpenAI's, not ours
def test_the_openai_sdk_passes_the_secret_as_its_api_key(
    runs_stack: RunsStack, app_env: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    import openai

    from mojang_chat.local.server import serving

    use_settings(monkeypatch, API_SHARED_SECRET=SHARED)
    with serving(runs_stack.api) as server:
        client = openai.OpenAI(base_url=f"{server.url}/v1", api_key=SHARED, max_retries=0)
        run = client.beta.threads.create_and_run(
            assistant_id="asst_default",
            thread={"messages": [{"role": "user", "content": TUTORIAL}]},
        )
        assert run.status == "queued"
        stranger = openai.OpenAI(base_url=f"{server.url}/v1", api_key=SECRET_KEY, max_retries=0)
        with pytest.raises(openai.AuthenticationError):
            stranger.beta.threads.runs.retrieve(run.id, thread_id=run.thread_id)
        runs_stack.wait(run.id)  # the run ends before the stack goes
