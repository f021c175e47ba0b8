"""The runs stack in moto: the real workflow definition executing, the real handlers in-process.

``runs_stack`` starts ``mock_aws`` with Step Functions really executing definitions, creates
the runs table as template.yaml declares it, a Lambda function for RunStepsFunction, and the
state machine from functions/run_workflow.asl.json with the template's substitutions. moto's
Lambda would run handlers in Docker; ``_invoke_lambda`` is patched to call the project's own
``functions/<name>/app.py`` handler in this process instead (boto3 calls inside still reach
moto). The environment points the handlers at the table, the state machine and the fakes.
"""

from __future__ import annotations

import base64
import functools
import io
import json
import re
import threading
import time
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import pytest

from tests.conftest import ROOT, LambdaContext
from tests.sam import REGION, load_definition, load_template

DEFINITION_FILE = ROOT / "functions" / "run_workflow.asl.json"
STATE_MACHINE_NAME = "RunStateMachine"
STEPS_FUNCTION_NAME = "RunStepsFunction"
# template.yaml's logical ids of the functions the workflow invokes, and their code folders.
WORKFLOW_FUNCTIONS = {STEPS_FUNCTION_NAME: "run_steps"}

Handler = Callable[[dict[str, Any], Any], dict[str, Any]]


def load_handler(name: str) -> Handler:
    """A function's lambda_handler, loaded from its file as Lambda loads it."""
    import importlib.util

    path = ROOT / "functions" / name / "app.py"
    spec = importlib.util.spec_from_file_location(f"functions_{name}_app", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    handler: Handler = module.lambda_handler
    return handler


def substitute(definition: dict[str, Any], substitutions: dict[str, str]) -> dict[str, Any]:
    """The definition with ``${Name}`` replaced as DefinitionSubstitutions does; a name with
    no value fails (CloudFormation would deploy the placeholder as is)."""
    text = json.dumps(definition)
    names = set(re.findall(r"\$\{(\w+)\}", text))
    missing = names - set(substitutions)
    assert not missing, f"no substitution for {sorted(missing)}"
    for name, value in substitutions.items():
        text = text.replace("${" + name + "}", value)
    substituted: dict[str, Any] = json.loads(text)
    return substituted


def shorten_retries(node: Any) -> Any:
    """Every Retry waiting the shortest time moto allows (1 s, no back-off): moto really
    sleeps. tests/test_runs_workflow.py proves the template deploys the file's own values."""
    if isinstance(node, list):
        return [shorten_retries(item) for item in node]
    if not isinstance(node, dict):
        return node
    out = {key: shorten_retries(value) for key, value in node.items()}
    if "ErrorEquals" in out and "IntervalSeconds" in out:
        out["IntervalSeconds"] = 1
        out["BackoffRate"] = 1
    return out


def _zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("app.py", "def lambda_handler(event, context):\n    return {}\n")
    return buffer.getvalue()


def api_event(
    method: str, path: str, body: object = None, query: dict[str, str] | None = None
) -> dict[str, Any]:
    """An API Gateway HTTP API (v2) event, as the runs function receives it."""
    raw = "" if body is None else body if isinstance(body, str) else json.dumps(body)
    query = query or {}
    return {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": "&".join(f"{k}={v}" for k, v in query.items()),
        "queryStringParameters": query or None,
        "headers": {"content-type": "application/json", "openai-beta": "assistants=v2"},
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "api-id",
            "domainName": "id.execute-api.us-east-1.amazonaws.com",
            "http": {
                "method": method,
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": "127.0.0.1",
                "userAgent": "tests",
            },
            "requestId": f"req-{time.monotonic_ns()}",
            "routeKey": "$default",
            "stage": "$default",
            "timeEpoch": int(time.time() * 1000),
        },
        "body": base64.b64encode(raw.encode()).decode(),
        "isBase64Encoded": True,
    }


@dataclass
class RunsStack:
    """The deployed runs stack, in moto."""

    sfn: Any
    dynamodb: Any
    state_machine_arn: str
    table_name: str
    definition: dict[str, Any]
    runs_handler: Handler = field(default_factory=lambda: load_handler("runs"))
    invocations: list[dict[str, Any]] = field(default_factory=list)

    def call(
        self, method: str, path: str, body: object = None, query: dict[str, str] | None = None
    ) -> tuple[int, dict[str, Any]]:
        """One request to the runs function: (status, parsed body)."""
        response = self.runs_handler(api_event(method, path, body, query), LambdaContext(10))
        text = response["body"]
        if response.get("isBase64Encoded"):
            text = base64.b64decode(text).decode()
        return response["statusCode"], json.loads(text)

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
        while run["status"] not in TERMINAL:
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


