"""Shared fixtures. No test reaches the internet: every socket may connect to loopback only."""

from __future__ import annotations

import functools
import ipaddress
import json
import os
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from mojang_chat.local.template import Application, Handler

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = ROOT / "template.yaml"
EVENTS = ROOT / "events"
SHARED_REFERENCE = ROOT.parent / "shared" / "reference"

# The tutorial's question, and the statuses its run goes through (one tool round).
TUTORIAL = "what is the id of the player username merrydith"
TUTORIAL_STATUSES = ["queued", "in_progress", "requires_action", "in_progress", "completed"]
# The API key app_env gives the functions (never to be seen in an answer or a log).
SECRET_KEY = "sk-test-0123456789abcdef"

_real_connect = socket.socket.connect
_real_connect_ex = socket.socket.connect_ex


class InternetAccessError(AssertionError):
    """A test tried to open a connection to something other than this machine."""


def _check_address(address: Any) -> None:
    if isinstance(address, (str, bytes)):  # AF_UNIX
        return
    host = address[0]
    if host == "localhost":
        return
    try:
        if ipaddress.ip_address(host).is_loopback:
            return
    except ValueError:
        pass
    raise InternetAccessError(f"test tried to connect to {address!r}: only loopback is allowed")


def _guarded_connect(self: socket.socket, address: Any) -> None:
    _check_address(address)
    _real_connect(self, address)


def _guarded_connect_ex(self: socket.socket, address: Any) -> int:
    _check_address(address)
    return _real_connect_ex(self, address)


def pytest_configure(config: pytest.Config) -> None:
    socket.socket.connect = _guarded_connect  # type: ignore[method-assign,assignment]
    socket.socket.connect_ex = _guarded_connect_ex  # type: ignore[method-assign,assignment]


@pytest.fixture(autouse=True)
def _environment() -> Iterator[None]:
    """Each test ends with the environment it began with. ``local_aws`` sets the template's
    variables for its duration, and a test's monkeypatch would restore one that the test
    changed to the template's value, after the stack is gone."""
    saved = dict(os.environ)
    yield
    os.environ.clear()
    os.environ.update(saved)


@pytest.fixture(autouse=True)
def _aws_offline(_environment: None, monkeypatch: pytest.MonkeyPatch) -> None:
    """Fake credentials and a region, so boto3 never looks further (moto answers instead)."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_SESSION_TOKEN", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("POWERTOOLS_TRACE_DISABLED", "true")
    monkeypatch.setenv("POWERTOOLS_METRICS_NAMESPACE", "MojangChatTests")
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)


@functools.cache
def application() -> Application:
    """template.yaml's functions and routes, read once."""
    return Application.from_file(TEMPLATE)


def function_handler(logical_id: str) -> Handler:
    """A function's handler, found from the template's CodeUri and Handler as Lambda finds it."""
    return application().functions[logical_id].handler()


def use_settings(monkeypatch: pytest.MonkeyPatch, **variables: str) -> None:
    """Set the functions' environment variables, and make settings and clients anew from them."""
    from mojang_chat import container

    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    container.reset()


def load_event(name: str) -> dict[str, Any]:
    """An API Gateway / Step Functions event from events/, as `sam local invoke -e` reads it."""
    data: dict[str, Any] = json.loads((EVENTS / name).read_text())
    return data


class LambdaContext:
    """What Lambda passes a handler, with the remaining time it would report."""

    function_name = "ChatFunction"
    memory_limit_in_mb = 256
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:ChatFunction"
    aws_request_id = "c6af9ac6-7b61-11e6-9a41-93e812345678"

    def __init__(self, remaining_seconds: float = 29.0) -> None:
        import time

        self._ends_at = time.monotonic() + remaining_seconds

    def get_remaining_time_in_millis(self) -> int:
        import time

        return max(int((self._ends_at - time.monotonic()) * 1000), 0)


@pytest.fixture(scope="session")
def model_server() -> Iterator[Any]:
    """The scripted fake OpenAI server (one per session; reset before each test using it)."""
    from tests.fakes.model_server import FakeModelServer

    with FakeModelServer() as server:
        yield server


@pytest.fixture(scope="session")
def mojang_server() -> Iterator[Any]:
    """The fake Mojang API (one per session; faults and log cleared before each test)."""
    from tests.fakes.mojang_server import FakeMojangServer

    with FakeMojangServer() as server:
        yield server


@pytest.fixture
def app_env(
    monkeypatch: pytest.MonkeyPatch, model_server: Any, mojang_server: Any
) -> Iterator[tuple[Any, Any]]:
    """The functions' environment pointing at both fakes, with fresh clients and caches."""
    from mojang_chat import container

    model_server.reset()
    mojang_server.clear_faults()
    mojang_server.clear_log()
    monkeypatch.setenv("OPENAI_BASE_URL", model_server.base_url)
    monkeypatch.setenv("OPENAI_API_KEY", SECRET_KEY)
    monkeypatch.setenv("OPENAI_MODEL", "gpt-4o-mini")
    for name in ("MOJANG_API_URL", "MOJANG_SESSION_URL", "MINECRAFT_SERVICES_URL"):
        monkeypatch.setenv(name, mojang_server.url)
    monkeypatch.setenv("CORS_ALLOWED_ORIGINS", "http://localhost:3000")
    container.reset()
    yield model_server, mojang_server
    container.reset()


def log_text(caplog: pytest.LogCaptureFixture) -> str:
    """Every log record of the test as the functions write it (Powertools' JSON, the ``extra``
    keys included: pytest's own text shows only the message), one per line."""
    from mojang_chat.core.observability import logger

    formatter = logger.registered_formatter
    return "\n".join(formatter.format(record) for record in caplog.records)
