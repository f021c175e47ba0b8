"""The local server (``python -m mojang_chat serve``) without a browser: routing read from
template.yaml, requests and responses over real HTTP, CORS both ways, the widget's caching, the
demo page, the stand-ins answering through it, and the command line. The event mapping itself
is tested in tests/unit/local/test_events.py."""

from __future__ import annotations

import io
import json
import os
import socket
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests

from mojang_chat.local import cli
from mojang_chat.local.demo import assistant_id
from mojang_chat.local.server import (
    MAX_REQUEST_BYTES,
    LocalApi,
    LocalServer,
    PortInUse,
    running,
)
from mojang_chat.local.standins import JEB_UUID, MERRYDITH_UUID, NOTCH_UUID
from mojang_chat.local.template import Application
from mojang_chat.mojang import dashed_uuid, offline_uuid
from tests.fakes import model_server as fake_model
from tests.fakes.mojang_server import Fault
from tests.helpers import TEMPLATE, TUTORIAL, TUTORIAL_STATUSES, application

ALLOWED = "http://localhost:3000"


@pytest.fixture
def server(app_env: Any) -> Iterator[LocalServer]:
    """The local server on a free port, backed by the fake model and fake Mojang servers."""
    with running(TEMPLATE) as local:
        yield local


def test_routes_are_read_from_the_template() -> None:
    app = Application.from_file(TEMPLATE)
    chat_routes = {(r.method, r.path) for r in app.routes if r.function == "ChatFunction"}
    assert chat_routes == {
        ("POST", "/chat"),
        ("GET", "/openapi.json"),
        ("GET", "/docs"),
        ("GET", "/widget.js"),
        ("ANY", "$default"),
    }
    assert app.functions["ChatFunction"].timeout == 29
    assert app.find("OPTIONS", "/chat") is not None  # the preflight reaches the function

    def route_of(method: str, path: str) -> tuple[str, str]:
        found = app.find(method, path)
        assert found is not None
        return found[0].function, found[0].route_key

    # $default takes what no other route does (a method a path does not take too), and only that
    assert route_of("POST", "/chat") == ("ChatFunction", "POST /chat")
    assert route_of("GET", "/chat") == ("ChatFunction", "$default")
    assert route_of("GET", "/no/such/route") == ("ChatFunction", "$default")
    assert route_of("POST", "/v1/threads/runs") == ("V1Function", "ANY /v1/{proxy+}")
    assert route_of("GET", "/v1/no/such/route") == ("V1Function", "ANY /v1/{proxy+}")


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
                body = event.get("body") or ""
                if event["isBase64Encoded"]:
                    body = base64.b64decode(body).decode("latin-1")
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
              OtherFunction:
                Type: AWS::Serverless::Function
                Properties:
                  CodeUri: echo/
                  Handler: app.handler
                  Events:
                    Other:
                      Type: HttpApi
                      Properties: {Method: POST, Path: /other}
            """
        )
    )
    return tmp_path / "template.yaml"


@pytest.fixture
def echo(echo_template: Path) -> Iterator[LocalServer]:
    with running(echo_template) as local:
        yield local


def test_a_function_added_to_the_template_is_served(echo_template: Path) -> None:
    with running(echo_template) as local:
        assert os.environ["ECHO_SETTING"] == "from-the-template"
        response = requests.post(f"{local.url}/echo/alex?x=1", data=b"hi", timeout=10)
        assert response.status_code == 200
        data = response.json()
        assert data["function"] == "EchoFunction"
        assert 0 < data["remaining"] <= 7000
        assert data["body"] == "hi"
        assert data["event"]["isBase64Encoded"] is True  # no Content-Type: binary
        assert data["event"]["pathParameters"] == {"name": "alex"}
        assert data["event"]["routeKey"] == "POST /echo/{name}"
        assert response.headers["apigw-requestid"] == data["event"]["requestContext"]["requestId"]
        # A handler that raises gives API Gateway's bare 500, not a stack trace
        boom = requests.get(f"{local.url}/boom", timeout=10)
        assert boom.status_code == 500
        assert boom.json() == {"message": "Internal Server Error"}
        assert "boom" not in boom.text
    assert "ECHO_SETTING" not in os.environ  # the environment is restored


def test_json_arrives_as_text_and_binary_in_base64(echo: LocalServer) -> None:
    sent = requests.post(f"{echo.url}/echo/a", json={"message": "caf\u00e9"}, timeout=10)
    event = sent.json()["event"]
    assert event["isBase64Encoded"] is False
    assert json.loads(event["body"]) == {"message": "caf\u00e9"}
    headers = {"Content-Type": "application/octet-stream"}
    binary = requests.post(f"{echo.url}/echo/a", data=b"\x00\xff", headers=headers, timeout=10)
    assert binary.json()["event"]["isBase64Encoded"] is True
    assert binary.json()["body"] == "\x00\xff"


# --- request bodies, Host names and connections -----------------------------------------------


def _raw(server: LocalServer, data: bytes) -> bytes:
    """Send ``data`` on a fresh connection; everything the server answers before it closes the
    connection (a server that keeps it open fails the test with a timeout)."""
    host, port = urlsplit(server.url).hostname or "", urlsplit(server.url).port or 0
    received = b""
    with socket.create_connection((host, port), timeout=5) as connection:
        connection.sendall(data)
        while chunk := connection.recv(65536):
            received += chunk
    return received


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        ("Content-Length: -1\r\n", 400),
        ("Content-Length: abc\r\n", 400),
        ("Content-Length: 1\r\nContent-Length: 2\r\n", 400),
        ("Transfer-Encoding: chunked\r\n", 411),
        ("", 411),
        (f"Content-Length: {MAX_REQUEST_BYTES + 1}\r\n", 413),
    ],
    ids=["negative", "not-a-number", "two-lengths", "chunked", "no-length", "too-large"],
)
def test_bodies_of_unknown_or_invalid_length_are_refused(
    echo: LocalServer, headers: str, status: int
) -> None:
    request = f"POST /echo/a HTTP/1.1\r\nHost: localhost\r\n{headers}\r\n".encode()
    answer = _raw(echo, request + b"5\r\nhello\r\n0\r\n\r\n")
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(f"HTTP/1.1 {status} ".encode()), head
    assert b"\r\nConnection: close" in head
    # In the error shape of /chat (the path is not under /v1), as the route's own errors
    error = json.loads(body)
    assert set(error) == {"error", "request_id"}
    assert error["error"]["message"]
    assert error["error"]["type"]


def test_an_error_before_routing_under_v1_is_in_openais_shape(echo: LocalServer) -> None:
    request = b"POST /v1/threads HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n"
    answer = _raw(echo, request + b"\r\n5\r\nhello\r\n0\r\n\r\n")
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 411 ")
    error = json.loads(body)["error"]
    assert error["type"] == "invalid_request_error"
    assert error["code"] == "length_required"
    assert "Content-Length" in error["message"]


def test_the_servers_body_limit_leaves_the_apis_own_to_answer(server: LocalServer) -> None:
    from mojang_chat.http.limits import MAX_BODY_BYTES

    assert MAX_REQUEST_BYTES > MAX_BODY_BYTES
    data = b'{"message": "' + b"x" * MAX_BODY_BYTES + b'"}'
    headers = {"Content-Type": "application/json"}
    response = requests.post(f"{server.url}/chat", data=data, headers=headers, timeout=10)
    assert response.status_code == 413
    assert "error" in response.json()  # the API's error, not the server's


def test_a_get_without_length_and_a_post_with_one_are_served(echo: LocalServer) -> None:
    answer = _raw(echo, b"GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
    assert answer.startswith(b"HTTP/1.1 200 ")
    post = b"POST /echo/a HTTP/1.1\r\nHost: localhost\r\nContent-Length: 2\r\n"
    answer = _raw(echo, post + b"Connection: close\r\n\r\nhi")
    assert answer.startswith(b"HTTP/1.1 200 ")
    assert json.loads(answer.partition(b"\r\n\r\n")[2])["body"] == "hi"


@pytest.mark.parametrize(
    "host",
    ["evil.example", "evil.example:{port}", "127.0.0.1.nip.io:{port}", "localhost:x", "[::1"],
)
def test_other_host_names_are_refused(echo: LocalServer, host: str) -> None:
    # A page on another site whose name resolves to 127.0.0.1 (DNS rebinding) reaches nothing
    port = urlsplit(echo.url).port
    headers = {"Host": host.format(port=port)}
    for response in (
        requests.get(f"{echo.url}/", headers=headers, timeout=10),
        requests.post(f"{echo.url}/echo/a", data=b"x", headers=headers, timeout=10),
    ):
        assert response.status_code == 421
        assert response.headers["Content-Type"] == "application/json"
        assert "Misdirected Request" in response.json()["error"]["message"]
        assert response.headers["Connection"] == "close"


@pytest.mark.parametrize(
    "host", ["localhost:{port}", "LOCALHOST", "127.0.0.1:{port}", "[::1]:{port}", "10.0.0.5:8080"]
)
def test_loopback_names_and_addresses_are_served(echo: LocalServer, host: str) -> None:
    port = urlsplit(echo.url).port
    headers = {"Host": host.format(port=port)}
    assert requests.get(f"{echo.url}/", headers=headers, timeout=10).status_code == 200
    response = requests.post(f"{echo.url}/echo/a", data=b"x", headers=headers, timeout=10)
    assert response.status_code == 200


def test_stopping_ends_kept_alive_connections(echo_template: Path) -> None:
    before = set(threading.enumerate())
    with requests.Session() as session:
        with running(echo_template) as local:
            assert session.post(f"{local.url}/echo/a", data=b"x", timeout=10).status_code == 200
            started = set(threading.enumerate()) - before
            assert started  # the server's thread and the kept-alive connection's
        # Then the server stopped with the client's connection still open: no thread is left
        assert not [thread for thread in started if thread.is_alive()]


# --- the HTTP server ------------------------------------------------------------------------


def test_chat_answers_through_the_local_server(server: LocalServer) -> None:
    response = requests.post(f"{server.url}/chat", json={"message": TUTORIAL}, timeout=30)
    assert response.status_code == 200, response.text
    body = response.json()
    assert MERRYDITH_UUID in body["answer"]
    assert body["statuses"] == TUTORIAL_STATUSES
    assert body["request_id"] == response.headers["apigw-requestid"]


NOTCH_DASHED = dashed_uuid(NOTCH_UUID)


@pytest.mark.parametrize(
    ("question", "calls", "answer", "mojang_paths"),
    [
        pytest.param(
            f"who owns {NOTCH_DASHED}?",
            [("get_username_from_uuid", {"uuid": NOTCH_DASHED})],
            f"The player with UUID {NOTCH_DASHED} is Notch.",
            [f"/minecraft/profile/lookup/{NOTCH_UUID}"],
            id="name-by-uuid",
        ),
        pytest.param(
            "what is the offline uuid of Notch?",
            [("get_offline_uuid", {"username": "Notch"})],
            f"The offline-mode UUID of Notch is {dashed_uuid(offline_uuid('Notch'))}.",
            [],  # computed, never looked up
            id="offline-uuid",
        ),
        pytest.param(
            "does jeb_ use the slim skin model?",
            [
                ("get_uuid_from_username", {"username": "jeb_"}),
                ("get_player_profile", {"uuid": JEB_UUID}),
            ],
            f"The UUID of jeb_ is {JEB_UUID}. jeb_ uses the classic skin model. jeb_ has a cape.",
            ["/minecraft/profile/lookup/name/jeb_", f"/session/minecraft/profile/{JEB_UUID}"],
            id="skin-model",
        ),
    ],
)
def test_the_stand_in_model_answers_each_kind_of_question_through_the_server(
    app_env: Any,
    server: LocalServer,
    question: str,
    calls: list[tuple[str, dict[str, str]]],
    answer: str,
    mojang_paths: list[str],
) -> None:
    # Given the stand-in model with nothing scripted: its brain picks the tools
    model, mojang = app_env
    # When the question is asked over HTTP
    response = requests.post(f"{server.url}/chat", json={"message": question}, timeout=30)
    # Then the real tools ran as the brain asked, and the answer says what was asked for
    assert response.status_code == 200, response.text
    body = response.json()
    assert [(c["name"], c["arguments"]) for c in body["tool_calls"]] == calls
    assert body["answer"].startswith(answer)
    assert [urlsplit(r.path).path for r in mojang.requests()] == mojang_paths
    assert model.schema_errors == []


def test_unknown_route_and_method_are_answered_in_the_error_shape(server: LocalServer) -> None:
    # The template's $default route takes them to the chat function, as deployed
    response = requests.get(f"{server.url}/no/such/route", timeout=10)
    assert response.status_code == 404
    assert response.headers["Content-Type"] == "application/json"
    assert response.json()["error"]["type"] == "not_found"
    assert response.json()["request_id"]

    wrong_method = requests.get(f"{server.url}/chat", timeout=10)
    assert wrong_method.status_code == 405
    assert wrong_method.headers["Allow"] == "POST"
    assert wrong_method.json()["error"]["type"] == "method_not_allowed"

    # Under /v1 the function answers for every path, in OpenAI's shape
    unknown = requests.get(f"{server.url}/v1/no/such/route", timeout=10)
    assert unknown.status_code == 404
    assert set(unknown.json()["error"]) == {"message", "type", "param", "code"}


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
    # No address of its own: the widget asks where its script came from (an HTTPS port
    # forward included)
    assert 'src="/widget.js" data-endpoint=""' in response.text
    assert server.url not in response.text
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


def test_ask_without_a_model_answers_from_the_standins_and_says_what_to_set(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mojang_chat import container

    monkeypatch.chdir(tmp_path)  # no .env here
    container.reset()
    assert cli.main(["ask", TUTORIAL]) == 0
    captured = capsys.readouterr()
    assert MERRYDITH_UUID in captured.out.splitlines()[-1]
    assert "OPENAI_API_KEY" in captured.err
    assert "OPENAI_API_KEY" not in captured.out
    assert "Traceback" not in captured.err + captured.out
    assert "OPENAI_BASE_URL" not in os.environ  # the stand-ins' settings are gone again
    container.reset()


def test_ask_with_an_invalid_setting_is_an_error_not_the_standins(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mojang_chat import container

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MAX_TOOL_ROUNDS", "lots")
    container.reset()
    assert cli.main(["ask", TUTORIAL]) == 2
    captured = capsys.readouterr()
    assert "MAX_TOOL_ROUNDS" in captured.err
    assert captured.out == ""
    container.reset()


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

    with openai.OpenAI(base_url=f"{server.url}/v1", api_key="unused", max_retries=0) as client:
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


def test_ask_through_the_workflow_shows_invalid_arguments_as_written(
    app_env: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    model, mojang = app_env
    # Given a model that writes invalid JSON arguments next to a valid call, whose Mojang
    # lookup takes a second (so that the polling sees the run requiring action)
    invalid = '{"username": "merr'
    model.script(
        fake_model.tool_calls(
            ("get_uuid_from_username", invalid),
            ("get_uuid_from_username", {"username": "merrydith"}),
        )
    )
    mojang.inject(Fault.hanging(1.0))
    # When the question is asked through the workflow
    assert cli.main(["ask", "--runs", TUTORIAL]) == 0
    # Then the calls are printed, the invalid arguments as the model wrote them, and it finishes
    lines = capsys.readouterr().out.splitlines()
    assert f"requires action: get_uuid_from_username({invalid})" in lines
    assert 'requires action: get_uuid_from_username(username="merrydith")' in lines
    assert "completed" in lines


def test_the_transcript_shows_arguments_that_are_not_an_object_as_written() -> None:
    out = io.StringIO()
    cli.Transcript(out).calls([("f", "[1, 2", None), ("g", {"a": 1}, None), ("h", None, None)])
    assert out.getvalue().splitlines() == [
        "requires action: f([1, 2)",
        "requires action: g(a=1)",
        "requires action: h()",
    ]
    assert cli._arguments("[1, 2]") == "[1, 2]"
    assert cli._arguments('{"a": 1}') == {"a": 1}
