"""The local server (``python -m mojang_chat serve``) without a browser: API Gateway's event and
response shapes, routing read from template.yaml, CORS both ways, the widget's caching, the
demo page, and the command line."""

from __future__ import annotations

import base64
import os
import socket
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from mojang_chat.local import cli
from mojang_chat.local.server import (
    LocalApi,
    LocalServer,
    PortInUse,
    Request,
    assistant_id,
    build_event,
    lambda_response,
    running,
)
from mojang_chat.local.template import Application, Route
from tests.conftest import TEMPLATE, TUTORIAL, TUTORIAL_STATUSES, application, load_event
from tests.fakes.mojang_server import MERRYDITH_UUID

ALLOWED = "http://localhost:3000"


@pytest.fixture
def server(app_env: Any) -> Iterator[LocalServer]:
    """The local server on a free port, backed by the fake model and fake Mojang servers."""
    with running(TEMPLATE) as local:
        yield local


# --- the event and the response, as API Gateway makes them ----------------------------------


def test_event_has_the_shape_of_the_events_files() -> None:
    # Given the event `sam local generate-event` wrote for the tutorial question
    expected = load_event("chat-tutorial.json")
    body = base64.b64decode(expected["body"])
    request = Request(
        "POST",
        "/chat",
        [("Content-Type", "application/json"), ("Origin", ALLOWED), ("User-Agent", "test")],
        body,
    )
    # When the local server turns the same request into an event
    event = build_event(request, Route("POST", "/chat", "ChatFunction"), {}, "req-1")
    # Then it has the same keys at every level, the same route key, and the body in base64
    assert event.keys() == expected.keys()
    assert event["requestContext"].keys() == expected["requestContext"].keys()
    assert event["requestContext"]["http"].keys() == expected["requestContext"]["http"].keys()
    assert event["routeKey"] == expected["routeKey"] == event["requestContext"]["routeKey"]
    assert event["isBase64Encoded"] is True
    assert base64.b64decode(event["body"]) == body
    assert event["headers"]["origin"] == ALLOWED  # names lower-cased, as API Gateway does


def test_event_carries_path_parameters_query_and_cookies() -> None:
    route = Route("GET", "/v1/threads/{thread_id}/runs/{run_id}", "RunsFunction")
    params = route.match("/v1/threads/thread_1/runs/run_2")
    assert params == {"thread_id": "thread_1", "run_id": "run_2"}
    request = Request(
        "GET",
        "/v1/threads/thread_1/runs/run_2?limit=1&order=desc&limit=2",
        [("Cookie", "a=1; b=2"), ("Accept", "a"), ("Accept", "b")],
    )
    event = build_event(request, route, params, "req-2")
    assert event["routeKey"] == "GET /v1/threads/{thread_id}/runs/{run_id}"
    assert event["pathParameters"] == params
    assert event["rawQueryString"] == "limit=1&order=desc&limit=2"
    assert event["queryStringParameters"] == {"limit": "1,2", "order": "desc"}
    assert event["cookies"] == ["a=1", "b=2"]
    assert "cookie" not in event["headers"]
    assert event["headers"]["accept"] == "a,b"
    assert event["isBase64Encoded"] is False
    assert "body" not in event


def test_response_bodies_headers_and_cookies_are_written_back() -> None:
    reply = lambda_response(
        {
            "statusCode": 201,
            "headers": {"Content-Type": "image/png"},
            "cookies": ["a=1; Path=/", "b=2"],
            "body": base64.b64encode(b"\x89PNG").decode(),
            "isBase64Encoded": True,
        },
        "req-3",
    )
    assert reply.status == 201
    assert reply.body == b"\x89PNG"
    assert [v for k, v in reply.headers if k == "Set-Cookie"] == ["a=1; Path=/", "b=2"]
    # A handler that returns only a body gets API Gateway's 200 JSON response
    plain = lambda_response({"hello": "world"}, "req-4")
    assert (plain.status, plain.json()) == (200, {"hello": "world"})


def test_routes_are_read_from_the_template() -> None:
    app = Application.from_file(TEMPLATE)
    chat_routes = {(r.method, r.path) for r in app.routes if r.function == "ChatFunction"}
    assert chat_routes == {
        ("POST", "/chat"),
        ("GET", "/openapi.json"),
        ("GET", "/docs"),
        ("GET", "/widget.js"),
    }
    assert app.functions["ChatFunction"].timeout == 29
    assert app.find("GET", "/chat") is None
    assert app.find("OPTIONS", "/chat") is not None  # the preflight reaches the function


