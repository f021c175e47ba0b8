"""What the tests share: paths, the tutorial's question, the template's functions, events, a
Lambda context, settings and logs. Imported by tests as a module (never from conftest.py)."""

from __future__ import annotations

import functools
import json
import time
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
        self._ends_at = time.monotonic() + remaining_seconds

    def get_remaining_time_in_millis(self) -> int:
        return max(int((self._ends_at - time.monotonic()) * 1000), 0)


def log_text(caplog: pytest.LogCaptureFixture) -> str:
    """Every log record of the test as the functions write it (Powertools' JSON, the ``extra``
    keys included: pytest's own text shows only the message), one per line."""
    from mojang_chat.core import logger

    formatter = logger.registered_formatter
    return "\n".join(formatter.format(record) for record in caplog.records)


class FakeClock:
    """A monotonic clock that moves only when a test advances it."""

    def __init__(self, now: float = 0.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds
