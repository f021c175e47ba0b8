"""Per-container state (``core.isolation``): what each container keeps is its own, an
invocation's tool threads share its container, the logger's keys and the resolver's current
event belong to the invocation that set them, and ``reset()`` forgets every container's."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterator
from typing import Any, cast

import pytest

from mojang_chat import container
from mojang_chat.core import isolation
from mojang_chat.core.observability import logger
from mojang_chat.http.errors import chat_error_body
from mojang_chat.http.resolver import JsonApi
from tests.helpers import LambdaContext, load_event

made: list[str] = []


@container.per_container
def _thing() -> object:
    made.append(isolation.current().name)
    return object()


def test_each_container_makes_and_keeps_its_own_value() -> None:
    made.clear()
    first, second = isolation.Container("first"), isolation.Container("second")
    with isolation.inside(first):
        a = _thing()
        assert _thing() is a  # kept
    with isolation.inside(second):
        b = _thing()
    assert a is not b
    assert _thing() is not a  # and the process's own, outside both
    assert made == ["first", "second", "process"]
    # reset() forgets every container's values
    container.reset()
    with isolation.inside(first):
        assert _thing() is not a


def test_an_invocations_tool_threads_are_in_its_container() -> None:
    box = isolation.Container("box")
    with isolation.inside(box), isolation.ContainerExecutor(max_workers=2) as pool:
        seen = pool.submit(isolation.current).result()
    assert seen is box
    with isolation.ContainerExecutor(max_workers=1) as pool:
        assert pool.submit(isolation.current).result() is isolation.PROCESS


class _Lines(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.setFormatter(logger.registered_formatter)
        self.lines: list[dict[str, Any]] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(json.loads(self.format(record)))


@pytest.fixture
def lines() -> Iterator[_Lines]:
    handler = _Lines()
    logging.getLogger(logger.name).addHandler(handler)
    try:
        yield handler
    finally:
        logging.getLogger(logger.name).removeHandler(handler)
        container.reset()


def test_logger_keys_belong_to_the_container_that_set_them(lines: _Lines) -> None:
    # Given two containers whose invocations run at the same time
    first, second = isolation.Container("first"), isolation.Container("second")
    both_set = threading.Barrier(2, timeout=10)

    def invocation(box: isolation.Container, request_id: str) -> None:
        with isolation.inside(box):
            logger.append_keys(correlation_id=request_id)
            both_set.wait()  # the other has set its key too
            logger.info("answered", extra={"for": request_id})

    # When each sets its request id and logs
    threads = [
        threading.Thread(target=invocation, args=(first, "req-1")),
        threading.Thread(target=invocation, args=(second, "req-2")),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # Then each line carries its own invocation's id, and the process's keys are untouched
    assert sorted((line["for"], line["correlation_id"]) for line in lines.lines) == [
        ("req-1", "req-1"),
        ("req-2", "req-2"),
    ]
    logger.info("outside")
    assert "correlation_id" not in lines.lines[-1]
    assert lines.lines[-1]["service"] == "mojang-chat"  # a new container starts with these


def test_resolvers_answering_at_once_each_see_their_own_event() -> None:
    # Given two resolvers (as two containers have) whose routes wait for each other
    both_routed = threading.Barrier(2, timeout=10)

    def resolver() -> JsonApi:
        app = JsonApi(chat_error_body, title="t", description="d")

        @app.get("/who/<name>")
        def who(name: str) -> dict[str, str]:
            both_routed.wait()  # the other request has been routed too
            return {"path": name, "event": app.current_event.path}

        return app

    results: dict[str, Any] = {}

    def ask(app: JsonApi, name: str) -> None:
        event = load_event("chat-tutorial.json")
        event.update(rawPath=f"/who/{name}", routeKey=f"GET /who/{name}", body=None)
        event["requestContext"]["http"].update(method="GET", path=f"/who/{name}")
        results[name] = json.loads(app.resolve(event, cast(Any, LambdaContext()))["body"])

    # When both answer at the same time
    threads = [threading.Thread(target=ask, args=(resolver(), name)) for name in ("alex", "steve")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # Then each read its own event (Powertools alone keeps one per process)
    assert results == {
        "alex": {"path": "alex", "event": "/who/alex"},
        "steve": {"path": "steve", "event": "/who/steve"},
    }
