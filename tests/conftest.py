"""Shared fixtures. No test reaches the internet: every socket may connect to loopback only."""

from __future__ import annotations

import ipaddress
import os
import socket
from collections.abc import Iterator
from typing import Any

import pytest

from tests.helpers import SECRET_KEY

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
    for name in ("MOJANG_SESSION_URL", "MINECRAFT_SERVICES_URL"):
        monkeypatch.setenv(name, mojang_server.url)
    monkeypatch.setenv("CORS_ALLOWED_ORIGINS", "http://localhost:3000")
    container.reset()
    yield model_server, mojang_server
    container.reset()
