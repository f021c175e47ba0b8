"""The front doors through the local server (real HTTP into the handlers Lambda runs; Step
Functions and DynamoDB through moto): ``POST /chat`` and the two asynchronous ones, an
Assistants run (``create_and_run``, then polling) and a background response (``POST
/v1/responses`` with ``background: true``, then polling), interleaved run by run.

Per question: seconds from the first request to a terminal status seen by a client polling
every ``poll_s``; the workflow's state transitions (from the execution's history) and its
duration; the Lambda invocations (API requests and workflow tasks) and their seconds; the
DynamoDB operations, by name.
"""

from __future__ import annotations

import collections
import contextlib
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import requests

from benchmarks.upstreams import question
from mojang_chat.core import TERMINAL_STATUSES

DOORS = ("chat", "runs", "responses")


class Usage:
    """Lambda invocations and DynamoDB operations, counted while it is installed."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.invocations: list[float] = []  # seconds each
        self.dynamodb: collections.Counter[str] = collections.Counter()

    @contextlib.contextmanager
    def installed(self) -> Iterator[Usage]:
        """Count every function invocation of the local server and every DynamoDB request
        any boto3 client makes (the handlers' and the workflow's alike)."""
        from unittest import mock

        import botocore.client

        from mojang_chat.local.server import LocalApi

        invoke, call = LocalApi.invoke_function, botocore.client.BaseClient._make_api_call

        def counted_invoke(api: LocalApi, *args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return invoke(api, *args, **kwargs)
            finally:
                with self.lock:
                    self.invocations.append(time.perf_counter() - started)

        def counted_call(client: Any, operation: str, params: dict[str, Any]) -> Any:
            if client.meta.service_model.service_name == "dynamodb":
                with self.lock:
                    self.dynamodb[operation] += items(params)
            return call(client, operation, params)

        with (
            mock.patch.object(LocalApi, "invoke_function", counted_invoke),
            mock.patch.object(botocore.client.BaseClient, "_make_api_call", counted_call),
        ):
            yield self

    def take(self) -> tuple[list[float], dict[str, int]]:
        """What was counted since the last take."""
        with self.lock:
            taken = (self.invocations, dict(self.dynamodb))
            self.invocations, self.dynamodb = [], collections.Counter()
        return taken


def items(params: dict[str, Any]) -> int:
    """The items a DynamoDB request reads or writes: batch and transactional requests are
    billed by item."""
    if "TransactItems" in params:
        return len(params["TransactItems"])
    if "RequestItems" in params:
        tables = params["RequestItems"].values()
        return sum(len(t["Keys"]) if isinstance(t, dict) else len(t) for t in tables)
    return 1


def ask(
    door: str, url: str, text: str, poll_s: float, session: requests.Session
) -> tuple[float, str, int]:
    """(seconds to a terminal status, the run or response id, requests sent)."""

    def call(method: str, path: str, **body: Any) -> Any:
        response = session.request(method, f"{url}{path}", json=body or None, timeout=60)
        return response.json()

    started = time.perf_counter()
    if door == "chat":
        answer = call("POST", "/chat", message=text)
        if answer.get("status") != "completed":
            raise RuntimeError(f"/chat: {answer}")
        return time.perf_counter() - started, "", 1
    from mojang_chat.runs.records import ASSISTANT_ID

    if door == "runs":
        thread = {"messages": [{"role": "user", "content": text}]}
        item = call("POST", "/v1/threads/runs", assistant_id=ASSISTANT_ID, thread=thread)
        path = f"/v1/threads/{item['thread_id']}/runs/{item['id']}"
    else:
        item = call("POST", "/v1/responses", model="gpt-4o-mini", input=text, background=True)
        path = f"/v1/responses/{item['id']}"
    sent = 1
    while item["status"] not in TERMINAL_STATUSES:
        time.sleep(poll_s)
        item = call("GET", path)
        sent += 1
    if item["status"] != "completed":
        raise RuntimeError(f"{door}: ended {item['status']}: {item.get('error') or item}")
    return time.perf_counter() - started, item["id"], sent


def front_doors(
    url: str,
    machine: str,
    usage: Usage,
    *,
    repeats: int,
    poll_s: float,
    name: Callable[[int], list[str]],
) -> dict[str, Any]:
    """Each door ``repeats`` times, in turn, one-player questions; medians per door. ``usage``
    was installed before the local server started (its workflow holds the invoke function)."""
    import boto3

    sfn = boto3.client("stepfunctions")
    session = requests.Session()
    rows: dict[str, list[dict[str, Any]]] = {door: [] for door in DOORS}
    for door in DOORS:  # warm containers, not measured
        ask(door, url, question(name(1)), poll_s, session)
    time.sleep(0.5)
    usage.take()
    for _ in range(repeats):
        for door in DOORS:
            known = _executions(sfn, machine)
            seconds, _, sent = ask(door, url, question(name(1)), poll_s, session)
            new = [arn for arn in _executions(sfn, machine) if arn not in known]
            transitions, execution_s = _workflow(sfn, new)
            invocations, dynamodb = usage.take()
            rows[door].append(
                {
                    "seconds": seconds,
                    "api_requests": sent,
                    "transitions": transitions,
                    "execution_s": execution_s,
                    "lambda_invocations": len(invocations),
                    "lambda_s": sum(invocations),
                    "dynamodb": dynamodb,
                }
            )
    return {"poll_s": poll_s, **{door: summary(rows[door]) for door in DOORS}}


def _executions(sfn: Any, machine: str) -> set[str]:
    listed = sfn.list_executions(stateMachineArn=machine, maxResults=1000)["executions"]
    return {e["executionArn"] for e in listed}


def _workflow(sfn: Any, arns: Sequence[str]) -> tuple[int, float]:
    """State transitions and seconds of the executions a question started, once they end."""
    transitions, seconds = 0, 0.0
    for arn in arns:
        deadline = time.monotonic() + 30
        while sfn.describe_execution(executionArn=arn)["status"] == "RUNNING":
            if time.monotonic() > deadline:
                raise RuntimeError(f"{arn} still running")
            time.sleep(0.05)
        events = sfn.get_execution_history(executionArn=arn, maxResults=1000)["events"]
        transitions += sum(e["type"].endswith("StateEntered") for e in events)
        seconds += (events[-1]["timestamp"] - events[0]["timestamp"]).total_seconds()
    return transitions, seconds


def summary(rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Medians of the numbers, means of the DynamoDB operations."""
    import statistics

    numbers = {
        key: statistics.median(row[key] for row in rows) for key in rows[0] if key != "dynamodb"
    }
    operations = sorted({op for row in rows for op in row["dynamodb"]})
    dynamodb = {
        op: sum(row["dynamodb"].get(op, 0) for row in rows) / len(rows) for op in operations
    }
    return {**numbers, "dynamodb": dynamodb}