@pytest.fixture
def echo_template(tmp_path: Path) -> Path:
    """A template with a function of its own: routes and handlers come from the template."""
    (tmp_path / "echo").mkdir()
    (tmp_path / "echo" / "app.py").write_text(
        textwrap.dedent(
            """
            import base64, json

            def handler(event, context):
                if event["rawPath"] == "/boom":
                    raise RuntimeError("boom")
                body = base64.b64decode(event.get("body") or "").decode()
                return {
                    "statusCode": 200,
                    "headers": {"Content-Type": "application/json"},
                    "body": json.dumps({"event": event, "body": body,
                                        "function": context.function_name,
                                        "remaining": context.get_remaining_time_in_millis()}),
                }
            """
        )
    )
    (tmp_path / "template.yaml").write_text(
        textwrap.dedent(
            """
            Transform: AWS::Serverless-2016-10-31
            Globals:
              Function:
                Timeout: 7
                Environment:
                  Variables:
                    ECHO_SETTING: !Ref EchoParameter
            Parameters:
              EchoParameter:
                Type: String
                Default: from-the-template
            Resources:
              EchoFunction:
                Type: AWS::Serverless::Function
                Properties:
                  CodeUri: echo/
                  Handler: app.handler
                  Events:
                    Echo:
                      Type: HttpApi
                      Properties: {Method: POST, Path: "/echo/{name}"}
                    Boom:
                      Type: HttpApi
                      Properties: {Method: GET, Path: /boom}
            """
        )
    )
    return tmp_path / "template.yaml"


def test_a_function_added_to_the_template_is_served(echo_template: Path) -> None:
    with running(echo_template) as local:
        assert os.environ["ECHO_SETTING"] == "from-the-template"
        response = requests.post(f"{local.url}/echo/alex?x=1", data=b"hi", timeout=10)
        assert response.status_code == 200
        data = response.json()
        assert data["function"] == "EchoFunction"
        assert 0 < data["remaining"] <= 7000
        assert data["body"] == "hi"
        assert data["event"]["pathParameters"] == {"name": "alex"}
        assert data["event"]["routeKey"] == "POST /echo/{name}"
        assert response.headers["apigw-requestid"] == data["event"]["requestContext"]["requestId"]
        # A handler that raises gives API Gateway's 500, not a stack trace
        boom = requests.get(f"{local.url}/boom", timeout=10)
        assert (boom.status_code, boom.json()) == (500, {"message": "Internal Server Error"})
    assert "ECHO_SETTING" not in os.environ  # the environment is restored


# --- the HTTP server ------------------------------------------------------------------------


def test_chat_answers_through_the_local_server(server: LocalServer) -> None:
    response = requests.post(f"{server.url}/chat", json={"message": TUTORIAL}, timeout=30)
    assert response.status_code == 200, response.text
    body = response.json()
    assert MERRYDITH_UUID in body["answer"]
    assert body["statuses"] == TUTORIAL_STATUSES
    assert body["request_id"] == response.headers["apigw-requestid"]


def test_unknown_route_is_a_json_404(server: LocalServer) -> None:
    response = requests.get(f"{server.url}/no/such/route", timeout=10)
    assert response.status_code == 404
    assert response.headers["Content-Type"] == "application/json"
    assert response.json() == {"message": "Not Found"}
    assert requests.get(f"{server.url}/chat", timeout=10).status_code == 404  # wrong method


