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
from moto import mock_aws

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


def test_a_named_stage_does_not_open_the_api(app_env: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    # On a stage other than $default, API Gateway's raw path carries the stage's name
    model, _ = app_env
    use_settings(monkeypatch, API_SHARED_SECRET=SHARED)
    event = load_event("chat-tutorial.json")
    event["requestContext"]["stage"] = "prod"
    event["rawPath"] = event["requestContext"]["http"]["path"] = "/prod/chat"
    response = chat_handler(event, LambdaContext())
    assert response["statusCode"] == 401
    assert model.requests == []


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
