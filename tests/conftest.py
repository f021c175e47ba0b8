"""Shared fixtures. No test reaches the internet: every socket may connect to loopback only."""

from __future__ import annotations

import ipaddress
import json
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
EVENTS = ROOT / "events"
SHARED_REFERENCE = ROOT.parent / "shared" / "reference"

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
    socket.socket.connect = _guarded_connect  # type: ignore[method-assign]
    socket.socket.connect_ex = _guarded_connect_ex  # type: ignore[method-assign]


@pytest.fixture(autouse=True)
def _aws_offline(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fake credentials and a region, so boto3 never looks further (moto answers instead)."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_SESSION_TOKEN", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("POWERTOOLS_TRACE_DISABLED", "true")
    monkeypatch.setenv("POWERTOOLS_METRICS_NAMESPACE", "MojangChatTests")
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)


def load_event(name: str) -> dict[str, Any]:
    """An API Gateway / Step Functions event from events/, as `sam local invoke -e` reads it."""
    data: dict[str, Any] = json.loads((EVENTS / name).read_text())
    return data


@pytest.fixture
def no_sleep(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[float]]:
    """Record back-off sleeps instead of sleeping them."""
    slept: list[float] = []
    monkeypatch.setattr("time.sleep", slept.append)
    yield slept