def test_a_taken_port_is_a_clear_error(app_env: Any, capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(PortInUse, match=f"port {port} on 127.0.0.1 is already in use"):
            LocalServer(LocalApi(application()), "127.0.0.1", port)
        assert cli.main(["serve", "--port", str(port)]) == 1
    err = capsys.readouterr().err
    assert "already in use" in err
    assert "--port" in err
    assert "Traceback" not in err


@pytest.mark.parametrize("method", ["OPTIONS", "POST"])
def test_cors_headers_for_the_allowed_origin_only(server: LocalServer, method: str) -> None:
    def call(origin: str) -> requests.Response:
        headers = {"Origin": origin}
        if method == "OPTIONS":
            headers |= {
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "content-type",
            }
            return requests.options(f"{server.url}/chat", headers=headers, timeout=10)
        return requests.post(
            f"{server.url}/chat", json={"message": TUTORIAL}, headers=headers, timeout=30
        )

    allowed = call(ALLOWED)
    assert allowed.status_code < 300
    assert allowed.headers["Access-Control-Allow-Origin"] == ALLOWED
    if method == "OPTIONS":
        assert "POST" in allowed.headers["Access-Control-Allow-Methods"]
        assert "content-type" in allowed.headers["Access-Control-Allow-Headers"].lower()
    else:
        exposed = allowed.headers["Access-Control-Expose-Headers"].lower().split(",")
        assert "retry-after" in exposed
    other = call("https://evil.example")
    assert "Access-Control-Allow-Origin" not in other.headers


def test_widget_is_served_with_caching_headers(server: LocalServer) -> None:
    response = requests.get(f"{server.url}/widget.js", timeout=10)
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/javascript; charset=utf-8"
    assert response.headers["Cache-Control"] == "public, max-age=300"
    etag = response.headers["ETag"]
    assert etag.startswith('"')
    assert etag.endswith('"')
    assert "data-endpoint" in response.text
    again = requests.get(f"{server.url}/widget.js", headers={"If-None-Match": etag}, timeout=10)
    assert again.status_code == 304
    assert again.content == b""
    assert again.headers["ETag"] == etag
    changed = requests.get(f"{server.url}/widget.js", headers={"If-None-Match": '"x"'}, timeout=10)
    assert changed.status_code == 200


def test_demo_page_embeds_the_widget(server: LocalServer) -> None:
    response = requests.get(f"{server.url}/", timeout=10)
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/html; charset=utf-8"
    assert f'src="/widget.js" data-endpoint="{server.url}"' in response.text
    assert 'class="banner"' not in response.text
    assert 'data-mode="chat"' in requests.get(f"{server.url}/?mode=chat", timeout=10).text


def test_demo_page_says_what_to_configure_without_a_model() -> None:
    with running(TEMPLATE) as local:
        page = requests.get(f"{local.url}/", timeout=10).text
        assert 'class="banner"' in page
        assert "OPENAI_API_KEY" in page
        assert "OPENAI_BASE_URL" in page
        chat = requests.post(f"{local.url}/chat", json={"message": TUTORIAL}, timeout=10)
        assert chat.status_code == 503
        assert chat.json()["error"]["type"] == "model_not_configured"


# --- the command line -----------------------------------------------------------------------


def test_ask_prints_the_transcript_then_the_answer(
    app_env: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["ask", TUTORIAL]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[:3] == [
        "queued",
        "in progress",
        'requires action: get_uuid_from_username(username="merrydith")',
    ]
    assert lines[3].startswith("  \u2192 {")
    assert MERRYDITH_UUID in lines[3]
    assert lines[4:6] == ["in progress", "completed"]
    assert MERRYDITH_UUID in lines[-1]


def test_ask_without_a_model_says_what_to_set(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mojang_chat import runtime

    monkeypatch.chdir(tmp_path)  # no .env here
    runtime.reset()
    assert cli.main(["ask", TUTORIAL]) == 2
    captured = capsys.readouterr()
    assert "OPENAI_API_KEY" in captured.err
    assert "Traceback" not in captured.err + captured.out
    runtime.reset()


def test_dotenv_is_read_without_overriding_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = tmp_path / ".env"
    env.write_text(
        "# a comment\nexport OPENAI_MODEL='llama3.2'\nOPENAI_BASE_URL=http://localhost:11434/v1"
        "  # Ollama\nMOJANG_TEST_SET=from-file\n\nnot a line\n"
    )
    monkeypatch.setenv("MOJANG_TEST_SET", "from-environment")
    monkeypatch.delenv("OPENAI_MODEL", raising=False)
    cli.load_dotenv(env)
    assert os.environ["OPENAI_MODEL"] == "llama3.2"
    assert os.environ["OPENAI_BASE_URL"] == "http://localhost:11434/v1"
    assert os.environ["MOJANG_TEST_SET"] == "from-environment"
    monkeypatch.delenv("OPENAI_MODEL")
    monkeypatch.delenv("OPENAI_BASE_URL")


# --- the runs API through the official SDK --------------------------------------------------


def test_openai_sdk_beta_threads_against_the_local_server(server: LocalServer) -> None:
    import openai

    client = openai.OpenAI(base_url=f"{server.url}/v1", api_key="unused", max_retries=0)
    run = client.beta.threads.create_and_run(
        assistant_id=assistant_id(),
        thread={"messages": [{"role": "user", "content": TUTORIAL}]},
    )
    seen = [run.status]
    # Not create_and_run_poll: the SDK stops polling at requires_action, which here is a
    # passing status (the workflow runs the tools itself).
    deadline = time.monotonic() + 60
    while run.status not in ("completed", "failed", "incomplete", "cancelled", "expired"):
        assert time.monotonic() < deadline, seen
        time.sleep(0.1)
        run = client.beta.threads.runs.retrieve(run.id, thread_id=run.thread_id)
        if run.status != seen[-1]:
            seen.append(run.status)
    assert run.status == "completed", seen
    assert seen[0] == "queued"
    messages = client.beta.threads.messages.list(thread_id=run.thread_id, order="desc", limit=1)
    text = messages.data[0].content[0]
    assert text.type == "text"
    assert MERRYDITH_UUID in text.text.value


def test_ask_through_the_workflow(app_env: Any, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["ask", "--runs", TUTORIAL]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0] == "queued"
    assert "completed" in out.splitlines()
    assert MERRYDITH_UUID in out.splitlines()[-1]
