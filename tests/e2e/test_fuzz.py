"""Schema fuzzing (schemathesis) of every route of the running local server, from the API's
own OpenAPI documents (``/openapi.json``: the chat function; ``/v1/openapi.json``: the runs
function), against the fake model and the fake Mojang API: valid and invalid requests alike get
no 5xx, every error comes in its API's one error shape, and every answer matches its schema.

``make test`` runs a bounded number of examples per operation and mode; ``make fuzz`` runs many
more (``FUZZ_EXAMPLES``). The counts are written to test-artifacts/fuzz.json.
"""

from __future__ import annotations

import json
import os
import re
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from mojang_chat.local.server import serving
from tests.aws import RunsStack, runs_stack
from tests.helpers import ROOT

__all__ = ["runs_stack"]  # the fixture, imported for pytest

FUZZ_EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "25"))
DOCUMENTS = {"/openapi.json": "chat", "/v1/openapi.json": "runs"}
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
SUMMARY = ROOT / "test-artifacts" / "fuzz.json"


def error_shape_problem(api: str, body: Any) -> str | None:
    """Why ``body`` is not the one error shape of ``api``, or None."""
    if not isinstance(body, dict) or not isinstance(body.get("error"), dict):
        return f"not an error body: {body!r}"
    error = body["error"]
    if api == "chat":
        ok = set(body) == {"error", "request_id"} and set(error) == {"type", "message"}
    else:
        ok = set(body) == {"error"} and set(error) == {"type", "message", "param", "code"}
    if not ok or not isinstance(error.get("message"), str) or not error["message"]:
        return f"not the {api} API's error shape: {body!r}"
    return None


@pytest.fixture
def server_url(runs_stack: RunsStack, app_env: Any) -> Iterator[str]:
    with serving(runs_stack.api) as server:
        yield server.url


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore::DeprecationWarning")
# Every operation of both documents, positive and negative, some calling the model: minutes.
@pytest.mark.timeout(900)
def test_every_route_survives_schema_fuzzing(server_url: str) -> None:
    counts: Counter[str] = Counter()
    statuses: Counter[int] = Counter()
    failures: list[str] = []
    no_negative: list[str] = []
    session = requests.Session()

    def fuzzer(strategy: Any, api: str, label: str) -> Any:
        @settings(
            max_examples=FUZZ_EXAMPLES,
            deadline=None,
            derandomize=True,
            database=None,
            phases=[Phase.explicit, Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        @given(strategy)
        def fuzz(case: Any) -> None:
            response = case.call(base_url=server_url, session=session, timeout=30)
            counts[label] += 1
            statuses[response.status_code] += 1
            try:
                case.validate_response(response, checks=CHECKS)
            except Exception as error:  # schemathesis raises a group of failures
                failures.append(f"{label}: {error}")
                return
            if response.status_code >= 400:
                problem = error_shape_problem(api, response.json())
                if problem:
                    failures.append(f"{label} {response.status_code}: {problem}")

        return fuzz

    documented: set[str] = set()
    for document, api in DOCUMENTS.items():
        # A generous timeout: the first request of a function is its cold start
        schema = schemathesis.openapi.from_url(server_url + document, timeout=60)
        operations = [result.ok() for result in schema.get_all_operations()]  # type: ignore[union-attr]
        assert operations, document
        documented.update(operation.label for operation in operations)
        for operation in operations:
            fuzzer(operation.as_strategy(GenerationMode.POSITIVE), api, operation.label)()
            try:
                fuzzer(operation.as_strategy(GenerationMode.NEGATIVE), api, operation.label)()
            except Unsatisfiable:
                # Nothing is invalid for an unconstrained string path parameter: no
                # negative examples exist for this operation.
                no_negative.append(operation.label)

    summary = {
        "examples": sum(counts.values()),
        "by_operation": dict(counts),
        "statuses": {str(k): v for k, v in sorted(statuses.items())},
        "server_errors": sum(v for k, v in statuses.items() if k >= 500),
        "failures": len(failures),
        "operations_without_negative_examples": no_negative,
    }
    SUMMARY.parent.mkdir(exist_ok=True)
    SUMMARY.write_text(json.dumps(summary, indent=2) + "\n")
    print("fuzz:", json.dumps(summary))
    assert failures == [], "\n".join(failures[:20])
    assert summary["server_errors"] == 0
    # Every operation of both documents was exercised
    assert set(counts) == documented, counts


# Bodies no schema generates, each of which once got a 500 or an undocumented status.
EDGE_BODIES = {
    "100k-deep JSON": ("[" * 100_000 + "]" * 100_000, "application/json"),
    "a 5,000-digit number": ('{"message": ' + "9" * 5000 + "}", "application/json"),
    "not sent as JSON": ('{"message": "hi"}', "text/plain"),
}


@pytest.mark.slow
def test_edge_bodies_get_a_documented_status_on_every_route_with_a_body(server_url: str) -> None:
    answered = 0
    for document, api in DOCUMENTS.items():
        paths = requests.get(server_url + document, timeout=60).json()["paths"]
        for path, methods in paths.items():
            for method, operation in methods.items():
                if "requestBody" not in operation:
                    continue
                url = server_url + re.sub(r"\{[^}]+\}", "x", path)
                for name, (body, media_type) in EDGE_BODIES.items():
                    headers = {"Content-Type": media_type}
                    response = requests.request(method, url, data=body, headers=headers, timeout=30)
                    label = f"{method.upper()} {path} with {name}"
                    assert str(response.status_code) in operation["responses"], label
                    assert response.status_code in (400, 415), label
                    assert error_shape_problem(api, response.json()) is None, label
                    answered += 1
    # POST /chat; the ten bodies of the Assistants API (create or modify an assistant, a
    # thread, a message, a run; create a thread and run; submit tool outputs); a chat
    # completion, a response, a conversation (create, update) and its items
    assert answered == 16 * len(EDGE_BODIES)