TERMINAL = {"completed", "failed", "cancelled", "expired", "incomplete"}


def runs_table_properties() -> dict[str, Any]:
    properties: dict[str, Any] = load_template()["Resources"]["RunsTable"]["Properties"]
    return properties


@pytest.fixture
def runs_stack(app_env: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[RunsStack]:
    """The runs stack in moto, with both fakes behind it (see the module's docstring)."""
    from moto import mock_aws
    from moto.awslambda.models import LambdaFunction

    from mojang_chat import runtime

    handlers = {name: load_handler(folder) for name, folder in WORKFLOW_FUNCTIONS.items()}
    stack_invocations: list[dict[str, Any]] = []
    in_flight = threading.Semaphore(64)

    def invoke_in_process(self: Any, event: Any = None) -> tuple[str, bool, str]:
        payload = json.loads(event) if isinstance(event, (str, bytes)) else (event or {})
        stack_invocations.append(payload)
        handler = handlers[self.function_name]
        with in_flight:
            try:
                result = handler(payload, LambdaContext(float(self.timeout)))
            except Exception as error:  # what the Lambda runtime reports for an unhandled error
                body = {"errorType": type(error).__name__, "errorMessage": str(error)}
                return json.dumps(body), True, ""
        return json.dumps(result), False, ""

    monkeypatch.setattr(LambdaFunction, "_invoke_lambda", invoke_in_process)
    with mock_aws(config={"stepfunctions": {"execute_state_machine": True}}):
        dynamodb = boto3.client("dynamodb", region_name=REGION)
        table = runs_table_properties()
        table_name = "mojang-chat-RunsTable"
        dynamodb.create_table(
            TableName=table_name,
            KeySchema=table["KeySchema"],
            AttributeDefinitions=table["AttributeDefinitions"],
            BillingMode=table["BillingMode"],
        )
        dynamodb.update_time_to_live(
            TableName=table_name, TimeToLiveSpecification=table["TimeToLiveSpecification"]
        )
        iam = boto3.client("iam", region_name=REGION)
        role = iam.create_role(
            RoleName="runs-role",
            AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": []}),
        )["Role"]["Arn"]
        awslambda = boto3.client("lambda", region_name=REGION)
        functions = load_template()["Resources"]
        arns = {}
        for name in WORKFLOW_FUNCTIONS:
            arns[f"{name}Arn"] = awslambda.create_function(
                FunctionName=name,
                Runtime="python3.12",
                Role=role,
                Handler=functions[name]["Properties"]["Handler"],
                Code={"ZipFile": _zip()},
                Timeout=functions[name]["Properties"]["Timeout"],
            )["FunctionArn"]
        definition = shorten_retries(
            substitute(load_definition(DEFINITION_FILE), {**arns, "Partition": "aws"})
        )
        sfn = boto3.client("stepfunctions", region_name=REGION)
        machine_arn = sfn.create_state_machine(
            name=STATE_MACHINE_NAME, definition=json.dumps(definition), roleArn=role
        )["stateMachineArn"]
        monkeypatch.setenv("RUNS_TABLE_NAME", table_name)
        monkeypatch.setenv("RUN_STATE_MACHINE_ARN", machine_arn)
        monkeypatch.setenv("MODEL_MAX_RETRIES", "1")
        runtime.reset()
        stack = RunsStack(
            sfn=sfn,
            dynamodb=dynamodb,
            state_machine_arn=machine_arn,
            table_name=table_name,
            definition=definition,
            invocations=stack_invocations,
        )
        try:
            yield stack
        finally:
            # No execution may outlive moto: its next AWS call would leave the mock.
            for execution in sfn.list_executions(stateMachineArn=machine_arn)["executions"]:
                stack.wait(execution["name"], timeout=60)
            # Nor a handler still running for a stopped execution.
            for _ in range(64):
                assert in_flight.acquire(timeout=30), "a workflow task is still running"
            runtime.reset()


def definition_file() -> Path:
    return DEFINITION_FILE


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


def schema_errors(name: str, body: Any) -> list[str]:
    """Why ``body`` is not a valid ``name`` of OpenAI's schema (``ErrorResponse`` from the
    errors closure, anything else from the Assistants closure); empty when it is."""
    file = "errors.closure.json" if name == "ErrorResponse" else "assistants_runs.closure.json"
    errors = _validator(file, name).iter_errors(body)
    return [f"{list(error.absolute_path)}: {error.message}" for error in errors]
