"""The runs stack in moto, as ``python -m mojang_chat serve`` runs it, plus what tests need.

``runs_stack`` is ``mojang_chat.local.aws.local_aws`` over template.yaml: the runs table, the
functions and the state machine from functions/run_workflow.asl.json with the template's
substitutions, its Lambda tasks calling the real handlers in-process. The tests add fast
retries, a record of the workflow's invocations, waiting and polling helpers, and OpenAI's
schema for the answers.
"""

from __future__ import annotations

import functools
import json
import threading
import time
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import boto3
import pytest

from mojang_chat.core import TERMINAL_STATUSES
from mojang_chat.local.aws import local_aws
from mojang_chat.local.events import Request, build_event, lambda_response
from mojang_chat.local.server import LocalApi
from mojang_chat.local.template import Route
from tests.helpers import application

V1_FUNCTION = "V1Function"
# Every handler invocation at once, the most the teardown waits for.
MAX_IN_FLIGHT = 64


def shorten_retries(node: Any) -> Any:
    """Every Retry waiting the shortest time moto allows (1 s, no back-off): moto really
    sleeps. tests/e2e/test_runs_definition.py proves the template deploys the file's own values."""
    if isinstance(node, list):
        return [shorten_retries(item) for item in node]
    if not isinstance(node, dict):
        return node
    out = {key: shorten_retries(value) for key, value in node.items()}
    if "ErrorEquals" in out and "IntervalSeconds" in out:
        out["IntervalSeconds"] = 1
        out["BackoffRate"] = 1
    return out


@dataclass
class RunsStack:
    """The deployed runs stack, in moto."""

    api: LocalApi
    sfn: Any
    dynamodb: Any
    state_machine_arn: str
    table_name: str
    invocations: list[dict[str, Any]] = field(default_factory=list)

    def send(self, event: Mapping[str, Any]) -> tuple[int, dict[str, Any]]:
        """The runs function's answer to an API Gateway event: (status, parsed body)."""
        request_id = event["requestContext"]["requestId"]
        reply = lambda_response(self.api.invoke_function(V1_FUNCTION, event), request_id)
        body: dict[str, Any] = reply.json()
        return reply.status, body

    def call(
        self, method: str, path: str, body: object = None, query: dict[str, str] | None = None
    ) -> tuple[int, dict[str, Any]]:
        """One request to the runs function, whatever its path (no route chosen, so that the
        function's own answer to an unknown URL shows): (status, parsed body)."""
        raw = "" if body is None else body if isinstance(body, str) else json.dumps(body)
        headers = [("Content-Type", "application/json"), ("OpenAI-Beta", "assistants=v2")]
        target = f"{path}?{urlencode(query)}" if query else path
        request = Request(method, target, headers, raw.encode())
        route = Route(method, "$default", V1_FUNCTION)
        return self.send(build_event(request, route, {}, str(uuid.uuid4())))

    def retrieve(self, thread_id: str, run_id: str) -> dict[str, Any]:
        status, body = self.call("GET", f"/v1/threads/{thread_id}/runs/{run_id}")
        assert status == 200, body
        return body

    def create(self, question: str, **extra: Any) -> dict[str, Any]:
        """Create a thread and a run for ``question``; the run as the API answered."""
        body = {
            "assistant_id": "asst_default",
            "thread": {"messages": [{"role": "user", "content": question}]},
            **extra,
        }
        status, run = self.call("POST", "/v1/threads/runs", body)
        assert status == 200, run
        return run

    def execution_arn(self, run_id: str) -> str:
        prefix, _, name = self.state_machine_arn.rpartition(":stateMachine:")
        return f"{prefix}:execution:{name}:{run_id}"

    def wait(self, run_id: str, timeout: float = 30) -> dict[str, Any]:
        """The execution of ``run_id``, once it is no longer RUNNING."""
        ends = time.monotonic() + timeout
        while True:
            execution: dict[str, Any] = self.sfn.describe_execution(
                executionArn=self.execution_arn(run_id)
            )
            if execution["status"] != "RUNNING":
                return execution
            assert time.monotonic() < ends, f"execution of {run_id} still running"
            time.sleep(0.02)

    def poll(
        self, run: dict[str, Any], interval: float = 0.05, timeout: float = 30
    ) -> tuple[dict[str, Any], list[str]]:
        """Poll the run through GET until it is terminal, as a client does: the last run and
        every status seen, in order, without repeats."""
        seen = [run["status"]]
        ends = time.monotonic() + timeout
        while run["status"] not in TERMINAL_STATUSES:
            assert time.monotonic() < ends, f"run still {run['status']}: {seen}"
            time.sleep(interval)
            run = self.retrieve(run["thread_id"], run["id"])
            if run["status"] != seen[-1]:
                seen.append(run["status"])
        return run, seen

    def states_entered(self, run_id: str) -> list[str]:
        """The names of the states the execution entered, in order (Map iterations too)."""
        events = self.sfn.get_execution_history(
            executionArn=self.execution_arn(run_id), maxResults=1000
        )["events"]
        return [
            e["stateEnteredEventDetails"]["name"] for e in events if "stateEnteredEventDetails" in e
        ]


@pytest.fixture
def runs_stack(app_env: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[RunsStack]:
    """The runs stack in moto, with both fakes behind it (see the module's docstring)."""
    from mojang_chat import container

    api = LocalApi(application())
    invocations: list[dict[str, Any]] = []
    in_flight = threading.Semaphore(MAX_IN_FLIGHT)

    def invoke(logical_id: str, payload: Mapping[str, Any]) -> Any:
        invocations.append(dict(payload))
        with in_flight:
            return api.invoke_function(logical_id, payload)

    monkeypatch.setenv("MODEL_MAX_RETRIES", "1")
    with local_aws(api.app, invoke, definition_filter=shorten_retries) as environment:
        container.reset()
        stack = RunsStack(
            api=api,
            sfn=boto3.client("stepfunctions"),
            dynamodb=boto3.client("dynamodb"),
            state_machine_arn=environment["RUN_STATE_MACHINE_ARN"],
            table_name=environment["RUNS_TABLE_NAME"],
            invocations=invocations,
        )
        try:
            yield stack
        finally:
            # No execution may outlive moto: its next AWS call would leave the mock.
            executions = stack.sfn.list_executions(stateMachineArn=stack.state_machine_arn)
            for execution in executions["executions"]:
                stack.wait(execution["name"], timeout=60)
            # Nor a handler still running for a stopped execution.
            for _ in range(MAX_IN_FLIGHT):
                assert in_flight.acquire(timeout=30), "a workflow task is still running"
            container.reset()


# --- OpenAI's schema for the runs API's responses ---------------------------------------------


@functools.cache
def _validator(file: str, name: str) -> Any:
    import jsonschema

    from tests.fakes.model_server import SCHEMA_DIR, _nullable_to_anyof

    document = json.loads((SCHEMA_DIR / file).read_text())
    root = {
        "$ref": f"#/components/schemas/{name}",
        "components": _nullable_to_anyof(document["components"]),
    }
    return jsonschema.Draft202012Validator(root)


def schema_errors(name: str, body: Any, closure: str = "assistants_runs") -> list[str]:
    """Why ``body`` is not a valid ``name`` of OpenAI's schema (``ErrorResponse`` from the
    errors closure, anything else from ``closure``: ``assistants_runs``, ``chat_completions``,
    ``models``, ``responses``); empty when it is."""
    file = "errors.closure.json" if name == "ErrorResponse" else f"{closure}.closure.json"
    errors = _validator(file, name).iter_errors(body)
    return [f"{list(error.absolute_path)}: {error.message}" for error in errors]
