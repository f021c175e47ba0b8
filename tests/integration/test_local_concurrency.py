"""The local server under concurrent load, as a small Lambda: several invocations of a function
at once, each in its own container (no answer and no log line crosses to another caller), a
listen backlog that takes a burst of clients, runs that all complete, and a read deadline that
cuts off a client stalling mid-request.

The numbers each test measured are printed (``pytest -s``); none is asserted against the clock
but the read deadline, with a small configured one.
"""

from __future__ import annotations

import json
import logging
import socket
import textwrap
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import requests

from mojang_chat.core.observability import logger
from mojang_chat.core.statuses import TERMINAL_STATUSES
from mojang_chat.local.demo import assistant_id
from mojang_chat.local.server import DEFAULT_CONCURRENCY, LocalServer, running
from mojang_chat.mojang import dashed_uuid, offline_uuid
from tests.helpers import TEMPLATE

TERMINAL = {status.value for status in TERMINAL_STATUSES}


@pytest.fixture(autouse=True)
def _one_address_may_load_the_server(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every caller here is 127.0.0.1: the cost guard's per-client limits (on by default) would
    refuse the load itself. The guard has tests of its own (tests/integration/test_guard.py)."""
    monkeypatch.setenv("CLIENT_REQUESTS_PER_MINUTE", "0")
    monkeypatch.setenv("CLIENT_TOKENS_PER_DAY", "0")


def question(name: str) -> str:
    """A question the stand-in model answers from the question alone (no Mojang lookup)."""
    return f"what is the offline uuid of {name}?"


def answers(name: str, text: str) -> bool:
    """Whether ``text`` answers the question about ``name`` (and so no other's)."""
    return name in text and dashed_uuid(offline_uuid(name)) in text


class LogLines(logging.Handler):
    """The package's log lines, formatted as Powertools prints them, in the emitting thread
    (so with that invocation's keys)."""

    def __init__(self) -> None:
        super().__init__()
        self.setFormatter(logger.registered_formatter)
        self.lines: list[dict[str, Any]] = []
        self._lines_lock = threading.Lock()

    def emit(self, record: logging.LogRecord) -> None:
        line = json.loads(self.format(record))
        with self._lines_lock:
            self.lines.append(line)


@pytest.fixture
def log_lines() -> Iterator[LogLines]:
    handler = LogLines()
    logging.getLogger(logger.name).addHandler(handler)
    try:
        yield handler
    finally:
        logging.getLogger(logger.name).removeHandler(handler)


def ask_all(server: LocalServer, names: list[str], concurrency: int) -> list[Any]:
    """Each question on a connection of its own, ``concurrency`` at a time: the response, or
    the exception a client got (a reset, a refused connection)."""

    def ask(name: str) -> Any:
        try:
            return requests.post(f"{server.url}/chat", json={"message": question(name)}, timeout=60)
        except requests.RequestException as error:
            return error

    with ThreadPoolExecutor(concurrency) as pool:
        return list(pool.map(ask, names))


def test_concurrent_questions_are_each_answered_for_their_own_caller(
    app_env: Any, monkeypatch: pytest.MonkeyPatch, log_lines: LogLines
) -> None:
    # Given the local server, logging every question with its request id
    monkeypatch.setenv("LOG_MESSAGE_CONTENTS", "true")
    names = [f"Player{i:03d}" for i in range(200)]
    with running(TEMPLATE) as server:
        # When 200 callers ask about 200 different players, 40 at a time, each on a new
        # connection
        started = time.monotonic()
        results = ask_all(server, names, concurrency=40)
        elapsed = time.monotonic() - started
        containers = server.api.containers["ChatFunction"]
    # Then every caller was answered (no reset, no 5xx), each about its own player
    failures = [r if isinstance(r, Exception) else r.status_code for r in results]
    failures = [f for f in failures if f != 200]
    assert failures == []
    crossed = [n for n, r in zip(names, results, strict=True) if not answers(n, r.json()["answer"])]
    assert crossed == []
    # by invocations that overlapped, in separate containers, never more than the limit
    print(
        f"\n200 questions, 40 at a time: {elapsed:.1f} s ({200 / elapsed:.1f}/s), "
        f"{containers.started} containers, at most {containers.peak} at once"
    )
    assert 1 < containers.peak <= DEFAULT_CONCURRENCY
    assert containers.started <= DEFAULT_CONCURRENCY
    # and each question was logged with its own invocation's request id
    request_ids = {n: r.json()["request_id"] for n, r in zip(names, results, strict=True)}
    logged = {
        line["question"]: (line["correlation_id"], line["function_request_id"])
        for line in log_lines.lines
        if line["message"] == "question"
    }
    assert logged == {question(n): (request_ids[n], request_ids[n]) for n in names}


def test_invocations_overlap_where_one_at_a_time_queued(
    app_env: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a model that takes 0.2 s per call (two calls per question)
    model, _ = app_env
    monkeypatch.setattr(model, "latency", 0.2)
    rates = {}
    for concurrency, count in ((1, 8), (DEFAULT_CONCURRENCY, 32)):
        with running(TEMPLATE, concurrency=concurrency) as server:
            # When 8 callers ask at once
            names = [f"Rate{concurrency}x{i:02d}" for i in range(count)]
            started = time.monotonic()
            results = ask_all(server, names, concurrency=8)
            rates[concurrency] = count / (time.monotonic() - started)
            containers = server.api.containers["ChatFunction"]
        # Then all are answered; one container at most serves them one at a time, several
        # serve them at once
        assert [r.status_code for r in results] == [200] * count
        assert all(answers(n, r.json()["answer"]) for n, r in zip(names, results, strict=True))
        assert containers.peak == min(concurrency, 8)
    print(
        f"\n8 callers, model 0.2 s a call: one container {rates[1]:.1f} questions/s, "
        f"{DEFAULT_CONCURRENCY} containers {rates[DEFAULT_CONCURRENCY]:.1f} questions/s"
    )


@pytest.mark.timeout(400)
def test_concurrent_runs_are_all_accepted_and_all_complete(
    app_env: Any, capfd: pytest.CaptureFixture[str]
) -> None:
    # Twice the run steps' containers: enough to queue, not so many that a step waits past its
    # task's 35 s timeout on a 2-core machine (Step Functions counts the wait, as Lambda's
    # throttling would be counted when deployed)
    names = [f"Runner{i:03d}" for i in range(2 * DEFAULT_CONCURRENCY)]
    with running(TEMPLATE) as server:
        created: dict[str, Any] = {}
        ready = threading.Barrier(len(names))

        def create(name: str) -> Any:
            ready.wait()  # all at once, each on a new connection
            body = {
                "assistant_id": assistant_id(),
                "thread": {"messages": [{"role": "user", "content": question(name)}]},
            }
            try:
                return requests.post(f"{server.url}/v1/threads/runs", json=body, timeout=60)
            except requests.RequestException as error:
                return error

        # When 20 callers create a run at the same moment
        started = time.monotonic()
        with ThreadPoolExecutor(len(names)) as pool:
            for name, response in zip(names, pool.map(create, names), strict=True):
                created[name] = response
        # Then every run is accepted
        refused = [r if isinstance(r, Exception) else r.status_code for r in created.values()]
        assert [r for r in refused if r != 200] == []

        # and every run completes (polled each second, as the openai SDK polls), with the
        # answer to its own question
        def finish(name: str) -> tuple[str, str]:
            run = created[name].json()
            ends = time.monotonic() + 300
            while run["status"] not in TERMINAL and time.monotonic() < ends:
                time.sleep(1)
                path = f"/v1/threads/{run['thread_id']}/runs/{run['id']}"
                run = requests.get(f"{server.url}{path}", timeout=60).json()
            if run["status"] != "completed":
                return run["status"], json.dumps(run.get("last_error"))
            path = f"/v1/threads/{run['thread_id']}/messages?order=desc&limit=1"
            message = requests.get(f"{server.url}{path}", timeout=60).json()["data"][0]
            return run["status"], message["content"][0]["text"]["value"]

        with ThreadPoolExecutor(len(names)) as pool:
            outcomes = dict(zip(names, pool.map(finish, names), strict=True))
        elapsed = time.monotonic() - started
        steps = server.api.containers["RunStepsFunction"]
    failed = {n: o for n, o in outcomes.items() if o[0] != "completed"}
    print(
        f"\n{len(names)} runs created at once: all completed in {elapsed:.0f} s; run steps in "
        f"{steps.started} containers, at most {steps.peak} at once"
    )
    assert failed == {}
    assert [n for n, (_, text) in outcomes.items() if not answers(n, text)] == []
    assert steps.peak > 1
    assert "[ERROR]" not in capfd.readouterr().err  # no function failed, not even retried


@pytest.fixture
def failing_template(tmp_path: Path) -> Path:
    """A template with one function that fails, and one that echoes."""
    (tmp_path / "fn").mkdir()
    (tmp_path / "fn" / "app.py").write_text(
        textwrap.dedent(
            """
            def handler(event, context):
                if event["rawPath"] == "/boom":
                    raise RuntimeError("the cause, for the log")
                return {"statusCode": 200, "body": event.get("body") or ""}
            """
        )
    )
    (tmp_path / "template.yaml").write_text(
        textwrap.dedent(
            """
            Transform: AWS::Serverless-2016-10-31
            Resources:
              Fn:
                Type: AWS::Serverless::Function
                Properties:
                  CodeUri: fn/
                  Handler: app.handler
                  Events:
                    Echo:
                      Type: HttpApi
                      Properties: {Method: POST, Path: /echo}
                    Boom:
                      Type: HttpApi
                      Properties: {Method: GET, Path: /boom}
            """
        )
    )
    return tmp_path / "template.yaml"


def test_a_failed_invocation_is_logged_with_its_traceback(
    failing_template: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    with running(failing_template) as server:
        response = requests.get(f"{server.url}/boom", timeout=10)
    assert response.status_code == 500
    assert response.json() == {"message": "Internal Server Error"}  # API Gateway's, bare
    err = capfd.readouterr().err
    assert f"[ERROR] Fn RequestId: {response.headers['apigw-requestid']} failed" in err
    assert "RuntimeError: the cause, for the log" in err
    assert "Traceback (most recent call last)" in err


READ_SECONDS = 0.5


@pytest.fixture
def strict_server(failing_template: Path) -> Iterator[LocalServer]:
    """The local server with a request read deadline of half a second."""
    with running(failing_template, read_seconds=READ_SECONDS) as server:
        yield server


def _connect(server: LocalServer) -> socket.socket:
    host, port = server.server_address[:2]
    return socket.create_connection((str(host), port), timeout=READ_SECONDS + 5)


def _until_closed(connection: socket.socket) -> tuple[bytes, float]:
    """Everything the server sends until it closes the connection, and when it closed."""
    received = b""
    while chunk := connection.recv(65536):
        received += chunk
    return received, time.monotonic()


@pytest.mark.parametrize("trickle", [False, True], ids=["stalled", "trickling"])
def test_a_body_that_does_not_arrive_in_time_is_cut_off(
    strict_server: LocalServer, trickle: bool
) -> None:
    # Given a client that sends its headers and part of its body
    with _connect(strict_server) as connection:
        started = time.monotonic()
        head = b"POST /echo HTTP/1.1\r\nHost: localhost\r\nContent-Length: 100\r\n\r\n"
        connection.sendall(head + b"x" * 10)
        # When it stalls, or trickles a byte every 0.2 s (each read well within the deadline)
        if trickle:
            for _ in range(6):
                time.sleep(0.2)
                try:
                    connection.sendall(b"x")
                except OSError:
                    break
        received, closed = _until_closed(connection)
    # Then it is answered 408 and disconnected by the deadline (plus a second's leeway)
    assert received.startswith(b"HTTP/1.1 408 ")
    assert b"Connection: close" in received
    assert closed - started < READ_SECONDS + 1


def test_headers_that_do_not_arrive_in_time_end_the_connection(
    strict_server: LocalServer,
) -> None:
    with _connect(strict_server) as connection:
        started = time.monotonic()
        connection.sendall(b"GET /echo HTTP/1.1\r\nHost: loc")  # and nothing more
        received, closed = _until_closed(connection)
    assert received == b""
    assert closed - started < READ_SECONDS + 1


def test_a_slow_client_within_the_deadline_is_served(strict_server: LocalServer) -> None:
    with _connect(strict_server) as connection:
        connection.sendall(b"POST /echo HTTP/1.1\r\nHost: localhost\r\n")
        connection.sendall(b"Content-Type: text/plain\r\n")
        time.sleep(READ_SECONDS / 3)
        connection.sendall(b"Content-Length: 4\r\nConnection: close\r\n\r\nab")
        time.sleep(READ_SECONDS / 3)
        connection.sendall(b"cd")
        received, _ = _until_closed(connection)
    assert received.startswith(b"HTTP/1.1 200 ")
    assert received.endswith(b"\r\n\r\nabcd")


def test_the_listen_backlog_takes_a_burst_of_connections(
    strict_server: LocalServer,
) -> None:
    # Given a server that accepts nothing for a while (its accept loop is stopped)
    strict_server.shutdown()
    host, port = strict_server.server_address[:2]
    # When 100 clients connect at once
    connections = []
    try:
        for _ in range(100):
            connection = socket.socket()
            connection.settimeout(2)
            connection.connect((str(host), port))  # a full backlog would time out or refuse
            connections.append(connection)
    finally:
        for connection in connections:
            connection.close()
    # Then the kernel queued every one of them
    assert len(connections) == 100
    assert strict_server.request_queue_size >= 128
